//! The shared machinery of squared-loss models `L = 1/(2b) sum_j (f_j(theta) - y_j - xi_j)^2`:
//! minibatches, label noise, exact gradients and exact Hessian-vector products
//! `H v = 1/n sum_j [grad f_j (grad f_j . v) + r_j (hess f_j) v]` from per-sample primitives a
//! model supplies ([`SquaredLossModel`]), or from its batched overrides that share work across
//! samples.

use gradus_core::validate::same_len;
use gradus_core::{Error, Objective, Result, Rng, Scalar};

use crate::Differentiable;
use crate::data::sample_batch;
use crate::noise::LabelNoise;

/// A model `f(theta; x_j)` fitted by squared loss to targets `y_j`.
///
/// These are per-sample primitives for [`Regression`], which checks every length and index
/// before calling them: implementations may assume `theta`, `v` and `out` hold
/// [`SquaredLossModel::num_params`] entries and `j < num_samples()` (and may panic
/// otherwise). Code outside a `Regression` should go through its checked methods.
pub trait SquaredLossModel {
    /// Number of parameters.
    fn num_params(&self) -> usize;
    /// Number of samples `n`.
    fn num_samples(&self) -> usize;
    /// Target `y_j`.
    fn target(&self, j: usize) -> f64;
    /// Output `f_j(theta)`.
    fn output(&self, theta: &[f64], j: usize) -> f64;
    /// `out += scale * grad f_j(theta)`.
    fn add_output_grad(&self, theta: &[f64], j: usize, scale: f64, out: &mut [f64]);
    /// `grad f_j(theta) . v`.
    fn output_grad_dot(&self, theta: &[f64], j: usize, v: &[f64]) -> f64;
    /// `out += scale * (hess f_j(theta)) v`.
    fn add_output_hvp(&self, theta: &[f64], j: usize, v: &[f64], scale: f64, out: &mut [f64]);

    /// Length of the scratch buffer the batched methods below may use.
    fn scratch_len(&self) -> usize {
        0
    }

    /// `out[k] = f_{rows[k]}(theta)`. Models override it to share work across samples.
    fn outputs(&self, theta: &[f64], rows: &[usize], _scratch: &mut [f64], out: &mut [f64]) {
        for (o, &j) in out.iter_mut().zip(rows) {
            *o = self.output(theta, j);
        }
    }

    /// `out += sum_k weights[k] grad f_{rows[k]}(theta)`. Models override it to share work.
    fn add_grads(
        &self,
        theta: &[f64],
        rows: &[usize],
        weights: &[f64],
        _scratch: &mut [f64],
        out: &mut [f64],
    ) {
        for (&w, &j) in weights.iter().zip(rows) {
            self.add_output_grad(theta, j, w, out);
        }
    }

    /// `out[k] = grad f_{rows[k]}(theta) . v`. Models override it to share work.
    fn output_grad_dots(
        &self,
        theta: &[f64],
        rows: &[usize],
        v: &[f64],
        _scratch: &mut [f64],
        out: &mut [f64],
    ) {
        for (o, &j) in out.iter_mut().zip(rows) {
            *o = self.output_grad_dot(theta, j, v);
        }
    }

    /// `out += sum_k weights[k] (hess f_{rows[k]}(theta)) v`. Models override it to share work.
    fn add_hvps(
        &self,
        theta: &[f64],
        rows: &[usize],
        v: &[f64],
        weights: &[f64],
        _scratch: &mut [f64],
        out: &mut [f64],
    ) {
        for (&w, &j) in weights.iter().zip(rows) {
            self.add_output_hvp(theta, j, v, w, out);
        }
    }
}

/// A squared-loss model with minibatches and label noise: the objective optimizers see.
#[derive(Debug, Clone)]
pub struct Regression<M> {
    /// The model.
    pub model: M,
    noise: LabelNoise,
    idx: Vec<usize>,
    all: Vec<usize>,
    f: Vec<f64>,
    /// Per-sample `grad f_j . v` of a Hessian-vector product.
    gv: Vec<f64>,
    scratch: Vec<f64>,
}

impl<M: SquaredLossModel> Regression<M> {
    /// Minibatches of `batch` samples (`batch = n`: every sample, each with its own label
    /// noise), noise `noise`.
    pub fn new(model: M, batch: usize, noise: LabelNoise) -> Result<Self> {
        noise.validate()?;
        let n = model.num_samples();
        if batch == 0 || batch > n {
            return Err(Error::hyper("batch", batch as f64, "must lie in 1..=n"));
        }
        let scratch = vec![0.0; model.scratch_len()];
        Ok(Regression {
            model,
            noise,
            idx: vec![0; batch],
            all: (0..n).collect(),
            f: vec![0.0; n],
            gv: vec![0.0; n],
            scratch,
        })
    }

    /// The label noise.
    pub fn noise(&self) -> LabelNoise {
        self.noise
    }

    /// Noise-free training loss `1/(2n) sum_j (f_j - y_j)^2`. Errors unless `theta` has
    /// `num_params` entries.
    pub fn train_loss(&self, theta: &[f64]) -> Result<f64> {
        same_len("parameters", self.model.num_params(), theta.len())?;
        let n = self.model.num_samples();
        Ok((0..n)
            .map(|j| (self.model.output(theta, j) - self.model.target(j)).powi(2))
            .sum::<f64>()
            / (2.0 * n as f64))
    }

    /// Gauss-Newton Hessian diagonal `1/n sum_j (d f_j / d theta_i)^2` (the Hessian on the
    /// manifold of minimisers, where residuals vanish).
    pub fn gauss_newton_diag(&self, theta: &[f64], out: &mut [f64]) -> Result<()> {
        let d = self.model.num_params();
        same_len("parameters", d, theta.len())?;
        same_len("output", d, out.len())?;
        let n = self.model.num_samples();
        out.iter_mut().for_each(|o| *o = 0.0);
        let mut g = vec![0.0; d];
        for j in 0..n {
            g.iter_mut().for_each(|v| *v = 0.0);
            self.model.add_output_grad(theta, j, 1.0, &mut g);
            for (o, gi) in out.iter_mut().zip(&g) {
                *o += gi * gi / n as f64;
            }
        }
        Ok(())
    }

    fn check(&self, theta: &[f64], other: usize) -> Result<()> {
        let d = self.model.num_params();
        same_len("parameters", d, theta.len())?;
        same_len("gradient", d, other)?;
        if let Some(index) = theta.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "parameters", index });
        }
        Ok(())
    }
}

impl<M: SquaredLossModel> Objective<f64> for Regression<M> {
    fn dim(&self) -> usize {
        self.model.num_params()
    }

    fn loss_grad(&mut self, params: &[f64], grad: &mut [f64], rng: &mut Rng) -> Result<f64> {
        self.check(params, grad.len())?;
        let n = self.model.num_samples();
        sample_batch(&mut self.idx, n, rng);
        let b = self.idx.len();
        self.model.outputs(params, &self.idx, &mut self.scratch, &mut self.f[..b]);
        let inv = 1.0 / b as f64;
        let mut loss = 0.0;
        for (f, &j) in self.f[..b].iter_mut().zip(&self.idx) {
            let r = *f - self.model.target(j) - self.noise.sample(rng);
            loss += 0.5 * r * r * inv;
            *f = r * inv;
        }
        grad.iter_mut().for_each(|g| *g = 0.0);
        self.model.add_grads(params, &self.idx, &self.f[..b], &mut self.scratch, grad);
        Ok(loss)
    }
}

impl<M: SquaredLossModel> Differentiable<f64> for Regression<M> {
    fn num_params(&self) -> usize {
        self.model.num_params()
    }

    fn full_loss_grad(&mut self, params: &[f64], grad: &mut [f64]) -> Result<f64> {
        self.check(params, grad.len())?;
        let n = self.model.num_samples();
        self.model.outputs(params, &self.all, &mut self.scratch, &mut self.f);
        let inv = 1.0 / n as f64;
        let mut loss = 0.0;
        for (j, f) in self.f.iter_mut().enumerate() {
            let r = *f - self.model.target(j);
            loss += 0.5 * r * r * inv;
            *f = r * inv;
        }
        grad.iter_mut().for_each(|g| *g = 0.0);
        self.model.add_grads(params, &self.all, &self.f, &mut self.scratch, grad);
        Ok(loss)
    }

    fn hvp(&mut self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.check(params, out.len())?;
        same_len("direction", params.len(), v.len())?;
        gradus_core::validate::all_finite("direction", v)?;
        let n = self.model.num_samples();
        let inv = 1.0 / n as f64;
        self.model.outputs(params, &self.all, &mut self.scratch, &mut self.f);
        self.model.output_grad_dots(params, &self.all, v, &mut self.scratch, &mut self.gv);
        for (j, (r, gv)) in self.f.iter_mut().zip(&mut self.gv).enumerate() {
            *r = (*r - self.model.target(j)) * inv;
            *gv *= inv;
        }
        out.iter_mut().for_each(|o| *o = 0.0);
        self.model.add_grads(params, &self.all, &self.gv, &mut self.scratch, out);
        self.model.add_hvps(params, &self.all, v, &self.f, &mut self.scratch, out);
        Ok(())
    }
}

/// `f64` check for generic scalars in constructors.
pub(crate) fn finite_data<T: Scalar>(what: &'static str, xs: &[T]) -> Result<()> {
    gradus_core::validate::all_finite(what, xs)
}
