//! Error feedback (Seide et al. 2014, Stich et al. 2018; paper 06, "EF"):
//! `v_k = e_k + eta grad f(x_k)`, `c_k = C(v_k)`, `x_{k+1} = x_k - c_k`, `e_{k+1} = v_k - c_k`.

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Layout, Par, Result};
use gradus_optim::{Optimizer, OptimizerState, StepInfo};

use super::compressor::Compressor;
use super::link::{Link, StateHead, check_new, check_step};
use super::scalar::WireScalar;

/// EF as an [`Optimizer`]. The error memory `e` has the units of a step (EF compresses
/// `eta g + e`, not `g`), starts at zero, and is updated from the very `v_k` that was
/// compressed, so `x_{k+1} - e_{k+1} = x_k - e_k - eta g_k` holds up to one rounding.
#[derive(Debug, Clone)]
pub struct Ef<T, C> {
    layout: Layout,
    eta: f64,
    link: Link<T, C>,
    e: Vec<T>,
    v: Vec<T>,
    t: u64,
    par: Par,
}

impl<T: WireScalar, C: Compressor<T>> Ef<T, C> {
    /// EF over `layout` with step `eta`, compressor `compressor` and generator seed `seed`.
    /// Errors unless `eta > 0`, the layout is non-empty and matches the compressor's dimension.
    pub fn new(layout: Layout, compressor: C, eta: f64, seed: u64) -> Result<Self> {
        check_new(&layout, eta)?;
        let n = layout.len();
        let link = Link::new(compressor, n, seed)?;
        Ok(Ef {
            layout,
            eta,
            link,
            e: vec![T::ZERO; n],
            v: vec![T::ZERO; n],
            t: 0,
            par: Par::default(),
        })
    }

    /// Uses `par` for the gradient check (results do not depend on it).
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The error memory `e_k`.
    pub fn error(&self) -> &[T] {
        &self.e
    }

    /// Sets the error memory (paper 06's analysis allows any `e_0`). Errors on a wrong
    /// length or a non-finite entry, leaving the memory unchanged.
    pub fn set_error(&mut self, e: &[T]) -> Result<()> {
        same_len("error memory", self.e.len(), e.len())?;
        all_finite("error memory", e)?;
        self.e.copy_from_slice(e);
        Ok(())
    }

    /// The compressor.
    pub fn compressor(&self) -> &C {
        &self.link.compressor
    }

    /// Bits sent so far.
    pub fn bits_sent(&self) -> u64 {
        self.link.bits
    }

    /// The last message `c_k = C(v_k)`.
    pub fn last_message(&self) -> &[T] {
        &self.link.out
    }
}

impl<T: WireScalar, C: Compressor<T>> Optimizer<T> for Ef<T, C> {
    fn name(&self) -> &str {
        "ef"
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<StepInfo> {
        let grad_norm = check_step(self.par, self.layout.len(), params, grads)?;
        let eta = T::from_f64(self.eta);
        for ((v, &g), &e) in self.v.iter_mut().zip(grads).zip(&self.e) {
            *v = eta.mul_add(g, e);
        }
        let msg = self.link.send(&self.v)?;
        for (((x, e), &v), &c) in
            params.iter_mut().zip(&mut self.e).zip(&self.v).zip(&self.link.out)
        {
            *x -= c;
            *e = v - c;
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
        let head = StateHead { optimizer: "ef", layout: &self.layout, step: self.t, eta: self.eta };
        self.link.save(head, (false, Default::default()), Some(("e", &self.e)))
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let mut e = vec![T::ZERO; self.e.len()];
        let cfg = self.link.check_saved(
            state,
            "ef",
            &self.layout,
            Some(("e", "error memory", &mut e)),
        )?;
        self.link.restore(&cfg);
        (self.eta, self.t, self.e) = (cfg.eta, state.step, e);
        Ok(())
    }
}
