//! Wasserstein-Fisher-Rao sampling (paper 03, Alg. 4): Langevin transport of the positions,
//! a Fisher-Rao reaction on the weights, and birth-death resampling.
//!
//! The reaction is the mirror step of `KL(rho | pi_T)` in the weights,
//! `log w_j <- log w_j - h_w (T log rho(y_j) - f(y_j))`, then normalisation. The density
//! `rho(y_j)` of the weighted particle measure is either
//! - [`Reaction::PointMass`]: `rho(y_j) = w_j`, the GFS-DRO code's update
//!   `w_j <- w_j^(1 - h_w T) exp(h_w f(y_j))`. With Langevin-distributed positions its fixed
//!   point weights `∝ exp(f / T)` on top of positions already `∝ exp(f / T)`: the weighted
//!   measure is `∝ exp(2 f / T)` (a Gaussian target keeps its mean, halves its covariance);
//! - [`Reaction::Kde`]: a weighted kernel density estimate (the birth-death Langevin of Lu,
//!   Lu and Nolen 2019), consistent as the bandwidth shrinks. Kernel smoothing and each
//!   particle's own kernel term bias it towards too narrow a law when the reaction is fast
//!   relative to transport: on a 2-D Gaussian with 300 particles and the median bandwidth the
//!   covariance came out ~20% low at `h_w / h = 2.5` and within Monte-Carlo error at 0.5
//!   (`tests/flows.rs`).

use gradus_core::{Error, Par, Result, Rng};
use rand::Rng as _;
use rayon::prelude::*;

use super::kernel::{Bandwidth, KernelWork, rbf_weighted_sums_in};
use super::langevin::check_dims;
use super::{Flow, Langevin, LogDensity, PARTICLE_BLOCK, Particles};

/// The density estimate of the Fisher-Rao reaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reaction {
    /// `rho(y_j) = w_j` (GFS-DRO code).
    PointMass,
    /// Weighted Gaussian KDE with the given bandwidth.
    Kde(Bandwidth),
}

/// Which particle a dying particle jumps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Donor {
    /// The heaviest particle (GFS-DRO CIFAR code).
    Heaviest,
    /// A particle drawn with probability proportional to its weight (reproduction's rule).
    Proportional,
}

/// Birth-death: every particle with weight below `threshold / n` jumps onto a donor and the
/// two share their combined weight equally (particle count and total mass are unchanged).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BirthDeath {
    /// Relative threshold (the reproduction uses 0.95, the code an absolute 1e-4).
    pub threshold: f64,
    /// Donor rule.
    pub donor: Donor,
}

/// The WFR sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct Wfr {
    /// The transport part (its temperature is the reaction's `T`).
    pub transport: Langevin,
    /// Reaction step `h_w > 0`.
    pub weight_step: f64,
    /// Density estimate of the reaction.
    pub reaction: Reaction,
    /// Optional birth-death resampling after each reaction.
    pub birth_death: Option<BirthDeath>,
    work: WfrWork,
}

/// Scratch reused across steps, so a step allocates nothing once it has grown.
#[derive(Debug, Clone, Default, PartialEq)]
struct WfrWork {
    before: Vec<f64>,
    values: Vec<f64>,
    grads: Vec<f64>,
    log_w: Vec<f64>,
    density: Vec<f64>,
    kernel: KernelWork,
}

impl Wfr {
    /// WFR with the given transport, reaction step and reaction; no birth-death.
    pub fn new(transport: Langevin, weight_step: f64, reaction: Reaction) -> Result<Self> {
        let s =
            Wfr { transport, weight_step, reaction, birth_death: None, work: WfrWork::default() };
        s.validate()?;
        Ok(s)
    }

    /// Adds birth-death resampling.
    pub fn with_birth_death(mut self, bd: BirthDeath) -> Result<Self> {
        self.birth_death = Some(bd);
        self.validate()?;
        Ok(self)
    }

    /// Checks the settings; the error names the first invalid field.
    pub fn validate(&self) -> Result<()> {
        self.transport.validate()?;
        gradus_core::validate::positive("weight step", self.weight_step)?;
        if self.reaction == Reaction::PointMass
            && self.weight_step * self.transport.temperature > 1.0
        {
            return Err(Error::hyper(
                "weight step * temperature",
                self.weight_step * self.transport.temperature,
                "the exponent 1 - h_w T must stay in [0, 1]",
            ));
        }
        if let Some(bd) = self.birth_death {
            gradus_core::validate::unit_interval("birth-death threshold", bd.threshold)?;
        }
        Ok(())
    }
}

/// `vals[j] = f(y_j)`, with one gradient scratch row of `grads` per particle block.
fn values<D: LogDensity + ?Sized>(
    pos: &[f64],
    d: usize,
    target: &D,
    par: Par,
    vals: &mut Vec<f64>,
    grads: &mut Vec<f64>,
) {
    let n = pos.len() / d;
    vals.clear();
    vals.resize(n, 0.0);
    grads.resize(n.div_ceil(PARTICLE_BLOCK) * d, 0.0);
    let body = |((blk, out), grad): ((&[f64], &mut [f64]), &mut [f64])| {
        for (y, o) in blk.chunks_exact(d).zip(out) {
            *o = target.value_grad(y, grad);
        }
    };
    if par.is_parallel() {
        pos.par_chunks(PARTICLE_BLOCK * d)
            .zip(vals.par_chunks_mut(PARTICLE_BLOCK))
            .zip(grads.par_chunks_mut(d))
            .for_each(body);
    } else {
        pos.chunks(PARTICLE_BLOCK * d)
            .zip(vals.chunks_mut(PARTICLE_BLOCK))
            .zip(grads.chunks_mut(d))
            .for_each(body);
    }
}

/// Normalises log-weights into weights (max subtracted before `exp`; `-inf` gives 0).
pub(crate) fn normalise_log_weights(lw: &mut [f64]) {
    let (_, s) = crate::vectorized::softmax_in_place(lw);
    for v in lw.iter_mut() {
        *v /= s;
    }
}

impl Flow for Wfr {
    fn step<D: LogDensity + ?Sized>(
        &mut self,
        p: &mut Particles,
        target: &D,
        rng: &mut Rng,
        par: Par,
    ) -> Result<()> {
        self.validate()?;
        check_dims(p, target)?;
        let w = &mut self.work;
        w.before.clear();
        w.before.extend_from_slice(&p.pos);
        self.transport.step(p, target, rng, par)?;
        let d = p.dim();
        values(&p.pos, d, target, par, &mut w.values, &mut w.grads);
        if let Some(index) = w.values.iter().position(|v| !v.is_finite()) {
            std::mem::swap(&mut p.pos, &mut w.before);
            return Err(Error::NonFinite { what: "target value", index });
        }
        let (hw, t) = (self.weight_step, self.transport.temperature);
        w.log_w.clear();
        match self.reaction {
            Reaction::PointMass => {
                let coef = 1.0 - hw * t;
                w.log_w.extend(p.weights.iter().zip(&w.values).map(|(&wj, &fj)| {
                    let keep = if coef == 0.0 { 0.0 } else { coef * wj.ln() };
                    keep + hw * fj
                }));
            }
            Reaction::Kde(bw) => {
                let n = p.len();
                let h2 = match bw.squared_in(&p.pos, d, &mut w.kernel) {
                    Ok(h2) => h2,
                    Err(e) => {
                        std::mem::swap(&mut p.pos, &mut w.before);
                        return Err(e);
                    }
                };
                w.density.clear();
                w.density.resize(n, 0.0);
                if let Err(e) = rbf_weighted_sums_in(
                    &p.pos,
                    d,
                    &p.weights,
                    h2,
                    &[],
                    0,
                    &mut w.density,
                    &mut [],
                    par,
                    &mut w.kernel,
                ) {
                    std::mem::swap(&mut p.pos, &mut w.before);
                    return Err(e);
                }
                w.log_w.extend(
                    p.weights
                        .iter()
                        .zip(&w.density)
                        .zip(&w.values)
                        .map(|((&wj, &rho), &fj)| wj.ln() - hw * (t * rho.ln() - fj)),
                );
            }
        }
        normalise_log_weights(&mut w.log_w);
        if w.log_w.iter().any(|v| !v.is_finite()) || w.log_w.iter().sum::<f64>() <= 0.0 {
            std::mem::swap(&mut p.pos, &mut w.before);
            return Err(Error::NonFinite { what: "WFR weights", index: 0 });
        }
        std::mem::swap(&mut p.weights, &mut w.log_w);
        if let Some(bd) = self.birth_death {
            birth_death(p, bd, rng);
        }
        Ok(())
    }
}

/// Moves every particle lighter than `threshold / n` onto a donor; the pair splits its mass.
pub(crate) fn birth_death(p: &mut Particles, bd: BirthDeath, rng: &mut Rng) {
    let n = p.len();
    if n < 2 {
        return;
    }
    let d = p.dim();
    let limit = bd.threshold / n as f64;
    for j in 0..n {
        if p.weights[j] >= limit {
            continue;
        }
        let donor = match bd.donor {
            Donor::Heaviest => (0..n).max_by(|&a, &b| p.weights[a].total_cmp(&p.weights[b])),
            Donor::Proportional => {
                let total: f64 =
                    p.weights.iter().enumerate().filter(|(k, _)| *k != j).map(|(_, w)| w).sum();
                let mut u = rng.random::<f64>() * total;
                let mut pick = None;
                for (k, &w) in p.weights.iter().enumerate() {
                    if k == j || w <= 0.0 {
                        continue;
                    }
                    pick = Some(k);
                    if u < w {
                        break;
                    }
                    u -= w;
                }
                pick
            }
        };
        let Some(k) = donor.filter(|&k| k != j) else { continue };
        let share = 0.5 * (p.weights[j] + p.weights[k]);
        p.weights[j] = share;
        p.weights[k] = share;
        let (src, dst) = (k * d, j * d);
        for c in 0..d {
            p.pos[dst + c] = p.pos[src + c];
        }
    }
}
