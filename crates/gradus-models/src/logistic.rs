//! Binary logistic regression: `f(w, b) = mean_i softplus(-y_i (w.x_i + b)) + l2/2 |w|^2`,
//! labels `y_i` in `{-1, +1}`.

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Layout, Objective, Result, Rng, Scalar};

use crate::data::sample_batch;
use crate::dense::dot;
use crate::{Dense, Differentiable};

/// Numerically stable `ln(1 + e^z)`.
#[inline]
pub(crate) fn softplus<T: Scalar>(z: T) -> T {
    if z > T::ZERO { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() }
}

/// Numerically stable logistic function `1 / (1 + e^-z)`.
#[inline]
pub(crate) fn sigmoid<T: Scalar>(z: T) -> T {
    if z >= T::ZERO {
        T::ONE / (T::ONE + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::ONE + e)
    }
}

/// Binary logistic regression on a fixed design; parameters are `[w (d), b]`.
#[derive(Debug, Clone)]
pub struct LogisticRegression<T> {
    x: Dense<T>,
    y: Vec<T>,
    l2: T,
    idx: Vec<usize>,
}

impl<T: Scalar> LogisticRegression<T> {
    /// Errors unless every label is `-1` or `+1`, there is one label per row, `l2 >= 0`,
    /// and `1 <= batch <= n` (minibatches are drawn with replacement; `batch = n` is the full
    /// deterministic gradient).
    pub fn new(x: Dense<T>, y: Vec<T>, l2: f64, batch: usize) -> Result<Self> {
        same_len("labels", x.rows(), y.len())?;
        gradus_core::validate::non_negative("l2", l2)?;
        gradus_core::validate::all_finite("design", x.as_slice())?;
        if let Some(i) = y.iter().position(|&v| v != T::ONE && v != -T::ONE) {
            return Err(Error::InvalidShape {
                what: "labels",
                detail: format!("label {i} is not +-1"),
            });
        }
        if batch == 0 || batch > x.rows() {
            return Err(Error::hyper("batch", batch as f64, "must lie in 1..=n"));
        }
        Ok(LogisticRegression { x, y, l2: T::from_f64(l2), idx: vec![0; batch] })
    }

    /// The parameter layout: weights then bias.
    pub fn layout(&self) -> Layout {
        Layout::new()
            .matrix("w", 1, self.x.cols())
            .and_then(|l| l.vector("b", 1))
            .unwrap_or_default()
    }

    /// Loss and gradient averaged over `rows` (`count` of them, repeats allowed).
    fn eval(
        &self,
        rows: impl Iterator<Item = usize>,
        count: usize,
        params: &[T],
        grad: &mut [T],
    ) -> Result<T> {
        let d = self.x.cols();
        same_len("parameters", d + 1, params.len())?;
        same_len("gradient", d + 1, grad.len())?;
        all_finite("parameters", params)?;
        let (w, b) = (&params[..d], params[d]);
        grad.iter_mut().for_each(|g| *g = T::ZERO);
        let inv = T::ONE / T::from_usize(count);
        let mut loss = T::ZERO;
        for i in rows {
            let xi = self.x.row(i);
            let m = self.y[i] * (dot(w, xi) + b);
            loss += softplus(-m);
            // d/dz softplus(-y z) = -y sigmoid(-y z)
            let s = -self.y[i] * sigmoid(-m) * inv;
            for (g, &xv) in grad[..d].iter_mut().zip(xi) {
                *g += s * xv;
            }
            grad[d] += s;
        }
        let half = T::from_f64(0.5);
        let reg: T = w.iter().map(|&v| v * v).sum::<T>() * self.l2 * half;
        for (g, &wv) in grad[..d].iter_mut().zip(w) {
            *g += self.l2 * wv;
        }
        Ok(loss * inv + reg)
    }

    /// Classification error rate of `params` on the design. Errors unless `params` has
    /// `d + 1` entries, all finite.
    pub fn error_rate(&self, params: &[T]) -> Result<f64> {
        let d = self.x.cols();
        same_len("parameters", d + 1, params.len())?;
        all_finite("parameters", params)?;
        let wrong = (0..self.x.rows())
            .filter(|&i| (self.y[i] * (dot(&params[..d], self.x.row(i)) + params[d])) <= T::ZERO)
            .count();
        Ok(wrong as f64 / self.x.rows() as f64)
    }
}

impl<T: Scalar> Objective<T> for LogisticRegression<T> {
    fn dim(&self) -> usize {
        self.x.cols() + 1
    }

    fn loss_grad(&mut self, params: &[T], grad: &mut [T], rng: &mut Rng) -> Result<T> {
        sample_batch(&mut self.idx, self.x.rows(), rng);
        self.eval(self.idx.iter().copied(), self.idx.len(), params, grad)
    }
}

impl<T: Scalar> Differentiable<T> for LogisticRegression<T> {
    fn num_params(&self) -> usize {
        self.x.cols() + 1
    }

    fn full_loss_grad(&mut self, params: &[T], grad: &mut [T]) -> Result<T> {
        self.eval(0..self.x.rows(), self.x.rows(), params, grad)
    }

    fn hvp(&mut self, params: &[T], v: &[T], out: &mut [T]) -> Result<()> {
        let d = self.x.cols();
        same_len("parameters", d + 1, params.len())?;
        same_len("direction", d + 1, v.len())?;
        same_len("output", d + 1, out.len())?;
        all_finite("parameters", params)?;
        all_finite("direction", v)?;
        out.iter_mut().for_each(|o| *o = T::ZERO);
        let n = self.x.rows();
        let inv = T::ONE / T::from_usize(n);
        for i in 0..n {
            let xi = self.x.row(i);
            let z = dot(&params[..d], xi) + params[d];
            let s = sigmoid(z);
            let c = s * (T::ONE - s) * (dot(&v[..d], xi) + v[d]) * inv;
            for (o, &xv) in out[..d].iter_mut().zip(xi) {
                *o += c * xv;
            }
            out[d] += c;
        }
        for (o, &vv) in out[..d].iter_mut().zip(v) {
            *o += self.l2 * vv;
        }
        Ok(())
    }
}
