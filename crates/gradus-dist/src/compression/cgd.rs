//! Compressed gradient descent, `x_{k+1} = x_k - eta C(grad f(x_k))` (paper 06, "CGD").

use gradus_core::{Layout, Par, Result};
use gradus_optim::{NamedBuffer, Optimizer, OptimizerState, SCHEMA_VERSION, StepInfo};

use super::compressor::Compressor;
use super::link::{Link, MethodConfig, check_new, check_step};
use super::scalar::WireScalar;

/// CGD as an [`Optimizer`]: the gradient handed to [`Optimizer::step`] is compressed and the
/// step is taken along the compressed vector. The compressor's randomness comes from a
/// generator seeded at construction (saved in checkpoints).
#[derive(Debug, Clone)]
pub struct Cgd<T, C> {
    layout: Layout,
    eta: f64,
    link: Link<T, C>,
    t: u64,
    par: Par,
}

impl<T: WireScalar, C: Compressor<T>> Cgd<T, C> {
    /// CGD over `layout` with step `eta`, compressor `compressor` and generator seed `seed`.
    /// Errors unless `eta > 0`, the layout is non-empty and matches the compressor's dimension.
    pub fn new(layout: Layout, compressor: C, eta: f64, seed: u64) -> Result<Self> {
        check_new(&layout, eta)?;
        let link = Link::new(compressor, layout.len(), seed)?;
        Ok(Cgd { layout, eta, link, t: 0, par: Par::default() })
    }

    /// Uses `par` for the gradient check (results do not depend on it).
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The compressor.
    pub fn compressor(&self) -> &C {
        &self.link.compressor
    }

    /// Bits sent so far.
    pub fn bits_sent(&self) -> u64 {
        self.link.bits
    }

    /// The last compressed gradient `C(g)`.
    pub fn last_message(&self) -> &[T] {
        &self.link.out
    }
}

impl<T: WireScalar, C: Compressor<T>> Optimizer<T> for Cgd<T, C> {
    fn name(&self) -> &str {
        "cgd"
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<StepInfo> {
        let grad_norm = check_step(self.par, self.layout.len(), params, grads)?;
        let msg = self.link.send(grads)?;
        let eta = T::from_f64(self.eta);
        for (x, &c) in params.iter_mut().zip(&self.link.out) {
            *x = (-eta).mul_add(c, *x);
        }
        self.link.bits += msg.bits;
        self.t += 1;
        Ok(StepInfo::new(self.t, grad_norm, 1.0, self.eta))
    }

    fn lr(&self) -> f64 {
        self.eta
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        gradus_core::validate::positive("lr", lr)?;
        self.eta = lr;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.t
    }

    fn state(&self) -> OptimizerState {
        let cfg = MethodConfig {
            eta: self.eta,
            compressor: self.link.compressor.name(),
            rng: self.link.rng.clone(),
            bits: self.link.bits,
            started: false,
            init: Default::default(),
        };
        OptimizerState {
            schema_version: SCHEMA_VERSION,
            optimizer: "cgd".into(),
            scalar: T::NAME.into(),
            layout: self.layout.clone(),
            step: self.t,
            config: cfg.to_value(),
            buffers: Vec::<NamedBuffer>::new(),
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_header::<T>("cgd", &self.layout)?;
        let cfg = MethodConfig::parse(&state.config, &self.link.compressor.name())?;
        if let Some(b) = state.buffers.first() {
            return Err(gradus_core::Error::mismatch("buffers", "none", &b.name));
        }
        (self.eta, self.link.rng, self.link.bits, self.t) =
            (cfg.eta, cfg.rng, cfg.bits, state.step);
        Ok(())
    }
}
