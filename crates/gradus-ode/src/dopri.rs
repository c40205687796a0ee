//! Dormand-Prince 5(4): an adaptive explicit Runge-Kutta pair with error control.
//!
//! Dormand & Prince (1980), "A family of embedded Runge-Kutta formulae", J. Comput. Appl.
//! Math. 6: seven stages, the fifth-order solution is propagated (local extrapolation), the
//! embedded fourth-order solution only estimates the error, and the last stage equals the
//! first stage of the next step (FSAL), so an accepted step costs six evaluations.

use gradus_core::validate::positive;
use gradus_core::{Error, Result};

use crate::Solution;
use crate::grid::{check_problem, check_state};

const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
    [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
    [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
];
/// Fifth-order weights minus the embedded fourth-order weights (the error estimator).
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

/// Tolerances and limits of [`dopri5`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DopriParams {
    /// Relative tolerance per component (`> 0`).
    pub rtol: f64,
    /// Absolute tolerance per component (`> 0`).
    pub atol: f64,
    /// First trial step; `None` picks one from `|y0|` and `|f(t0, y0)|`.
    pub h0: Option<f64>,
    /// Largest step allowed (`None`: the grid span).
    pub h_max: Option<f64>,
    /// Cap on attempted steps (accepted plus rejected) over the whole grid.
    pub max_steps: u64,
}

impl Default for DopriParams {
    fn default() -> Self {
        DopriParams { rtol: 1e-8, atol: 1e-10, h0: None, h_max: None, max_steps: 1_000_000 }
    }
}

/// Work done by one [`dopri5`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DopriStats {
    /// Steps whose error estimate passed.
    pub accepted: u64,
    /// Steps redone with a shorter step.
    pub rejected: u64,
    /// Right-hand-side evaluations.
    pub evaluations: u64,
}

/// Integrates `y' = f(t, y)` from `y(grid[0]) = y0` with Dormand-Prince 5(4), reporting the
/// state at every time of `grid`.
///
/// The local error estimate `e` is accepted when
/// `sqrt(mean_i (e_i / (atol + rtol max(|y_i|, |y_new_i|)))^2) <= 1`; the next step is
/// `h * clamp(0.9 err^{-1/5}, 0.2, 5)` (no growth right after a rejection). Steps are cut to
/// land on each grid time. Errors: invalid tolerances, grid or `y0`; a non-finite state or
/// derivative; `NoConvergence` when `max_steps` is exhausted or the step underflows (the
/// residual field is the time still to go); or any error `f` returns.
pub fn dopri5<F>(
    mut f: F,
    y0: &[f64],
    grid: &[f64],
    params: &DopriParams,
) -> Result<(Solution, DopriStats)>
where
    F: FnMut(f64, &[f64], &mut [f64]) -> Result<()>,
{
    positive("dopri5 rtol", params.rtol)?;
    positive("dopri5 atol", params.atol)?;
    if let Some(h0) = params.h0 {
        positive("dopri5 h0", h0)?;
    }
    if let Some(hm) = params.h_max {
        positive("dopri5 h_max", hm)?;
    }
    if params.max_steps == 0 {
        return Err(Error::hyper("dopri5 max_steps", 0.0, "must be at least 1"));
    }
    check_problem(y0, grid)?;
    let d = y0.len();
    let t_end = grid[grid.len() - 1];
    let span = t_end - grid[0];
    let h_max = params.h_max.unwrap_or(span).min(span.max(f64::MIN_POSITIVE));

    let mut stats = DopriStats::default();
    let mut states = Vec::with_capacity(grid.len() * d);
    states.extend_from_slice(y0);
    let mut y = y0.to_vec();
    let mut y_new = vec![0.0; d];
    let mut arg = vec![0.0; d];
    let mut k = vec![vec![0.0; d]; 7];

    let mut t = grid[0];
    f(t, &y, &mut k[0])?;
    stats.evaluations += 1;
    check_state("ODE derivative", &k[0])?;
    let mut h = match params.h0 {
        Some(h0) => h0,
        None => initial_step(&y, &k[0], params),
    }
    .min(h_max);
    let mut just_rejected = false;

    for &target in &grid[1..] {
        while t < target {
            if stats.accepted + stats.rejected >= params.max_steps {
                return Err(Error::NoConvergence {
                    method: "dopri5",
                    iterations: params.max_steps as usize,
                    residual: t_end - t,
                });
            }
            // Land exactly on the grid time; a step within 1e-12 of it is stretched to it.
            let remaining = target - t;
            let hit = h >= remaining * (1.0 - 1e-12);
            let step = if hit { remaining } else { h };
            if step <= 16.0 * f64::EPSILON * t.abs().max(1.0) {
                return Err(Error::NoConvergence {
                    method: "dopri5 (step underflow)",
                    iterations: (stats.accepted + stats.rejected) as usize,
                    residual: t_end - t,
                });
            }
            for s in 1..7 {
                for i in 0..d {
                    let mut acc = 0.0;
                    for (j, kj) in k.iter().enumerate().take(s) {
                        acc += A[s][j] * kj[i];
                    }
                    arg[i] = y[i] + step * acc;
                }
                f(t + C[s] * step, &arg, &mut k[s])?;
                stats.evaluations += 1;
            }
            // The last stage argument is the fifth-order solution (FSAL row of A).
            y_new.copy_from_slice(&arg);
            let mut err = 0.0;
            for i in 0..d {
                let mut e = 0.0;
                for (j, kj) in k.iter().enumerate() {
                    e += E[j] * kj[i];
                }
                let scale = params.atol + params.rtol * y[i].abs().max(y_new[i].abs());
                err += (step * e / scale).powi(2);
            }
            let err = (err / d as f64).sqrt();
            if !err.is_finite() {
                check_state("ODE state", &y_new)?;
                check_state("ODE derivative", &k[6])?;
                // Finite states with an overflowing estimate: retry with a much shorter step.
                h = step * 0.2;
                stats.rejected += 1;
                just_rejected = true;
                continue;
            }
            if err <= 1.0 {
                stats.accepted += 1;
                t = if hit { target } else { t + step };
                y.copy_from_slice(&y_new);
                let (first, rest) = k.split_at_mut(6);
                first[0].copy_from_slice(&rest[0]);
                let grow = if err == 0.0 { 5.0 } else { (0.9 * err.powf(-0.2)).clamp(0.2, 5.0) };
                let grow = if just_rejected { grow.min(1.0) } else { grow };
                // A step cut short to hit the grid says nothing about the next one's size.
                h = if hit { h.max(step * grow) } else { step * grow }.min(h_max);
                just_rejected = false;
            } else {
                stats.rejected += 1;
                h = step * (0.9 * err.powf(-0.2)).clamp(0.2, 1.0);
                just_rejected = true;
            }
        }
        check_state("ODE state", &y)?;
        states.extend_from_slice(&y);
    }
    Ok((Solution { times: grid.to_vec(), dim: d, states }, stats))
}

/// A first step from the sizes of `y0` and `f(t0, y0)` (Hairer, Norsett & Wanner, Solving
/// ODEs I, section II.4, first part of the starting-step heuristic).
fn initial_step(y: &[f64], dy: &[f64], p: &DopriParams) -> f64 {
    let (mut d0, mut d1) = (0.0, 0.0);
    for (&yi, &fi) in y.iter().zip(dy) {
        let sc = p.atol + p.rtol * yi.abs();
        d0 += (yi / sc).powi(2);
        d1 += (fi / sc).powi(2);
    }
    let n = y.len() as f64;
    let (d0, d1) = ((d0 / n).sqrt(), (d1 / n).sqrt());
    if d0 < 1e-5 || d1 < 1e-5 { 1e-6 } else { 0.01 * d0 / d1 }
}
