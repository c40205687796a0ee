//! Minimising the discretised action over the path: the optimal trajectory for any loss.
//!
//! The first node is the fixed start `θ₀`; the last is fixed (the notebooks' first figure)
//! or free. Two methods: gradient descent on the mean action `J_Δ / T` (the notebooks': fixed
//! step, many iterations) and Newton's method on `J_Δ` with the exact block-tridiagonal
//! Hessian (a Levenberg shift while it is not positive definite, Armijo backtracking), which
//! reaches the same minimiser to rounding in a few steps.
//!
//! The Euler-Lagrange equation cannot be integrated forward instead: the `γ θ̇` term is
//! anti-damping in forward time (spec, pitfalls), so the path is solved as a whole.

use gradus_core::validate::{positive, same_len};
use gradus_core::{Error, Result};

use super::action::{ActionParts, DiscreteAction, TimeGrid};
use super::dense;
use super::potential::Potential;

/// Whether the last node is held fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// Both endpoints fixed (taken from the initial path).
    FixedEnd,
    /// Only the start fixed; the end is free (natural boundary condition).
    FreeEnd,
}

/// How the path is optimised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// `x -= step ∇(J_Δ / T)` on the free nodes.
    GradientDescent {
        /// Step size on the mean action.
        step: f64,
    },
    /// Newton on `J_Δ` with the exact Hessian.
    Newton,
}

/// Method, step cap and stopping rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathSettings {
    /// The method.
    pub method: Method,
    /// Step cap.
    pub max_steps: u64,
    /// Converged when the Euclidean norm of `∇(J_Δ / T)` over the free nodes is at most this
    /// (Newton also stops, converged, once its predicted decrease `-gᵀ Δ` is below
    /// `64 ε |J_Δ|`: the action cannot resolve further progress).
    pub grad_tol: f64,
    /// Record the mean action every this many steps (and at the end).
    pub record_every: u64,
}

impl PathSettings {
    /// The notebooks' optimiser for the first figure: 60,000 gradient steps of size `1e-2` on
    /// the mean action. The stopping rule (gradient norm `1e-9`) is ours: the notebook runs
    /// the full budget.
    pub fn notebook() -> Self {
        PathSettings {
            method: Method::GradientDescent { step: 1e-2 },
            max_steps: 60_000,
            grad_tol: 1e-9,
            record_every: 100,
        }
    }

    /// Newton to a gradient norm of `1e-10` within 100 steps (or until the predicted
    /// decrease is below what `f64` resolves in the action).
    pub fn newton() -> Self {
        PathSettings { method: Method::Newton, max_steps: 100, grad_tol: 1e-10, record_every: 1 }
    }
}

/// The optimised path and how the optimisation ended.
#[derive(Debug, Clone, PartialEq)]
pub struct PathSolution {
    /// Nodes, node-major.
    pub path: Vec<f64>,
    /// `J_Δ` and its terms at the end.
    pub parts: ActionParts,
    /// `J_Δ / T` at the end (the notebooks' printed value).
    pub mean_action: f64,
    /// Steps taken.
    pub steps: u64,
    /// Whether the gradient tolerance was met within the cap.
    pub converged: bool,
    /// Final norm of `∇(J_Δ / T)` over the free nodes.
    pub grad_norm: f64,
    /// `(step, J_Δ / T)` records.
    pub history: Vec<(u64, f64)>,
}

/// Straight line from `start` to `end` on the grid: the notebooks' initial path.
pub fn linear_path(grid: TimeGrid, start: &[f64], end: &[f64]) -> Result<Vec<f64>> {
    same_len("path end", start.len(), end.len())?;
    let n = grid.intervals();
    let mut path = Vec::with_capacity(grid.points() * start.len());
    for k in 0..=n {
        let s = k as f64 / n as f64;
        path.extend(start.iter().zip(end).map(|(a, b)| a * (1.0 - s) + s * b));
    }
    Ok(path)
}

/// Minimises the discretised action from the initial path `init` (whose first node, and last
/// node under [`Boundary::FixedEnd`], stay fixed).
///
/// Errors for a path of the wrong length or with non-finite entries, invalid settings, or a
/// non-finite action along the way; hitting the step cap is not an error (`converged` is
/// false).
pub fn minimise_path<P: Potential>(
    action: &mut DiscreteAction<'_, P>,
    init: &[f64],
    boundary: Boundary,
    settings: &PathSettings,
) -> Result<PathSolution> {
    positive("grad_tol", settings.grad_tol)?;
    if settings.record_every == 0 {
        return Err(Error::hyper("record_every", 0.0, "must be >= 1"));
    }
    let d = action.problem().dim();
    let points = action.grid().points();
    same_len("initial path", points * d, init.len())?;
    // Free nodes: 1..last (exclusive) or 1..=last.
    let free = match boundary {
        Boundary::FixedEnd => 1..points - 1,
        Boundary::FreeEnd => 1..points,
    };
    if free.is_empty() {
        return Err(Error::InvalidShape {
            what: "path",
            detail: "no free nodes: a fixed-end path needs at least two intervals".into(),
        });
    }
    let mut path = init.to_vec();
    let mut grad = vec![0.0; path.len()];
    let horizon = action.grid().horizon();
    let free_norm = |g: &[f64]| {
        g[free.start * d..free.end * d].iter().map(|v| v * v).sum::<f64>().sqrt() / horizon
    };
    let mut history = Vec::new();
    let mut total = action.value_grad(&path, &mut grad)?;
    finite(total)?;
    let mut steps = 0;
    let mut grad_norm = free_norm(&grad);
    let mut resolved = false;
    history.push((0, total / horizon));
    match settings.method {
        Method::GradientDescent { step } => {
            positive("step", step)?;
            let scale = step / horizon;
            while grad_norm > settings.grad_tol && steps < settings.max_steps {
                for i in free.start * d..free.end * d {
                    path[i] -= scale * grad[i];
                }
                total = action.value_grad(&path, &mut grad)?;
                finite(total)?;
                grad_norm = free_norm(&grad);
                steps += 1;
                if steps % settings.record_every == 0 {
                    history.push((steps, total / horizon));
                }
            }
        }
        Method::Newton => {
            let mut newton = NewtonScratch::new(points, d);
            while grad_norm > settings.grad_tol && steps < settings.max_steps {
                let outcome =
                    newton.step(action, &mut path, &mut grad, &mut total, free.clone())?;
                grad_norm = free_norm(&grad);
                steps += 1;
                if steps % settings.record_every == 0 {
                    history.push((steps, total / horizon));
                }
                match outcome {
                    NewtonOutcome::Moved => {}
                    NewtonOutcome::Resolved => {
                        resolved = true;
                        break;
                    }
                    // No descent along the Newton direction at any step length although a
                    // decrease was predicted: not converged, and more steps would not help.
                    NewtonOutcome::Stuck => break,
                }
            }
        }
    }
    if history.last().map(|h| h.0) != Some(steps) {
        history.push((steps, total / horizon));
    }
    let parts = action.parts(&path)?;
    Ok(PathSolution {
        mean_action: parts.total / horizon,
        parts,
        converged: resolved || grad_norm <= settings.grad_tol,
        path,
        steps,
        grad_norm,
        history,
    })
}

fn finite(total: f64) -> Result<()> {
    if total.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite { what: "discretised action", index: 0 })
    }
}

/// What a Newton step did.
enum NewtonOutcome {
    /// Took a step with sufficient decrease.
    Moved,
    /// The predicted decrease is below the resolution of the action: converged.
    Resolved,
    /// No step length decreased the action.
    Stuck,
}

/// Buffers of one Newton step on the block-tridiagonal system.
struct NewtonScratch {
    d: usize,
    diag: Vec<f64>,
    upper: Vec<f64>,
    /// Factored Schur complements `S_m`, one `d x d` block per free node.
    schur: Vec<f64>,
    dir: Vec<f64>,
    trial: Vec<f64>,
    trial_grad: Vec<f64>,
    shift: f64,
}

impl NewtonScratch {
    fn new(points: usize, d: usize) -> Self {
        let dd = d * d;
        NewtonScratch {
            d,
            diag: vec![0.0; points * dd],
            upper: vec![0.0; (points - 1) * dd],
            schur: vec![0.0; points * dd],
            dir: vec![0.0; points * d],
            trial: vec![0.0; points * d],
            trial_grad: vec![0.0; points * d],
            shift: 0.0,
        }
    }

    /// One damped Newton step.
    fn step<P: Potential>(
        &mut self,
        action: &mut DiscreteAction<'_, P>,
        path: &mut [f64],
        grad: &mut [f64],
        total: &mut f64,
        free: std::ops::Range<usize>,
    ) -> Result<NewtonOutcome> {
        action.hessian_blocks(path, &mut self.diag, &mut self.upper)?;
        let scale = self.diag.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
        // A Levenberg shift, grown until the shifted Hessian factors; relaxed after success.
        let mut shift = self.shift;
        loop {
            if self.solve(grad, free.clone(), shift) {
                break;
            }
            shift = if shift == 0.0 { 1e-10 * scale } else { shift * 10.0 };
            if shift > 1e6 * scale {
                return Err(Error::NotPositiveDefinite {
                    detail: "path Hessian could not be shifted to positive definite".into(),
                });
            }
        }
        self.shift = shift * 0.1;
        let d = self.d;
        let slope: f64 = (free.start * d..free.end * d).map(|i| grad[i] * self.dir[i]).sum();
        if -slope <= 64.0 * f64::EPSILON * total.abs().max(f64::MIN_POSITIVE) {
            return Ok(NewtonOutcome::Resolved);
        }
        let mut t = 1.0;
        for _ in 0..60 {
            self.trial.copy_from_slice(path);
            for i in free.start * d..free.end * d {
                self.trial[i] += t * self.dir[i];
            }
            if let Ok(v) = action.value_grad(&self.trial, &mut self.trial_grad) {
                if v.is_finite() && v <= *total + 1e-4 * t * slope {
                    path.copy_from_slice(&self.trial);
                    grad.copy_from_slice(&self.trial_grad);
                    *total = v;
                    return Ok(NewtonOutcome::Moved);
                }
            }
            t *= 0.5;
        }
        Ok(NewtonOutcome::Stuck)
    }

    /// `(H + shift I) dir = -grad` on the free nodes by block elimination (block Cholesky of
    /// the tridiagonal system); `false` if a Schur complement is not positive definite.
    fn solve(&mut self, grad: &[f64], free: std::ops::Range<usize>, shift: f64) -> bool {
        let d = self.d;
        let dd = d * d;
        let mut tmp = [0.0f64; 64];
        let mut col = [0.0f64; 8];
        self.dir.iter_mut().for_each(|v| *v = 0.0);
        for n in free.clone() {
            for i in 0..d {
                self.dir[n * d + i] = -grad[n * d + i];
            }
        }
        let big = d > 8;
        let mut heap = if big { vec![0.0; dd + d] } else { Vec::new() };
        // Forward: S_m = D_m - U_{m-1}ᵀ S_{m-1}^{-1} U_{m-1}, y_m = r_m - U_{m-1}ᵀ S_{m-1}^{-1} y_{m-1}.
        for n in free.clone() {
            let (s_prev, s_cur) = self.schur.split_at_mut(n * dd);
            let s = &mut s_cur[..dd];
            s.copy_from_slice(&self.diag[n * dd..(n + 1) * dd]);
            for i in 0..d {
                s[i * d + i] += shift;
            }
            if n > free.start {
                let u = &self.upper[(n - 1) * dd..n * dd];
                let lp = &s_prev[(n - 1) * dd..n * dd];
                // Columns of S_{m-1}^{-1} U: solve for each column j of U.
                let (x, c) = if big {
                    let (a, b) = heap.split_at_mut(dd);
                    (a, b)
                } else {
                    (&mut tmp[..dd], &mut col[..d])
                };
                for j in 0..d {
                    for i in 0..d {
                        c[i] = u[i * d + j];
                    }
                    dense::cholesky_solve(lp, d, c);
                    for i in 0..d {
                        x[i * d + j] = c[i];
                    }
                }
                // S -= Uᵀ X; y_m -= Uᵀ (S^{-1} y_{m-1}).
                for i in 0..d {
                    for j in 0..d {
                        let v: f64 = (0..d).map(|m| u[m * d + i] * x[m * d + j]).sum();
                        s[i * d + j] -= v;
                    }
                }
                c.copy_from_slice(&self.dir[(n - 1) * d..n * d]);
                dense::cholesky_solve(lp, d, c);
                for i in 0..d {
                    let v: f64 = (0..d).map(|m| u[m * d + i] * c[m]).sum();
                    self.dir[n * d + i] -= v;
                }
            }
            if !dense::cholesky_in_place(s, d) {
                return false;
            }
        }
        // Backward: x_m = S_m^{-1} (y_m - U_m x_{m+1}).
        for n in free.clone().rev() {
            if n + 1 < free.end {
                let u = &self.upper[n * dd..(n + 1) * dd];
                for i in 0..d {
                    let v: f64 = (0..d).map(|j| u[i * d + j] * self.dir[(n + 1) * d + j]).sum();
                    self.dir[n * d + i] -= v;
                }
            }
            dense::cholesky_solve(
                &self.schur[n * dd..(n + 1) * dd],
                d,
                &mut self.dir[n * d..(n + 1) * d],
            );
        }
        true
    }
}
