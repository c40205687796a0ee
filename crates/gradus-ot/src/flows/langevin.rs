//! Unadjusted Langevin: `y <- y + h grad f(y) + sqrt(2 h T) xi`, `xi ~ N(0, I)` (paper 03,
//! Alg. 3 in the code's units: `f = R_theta(x, .)`, `T = lambda eps`). Its continuous-time
//! stationary law is `∝ exp(f / T)`; `T = 0` is deterministic gradient ascent (WRM).

use gradus_core::{Error, Par, Result, Rng, rng};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::{Flow, LogDensity, PARTICLE_BLOCK, Particles};

/// The Langevin sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct Langevin {
    /// Step `h > 0`.
    pub step: f64,
    /// Temperature `T >= 0`.
    pub temperature: f64,
    /// Clip every coordinate to `[lo, hi]` after each step (the uncertain least-squares
    /// experiment keeps its scalar uncertainty in `[-1, 1]`).
    pub clip: Option<(f64, f64)>,
    buf: Vec<f64>,
    /// One gradient scratch row per particle block (no allocation per step).
    grads: Vec<f64>,
}

impl Langevin {
    /// Langevin with step `h` at temperature `T`.
    pub fn new(step: f64, temperature: f64) -> Result<Self> {
        let s = Langevin { step, temperature, clip: None, buf: Vec::new(), grads: Vec::new() };
        s.validate()?;
        Ok(s)
    }

    /// Gradient ascent `y <- y + h grad f(y)` (Langevin at `T = 0`).
    pub fn ascent(step: f64) -> Result<Self> {
        Self::new(step, 0.0)
    }

    /// With coordinate clipping to `[lo, hi]`.
    pub fn with_clip(mut self, lo: f64, hi: f64) -> Result<Self> {
        self.clip = Some((lo, hi));
        self.validate()?;
        Ok(self)
    }

    /// Checks the settings; the error names the first invalid field.
    pub fn validate(&self) -> Result<()> {
        gradus_core::validate::positive("langevin step", self.step)?;
        gradus_core::validate::non_negative("temperature", self.temperature)?;
        if let Some((lo, hi)) = self.clip {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(Error::hyper("clip range", hi - lo, "need finite lo <= hi"));
            }
        }
        Ok(())
    }
}

/// Checks that the target's dimension matches the particles'.
pub(crate) fn check_dims<D: LogDensity + ?Sized>(p: &Particles, target: &D) -> Result<()> {
    gradus_core::validate::same_len("target dimension", p.dim(), target.dim())
}

impl Flow for Langevin {
    fn step<D: LogDensity + ?Sized>(
        &mut self,
        p: &mut Particles,
        target: &D,
        rng: &mut Rng,
        par: Par,
    ) -> Result<()> {
        self.validate()?;
        check_dims(p, target)?;
        let d = p.dim();
        let seed: u64 = rng.random();
        let (h, noise) = (self.step, (2.0 * self.step * self.temperature).sqrt());
        let clip = self.clip;
        self.buf.clear();
        self.buf.extend_from_slice(&p.pos);
        let blocks = p.len().div_ceil(PARTICLE_BLOCK);
        self.grads.resize(blocks * d, 0.0);
        let body = |(b, (block, grad)): (usize, (&mut [f64], &mut [f64]))| {
            let mut r = rng::stream(seed, b as u64);
            for y in block.chunks_exact_mut(d) {
                target.value_grad(y, grad);
                for (yk, gk) in y.iter_mut().zip(grad.iter()) {
                    *yk += h * gk;
                    if noise > 0.0 {
                        let z: f64 = StandardNormal.sample(&mut r);
                        *yk += noise * z;
                    }
                    if let Some((lo, hi)) = clip {
                        *yk = yk.max(lo).min(hi);
                    }
                }
            }
        };
        if par.is_parallel() {
            self.buf
                .par_chunks_mut(PARTICLE_BLOCK * d)
                .zip(self.grads.par_chunks_mut(d))
                .enumerate()
                .for_each(body);
        } else {
            self.buf
                .chunks_mut(PARTICLE_BLOCK * d)
                .zip(self.grads.chunks_mut(d))
                .enumerate()
                .for_each(body);
        }
        gradus_core::validate::all_finite("langevin positions", &self.buf)?;
        std::mem::swap(&mut p.pos, &mut self.buf);
        Ok(())
    }
}
