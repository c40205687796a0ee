//! The control problem: what moving the parameters costs, and how they move on their own.

use gradus_core::validate::{all_finite, non_negative, positive, same_len};
use gradus_core::{Error, Par, Result};
use gradus_linalg::{Backend, eigh};

use super::dense;

/// Costs and dynamics of the action `∫ e^{-γt} [(1/(2η)) |θ̇ - Aθ|²_G + k L(θ)] dt`
/// (paper 10, the objective functional), for `dim` parameters.
///
/// `G` defaults to the identity and the default dynamics `f(θ) = A θ` to `f = 0`. Matrices are
/// row-major `dim x dim`.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlProblem {
    dim: usize,
    eta: f64,
    k: f64,
    gamma: f64,
    metric: Option<Vec<f64>>,
    dynamics: Option<Vec<f64>>,
}

impl ControlProblem {
    /// `η > 0` (inverse cost of motion, the "learning rate"), `k > 0` (weight of the loss),
    /// `γ >= 0` (discount rate), identity metric, no default dynamics.
    pub fn new(dim: usize, eta: f64, k: f64, gamma: f64) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidShape { what: "control problem", detail: "dim = 0".into() });
        }
        positive("eta", eta)?;
        positive("k", k)?;
        non_negative("gamma", gamma)?;
        Ok(ControlProblem { dim, eta, k, gamma, metric: None, dynamics: None })
    }

    /// Sets the metric `G` (symmetric positive definite, row-major). Errors name a wrong
    /// length, a non-finite or asymmetric entry, or a non-positive eigenvalue.
    pub fn with_metric(mut self, g: Vec<f64>) -> Result<Self> {
        same_len("metric", self.dim * self.dim, g.len())?;
        let eig = eigh(dense::from_row_major(self.dim, &g).as_ref(), Backend::Faer, Par::Seq)?;
        let min = eig.values.first().copied().unwrap_or(0.0);
        if !min.is_finite() || min <= 0.0 {
            return Err(Error::NotPositiveDefinite {
                detail: format!("metric G has smallest eigenvalue {min:e}"),
            });
        }
        self.metric = Some(g);
        Ok(self)
    }

    /// Sets a diagonal metric `G = diag(g)`, every entry finite and `> 0`.
    pub fn with_diagonal_metric(self, g: &[f64]) -> Result<Self> {
        same_len("metric diagonal", self.dim, g.len())?;
        let full = dense::diag(g);
        self.with_metric(full)
    }

    /// Sets the default dynamics `f(θ) = A θ` (row-major, finite).
    pub fn with_dynamics(mut self, a: Vec<f64>) -> Result<Self> {
        same_len("dynamics", self.dim * self.dim, a.len())?;
        all_finite("dynamics", &a)?;
        self.dynamics = Some(a);
        Ok(self)
    }

    /// Weight decay as default dynamics, `f(θ) = -j θ` (spec item 5).
    pub fn with_weight_decay(self, j: f64) -> Result<Self> {
        non_negative("weight decay j", j)?;
        let a = dense::diag(&vec![-j; self.dim]);
        self.with_dynamics(a)
    }

    /// Rotational default dynamics in 2-D, `f(θ) = q J θ` with `J = [[0, -1], [1, 0]]`.
    pub fn with_rotation(self, q: f64) -> Result<Self> {
        if self.dim != 2 {
            return Err(Error::InvalidShape {
                what: "rotation dynamics",
                detail: format!("needs dim = 2, got {}", self.dim),
            });
        }
        if !q.is_finite() {
            return Err(Error::hyper("q", q, "must be finite"));
        }
        self.with_dynamics(vec![0.0, -q, q, 0.0])
    }

    /// Number of parameters.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// `η`.
    pub fn eta(&self) -> f64 {
        self.eta
    }
    /// `k`.
    pub fn k(&self) -> f64 {
        self.k
    }
    /// `γ`.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
    /// The metric `G` (row-major), `None` for the identity.
    pub fn metric(&self) -> Option<&[f64]> {
        self.metric.as_deref()
    }
    /// The default dynamics `A` (row-major), `None` for `f = 0`.
    pub fn dynamics(&self) -> Option<&[f64]> {
        self.dynamics.as_deref()
    }

    /// `G` as a dense row-major matrix (the identity when unset).
    pub fn metric_dense(&self) -> Vec<f64> {
        self.metric.clone().unwrap_or_else(|| dense::diag(&vec![1.0; self.dim]))
    }

    /// `A` as a dense row-major matrix (zero when unset).
    pub fn dynamics_dense(&self) -> Vec<f64> {
        self.dynamics.clone().unwrap_or_else(|| vec![0.0; self.dim * self.dim])
    }

    /// `out = G u`.
    pub(crate) fn apply_metric(&self, u: &[f64], out: &mut [f64]) {
        match &self.metric {
            None => out.copy_from_slice(u),
            Some(g) => dense::matvec(g, u, out),
        }
    }

    /// `out = A x` (zero without default dynamics).
    pub(crate) fn apply_dynamics(&self, x: &[f64], out: &mut [f64]) {
        match &self.dynamics {
            None => out.iter_mut().for_each(|o| *o = 0.0),
            Some(a) => dense::matvec(a, x, out),
        }
    }

    /// `out += s Aᵀ y`.
    pub(crate) fn add_dynamics_transpose(&self, s: f64, y: &[f64], out: &mut [f64]) {
        if let Some(a) = &self.dynamics {
            let d = self.dim;
            for (i, &yi) in y.iter().enumerate() {
                for j in 0..d {
                    out[j] += s * a[i * d + j] * yi;
                }
            }
        }
    }
}
