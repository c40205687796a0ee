//! Compressed gradient descent, `x_{k+1} = x_k - eta C(grad f(x_k))` (paper 06, "CGD").

use gradus_core::{Layout, Par, Result};
use gradus_optim::{Optimizer, OptimizerState, StepInfo};

use super::compressor::Compressor;
use super::link::{Link, StateHead, check_new, check_step};
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

    fn state(&self) -> Result<OptimizerState> {
        let head =
            StateHead { optimizer: "cgd", layout: &self.layout, step: self.t, eta: self.eta };
        self.link.save(head, (false, Default::default()), None)
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let cfg = self.link.check_saved(state, "cgd", &self.layout, None)?;
        self.link.restore(&cfg);
        (self.eta, self.t) = (cfg.eta, state.step);
        Ok(())
    }
}
