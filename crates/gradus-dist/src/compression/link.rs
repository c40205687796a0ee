//! The sending side of one worker: a compressor, its random stream, the message buffer, and
//! the bits sent so far. Shared by the single-agent methods.

use gradus_core::Error;
use gradus_core::Par;
use gradus_core::validate::{all_finite, positive, same_len};
use gradus_core::{Layout, Result, Rng, rng};
use gradus_kernels::{grad_stats, norm2};
use gradus_optim::{BufferData, NamedBuffer, OptimizerState, SCHEMA_VERSION};
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

    /// The checkpoint of a single-agent method `optimizer`: its step size and EF21 flags, this
    /// link's compressor name, generator and bit count, and the method's one buffer if any.
    pub fn save(
        &self,
        head: StateHead<'_>,
        extra: (bool, Ef21Init),
        buffer: Option<(&str, &[T])>,
    ) -> Result<OptimizerState> {
        let cfg = MethodConfig {
            eta: head.eta,
            compressor: self.compressor.name(),
            rng: self.rng.clone(),
            bits: self.bits,
            started: extra.0,
            init: extra.1,
        };
        Ok(OptimizerState {
            schema_version: SCHEMA_VERSION,
            optimizer: head.optimizer.into(),
            scalar: T::NAME.into(),
            layout: head.layout.clone(),
            step: head.step,
            config: cfg.to_value()?,
            buffers: buffer
                .map(|(name, data)| NamedBuffer {
                    name: name.into(),
                    data: BufferData::from_scalars(data),
                })
                .into_iter()
                .collect(),
        })
    }

    /// Checks a checkpoint written by [`Link::save`] for `optimizer` over `layout` and fills
    /// `buffer` (name, description, destination) from it, requiring finite values and no other
    /// buffer. Changes nothing in `self`: the caller commits with [`Link::restore`] once every
    /// check has passed.
    pub fn check_saved(
        &self,
        state: &OptimizerState,
        optimizer: &str,
        layout: &Layout,
        buffer: Option<(&str, &'static str, &mut [T])>,
    ) -> Result<MethodConfig> {
        state.check_header::<T>(optimizer, layout)?;
        let cfg = MethodConfig::parse(&state.config, &self.compressor.name())?;
        let expected =
            buffer.as_ref().map_or("none".to_string(), |(name, _, _)| format!("only `{name}`"));
        let wanted = buffer.as_ref().map(|(name, _, _)| *name);
        if let Some(b) = state.buffers.iter().find(|b| Some(b.name.as_str()) != wanted) {
            return Err(Error::mismatch("buffers", expected, &b.name));
        }
        if let Some((name, what, dst)) = buffer {
            state.buffer(name)?.copy_to(what, dst)?;
            all_finite(what, dst)?;
        }
        Ok(cfg)
    }

    /// Takes the generator and bit count of a checked configuration.
    pub fn restore(&mut self, cfg: &MethodConfig) {
        self.rng = cfg.rng.clone();
        self.bits = cfg.bits;
    }
}

/// What identifies a single-agent method's checkpoint besides the link.
pub(crate) struct StateHead<'a> {
    pub optimizer: &'a str,
    pub layout: &'a Layout,
    pub step: u64,
    pub eta: f64,
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

    pub fn to_value(&self) -> Result<serde_json::Value> {
        gradus_optim::config_value(self)
    }
}
