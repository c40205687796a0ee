//! The sending side of one worker: a compressor, its random stream, the message buffer, and
//! the bits sent so far. Shared by the single-agent methods.

use gradus_core::Error;
use gradus_core::Par;
use gradus_core::validate::{positive, same_len};
use gradus_core::{Layout, Result, Rng, rng};
use gradus_kernels::{grad_stats, norm2};
use serde::{Deserialize, Serialize};

use super::compressor::{Compressor, Message};
use super::method::Ef21Init;
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

    /// Compresses `v` into `self.out`. On error the generator is restored, so a rejected
    /// step leaves no trace. The caller adds the message's bits once the step commits.
    pub fn send(&mut self, v: &[T]) -> Result<Message> {
        let saved = self.rng.clone();
        let r = self.compressor.compress(v, &mut self.out, &mut self.rng);
        if r.is_err() {
            self.rng = saved;
        }
        r
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

/// The serialised configuration of a single-agent method (inside `OptimizerState::config`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MethodConfig {
    pub eta: f64,
    pub compressor: String,
    pub rng: Rng,
    pub bits: u64,
    #[serde(default)]
    pub started: bool,
    #[serde(default)]
    pub init: Ef21Init,
}

impl MethodConfig {
    pub fn parse(value: &serde_json::Value, compressor: &str) -> Result<Self> {
        let cfg: MethodConfig = serde_json::from_value(value.clone())
            .map_err(|e| Error::corrupt("optimizer configuration", e.to_string()))?;
        positive("eta", cfg.eta)?;
        if cfg.compressor != compressor {
            return Err(Error::mismatch("compressor", compressor, &cfg.compressor));
        }
        Ok(cfg)
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
