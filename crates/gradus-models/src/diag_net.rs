//! Diagonal linear networks (paper 01): `f_j = <w, x_j>` with effective weights `w = u*u - v*v`
//! (or `w = u*v`), parameters `[u, v]`.
//!
//! On the manifold of interpolating solutions, with `c_i = 1/n sum_j x_ji^2` (DERIVED in the
//! spec): `tr(H) = 4 sum_i c_i (u_i^2 + v_i^2)` (minimised at fixed `w` by `4 sum c_i |w_i|`, a
//! weighted l1 norm: SGD's bias) and `tr(Diag(H)^{1/2}) = 2 sum_i sqrt(c_i) (|u_i| + |v_i|)`
//! (minimised by `2 sum sqrt(c_i) sqrt|w_i|`, an l1/2 quasi-norm: Adam's bias).

use gradus_core::{validate::same_len, Layout, Result};

use crate::regression::{finite_data, SquaredLossModel};
use crate::Dense;

/// The parametrisation of the effective weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagParam {
    /// `w = u*u - v*v`.
    SquareDifference,
    /// `w = u*v`.
    Product,
}

/// A diagonal linear network on a fixed design.
#[derive(Debug, Clone)]
pub struct DiagonalNet {
    x: Dense<f64>,
    y: Vec<f64>,
    param: DiagParam,
    c: Vec<f64>,
}

impl DiagonalNet {
    /// Errors unless there is one finite target per row.
    pub fn new(x: Dense<f64>, y: Vec<f64>, param: DiagParam) -> Result<Self> {
        same_len("targets", x.rows(), y.len())?;
        finite_data("design", x.as_slice())?;
        finite_data("targets", &y)?;
        let (n, d) = (x.rows(), x.cols());
        let c = (0..d).map(|i| (0..n).map(|j| x.row(j)[i].powi(2)).sum::<f64>() / n as f64).collect();
        Ok(DiagonalNet { x, y, param, c })
    }

    /// Dimension `d` of `w`.
    pub fn dim(&self) -> usize {
        self.x.cols()
    }

    /// Blocks `u` and `v`.
    pub fn layout(&self) -> Layout {
        let d = self.dim();
        Layout::new().vector("u", d).and_then(|l| l.vector("v", d)).unwrap_or_default()
    }

    /// Effective weights `w(theta)`.
    pub fn weights(&self, theta: &[f64], w: &mut [f64]) {
        let d = self.dim();
        for i in 0..d {
            let (u, v) = (theta[i], theta[d + i]);
            w[i] = match self.param {
                DiagParam::SquareDifference => u * u - v * v,
                DiagParam::Product => u * v,
            };
        }
    }

    /// `c_i = 1/n sum_j x_ji^2`.
    pub fn feature_second_moments(&self) -> &[f64] {
        &self.c
    }

    /// Closed-form Gauss-Newton `tr(H)`: `4 sum c_i (u_i^2 + v_i^2)` (`sum c_i (u^2 + v^2)` for
    /// `w = u v`).
    pub fn trace_closed_form(&self, theta: &[f64]) -> f64 {
        let d = self.dim();
        let k = if self.param == DiagParam::SquareDifference { 4.0 } else { 1.0 };
        (0..d).map(|i| k * self.c[i] * (theta[i].powi(2) + theta[d + i].powi(2))).sum()
    }

    /// Closed-form `tr(Diag(H)^{1/2})` on the manifold: `2 sum sqrt(c_i) (|u_i| + |v_i|)`
    /// (`sum sqrt(c_i)(|u_i| + |v_i|)` for `w = u v`).
    pub fn sqrt_diag_closed_form(&self, theta: &[f64]) -> f64 {
        let d = self.dim();
        let k = if self.param == DiagParam::SquareDifference { 2.0 } else { 1.0 };
        (0..d).map(|i| k * self.c[i].sqrt() * (theta[i].abs() + theta[d + i].abs())).sum()
    }

    /// `min_{u,v : w(u,v) = w}` of the two measures: `(4 sum c_i |w_i|, 2 sum sqrt(c_i |w_i|))`
    /// (spec property (f); for `u v`: `(2 sum c_i |w_i|, 2 sum sqrt(c_i |w_i|))`).
    pub fn measures_minimum(&self, w: &[f64]) -> (f64, f64) {
        let k = if self.param == DiagParam::SquareDifference { 4.0 } else { 2.0 };
        let l1: f64 = w.iter().zip(&self.c).map(|(w, c)| k * c * w.abs()).sum();
        let half: f64 = w.iter().zip(&self.c).map(|(w, c)| 2.0 * (c * w.abs()).sqrt()).sum();
        (l1, half)
    }
}

impl SquaredLossModel for DiagonalNet {
    fn num_params(&self) -> usize {
        2 * self.dim()
    }
    fn num_samples(&self) -> usize {
        self.x.rows()
    }
    fn target(&self, j: usize) -> f64 {
        self.y[j]
    }
    fn output(&self, theta: &[f64], j: usize) -> f64 {
        let d = self.dim();
        let x = self.x.row(j);
        (0..d)
            .map(|i| {
                let (u, v) = (theta[i], theta[d + i]);
                x[i] * match self.param {
                    DiagParam::SquareDifference => u * u - v * v,
                    DiagParam::Product => u * v,
                }
            })
            .sum()
    }
    fn add_output_grad(&self, theta: &[f64], j: usize, scale: f64, out: &mut [f64]) {
        let d = self.dim();
        let x = self.x.row(j);
        for i in 0..d {
            let (u, v) = (theta[i], theta[d + i]);
            let (gu, gv) = match self.param {
                DiagParam::SquareDifference => (2.0 * u, -2.0 * v),
                DiagParam::Product => (v, u),
            };
            out[i] += scale * gu * x[i];
            out[d + i] += scale * gv * x[i];
        }
    }
    fn output_grad_dot(&self, theta: &[f64], j: usize, dir: &[f64]) -> f64 {
        let d = self.dim();
        let x = self.x.row(j);
        (0..d)
            .map(|i| {
                let (u, v) = (theta[i], theta[d + i]);
                let (gu, gv) = match self.param {
                    DiagParam::SquareDifference => (2.0 * u, -2.0 * v),
                    DiagParam::Product => (v, u),
                };
                x[i] * (gu * dir[i] + gv * dir[d + i])
            })
            .sum()
    }
    fn scratch_len(&self) -> usize {
        self.dim()
    }

    /// All outputs from one computation of `w`: `f_j = <w, x_j>` by SIMD dot products.
    fn outputs(&self, theta: &[f64], rows: &[usize], scratch: &mut [f64], out: &mut [f64]) {
        self.weights(theta, scratch);
        for (o, &j) in out.iter_mut().zip(rows) {
            *o = gradus_kernels::dot(gradus_core::Par::Seq, scratch, self.x.row(j)).unwrap_or(f64::NAN);
        }
    }

    /// `s = sum_k weights_k x_{rows_k}` by SIMD axpys, then the chain rule through `w(u, v)`.
    fn add_grads(&self, theta: &[f64], rows: &[usize], weights: &[f64], scratch: &mut [f64], out: &mut [f64]) {
        let d = self.dim();
        scratch.iter_mut().for_each(|v| *v = 0.0);
        for (&wk, &j) in weights.iter().zip(rows) {
            // Lengths agree by construction (d columns).
            let _ = gradus_kernels::axpy(gradus_core::Par::Seq, wk, self.x.row(j), scratch);
        }
        for i in 0..d {
            let (u, v) = (theta[i], theta[d + i]);
            let (gu, gv) = match self.param {
                DiagParam::SquareDifference => (2.0 * u, -2.0 * v),
                DiagParam::Product => (v, u),
            };
            out[i] += gu * scratch[i];
            out[d + i] += gv * scratch[i];
        }
    }

    fn add_output_hvp(&self, _: &[f64], j: usize, dir: &[f64], scale: f64, out: &mut [f64]) {
        let d = self.dim();
        let x = self.x.row(j);
        for i in 0..d {
            match self.param {
                DiagParam::SquareDifference => {
                    out[i] += scale * 2.0 * x[i] * dir[i];
                    out[d + i] -= scale * 2.0 * x[i] * dir[d + i];
                }
                DiagParam::Product => {
                    out[i] += scale * x[i] * dir[d + i];
                    out[d + i] += scale * x[i] * dir[i];
                }
            }
        }
    }
}
