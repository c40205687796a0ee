//! Particle flows that sample a target `pi_T ∝ exp(f / T)` given `f` and its gradient, over
//! weighted particles `sum_i w_i delta_{y_i}`:
//! - [`Langevin`]: the time discretisation of the Wasserstein gradient flow of
//!   `KL(. | pi_T)` (unadjusted Langevin; `T = 0` is gradient ascent on `f`);
//! - [`Wfr`]: Wasserstein-Fisher-Rao: Langevin transport plus a Fisher-Rao reaction on the
//!   weights and birth-death resampling;
//! - [`Svgd`]: Stein variational gradient descent with the RBF kernel and the median
//!   bandwidth rule;
//! - [`Rgo`]: the restricted-Gaussian-oracle rejection sampler for strongly log-concave
//!   targets (exact draws, given the mode).
//!
//! The temperature `T` lets the DRO samplers of paper 03 work in their native units
//! (`f = R_theta(x, .)`, `T = lambda eps`, see [`crate::dro`]); `T = 1` is ordinary sampling
//! of `exp(f)`. Randomness for step `t` is drawn as one seed from the caller's generator and
//! split into one stream per block of particles, so results do not depend on threads.

pub mod kernel;
mod langevin;
mod particles;
mod rgo;
mod svgd;
pub(crate) mod target;
mod wfr;

pub use kernel::{
    Bandwidth, KernelWork, median_sq_distance, rbf_weighted_sums, rbf_weighted_sums_in,
};
pub use langevin::Langevin;
pub use particles::Particles;
pub use rgo::{Rgo, RgoStats, RgoWork};
pub use svgd::Svgd;
pub use target::{GaussianTarget, LogDensity};
pub use wfr::{BirthDeath, Donor, Reaction, Wfr};

use gradus_core::{Par, Result, Rng};

/// Particles per independently seeded, independently scheduled block.
pub(crate) const PARTICLE_BLOCK: usize = 64;

/// One step of a particle sampler.
pub trait Flow {
    /// Moves (and for WFR reweights) `particles` one step towards `pi_T ∝ exp(f/T)` with
    /// `f = target`. Errors (wrong dimension, non-finite values) leave the particles as they
    /// were.
    fn step<D: LogDensity + ?Sized>(
        &mut self,
        particles: &mut Particles,
        target: &D,
        rng: &mut Rng,
        par: Par,
    ) -> Result<()>;
}
