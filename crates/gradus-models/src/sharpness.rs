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

/// The block measure `sum_B sqrt(|B| sum_{i in B} H_ii)` for blocks `bounds[b]..bounds[b+1]`.
pub fn block_measure(diag: &[f64], bounds: &[usize]) -> f64 {
    bounds
        .windows(2)
        .map(|w| ((w[1] - w[0]) as f64 * diag[w[0]..w[1]].iter().sum::<f64>().max(0.0)).sqrt())
        .sum()
}

/// AdamE's measure `sum_i H_ii^{1-E} / (1 - E)` for `E < 1`.
pub fn power_measure(diag: &[f64], exponent: f64) -> f64 {
    let q = 1.0 - exponent;
    diag.iter().map(|v| v.max(0.0).powf(q)).sum::<f64>() / q
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
}

/// Records the sharpness measures of a squared-loss model every `every` steps.
pub struct SharpnessObserver<M> {
    model: Regression<M>,
    every: u64,
    kind: HessianKind,
    bounds: Vec<usize>,
    diag: Vec<f64>,
    /// The records, in order.
    pub records: Vec<SharpnessRecord>,
}

impl<M: SquaredLossModel + Clone> SharpnessObserver<M> {
    /// Observer over a copy of `model`, measuring with `kind`; the block measure uses the
    /// statistic blocks `bounds` (e.g. the layout's block offsets).
    pub fn new(
        model: &Regression<M>,
        every: u64,
        kind: HessianKind,
        bounds: Vec<usize>,
        capacity: usize,
    ) -> Result<Self> {
        let d = model.model.num_params();
        if bounds.first() != Some(&0)
            || bounds.last() != Some(&d)
            || bounds.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(Error::InvalidShape {
                what: "sharpness blocks",
                detail: format!("bounds must rise from 0 to {d}"),
            });
        }
        Ok(SharpnessObserver {
            model: model.clone(),
            every: every.max(1),
            kind,
            bounds,
            diag: vec![0.0; d],
            records: Vec::with_capacity(capacity),
        })
    }

    /// Measures at `params` now.
    pub fn measure(&mut self, step: u64, params: &[f64]) -> Result<SharpnessRecord> {
        match self.kind {
            HessianKind::GaussNewton => self.model.gauss_newton_diag(params, &mut self.diag)?,
            HessianKind::Exact => exact_diag(&mut self.model, params, &mut self.diag)?,
        }
        Ok(SharpnessRecord {
            step,
            train_loss: self.model.train_loss(params),
            trace: self.diag.iter().sum(),
            sqrt_diag: sum_sqrt(&self.diag),
            block: block_measure(&self.diag, &self.bounds),
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
        Ok(Control::Continue)
    }
}
