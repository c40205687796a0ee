//! Loss landscapes `L(θ)` for the control problem.

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Par, Result};
use gradus_linalg::{Backend, eigh};

use super::dense;

/// A twice-differentiable loss on `R^dim`. Callers pass slices of length [`Potential::dim`]
/// (the action checks this once).
pub trait Potential {
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// `L(x)`, writing `∇L(x)` into `grad`.
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64;
    /// `∇²L(x)` into `out` (row-major `dim x dim`).
    fn hessian(&self, x: &[f64], out: &mut [f64]);
}

/// `L(θ) = 1/2 (θ - μ)ᵀ H (θ - μ)` with `H` symmetric positive semi-definite.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadraticLoss {
    dim: usize,
    h: Vec<f64>,
    mu: Vec<f64>,
}

impl QuadraticLoss {
    /// Errors name a wrong length, a non-finite or asymmetric `H`, or a negative eigenvalue
    /// (below `-1e-12` times the largest magnitude).
    pub fn new(h: Vec<f64>, mu: Vec<f64>) -> Result<Self> {
        let dim = mu.len();
        if dim == 0 {
            return Err(Error::InvalidShape { what: "quadratic loss", detail: "dim = 0".into() });
        }
        same_len("Hessian", dim * dim, h.len())?;
        all_finite("minimiser", &mu)?;
        let eig = eigh(dense::from_row_major(dim, &h).as_ref(), Backend::Faer, Par::Seq)?;
        let (lo, hi) = (eig.values[0], eig.values[dim - 1]);
        if lo < -1e-12 * hi.abs().max(lo.abs()) {
            return Err(Error::NotPositiveDefinite {
                detail: format!("Hessian has eigenvalue {lo:e} < 0"),
            });
        }
        Ok(QuadraticLoss { dim, h, mu })
    }

    /// `H = diag(h)`, every `h_i >= 0`.
    pub fn diagonal(h: &[f64], mu: &[f64]) -> Result<Self> {
        same_len("Hessian diagonal", mu.len(), h.len())?;
        Self::new(dense::diag(h), mu.to_vec())
    }

    /// `H` (row-major).
    pub fn hessian_matrix(&self) -> &[f64] {
        &self.h
    }

    /// The minimiser `μ`.
    pub fn minimiser(&self) -> &[f64] {
        &self.mu
    }
}

impl Potential for QuadraticLoss {
    fn dim(&self) -> usize {
        self.dim
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.dim;
        let mut value = 0.0;
        for i in 0..d {
            let row = &self.h[i * d..(i + 1) * d];
            let gi: f64 = row.iter().zip(x).zip(&self.mu).map(|((h, x), m)| h * (x - m)).sum();
            grad[i] = gi;
            value += 0.5 * gi * (x[i] - self.mu[i]);
        }
        value
    }
    fn hessian(&self, _x: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&self.h);
    }
}

/// The double well of the paper's first figure, `V(x, y) = a (x² - b)² + c y² + d x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoubleWell {
    /// Height of the barrier.
    pub a: f64,
    /// Squared half-distance of the wells.
    pub b: f64,
    /// Curvature across the wells.
    pub c: f64,
    /// Tilt: `d < 0` makes the right well the global minimum.
    pub d: f64,
}

impl DoubleWell {
    /// The notebook's landscape: `a = b = c = 1`, `d = -0.5` (global minimum near
    /// `x = 1.06`, local minimum near `x = -0.93`).
    pub fn notebook() -> Self {
        DoubleWell { a: 1.0, b: 1.0, c: 1.0, d: -0.5 }
    }

    /// `V(x, y)`.
    pub fn value(&self, x: f64, y: f64) -> f64 {
        self.a * (x * x - self.b).powi(2) + self.c * y * y + self.d * x
    }

    /// The stationary points on the axis `y = 0`: the roots of `4 a x (x² - b) + d = 0`,
    /// ascending (three when the wells exist; the outer two are minima).
    pub fn critical_points(&self) -> Vec<f64> {
        let f = |x: f64| 4.0 * self.a * x * (x * x - self.b) + self.d;
        let df = |x: f64| 4.0 * self.a * (3.0 * x * x - self.b);
        let mut roots: Vec<f64> = Vec::new();
        let span = 2.0 * (self.b.abs().sqrt() + (self.d.abs() / self.a.abs()).cbrt() + 1.0);
        let n = 400;
        for i in 0..n {
            let (lo, hi) = (
                -span + 2.0 * span * i as f64 / n as f64,
                -span + 2.0 * span * (i + 1) as f64 / n as f64,
            );
            if f(lo) == 0.0 {
                roots.push(lo);
            } else if f(lo) * f(hi) < 0.0 {
                // Bisection keeps the bracket; a few Newton steps polish the root.
                let (mut a, mut b) = (lo, hi);
                for _ in 0..60 {
                    let m = 0.5 * (a + b);
                    if f(a) * f(m) <= 0.0 { b = m } else { a = m }
                }
                let mut x = 0.5 * (a + b);
                for _ in 0..3 {
                    let step = f(x) / df(x);
                    if step.is_finite() {
                        x -= step;
                    }
                }
                roots.push(x);
            }
        }
        roots
    }
}

impl Potential for DoubleWell {
    fn dim(&self) -> usize {
        2
    }
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let (u, v) = (x[0], x[1]);
        grad[0] = 4.0 * self.a * u * (u * u - self.b) + self.d;
        grad[1] = 2.0 * self.c * v;
        self.value(u, v)
    }
    fn hessian(&self, x: &[f64], out: &mut [f64]) {
        out[0] = 4.0 * self.a * (3.0 * x[0] * x[0] - self.b);
        out[1] = 0.0;
        out[2] = 0.0;
        out[3] = 2.0 * self.c;
    }
}
