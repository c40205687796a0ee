//! The restricted Gaussian oracle (RGO) rejection sampler (paper 03, Alg. 6 / App. B.2).
//!
//! Target `pi ∝ exp(f / T)` with `f` `mu`-strongly concave (`grad^2 f <= -mu I`). With the
//! mode `y* = argmax f` the envelope
//! `exp((f(y) - f(y*)) / T) <= exp(-|y - y*|^2 / (2 s^2))`, `s^2 = T / mu`,
//! holds (strong concavity and `grad f(y*) = 0`), so drawing `y ~ N(y*, s^2 I)` and accepting
//! with probability `exp((f(y) - f(y*)) / T + |y - y*|^2 / (2 s^2))` gives exact draws of
//! `pi`, with acceptance rate `Z_pi / Z_envelope`. For the DRO target
//! `f = R_theta(x, .) = l(theta, .) - lambda |. - x|^2` with `l` `L`-smooth, `T = lambda eps`
//! and `mu = 2 lambda - L` (needs `lambda > L/2`, i.e. `tau < 1/L`): `s^2 = lambda eps /
//! (2 lambda - L) = eps / (2 (1 - L tau))`, the spec's proposal variance.
//!
//! The mode is found by gradient ascent (`ascent_steps` steps of `ascent_step`, stopping
//! early once `|grad f| <= 1e-10 (1 + |f|)`); an inexact mode only loosens the envelope
//! (acceptance probabilities above 1 are clamped). After `max_trials` rejections the draw
//! falls back to the mode, as the official code does; [`RgoStats`] counts those.

use gradus_core::{Error, Result, Rng};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use super::LogDensity;

/// Settings of the RGO sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgo {
    /// Temperature `T > 0`.
    pub temperature: f64,
    /// Strong-concavity modulus `mu > 0` of `f` (DRO: `2 lambda - L`).
    pub concavity: f64,
    /// Gradient-ascent steps for the mode.
    pub ascent_steps: usize,
    /// Gradient-ascent step size (`> 0`; below `2 / (Lipschitz constant of grad f)`).
    pub ascent_step: f64,
    /// Proposals per draw before falling back to the mode (`>= 1`).
    pub max_trials: usize,
}

/// Counts over the draws of one [`Rgo::sample`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RgoStats {
    /// Proposals made.
    pub proposals: u64,
    /// Proposals accepted.
    pub accepted: u64,
    /// Draws that used up `max_trials` and returned the mode.
    pub fallbacks: u64,
}

impl RgoStats {
    /// Accepted / proposed (`0` before any proposal).
    pub fn acceptance_rate(&self) -> f64 {
        if self.proposals == 0 { 0.0 } else { self.accepted as f64 / self.proposals as f64 }
    }
}

/// Scratch of [`Rgo::sample`] (no allocation once grown to the dimension).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RgoWork {
    mode: Vec<f64>,
    grad: Vec<f64>,
    prop: Vec<f64>,
}

impl Rgo {
    /// The DRO sampler of paper 03: `T = lambda eps`, `mu = 2 lambda - L` for an `L`-smooth
    /// loss; ascent step `1 / (2 lambda + L)` (the inverse Lipschitz constant of `grad R`).
    pub fn dro(
        lambda: f64,
        epsilon: f64,
        smoothness: f64,
        ascent_steps: usize,
        max_trials: usize,
    ) -> Result<Self> {
        gradus_core::validate::positive("lambda", lambda)?;
        gradus_core::validate::non_negative("smoothness L", smoothness)?;
        if 2.0 * lambda <= smoothness || smoothness.is_nan() {
            return Err(Error::hyper("smoothness L", smoothness, "RGO needs lambda > L / 2"));
        }
        let r = Rgo {
            temperature: lambda * epsilon,
            concavity: 2.0 * lambda - smoothness,
            ascent_steps,
            ascent_step: 1.0 / (2.0 * lambda + smoothness),
            max_trials,
        };
        r.validate()?;
        Ok(r)
    }

    /// Checks the settings; the error names the first invalid field.
    pub fn validate(&self) -> Result<()> {
        gradus_core::validate::positive("temperature", self.temperature)?;
        gradus_core::validate::positive("concavity mu", self.concavity)?;
        gradus_core::validate::positive("ascent step", self.ascent_step)?;
        if !self.temperature.is_finite() || !self.concavity.is_finite() {
            return Err(Error::hyper("temperature / mu", self.temperature, "must be finite"));
        }
        if self.max_trials == 0 {
            return Err(Error::hyper("max trials", 0.0, "must be >= 1"));
        }
        Ok(())
    }

    /// Proposal standard deviation `s = sqrt(T / mu)`.
    pub fn proposal_sd(&self) -> f64 {
        (self.temperature / self.concavity).sqrt()
    }

    /// Finds the mode of `f` from `init` into `work`; returns `f(mode)`.
    fn mode<D: LogDensity + ?Sized>(
        &self,
        target: &D,
        init: &[f64],
        work: &mut RgoWork,
    ) -> Result<f64> {
        work.mode.clear();
        work.mode.extend_from_slice(init);
        work.grad.clear();
        work.grad.resize(init.len(), 0.0);
        let mut f = target.value_grad(&work.mode, &mut work.grad);
        for _ in 0..self.ascent_steps {
            let g2: f64 = work.grad.iter().map(|g| g * g).sum();
            if g2.sqrt() <= 1e-10 * (1.0 + f.abs()) {
                break;
            }
            for (y, g) in work.mode.iter_mut().zip(&work.grad) {
                *y += self.ascent_step * g;
            }
            f = target.value_grad(&work.mode, &mut work.grad);
            if !f.is_finite() {
                break;
            }
        }
        if !f.is_finite() {
            return Err(Error::NonFinite { what: "RGO mode value", index: 0 });
        }
        gradus_core::validate::all_finite("RGO mode", &work.mode)?;
        Ok(f)
    }

    /// `out.len() / dim` independent draws of `pi ∝ exp(f / T)` (row-major into `out`), the
    /// mode searched from `init`. `out` is untouched on error.
    pub fn sample<D: LogDensity + ?Sized>(
        &self,
        target: &D,
        init: &[f64],
        out: &mut [f64],
        rng: &mut Rng,
        work: &mut RgoWork,
    ) -> Result<RgoStats> {
        self.validate()?;
        let d = target.dim();
        gradus_core::validate::same_len("RGO start point", d, init.len())?;
        gradus_core::validate::all_finite("RGO start point", init)?;
        if d == 0 || out.is_empty() || out.len() % d != 0 {
            return Err(Error::InvalidShape {
                what: "RGO output",
                detail: format!("{} values in dimension {d}", out.len()),
            });
        }
        let f_star = self.mode(target, init, work)?;
        let (t, s) = (self.temperature, self.proposal_sd());
        let inv_two_s2 = 0.5 / (s * s);
        work.prop.clear();
        work.prop.resize(d, 0.0);
        let mut stats = RgoStats::default();
        for row in out.chunks_exact_mut(d) {
            let mut done = false;
            for _ in 0..self.max_trials {
                let mut r2 = 0.0;
                for (p, m) in work.prop.iter_mut().zip(&work.mode) {
                    let z: f64 = StandardNormal.sample(rng);
                    *p = m + s * z;
                    r2 += s * s * z * z;
                }
                let f = target.value_grad(&work.prop, &mut work.grad);
                stats.proposals += 1;
                // log acceptance <= 0 up to the mode's inexactness; a NaN rejects.
                let log_acc = (f - f_star) / t + r2 * inv_two_s2;
                let u: f64 = rng.random();
                if u.ln() < log_acc {
                    row.copy_from_slice(&work.prop);
                    stats.accepted += 1;
                    done = true;
                    break;
                }
            }
            if !done {
                row.copy_from_slice(&work.mode);
                stats.fallbacks += 1;
            }
        }
        Ok(stats)
    }
}
