//! Matrix completion by factorisation: `f_(a,b) = (U V^T)_{ab}` for observed entries `(a, b)`,
//! parameters `U` (`d1 x k`) then `V` (`d2 x k`), row-major. Paper 01's second setting: the
//! coordinate-wise sharpness Adam reduces is not rotation-invariant, unlike SGD's `tr(H)`,
//! which relates to the nuclear norm of `U V^T`.

use gradus_core::validate::same_len;
use gradus_core::{Error, Layout, Result};

use crate::regression::SquaredLossModel;

/// Observed entries `(row, col, value)` of a `d1 x d2` matrix fitted by `U V^T`.
#[derive(Debug, Clone)]
pub struct MatrixFactorization {
    d1: usize,
    d2: usize,
    k: usize,
    obs: Vec<(usize, usize, f64)>,
}

impl MatrixFactorization {
    /// Errors for out-of-range or non-finite observations, or zero sizes.
    pub fn new(d1: usize, d2: usize, k: usize, obs: Vec<(usize, usize, f64)>) -> Result<Self> {
        if d1 == 0 || d2 == 0 || k == 0 || obs.is_empty() {
            return Err(Error::InvalidShape {
                what: "matrix factorization",
                detail: format!("{d1} x {d2}, rank {k}, {} observations", obs.len()),
            });
        }
        if let Some(i) = obs.iter().position(|&(a, b, v)| a >= d1 || b >= d2 || !v.is_finite()) {
            return Err(Error::InvalidShape {
                what: "observations",
                detail: format!("entry {i} out of range or not finite"),
            });
        }
        Ok(MatrixFactorization { d1, d2, k, obs })
    }

    /// Blocks `U` (`d1 x k`) and `V` (`d2 x k`).
    pub fn layout(&self) -> Layout {
        Layout::new()
            .matrix("U", self.d1, self.k)
            .and_then(|l| l.matrix("V", self.d2, self.k))
            .unwrap_or_default()
    }

    /// `(U V^T)_{ab}`. Errors unless `theta` has `(d1 + d2) k` entries, `a < d1` and `b < d2`.
    pub fn entry(&self, theta: &[f64], a: usize, b: usize) -> Result<f64> {
        same_len("parameters", self.num_params(), theta.len())?;
        if a >= self.d1 || b >= self.d2 {
            return Err(Error::InvalidShape {
                what: "matrix entry",
                detail: format!("({a}, {b}) outside {} x {}", self.d1, self.d2),
            });
        }
        Ok(self.entry_unchecked(theta, a, b))
    }

    /// `(U V^T)_{ab}` for indices and a length already checked.
    fn entry_unchecked(&self, theta: &[f64], a: usize, b: usize) -> f64 {
        let k = self.k;
        let v0 = self.d1 * k;
        (0..k).map(|r| theta[a * k + r] * theta[v0 + b * k + r]).sum()
    }

    /// Dimensions `(d1, d2, k)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.d1, self.d2, self.k)
    }
}

impl SquaredLossModel for MatrixFactorization {
    fn num_params(&self) -> usize {
        (self.d1 + self.d2) * self.k
    }
    fn num_samples(&self) -> usize {
        self.obs.len()
    }
    fn target(&self, j: usize) -> f64 {
        self.obs[j].2
    }
    fn output(&self, theta: &[f64], j: usize) -> f64 {
        let (a, b, _) = self.obs[j];
        self.entry_unchecked(theta, a, b)
    }
    fn add_output_grad(&self, theta: &[f64], j: usize, scale: f64, out: &mut [f64]) {
        let (a, b, _) = self.obs[j];
        let (k, v0) = (self.k, self.d1 * self.k);
        for r in 0..k {
            out[a * k + r] += scale * theta[v0 + b * k + r];
            out[v0 + b * k + r] += scale * theta[a * k + r];
        }
    }
    fn output_grad_dot(&self, theta: &[f64], j: usize, v: &[f64]) -> f64 {
        let (a, b, _) = self.obs[j];
        let (k, v0) = (self.k, self.d1 * self.k);
        (0..k)
            .map(|r| theta[v0 + b * k + r] * v[a * k + r] + theta[a * k + r] * v[v0 + b * k + r])
            .sum()
    }
    fn add_output_hvp(&self, _: &[f64], j: usize, v: &[f64], scale: f64, out: &mut [f64]) {
        let (a, b, _) = self.obs[j];
        let (k, v0) = (self.k, self.d1 * self.k);
        for r in 0..k {
            out[a * k + r] += scale * v[v0 + b * k + r];
            out[v0 + b * k + r] += scale * v[a * k + r];
        }
    }
}
