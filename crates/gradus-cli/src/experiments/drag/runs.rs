//! Running DRAG and the Adam baseline to log-spaced checkpoints, over seeds, and summarising
//! the error curves (mean and band per checkpoint, errors kept as errors).

use gradus_core::{Layout, Objective, Par, rng};
use gradus_optim::{Agm, AgmConfig, Optimizer, WeightDecay};
use gradus_ot::examples::{Errors, Example};
use gradus_ot::semidiscrete::{Drag, DragConfig, SemiDualObjective};
use gradus_report::fmt_num;
use rayon::prelude::*;

use crate::experiments::ExpResult;

/// Error curve of one run: `(t, errors)` at log-spaced checkpoints.
pub type Curve = Vec<(u64, Errors)>;
/// A plotted line and its band `(t, lo, hi)`.
pub type Line = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

/// The three errors of the paper's Fig. 1, in [`Errors`] order.
pub const METRICS: [&str; 3] =
    ["potential |g - g*|^2", "map ||T - T*||^2", "cost |H0(g) - H0(g*)|"];
/// The claimed rates (exponents of t): `O(1/t)`, `O(1/sqrt t)`, `O(1/t)`.
pub const CLAIMED: [f64; 3] = [-1.0, -0.5, -1.0];

/// Checkpoints per decade of iterations.
pub const PER_DECADE: f64 = 8.0;

/// Log-spaced checkpoints from 100 to `total` ([`PER_DECADE`] per decade).
pub fn checkpoints(total: u64) -> Vec<u64> {
    let mut out: Vec<u64> = (0..)
        .map(|k| (100.0 * 10f64.powf(k as f64 / PER_DECADE)).round() as u64)
        .take_while(|&t| t < total)
        .collect();
    out.dedup();
    out.push(total);
    out
}

/// Error `which` (0 potential, 1 map, 2 cost).
pub fn metric(e: &Errors, which: usize) -> f64 {
    match which {
        0 => e.potential,
        1 => e.map,
        _ => e.cost,
    }
}

/// The runs of one configuration over seeds: the curves of those that finished and the
/// errors of those that failed.
pub struct Runs {
    /// Curves of the runs that finished.
    pub ok: Vec<Curve>,
    /// Error messages of the runs that failed.
    pub failed: Vec<String>,
}

impl Runs {
    fn collect(results: Vec<ExpResult<Curve>>) -> Self {
        let mut runs = Runs { ok: Vec::new(), failed: Vec::new() };
        for r in results {
            match r {
                Ok(c) => runs.ok.push(c),
                Err(e) => runs.failed.push(e.to_string()),
            }
        }
        runs
    }

    /// The first error, if any run failed.
    pub fn error(&self) -> Option<&str> {
        self.failed.first().map(String::as_str)
    }

    /// Mean of error `which` at the last checkpoint over the finished runs (`None` if a run
    /// failed or none finished).
    pub fn final_mean(&self, which: usize) -> Option<f64> {
        if self.error().is_some() || self.ok.is_empty() {
            return None;
        }
        let v: Vec<f64> =
            self.ok.iter().filter_map(|c| c.last()).map(|(_, e)| metric(e, which)).collect();
        Some(v.iter().sum::<f64>() / v.len() as f64)
    }

    /// Table cell of [`Runs::final_mean`]: the number or `error: ...`.
    pub fn cell(&self, which: usize) -> String {
        match (self.error(), self.final_mean(which)) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(x)) => fmt_num(x),
            (None, None) => "no run".into(),
        }
    }

    /// Mean over runs at each checkpoint with the min-max band.
    pub fn mean_curve(&self, which: usize) -> Line {
        let n = self.ok.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut pts = Vec::with_capacity(n);
        let mut band = Vec::with_capacity(n);
        for k in 0..n {
            let vals: Vec<f64> = self.ok.iter().map(|c| metric(&c[k].1, which)).collect();
            let t = self.ok[0][k].0 as f64;
            pts.push((t, vals.iter().sum::<f64>() / vals.len() as f64));
            band.push((
                t,
                vals.iter().copied().fold(f64::INFINITY, f64::min),
                vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ));
        }
        (pts, band)
    }

    /// Geometric mean over runs at each checkpoint (the mean of `log err`, the quantity a
    /// log-log rate fit averages); checkpoints where a run's error is 0 are left out.
    pub fn log_mean_curve(&self, which: usize) -> Vec<(f64, f64)> {
        let n = self.ok.iter().map(|c| c.len()).min().unwrap_or(0);
        (0..n)
            .filter_map(|k| {
                let vals: Vec<f64> = self.ok.iter().map(|c| metric(&c[k].1, which)).collect();
                vals.iter().all(|&v| v > 0.0).then(|| {
                    let l = vals.iter().map(|v| v.ln()).sum::<f64>() / vals.len() as f64;
                    (self.ok[0][k].0 as f64, l.exp())
                })
            })
            .collect()
    }
}

/// One DRAG run on `ex` to `total` iterations.
pub fn run_curve(ex: &Example, cfg: DragConfig, total: u64, seed: u64) -> ExpResult<Curve> {
    let mut drag = Drag::new(&ex.problem, cfg, None)?;
    let mut r = rng::seeded(seed);
    let mut out = Vec::new();
    for t in checkpoints(total) {
        drag.run(t - drag.steps(), &mut r)?;
        out.push((t, ex.errors(drag.average())?));
    }
    Ok(out)
}

/// Settings of the paper's Adam baseline (Fig. 8): AdamW with `lr` = weight decay on the
/// stochastic semi-dual at a fixed `eps`, single samples, last iterate.
#[derive(Debug, Clone, Copy)]
pub struct AdamBaseline {
    /// Learning rate and (decoupled) weight decay.
    pub lr: f64,
    /// Regularisation of the semi-dual it descends.
    pub eps: f64,
}

/// One Adam run on `ex` through the gradus optimizer.
pub fn run_adam(ex: &Example, a: AdamBaseline, total: u64, seed: u64) -> ExpResult<Curve> {
    let m = ex.problem.len();
    let mut obj = SemiDualObjective::new(&ex.problem, a.eps, 1)?;
    let cfg = AgmConfig::adam(a.lr)
        .with_weight_decay(WeightDecay { coefficient: a.lr, decoupled: true })
        .with_par(Par::Seq);
    let mut opt = Agm::<f64>::new("adamw", cfg, Layout::flat(m)?)?;
    let (mut g, mut grad) = (vec![0.0; m], vec![0.0; m]);
    let mut r = rng::seeded(seed);
    let mut k = 0;
    let mut out = Vec::new();
    for t in checkpoints(total) {
        while k < t {
            obj.loss_grad(&g, &mut grad, &mut r)?;
            opt.step(&mut g, &grad)?;
            k += 1;
        }
        out.push((t, ex.errors(&g)?));
    }
    Ok(out)
}

/// `reps` seeded DRAG runs in parallel (each run is sequential and seeded, so the result
/// does not depend on the thread count).
pub fn run_reps(ex: &Example, cfg: DragConfig, total: u64, reps: u64, seed: u64) -> Runs {
    let cfg = DragConfig { par: Par::Seq, ..cfg };
    Runs::collect(
        (0..reps)
            .into_par_iter()
            .map(|k| run_curve(ex, cfg, total, rng::derive_seed(seed, k)))
            .collect(),
    )
}

/// `reps` seeded Adam runs in parallel.
pub fn adam_reps(ex: &Example, a: AdamBaseline, total: u64, reps: u64, seed: u64) -> Runs {
    Runs::collect(
        (0..reps)
            .into_par_iter()
            .map(|k| run_adam(ex, a, total, rng::derive_seed(seed, k)))
            .collect(),
    )
}
