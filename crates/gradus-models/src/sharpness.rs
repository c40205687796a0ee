//! Sharpness measures (paper 01): the quantity each adaptive method implicitly reduces near
//! the manifold of minimisers. SGD: `tr(H)`; Adam/RMSProp: `tr(Diag(H)^{1/2})`; Adam-mini /
//! Adalayer with blocks `B`: `sum_B sqrt(|B| tr(H_BB))`; AdamE (exponent `E`):
//! `tr(Diag(H)^{1-E}) / (1 - E)` (DERIVED in the spec). Exact diagonals come from `D`
//! Hessian-vector products; Hutchinson estimators with Rademacher probes report their standard
//! error; [`SharpnessObserver`] records the measures during training.

use gradus_core::validate::same_len;
use gradus_core::{Error, Result, Rng};
use gradus_optim::{Control, Observer, StepRecord};
use rand::Rng as _;

use crate::Differentiable;
use crate::regression::{Regression, SquaredLossModel};

/// A Monte-Carlo estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Sample mean.
    pub mean: f64,
    /// Standard error of the mean (`sd / sqrt(probes)`).
    pub stderr: f64,
    /// Number of probes.
    pub probes: usize,
}

fn rademacher(rng: &mut Rng, z: &mut [f64]) {
    z.iter_mut().for_each(|v| *v = if rng.random::<bool>() { 1.0 } else { -1.0 });
}

/// Hutchinson's estimator `tr(H) ~ mean_k z_k^T H z_k`, `z` Rademacher (unbiased).
pub fn hutchinson_trace<M: Differentiable<f64>>(
    m: &mut M,
    params: &[f64],
    probes: usize,
    rng: &mut Rng,
) -> Result<Estimate> {
    if probes < 2 {
        return Err(Error::hyper(
            "probes",
            probes as f64,
            "need at least 2 probes for a standard error",
        ));
    }
    let d = m.num_params();
    same_len("parameters", d, params.len())?;
    let (mut z, mut hz) = (vec![0.0; d], vec![0.0; d]);
    let (mut s, mut s2) = (0.0, 0.0);
    for _ in 0..probes {
        rademacher(rng, &mut z);
        m.hvp(params, &z, &mut hz)?;
        let q: f64 = z.iter().zip(&hz).map(|(a, b)| a * b).sum();
        s += q;
        s2 += q * q;
    }
    let n = probes as f64;
    let mean = s / n;
    let var = ((s2 - n * mean * mean) / (n - 1.0)).max(0.0);
    Ok(Estimate { mean, stderr: (var / n).sqrt(), probes })
}

/// Hutchinson's diagonal estimator `diag(H) ~ mean_k z_k * (H z_k)` (unbiased), with per-entry
/// standard errors.
pub fn hutchinson_diag<M: Differentiable<f64>>(
    m: &mut M,
    params: &[f64],
    probes: usize,
    rng: &mut Rng,
    mean: &mut [f64],
    stderr: &mut [f64],
) -> Result<()> {
    if probes < 2 {
        return Err(Error::hyper(
            "probes",
            probes as f64,
            "need at least 2 probes for a standard error",
        ));
    }
    let d = m.num_params();
    same_len("parameters", d, params.len())?;
    same_len("mean output", d, mean.len())?;
    same_len("stderr output", d, stderr.len())?;
    let (mut z, mut hz) = (vec![0.0; d], vec![0.0; d]);
    mean.iter_mut().for_each(|v| *v = 0.0);
    stderr.iter_mut().for_each(|v| *v = 0.0);
    for _ in 0..probes {
        rademacher(rng, &mut z);
        m.hvp(params, &z, &mut hz)?;
        for i in 0..d {
            let q = z[i] * hz[i];
            mean[i] += q;
            stderr[i] += q * q;
        }
    }
    let n = probes as f64;
    for i in 0..d {
        let mu = mean[i] / n;
        let var = ((stderr[i] - n * mu * mu) / (n - 1.0)).max(0.0);
        mean[i] = mu;
        stderr[i] = (var / n).sqrt();
    }
    Ok(())
}

/// The exact Hessian diagonal by `D` Hessian-vector products with unit vectors.
pub fn exact_diag<M: Differentiable<f64>>(
    m: &mut M,
    params: &[f64],
    out: &mut [f64],
) -> Result<()> {
    let d = m.num_params();
    same_len("output", d, out.len())?;
    let (mut e, mut he) = (vec![0.0; d], vec![0.0; d]);
    for i in 0..d {
        e[i] = 1.0;
        m.hvp(params, &e, &mut he)?;
        out[i] = he[i];
        e[i] = 0.0;
    }
    Ok(())
}

/// `tr(Diag(H)^{1/2}) = sum_i sqrt(H_ii)` (negative entries, possible off the manifold,
/// count as 0).
pub fn sum_sqrt(diag: &[f64]) -> f64 {
    diag.iter().map(|v| v.max(0.0).sqrt()).sum()
}

/// Checks that `bounds` rise strictly from 0 to `len` (statistic blocks
/// `bounds[b]..bounds[b+1]`).
fn check_bounds(bounds: &[usize], len: usize) -> Result<()> {
    if bounds.first() != Some(&0)
        || bounds.last() != Some(&len)
        || bounds.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(Error::InvalidShape {
            what: "sharpness blocks",
            detail: format!("bounds must rise strictly from 0 to {len}"),
        });
    }
    Ok(())
}

/// The block measure `sum_B sqrt(|B| sum_{i in B} H_ii)` for blocks `bounds[b]..bounds[b+1]`
/// (Adam-mini / Adalayer, up to the factor 2 of [`implicit_measure`]).
pub fn block_measure(diag: &[f64], bounds: &[usize]) -> Result<f64> {
    Ok(implicit_measure(diag, bounds, 0.5)? / 2.0)
}

/// AdamE's measure `sum_i H_ii^{1-E} / (1 - E)` for `E < 1`.
pub fn power_measure(diag: &[f64], exponent: f64) -> Result<f64> {
    let singles: Vec<usize> = (0..=diag.len()).collect();
    implicit_measure(diag, &singles, exponent)
}

/// The sharpness measure an adaptive method with statistic blocks `B` and preconditioner
/// exponent `E` reduces near the manifold of minimisers:
/// `S_E(H) = sum_B |B|^E (tr H_BB)^{1-E} / (1 - E)` (paper 01: the semi-gradient of `tr(P H)`
/// with the stationary `P_B = (tr H_BB / |B|)^{-E}` held fixed is `grad S_E`; spec, DERIVED).
/// `E = 0` is SGD's `tr(H)`; singleton blocks with `E = 1/2` give Adam's
/// `2 tr(Diag(H)^{1/2})`; blocks with `E = 1/2` give Adam-mini / Adalayer's
/// `2 sum_B sqrt(|B| tr H_BB)`. Negative diagonal entries (off the manifold) count as 0.
pub fn implicit_measure(diag: &[f64], bounds: &[usize], exponent: f64) -> Result<f64> {
    if !(0.0..1.0).contains(&exponent) {
        return Err(Error::hyper("exponent", exponent, "must lie in [0, 1)"));
    }
    check_bounds(bounds, diag.len())?;
    let q = 1.0 - exponent;
    Ok(bounds
        .windows(2)
        .map(|w| {
            let tr: f64 = diag[w[0]..w[1]].iter().map(|v| v.max(0.0)).sum();
            ((w[1] - w[0]) as f64).powf(exponent) * tr.powf(q)
        })
        .sum::<f64>()
        / q)
}

/// The stopping rule of a label-noise run: converged once the monitored sharpness measure has
/// stopped drifting on the manifold of minimisers.
///
/// The run enters the manifold at the first observation with noise-free training loss below
/// `gate_loss` (step `t0`). At a later observation `t` with `t - t0 >= min_window`, the run has
/// converged when the smoothed measure (mean of the last `smooth` observations) changed by
/// less than `rel_tol` relative between `t0 + (t - t0)/2` and `t`. Comparing against the
/// midpoint of the time on the manifold makes the rule scale-free: a drift that still halves
/// its distance to the plateau every doubling of time keeps the run going.
#[derive(Debug, Clone)]
pub struct Plateau {
    gate_loss: f64,
    rel_tol: f64,
    min_window: u64,
    smooth: usize,
    entered: Option<u64>,
    recent: Vec<f64>,
    /// `(step, smoothed measure)` since entering the manifold.
    history: Vec<(u64, f64)>,
    converged_at: Option<u64>,
}

impl Plateau {
    /// The rule with loss gate `gate_loss`, relative tolerance `rel_tol`, minimum time on the
    /// manifold `min_window` steps and smoothing over `smooth >= 1` observations.
    pub fn new(gate_loss: f64, rel_tol: f64, min_window: u64, smooth: usize) -> Result<Self> {
        gradus_core::validate::positive("gate_loss", gate_loss)?;
        gradus_core::validate::positive("rel_tol", rel_tol)?;
        if smooth == 0 {
            return Err(Error::hyper("smooth", 0.0, "must be at least 1"));
        }
        Ok(Plateau {
            gate_loss,
            rel_tol,
            min_window,
            smooth,
            entered: None,
            recent: Vec::with_capacity(smooth),
            history: Vec::new(),
            converged_at: None,
        })
    }

    /// Feeds one observation; returns whether the run has converged (it stays converged).
    pub fn observe(&mut self, step: u64, loss: f64, measure: f64) -> bool {
        if self.converged_at.is_some() {
            return true;
        }
        if self.entered.is_none() {
            if !(loss < self.gate_loss) {
                return false;
            }
            self.entered = Some(step);
        }
        if self.recent.len() == self.smooth {
            self.recent.remove(0);
        }
        self.recent.push(measure);
        let smoothed = self.recent.iter().sum::<f64>() / self.recent.len() as f64;
        self.history.push((step, smoothed));
        let t0 = self.entered.unwrap_or(step);
        // A step earlier than the entry (a caller replaying out of order) counts as no time on
        // the manifold rather than wrapping around.
        let on_manifold = step.saturating_sub(t0);
        if on_manifold < self.min_window || self.recent.len() < self.smooth {
            return false;
        }
        let mid = t0 + on_manifold / 2;
        let k = self.history.partition_point(|&(s, _)| s < mid).min(self.history.len() - 1);
        let before = self.history[k].1;
        if ((before - smoothed) / smoothed.abs().max(f64::MIN_POSITIVE)).abs() < self.rel_tol {
            self.converged_at = Some(step);
        }
        self.converged_at.is_some()
    }

    /// The step at which the run entered the manifold (loss below the gate), if it did.
    pub fn entered(&self) -> Option<u64> {
        self.entered
    }

    /// The step at which the rule fired, if it did.
    pub fn converged_at(&self) -> Option<u64> {
        self.converged_at
    }
}

/// Which Hessian the observer measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HessianKind {
    /// Gauss-Newton `1/n sum_j grad f_j grad f_j^T`: the Hessian on the manifold (residuals 0),
    /// positive semi-definite everywhere.
    GaussNewton,
    /// The full Hessian (diagonal by `D` Hessian-vector products).
    Exact,
}

/// One observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharpnessRecord {
    /// Steps taken.
    pub step: u64,
    /// Noise-free training loss.
    pub train_loss: f64,
    /// `tr(H)`.
    pub trace: f64,
    /// `tr(Diag(H)^{1/2})`.
    pub sqrt_diag: f64,
    /// Block measure over the observer's partition.
    pub block: f64,
    /// The monitored measure [`implicit_measure`] over the observer's partition with its
    /// exponent (the one the optimizer reduces).
    pub monitored: f64,
}

/// Records the sharpness measures of a squared-loss model every `every` steps and, with a
/// [`Plateau`] rule, stops the run once the monitored measure stopped drifting.
pub struct SharpnessObserver<M> {
    model: Regression<M>,
    every: u64,
    kind: HessianKind,
    bounds: Vec<usize>,
    exponent: f64,
    plateau: Option<Plateau>,
    diag: Vec<f64>,
    /// The records, in order.
    pub records: Vec<SharpnessRecord>,
}

impl<M: SquaredLossModel + Clone> SharpnessObserver<M> {
    /// Observer over a copy of `model`, measuring with `kind`; the block and monitored
    /// measures use the statistic blocks `bounds` (e.g. the layout's block offsets). The
    /// monitored measure starts as SGD's `tr(H)` (exponent 0); see [`Self::monitor`].
    pub fn new(
        model: &Regression<M>,
        every: u64,
        kind: HessianKind,
        bounds: Vec<usize>,
        capacity: usize,
    ) -> Result<Self> {
        check_bounds(&bounds, model.model.num_params())?;
        let d = model.model.num_params();
        Ok(SharpnessObserver {
            model: model.clone(),
            every: every.max(1),
            kind,
            bounds,
            exponent: 0.0,
            plateau: None,
            diag: vec![0.0; d],
            records: Vec::with_capacity(capacity),
        })
    }

    /// Monitors [`implicit_measure`] with `exponent` (0 for SGD, 1/2 for Adam-type methods,
    /// `E` for AdamE) and stops the run when `plateau` fires.
    pub fn monitor(mut self, exponent: f64, plateau: Plateau) -> Result<Self> {
        implicit_measure(&[0.0], &[0, 1], exponent)?;
        self.exponent = exponent;
        self.plateau = Some(plateau);
        Ok(self)
    }

    /// The stopping rule's state (entry into the manifold, convergence step).
    pub fn plateau(&self) -> Option<&Plateau> {
        self.plateau.as_ref()
    }

    /// Measures at `params` now.
    pub fn measure(&mut self, step: u64, params: &[f64]) -> Result<SharpnessRecord> {
        match self.kind {
            HessianKind::GaussNewton => self.model.gauss_newton_diag(params, &mut self.diag)?,
            HessianKind::Exact => exact_diag(&mut self.model, params, &mut self.diag)?,
        }
        Ok(SharpnessRecord {
            step,
            train_loss: self.model.train_loss(params)?,
            trace: self.diag.iter().sum(),
            sqrt_diag: sum_sqrt(&self.diag),
            block: block_measure(&self.diag, &self.bounds)?,
            monitored: implicit_measure(&self.diag, &self.bounds, self.exponent)?,
        })
    }
}

impl<M: SquaredLossModel + Clone> Observer<f64> for SharpnessObserver<M> {
    fn every(&self) -> u64 {
        self.every
    }
    fn observe(&mut self, r: &StepRecord<'_, f64>) -> Result<Control> {
        let rec = self.measure(r.step, r.params)?;
        self.records.push(rec);
        let done = self
            .plateau
            .as_mut()
            .is_some_and(|p| p.observe(rec.step, rec.train_loss, rec.monitored));
        Ok(if done { Control::Stop } else { Control::Continue })
    }
}
