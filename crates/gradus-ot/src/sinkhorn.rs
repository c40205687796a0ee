//! Log-domain Sinkhorn for discrete entropic OT, with epsilon scaling (a reference solver for
//! tests and small problems).
//!
//! Solves `min_P <P, C> + eps KL(P | a b^T)` over couplings of `a` and `b` by alternating the
//! exact dual updates
//! `f_i = -eps log sum_j b_j exp((g_j - C_ij)/eps)`,
//! `g_j = -eps log sum_i a_i exp((f_i - C_ij)/eps)`
//! in the log domain (stable for any `eps > 0`). With epsilon scaling the first stages use a
//! larger `eps` (geometrically decreased) and warm-start the next; this reaches small `eps`
//! in far fewer iterations. Plan: `P_ij = a_i b_j exp((f_i + g_j - C_ij)/eps)`.

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Par, Result};
use pulp::Simd;
use rayon::prelude::*;

use crate::measure::DiscreteMeasure;
use crate::vectorized::{self, Kernel, exp_nonpos, max_lanes, sum_lanes};

/// Settings of [`sinkhorn`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkhornConfig {
    /// Target regularisation `eps > 0`.
    pub eps: f64,
    /// First stage's `eps` for epsilon scaling (`None`: start at `eps`).
    pub eps_start: Option<f64>,
    /// Factor in `(0, 1)` between consecutive stages.
    pub scaling: f64,
    /// Iterations allowed in the final stage (each earlier stage gets at most a quarter).
    pub max_iter: usize,
    /// Stop when `sum_i |(P 1)_i - a_i| < tol` (columns are exact after each g-update).
    pub tol: f64,
    /// Parallelism over rows / columns.
    pub par: Par,
}

impl Default for SinkhornConfig {
    fn default() -> Self {
        SinkhornConfig {
            eps: 1e-2,
            eps_start: None,
            scaling: 0.5,
            max_iter: 10_000,
            tol: 1e-9,
            par: Par::Rayon,
        }
    }
}

/// The outcome of [`sinkhorn`].
#[derive(Debug, Clone, PartialEq)]
pub struct SinkhornResult {
    /// Dual potential on the source.
    pub f: Vec<f64>,
    /// Dual potential on the target.
    pub g: Vec<f64>,
    /// Transport cost `<P, C>` of the final plan.
    pub cost: f64,
    /// Dual objective `<a, f> + <b, g>` (equals `OT_eps` at convergence).
    pub dual: f64,
    /// `sum_i |(P 1)_i - a_i|` at exit.
    pub marginal_error: f64,
    /// Iterations over all stages.
    pub iterations: usize,
    /// Whether the final stage reached `tol`.
    pub converged: bool,
}

/// `C_ij = |x_i - y_j|^2 / 2` between the atoms of two measures (row-major `n x m`).
pub fn half_squared_distances(x: &DiscreteMeasure, y: &DiscreteMeasure) -> Result<Vec<f64>> {
    same_len("target dimension", x.dim(), y.dim())?;
    let mut c = Vec::with_capacity(x.len() * y.len());
    for i in 0..x.len() {
        let xi = x.point(i);
        for j in 0..y.len() {
            let d2: f64 = xi.iter().zip(y.point(j)).map(|(a, b)| (a - b) * (a - b)).sum();
            c.push(0.5 * d2);
        }
    }
    Ok(c)
}

struct SoftMin<'a> {
    row: &'a [f64],
    pot: &'a [f64],
    log_w: &'a [f64],
    inv_eps: f64,
    scratch: &'a mut [f64],
}

impl Kernel for SoftMin<'_> {
    type Output = f64;
    /// `-eps log sum_j exp((pot_j - row_j)/eps + log_w_j)`.
    #[inline(always)]
    fn run<S: Simd>(self, _simd: S) -> f64 {
        for (((s, c), p), lw) in self.scratch.iter_mut().zip(self.row).zip(self.pot).zip(self.log_w)
        {
            *s = (p - c).mul_add(self.inv_eps, *lw);
        }
        let m = max_lanes(self.scratch);
        for s in self.scratch.iter_mut() {
            *s = exp_nonpos(*s - m);
        }
        -(m + sum_lanes(self.scratch).ln()) / self.inv_eps
    }
}

/// One half-iteration: `out_i = softmin_eps over row i of (cost - pot)` for every row.
fn half_step(
    cost: &[f64],
    cols: usize,
    pot: &[f64],
    log_w: &[f64],
    eps: f64,
    out: &mut [f64],
    par: Par,
) {
    let body = |scratch: &mut Vec<f64>, (i, o): (usize, &mut f64)| {
        scratch.resize(cols, 0.0);
        *o = vectorized::run(SoftMin {
            row: &cost[i * cols..(i + 1) * cols],
            pot,
            log_w,
            inv_eps: 1.0 / eps,
            scratch,
        });
    };
    if par.is_parallel() {
        out.par_iter_mut().enumerate().for_each_init(Vec::new, body);
    } else {
        let mut scratch = Vec::new();
        out.iter_mut().enumerate().for_each(|item| body(&mut scratch, item));
    }
}

fn normalise(what: &'static str, w: &[f64]) -> Result<Vec<f64>> {
    all_finite(what, w)?;
    if let Some(&v) = w.iter().find(|&&v| v <= 0.0) {
        return Err(Error::hyper(what, v, "weights must be > 0"));
    }
    let s: f64 = w.iter().sum();
    if !s.is_finite() {
        return Err(Error::hyper(what, s, "weights must have a finite sum"));
    }
    Ok(w.iter().map(|v| v / s).collect())
}

/// Row marginal error `sum_i |sum_j P_ij - a_i|` and cost `<P, C>`.
fn plan_stats(
    a: &[f64],
    b: &[f64],
    cost: &[f64],
    f: &[f64],
    g: &[f64],
    eps: f64,
    par: Par,
) -> (f64, f64) {
    let m = b.len();
    let row = |i: usize| {
        let (mut mass, mut c) = (0.0, 0.0);
        for j in 0..m {
            let cij = cost[i * m + j];
            let p = a[i] * b[j] * ((f[i] + g[j] - cij) / eps).exp();
            mass += p;
            c += p * cij;
        }
        ((mass - a[i]).abs(), c)
    };
    let parts: Vec<(f64, f64)> = if par.is_parallel() {
        (0..a.len()).into_par_iter().map(row).collect()
    } else {
        (0..a.len()).map(row).collect()
    };
    parts.iter().fold((0.0, 0.0), |acc, p| (acc.0 + p.0, acc.1 + p.1))
}

/// Solves entropic OT between weights `a` (length `n`) and `b` (length `m`) for the cost
/// matrix `cost` (row-major `n x m`). Weights must be positive; both are normalised.
/// Non-convergence within `max_iter` is reported by `converged = false`, not an error.
pub fn sinkhorn(
    a: &[f64],
    b: &[f64],
    cost: &[f64],
    cfg: &SinkhornConfig,
) -> Result<SinkhornResult> {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return Err(Error::InvalidShape { what: "sinkhorn weights", detail: "empty".into() });
    }
    same_len("cost matrix", n.saturating_mul(m), cost.len())?;
    all_finite("cost matrix", cost)?;
    gradus_core::validate::positive("eps", cfg.eps)?;
    gradus_core::validate::positive("tol", cfg.tol)?;
    if !(cfg.scaling > 0.0 && cfg.scaling < 1.0) {
        return Err(Error::hyper("scaling", cfg.scaling, "must lie in (0, 1)"));
    }
    if let Some(e0) = cfg.eps_start {
        gradus_core::validate::positive("eps_start", e0)?;
    }
    let (a, b) = (normalise("source weights", a)?, normalise("target weights", b)?);
    let (log_a, log_b): (Vec<f64>, Vec<f64>) =
        (a.iter().map(|v| v.ln()).collect(), b.iter().map(|v| v.ln()).collect());
    let mut cost_t = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            cost_t[j * n + i] = cost[i * m + j];
        }
    }
    // The schedule eps_start * scaling^s down to eps; refuse absurd ones before allocating.
    const MAX_STAGES: f64 = 1000.0;
    let e0 = cfg.eps_start.unwrap_or(cfg.eps).max(cfg.eps);
    let n_stages = (e0 / cfg.eps).ln() / (1.0 / cfg.scaling).ln();
    if n_stages.is_nan() || n_stages > MAX_STAGES {
        return Err(Error::hyper(
            "scaling",
            cfg.scaling,
            "eps scaling from eps_start to eps would take more than 1000 stages",
        ));
    }
    let mut stages = Vec::with_capacity(n_stages as usize + 2);
    let mut e = e0;
    while e > cfg.eps {
        stages.push(e);
        let next = e * cfg.scaling;
        // Among subnormals `e * scaling` can round back to `e`: without this the schedule
        // never reaches `eps` and grows until memory runs out (found by the fuzzer).
        if !(next < e) {
            break;
        }
        e = next;
    }
    stages.push(cfg.eps);
    let (mut f, mut g) = (vec![0.0; n], vec![0.0; m]);
    let mut iterations = 0;
    let mut err = f64::INFINITY;
    let last = stages.len() - 1;
    for (s, &eps) in stages.iter().enumerate() {
        let cap = if s == last { cfg.max_iter } else { cfg.max_iter.div_ceil(4) };
        let stage_tol = if s == last { cfg.tol } else { cfg.tol.max(1e-3) };
        for it in 0..cap {
            half_step(cost, m, &g, &log_b, eps, &mut f, cfg.par);
            half_step(&cost_t, n, &f, &log_a, eps, &mut g, cfg.par);
            iterations += 1;
            // The marginal check costs as much as an iteration: do it every 10.
            if it % 10 == 9 || it + 1 == cap {
                err = plan_stats(&a, &b, cost, &f, &g, eps, cfg.par).0;
                if err < stage_tol {
                    break;
                }
            }
        }
    }
    let (marginal_error, total) = plan_stats(&a, &b, cost, &f, &g, cfg.eps, cfg.par);
    let dual = a.iter().zip(&f).map(|(x, y)| x * y).sum::<f64>()
        + b.iter().zip(&g).map(|(x, y)| x * y).sum::<f64>();
    let _ = err;
    // Extreme (finite) costs or tiny eps can overflow the log-sum-exps: an error, not NaNs.
    if let Some(index) = f.iter().chain(&g).position(|v| !v.is_finite()) {
        return Err(gradus_core::Error::NonFinite {
            what: "Sinkhorn potentials (overflow)",
            index,
        });
    }
    Ok(SinkhornResult {
        f,
        g,
        cost: total,
        dual,
        marginal_error,
        iterations,
        converged: marginal_error < cfg.tol,
    })
}

/// The plan `P_ij = a_i b_j exp((f_i + g_j - C_ij)/eps)` of a [`SinkhornResult`] (row-major).
pub fn plan(
    a: &[f64],
    b: &[f64],
    cost: &[f64],
    res: &SinkhornResult,
    eps: f64,
) -> Result<Vec<f64>> {
    let (n, m) = (a.len(), b.len());
    same_len("potential f", n, res.f.len())?;
    same_len("potential g", m, res.g.len())?;
    same_len("cost matrix", n * m, cost.len())?;
    gradus_core::validate::positive("eps", eps)?;
    let (a, b) = (normalise("source weights", a)?, normalise("target weights", b)?);
    let mut p = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            p[i * m + j] = a[i] * b[j] * ((res.f[i] + res.g[j] - cost[i * m + j]) / eps).exp();
        }
    }
    Ok(p)
}
