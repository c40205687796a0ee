//! Targets of the particle flows: an unnormalised log-density and its gradient.

// Index loops mirror the matrix formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use gradus_core::{Error, Result};

/// An unnormalised log-density `f` with its gradient (the flows sample `∝ exp(f / T)`).
pub trait LogDensity: Sync {
    /// Dimension.
    fn dim(&self) -> usize;

    /// `f(y)`, with `grad f(y)` written to `grad` (both of length `dim()`).
    fn value_grad(&self, y: &[f64], grad: &mut [f64]) -> f64;
}

/// The Gaussian `N(mean, cov)`: `f(y) = -(y - m)^T P (y - m) / 2`, `P = cov^-1`.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianTarget {
    mean: Vec<f64>,
    precision: Vec<f64>,
}

/// Lower Cholesky factor of a symmetric positive definite `n x n` matrix.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Result<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let v = a[i * n + i] - s;
                if !(v > 0.0 && v.is_finite()) {
                    return Err(Error::NotPositiveDefinite {
                        detail: format!("pivot {i} is {v:e}"),
                    });
                }
                l[i * n + i] = v.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Ok(l)
}

/// Inverse of a symmetric positive definite matrix via its Cholesky factor.
pub(crate) fn spd_inverse(a: &[f64], n: usize) -> Result<Vec<f64>> {
    let l = cholesky(a, n)?;
    let mut inv = vec![0.0; n * n];
    for c in 0..n {
        // Solve L z = e_c, then L^T x = z.
        let mut z = vec![0.0; n];
        for i in 0..n {
            let s: f64 = (0..i).map(|k| l[i * n + k] * z[k]).sum();
            z[i] = ((if i == c { 1.0 } else { 0.0 }) - s) / l[i * n + i];
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| l[k * n + i] * inv[k * n + c]).sum();
            inv[i * n + c] = (z[i] - s) / l[i * n + i];
        }
    }
    Ok(inv)
}

impl GaussianTarget {
    /// `N(mean, cov)` with `cov` symmetric positive definite (row-major `d x d`).
    pub fn new(mean: Vec<f64>, cov: &[f64]) -> Result<Self> {
        let d = mean.len();
        if d == 0 {
            return Err(Error::InvalidShape { what: "gaussian target", detail: "dim 0".into() });
        }
        gradus_core::validate::same_len("covariance", d * d, cov.len())?;
        gradus_core::validate::all_finite("gaussian mean", &mean)?;
        gradus_core::validate::all_finite("covariance", cov)?;
        let mut asym: f64 = 0.0;
        for i in 0..d {
            for j in 0..i {
                asym = asym.max((cov[i * d + j] - cov[j * d + i]).abs());
            }
        }
        let scale = cov.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if asym > 1e-12 * scale {
            return Err(Error::NotSymmetric { asymmetry: asym, tolerance: 1e-12 * scale });
        }
        Ok(GaussianTarget { precision: spd_inverse(cov, d)?, mean })
    }

    /// `N(mean, s^2 I)`.
    pub fn isotropic(mean: Vec<f64>, s: f64) -> Result<Self> {
        gradus_core::validate::positive("standard deviation", s)?;
        let d = mean.len();
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            cov[i * d + i] = s * s;
        }
        Self::new(mean, &cov)
    }
}

impl LogDensity for GaussianTarget {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn value_grad(&self, y: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.mean.len();
        let mut val = 0.0;
        for i in 0..d {
            let mut pi = 0.0;
            for j in 0..d {
                pi += self.precision[i * d + j] * (y[j] - self.mean[j]);
            }
            grad[i] = -pi;
            val -= 0.5 * (y[i] - self.mean[i]) * pi;
        }
        val
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_and_gradient() {
        let cov = [2.0, 0.5, 0.5, 1.0];
        let inv = spd_inverse(&cov, 2).unwrap();
        let prod = [
            cov[0] * inv[0] + cov[1] * inv[2],
            cov[0] * inv[1] + cov[1] * inv[3],
            cov[2] * inv[0] + cov[3] * inv[2],
            cov[2] * inv[1] + cov[3] * inv[3],
        ];
        for (p, e) in prod.iter().zip([1.0, 0.0, 0.0, 1.0]) {
            assert!((p - e).abs() < 1e-14);
        }
        let t = GaussianTarget::new(vec![1.0, -1.0], &cov).unwrap();
        let mut g = [0.0; 2];
        let y = [0.3, 0.2];
        t.value_grad(&y, &mut g);
        let h = 1e-6;
        for k in 0..2 {
            let (mut yp, mut ym) = (y, y);
            yp[k] += h;
            ym[k] -= h;
            let mut s = [0.0; 2];
            let fd = (t.value_grad(&yp, &mut s) - t.value_grad(&ym, &mut s)) / (2.0 * h);
            assert!((fd - g[k]).abs() < 1e-8);
        }
        assert!(GaussianTarget::new(vec![0.0, 0.0], &[1.0, 2.0, 2.0, 1.0]).is_err());
        assert!(GaussianTarget::new(vec![0.0, 0.0], &[1.0, 0.1, 0.0, 1.0]).is_err());
    }
}
