//! Weighted particle systems `sum_i w_i delta_{y_i}`.

use gradus_core::{Error, Result};

/// `n` particles in `R^d` (positions row-major) with weights summing to one.
#[derive(Debug, Clone, PartialEq)]
pub struct Particles {
    dim: usize,
    pub(crate) pos: Vec<f64>,
    pub(crate) weights: Vec<f64>,
}

impl Particles {
    /// Equally weighted particles at `positions` (row-major, `dim` columns, finite).
    pub fn new(dim: usize, positions: Vec<f64>) -> Result<Self> {
        let n = positions.len().checked_div(dim).unwrap_or(0);
        Self::weighted(dim, positions, vec![1.0; n])
    }

    /// Particles with weights proportional to `weights` (finite, `>= 0`, positive sum).
    pub fn weighted(dim: usize, positions: Vec<f64>, weights: Vec<f64>) -> Result<Self> {
        if dim == 0 || positions.is_empty() || positions.len() % dim != 0 {
            return Err(Error::InvalidShape {
                what: "particles",
                detail: format!("{} coordinates in dimension {dim}", positions.len()),
            });
        }
        gradus_core::validate::same_len("particle weights", positions.len() / dim, weights.len())?;
        gradus_core::validate::all_finite("particle positions", &positions)?;
        gradus_core::validate::all_finite("particle weights", &weights)?;
        if let Some(&w) = weights.iter().find(|&&w| w < 0.0) {
            return Err(Error::hyper("particle weight", w, "must be >= 0"));
        }
        let s: f64 = weights.iter().sum();
        if !(s > 0.0 && s.is_finite()) {
            return Err(Error::hyper("sum of particle weights", s, "must be finite and > 0"));
        }
        let weights = weights.iter().map(|w| w / s).collect();
        Ok(Particles { dim, pos: positions, weights })
    }

    /// Replaces the particles by `m >= 1` equally weighted copies of the finite point `x`,
    /// reusing the buffers (no allocation once they have grown to `m` particles).
    pub fn reset_copies(&mut self, x: &[f64], m: usize) -> Result<()> {
        if x.is_empty() || m == 0 {
            return Err(Error::InvalidShape {
                what: "particles",
                detail: format!("{m} copies of a point in dimension {}", x.len()),
            });
        }
        gradus_core::validate::all_finite("particle positions", x)?;
        self.dim = x.len();
        self.pos.clear();
        for _ in 0..m {
            self.pos.extend_from_slice(x);
        }
        self.weights.clear();
        self.weights.resize(m, 1.0 / m as f64);
        Ok(())
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of particles.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Always false (at least one particle).
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Positions, row-major.
    pub fn positions(&self) -> &[f64] {
        &self.pos
    }

    /// Particle `i`.
    pub fn position(&self, i: usize) -> &[f64] {
        &self.pos[i * self.dim..(i + 1) * self.dim]
    }

    /// Weights (sum to one).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Weighted mean `sum_i w_i y_i`.
    pub fn mean(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.dim];
        for (y, w) in self.pos.chunks_exact(self.dim).zip(&self.weights) {
            for (mk, yk) in m.iter_mut().zip(y) {
                *mk += w * yk;
            }
        }
        m
    }

    /// Weighted covariance `sum_i w_i (y_i - m)(y_i - m)^T` (row-major `d x d`).
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim;
        let m = self.mean();
        let mut c = vec![0.0; d * d];
        for (y, w) in self.pos.chunks_exact(d).zip(&self.weights) {
            for a in 0..d {
                for b in 0..d {
                    c[a * d + b] += w * (y[a] - m[a]) * (y[b] - m[b]);
                }
            }
        }
        c
    }

    /// Kish's effective sample size `1 / sum_i w_i^2`.
    pub fn effective_sample_size(&self) -> f64 {
        1.0 / self.weights.iter().map(|w| w * w).sum::<f64>()
    }
}
