//! The sending side of one worker: a compressor, its random stream, the message buffer, and
//! the bits sent so far. Used by [`super::Compressed`].

use gradus_core::Error;
use gradus_core::Par;
use gradus_core::validate::{positive, same_len};
use gradus_core::{Layout, Result, Rng, rng};
use gradus_kernels::{grad_stats, norm2};

use super::compressor::Compressor;
use super::scalar::WireScalar;

/// Compressor + generator + output buffer + counters.
#[derive(Debug, Clone)]
pub(crate) struct Link<T, C> {
    pub compressor: C,
    pub rng: Rng,
    /// The last decompressed message `C(v)`.
    pub out: Vec<T>,
    pub bits: u64,
}

impl<T: WireScalar, C: Compressor<T>> Link<T, C> {
    pub fn new(compressor: C, n: usize, seed: u64) -> Result<Self> {
        same_len("compressor dimension", n, compressor.dim())?;
        Ok(Link { compressor, rng: rng::seeded(seed), out: vec![T::ZERO; n], bits: 0 })
    }
}

/// Checks the common preconditions of a step and returns the gradient norm.
pub(crate) fn check_step<T: WireScalar>(
    par: Par,
    n: usize,
    params: &[T],
    grads: &[T],
) -> Result<f64> {
    same_len("parameters", n, params.len())?;
    same_len("gradient", n, grads.len())?;
    let stats = grad_stats(par, grads);
    if !stats.all_finite {
        let index = grads.iter().position(|g| !g.is_finite()).unwrap_or(0);
        return Err(Error::NonFinite { what: "gradient", index });
    }
    Ok(if stats.sum_squares.is_finite() {
        stats.sum_squares.to_f64().sqrt()
    } else {
        norm2(par, grads).to_f64()
    })
}

/// Validates the construction arguments shared by the methods.
pub(crate) fn check_new(layout: &Layout, eta: f64) -> Result<()> {
    if layout.is_empty() {
        return Err(Error::InvalidShape { what: "layout", detail: "no parameters".into() });
    }
    positive("eta", eta)
}
