//! EF21 (Richtarik, Sokolov, Fatkhullin 2021; paper 06, "EF21"):
//! `x_{k+1} = x_k - eta d_k`, `d_{k+1} = d_k + C(grad f(x_{k+1}) - d_k)`.

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Layout, Par, Result};
use gradus_optim::{Optimizer, OptimizerState, StepInfo};

use super::compressor::{Compressor, message_bits};
use super::link::{Link, StateHead, check_new, check_step};
use super::method::Ef21Init;
use super::scalar::WireScalar;

/// EF21 as an [`Optimizer`]. A step receives `g_k = grad f(x_k)`, first refreshes the
/// estimate `d_k = d_{k-1} + C(g_k - d_{k-1})`, then moves `x_{k+1} = x_k - eta d_k`: the
/// paper's recursion, with the estimate update placed at the start of the step that uses
/// it. `d` has the units of a gradient (unlike EF's memory).
#[derive(Debug, Clone)]
pub struct Ef21<T, C> {
    layout: Layout,
    eta: f64,
    link: Link<T, C>,
    init: Ef21Init,
    started: bool,
    d: Vec<T>,
    u: Vec<T>,
    t: u64,
    par: Par,
}

impl<T: WireScalar, C: Compressor<T>> Ef21<T, C> {
    /// EF21 over `layout` with step `eta`, compressor `compressor`, initialisation `init`
    /// and generator seed `seed`. Errors unless `eta > 0`, the layout is non-empty and
    /// matches the compressor's dimension.
    pub fn new(layout: Layout, compressor: C, eta: f64, init: Ef21Init, seed: u64) -> Result<Self> {
        check_new(&layout, eta)?;
        let n = layout.len();
        let link = Link::new(compressor, n, seed)?;
        Ok(Ef21 {
            layout,
            eta,
            link,
            init,
            started: false,
            d: vec![T::ZERO; n],
            u: vec![T::ZERO; n],
            t: 0,
            par: Par::default(),
        })
    }

    /// Uses `par` for the gradient check (results do not depend on it).
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The gradient estimate `d` (after a step: the `d_k` that step moved along).
    pub fn estimate(&self) -> &[T] {
        &self.d
    }

    /// Sets the estimate used by the next refresh (paper 06's analysis allows any `d`) and
    /// marks the method as started, so [`Ef21Init`] no longer applies. Errors on a wrong
    /// length or a non-finite entry, leaving the estimate unchanged.
    pub fn set_estimate(&mut self, d: &[T]) -> Result<()> {
        same_len("gradient estimate", self.d.len(), d.len())?;
        all_finite("gradient estimate", d)?;
        self.d.copy_from_slice(d);
        self.started = true;
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
}

impl<T: WireScalar, C: Compressor<T>> Optimizer<T> for Ef21<T, C> {
    fn name(&self) -> &str {
        "ef21"
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<StepInfo> {
        let grad_norm = check_step(self.par, self.layout.len(), params, grads)?;
        let n = self.d.len();
        if !self.started && self.init == Ef21Init::Gradient {
            self.d.copy_from_slice(grads);
            self.link.bits += message_bits(n, n, T::VALUE_BITS, 0);
        } else {
            for ((u, &g), &d) in self.u.iter_mut().zip(grads).zip(&self.d) {
                *u = g - d;
            }
            let msg = self.link.send(&self.u)?;
            for (d, &c) in self.d.iter_mut().zip(&self.link.out) {
                *d += c;
            }
            self.link.bits += msg.bits;
        }
        self.started = true;
        let eta = T::from_f64(self.eta);
        for (x, &d) in params.iter_mut().zip(&self.d) {
            *x = (-eta).mul_add(d, *x);
        }
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
            StateHead { optimizer: "ef21", layout: &self.layout, step: self.t, eta: self.eta };
        self.link.save(head, (self.started, self.init), Some(("d", &self.d)))
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let mut d = vec![T::ZERO; self.d.len()];
        let cfg = self.link.check_saved(
            state,
            "ef21",
            &self.layout,
            Some(("d", "gradient estimate", &mut d)),
        )?;
        if cfg.init != self.init {
            return Err(Error::mismatch(
                "EF21 initialisation",
                format!("{:?}", self.init),
                format!("{:?}", cfg.init),
            ));
        }
        self.link.restore(&cfg);
        (self.eta, self.t, self.started, self.d) = (cfg.eta, state.step, cfg.started, d);
        Ok(())
    }
}
