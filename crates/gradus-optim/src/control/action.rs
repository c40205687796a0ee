//! The discretised action and its exact derivatives.
//!
//! On the grid `t_n = n T / N`, `n = 0..=N`, with `Δt = T/N`, forward-difference velocity and
//! the loss at the left point of each interval (the official notebooks' convention):
//!
//! ```text
//! J_Δ = Σ_{n<N} w_n [ (1/(2η)) u_nᵀ G u_n + k L(x_n) ],   u_n = (x_{n+1} - x_n)/Δt - A x_n,
//! w_n = Δt e^{-γ t_n}.
//! ```
//!
//! `J_Δ` is a Riemann sum of the action; the notebooks minimise and print the *mean* over the
//! intervals, `J_Δ / T` ([`DiscreteAction::mean`]).

use gradus_core::numeric::dot;
use gradus_core::validate::{all_finite, positive, same_len};
use gradus_core::{Error, Result};

use super::potential::Potential;
use super::problem::ControlProblem;

/// A uniform time grid on `[0, T]` with `N` intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeGrid {
    horizon: f64,
    intervals: usize,
}

impl TimeGrid {
    /// `T > 0` and `N >= 1`.
    pub fn new(horizon: f64, intervals: usize) -> Result<Self> {
        positive("horizon", horizon)?;
        if intervals == 0 {
            return Err(Error::hyper("intervals", 0.0, "need at least one interval"));
        }
        Ok(TimeGrid { horizon, intervals })
    }
    /// `T`.
    pub fn horizon(&self) -> f64 {
        self.horizon
    }
    /// `N`.
    pub fn intervals(&self) -> usize {
        self.intervals
    }
    /// `N + 1`.
    pub fn points(&self) -> usize {
        self.intervals + 1
    }
    /// `Δt = T / N`.
    pub fn dt(&self) -> f64 {
        self.horizon / self.intervals as f64
    }
    /// `t_n`.
    pub fn time(&self, n: usize) -> f64 {
        self.horizon * n as f64 / self.intervals as f64
    }
}

/// `J_Δ` split into its two terms (both discounted and summed over the intervals).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActionParts {
    /// `J_Δ`.
    pub total: f64,
    /// `Σ w_n (1/(2η)) u_nᵀ G u_n`.
    pub kinetic: f64,
    /// `Σ w_n k L(x_n)`.
    pub potential: f64,
}

/// The discretised action of a problem and a potential on a grid, with scratch for
/// allocation-free evaluation. Paths are node-major: `x[n * dim + i]`.
#[derive(Debug, Clone)]
pub struct DiscreteAction<'a, P> {
    problem: &'a ControlProblem,
    potential: &'a P,
    grid: TimeGrid,
    weights: Vec<f64>,
    u: Vec<f64>,
    gu: Vec<f64>,
    lg: Vec<f64>,
}

impl<'a, P: Potential> DiscreteAction<'a, P> {
    /// Errors if the potential's dimension differs from the problem's.
    pub fn new(problem: &'a ControlProblem, potential: &'a P, grid: TimeGrid) -> Result<Self> {
        let d = problem.dim();
        same_len("potential dimension", d, potential.dim())?;
        let dt = grid.dt();
        let weights =
            (0..grid.intervals()).map(|n| dt * (-problem.gamma() * grid.time(n)).exp()).collect();
        Ok(DiscreteAction {
            problem,
            potential,
            grid,
            weights,
            u: vec![0.0; d],
            gu: vec![0.0; d],
            lg: vec![0.0; d],
        })
    }

    /// The grid.
    pub fn grid(&self) -> TimeGrid {
        self.grid
    }

    /// The problem.
    pub fn problem(&self) -> &ControlProblem {
        self.problem
    }

    /// The notebooks' normalisation, the mean over intervals: `J_Δ / T`.
    pub fn mean(&self, total: f64) -> f64 {
        total / self.grid.horizon()
    }

    fn check(&self, path: &[f64]) -> Result<()> {
        same_len("path", self.grid.points() * self.problem.dim(), path.len())?;
        all_finite("path", path)
    }

    /// `u_n` of interval `n` into `self.u`.
    fn velocity(&mut self, path: &[f64], n: usize) {
        let d = self.problem.dim();
        let dt = self.grid.dt();
        let (x, y) = (&path[n * d..(n + 1) * d], &path[(n + 1) * d..(n + 2) * d]);
        self.problem.apply_dynamics(x, &mut self.gu);
        for i in 0..d {
            self.u[i] = (y[i] - x[i]) / dt - self.gu[i];
        }
        self.problem.apply_metric(&self.u, &mut self.gu);
    }

    /// `J_Δ` and its two terms.
    pub fn parts(&mut self, path: &[f64]) -> Result<ActionParts> {
        self.check(path)?;
        let d = self.problem.dim();
        let (eta, k) = (self.problem.eta(), self.problem.k());
        let (mut kinetic, mut potential) = (0.0, 0.0);
        for n in 0..self.grid.intervals() {
            self.velocity(path, n);
            let w = self.weights[n];
            kinetic += w * 0.5 / eta * dot(&self.u, &self.gu);
            potential += w * k * self.potential.value_grad(&path[n * d..(n + 1) * d], &mut self.lg);
        }
        Ok(ActionParts { total: kinetic + potential, kinetic, potential })
    }

    /// `J_Δ`, writing `∂J_Δ/∂x` (every node, endpoints included) into `grad`.
    pub fn value_grad(&mut self, path: &[f64], grad: &mut [f64]) -> Result<f64> {
        self.check(path)?;
        same_len("path gradient", path.len(), grad.len())?;
        let d = self.problem.dim();
        let (eta, k, dt) = (self.problem.eta(), self.problem.k(), self.grid.dt());
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        for n in 0..self.grid.intervals() {
            self.velocity(path, n);
            let w = self.weights[n];
            let lv = self.potential.value_grad(&path[n * d..(n + 1) * d], &mut self.lg);
            total += w * (0.5 / eta * dot(&self.u, &self.gu) + k * lv);
            let (head, tail) = grad.split_at_mut((n + 1) * d);
            let (gx, gy) = (&mut head[n * d..], &mut tail[..d]);
            let s = w / (eta * dt);
            for i in 0..d {
                gy[i] += s * self.gu[i];
                gx[i] += -s * self.gu[i] + w * k * self.lg[i];
            }
            self.problem.add_dynamics_transpose(-w / eta, &self.gu, gx);
        }
        Ok(total)
    }

    /// The block-tridiagonal Hessian of `J_Δ` over every node: `diag[n]` (`dim x dim`,
    /// row-major, `n = 0..=N`) and `upper[n]` = block `(n, n+1)`, `n < N`. With
    /// `c_n = w_n/(η Δt²)` and `B = I + Δt A`: `(n+1, n+1) += c_n G`,
    /// `(n, n) += c_n Bᵀ G B + w_n k ∇²L(x_n)`, `(n, n+1) = -c_n Bᵀ G`.
    pub fn hessian_blocks(
        &mut self,
        path: &[f64],
        diag: &mut [f64],
        upper: &mut [f64],
    ) -> Result<()> {
        self.check(path)?;
        let d = self.problem.dim();
        let dd = d * d;
        same_len("Hessian diagonal blocks", self.grid.points() * dd, diag.len())?;
        same_len("Hessian upper blocks", self.grid.intervals() * dd, upper.len())?;
        let (eta, k, dt) = (self.problem.eta(), self.problem.k(), self.grid.dt());
        let g = self.problem.metric_dense();
        let a = self.problem.dynamics_dense();
        // Bᵀ G and Bᵀ G B, once.
        let b: Vec<f64> = (0..dd).map(|ij| f64::from(ij / d == ij % d) + dt * a[ij]).collect();
        let mut btg = vec![0.0; dd];
        let mut btgb = vec![0.0; dd];
        for i in 0..d {
            for j in 0..d {
                btg[i * d + j] = (0..d).map(|m| b[m * d + i] * g[m * d + j]).sum();
            }
        }
        for i in 0..d {
            for j in 0..d {
                btgb[i * d + j] = (0..d).map(|m| btg[i * d + m] * b[m * d + j]).sum();
            }
        }
        diag.iter_mut().for_each(|v| *v = 0.0);
        let mut hess = vec![0.0; dd];
        for n in 0..self.grid.intervals() {
            let w = self.weights[n];
            let c = w / (eta * dt * dt);
            self.potential.hessian(&path[n * d..(n + 1) * d], &mut hess);
            for ij in 0..dd {
                diag[(n + 1) * dd + ij] += c * g[ij];
                diag[n * dd + ij] += c * btgb[ij] + w * k * hess[ij];
                upper[n * dd + ij] = -c * btg[ij];
            }
        }
        Ok(())
    }
}
