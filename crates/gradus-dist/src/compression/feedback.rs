//! Feedback rules: what a compressing worker sends and what it remembers (paper 06,
//! "Algorithms"). A rule turns the gradient `g_k` into the direction handed to the wrapped
//! optimizer, compressing exactly one vector per step:
//!
//! | rule | compressed | direction | memory after the step |
//! |---|---|---|---|
//! | [`NoFeedback`] (CGD) | `g` | `c = C(g)` | none |
//! | [`ErrorFeedback`] (EF) | `v = e + s g` | `c = C(v)` | `e <- v - c` |
//! | [`Ef21Feedback`] (EF21) | `u = g - d` | `d + C(u)` | `d <- d + C(u)` |
//!
//! For EF, `s` is 1 (memory in gradient units, the optimizer's step applies after
//! compression) or the step size `eta` itself (memory in step units: paper 06's EF, where
//! the rule owns the step size and the optimizer must take unit steps).
//!
//! Rules are sealed: the three of the paper are the ones the analysis covers.

use gradus_core::validate::positive;
use gradus_core::{Error, Result, Rng};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::compressor::{Compressor, message_bits};
use super::method::Ef21Init;
use super::scalar::WireScalar;

/// A feedback rule for [`super::Compressed`]: [`NoFeedback`], [`ErrorFeedback`] or
/// [`Ef21Feedback`].
pub trait Feedback<T: WireScalar>: rule::Rule<T> {}

impl<T: WireScalar, R: rule::Rule<T>> Feedback<T> for R {}

pub(super) mod rule {
    use super::*;

    /// The step-level interface of a rule. Only [`Rule::commit`] and [`Rule::restore`] change
    /// the rule's state, so a step rejected after [`Rule::direction`] leaves no trace.
    pub trait Rule<T: WireScalar>: Clone + std::fmt::Debug {
        /// Short name, the method's name in paper 06 in lower case.
        const NAME: &'static str;
        /// Name and description of the memory buffer in checkpoints, if the rule keeps one.
        const MEMORY: Option<(&'static str, &'static str)>;
        /// The rule's scalar settings as stored in checkpoints.
        type Settings: Serialize + DeserializeOwned;

        /// Allocates the rule's buffers for `n` coordinates (at construction only).
        fn allocate(&mut self, n: usize);

        /// Computes this step's direction from `grads`, compressing one vector into `out`
        /// with `compressor` and `rng`, and returns the message's bits and the direction.
        /// Writes only scratch buffers (the caller restores `rng` if the step fails).
        fn direction<'a, C: Compressor<T>>(
            &'a mut self,
            grads: &[T],
            compressor: &mut C,
            rng: &mut Rng,
            out: &'a mut [T],
        ) -> Result<(u64, &'a [T])>;

        /// Commits the step whose direction was computed last; `message` is its `out`.
        fn commit(&mut self, message: &[T]);

        /// The step size if the rule owns it (EF in step units), else `None`.
        fn step_size(&self) -> Option<f64> {
            None
        }

        /// Sets the step size of a rule that owns it.
        fn set_step_size(&mut self, _eta: f64) -> Result<()> {
            Err(Error::Unsupported(format!("the {} rule has no step size", Self::NAME)))
        }

        /// The memory buffer (empty if none).
        fn memory(&self) -> &[T];

        /// The settings to store.
        fn settings(&self) -> Self::Settings;

        /// Checks stored settings against this rule's configuration.
        fn check_settings(&self, saved: &Self::Settings) -> Result<()>;

        /// Takes checked settings and a checked memory buffer (empty if none).
        fn restore(&mut self, saved: Self::Settings, memory: Vec<T>);
    }
}

use rule::Rule;

/// No feedback: compressed gradient descent sends `C(g)` and the optimizer consumes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoFeedback;

impl<T: WireScalar> Rule<T> for NoFeedback {
    const NAME: &'static str = "cgd";
    const MEMORY: Option<(&'static str, &'static str)> = None;
    type Settings = ();

    fn allocate(&mut self, _n: usize) {}

    fn direction<'a, C: Compressor<T>>(
        &'a mut self,
        grads: &[T],
        compressor: &mut C,
        rng: &mut Rng,
        out: &'a mut [T],
    ) -> Result<(u64, &'a [T])> {
        let msg = compressor.compress(grads, out, rng)?;
        Ok((msg.bits, out))
    }

    fn commit(&mut self, _message: &[T]) {}

    fn memory(&self) -> &[T] {
        &[]
    }

    fn settings(&self) {}

    fn check_settings(&self, _saved: &()) -> Result<()> {
        Ok(())
    }

    fn restore(&mut self, _saved: (), _memory: Vec<T>) {}
}

/// Error feedback (Seide et al. 2014, Stich et al. 2018): compresses `v = e + s g`, hands
/// `c = C(v)` to the optimizer and remembers what was not sent, `e <- v - c`. The memory is
/// updated from the very `v` that was compressed, so nothing is lost: with unit optimizer
/// steps, `x_{k+1} - e_{k+1} = x_k - e_k - s g_k` up to one rounding.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorFeedback<T> {
    /// `Some(eta)`: memory in step units, the rule owns the step size.
    scale: Option<f64>,
    e: Vec<T>,
    v: Vec<T>,
}

impl<T: WireScalar> ErrorFeedback<T> {
    /// Memory in gradient units (`s = 1`): `v = e + g`; the optimizer's learning rate
    /// applies to the compressed `c`. The form that composes with any optimizer (Adam...).
    pub fn gradient_units() -> Self {
        ErrorFeedback { scale: None, e: Vec::new(), v: Vec::new() }
    }

    /// Memory in step units (`s = eta`): `v = e + eta g`, paper 06's EF. The rule owns the
    /// step size (the wrapper's `lr` is `eta`), so the optimizer should take unit steps
    /// (`x -= c` with SGD at rate 1). Errors unless `eta > 0`.
    pub fn step_units(eta: f64) -> Result<Self> {
        positive("eta", eta)?;
        Ok(ErrorFeedback { scale: Some(eta), e: Vec::new(), v: Vec::new() })
    }

    /// The error memory `e_k`.
    pub fn error(&self) -> &[T] {
        &self.e
    }

    /// Sets the error memory. Errors on a wrong length or a non-finite entry, changing
    /// nothing.
    pub fn set_error(&mut self, e: &[T]) -> Result<()> {
        gradus_core::validate::same_len("error memory", self.e.len(), e.len())?;
        gradus_core::validate::all_finite("error memory", e)?;
        self.e.copy_from_slice(e);
        Ok(())
    }
}

/// Stored settings of [`ErrorFeedback`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EfSettings {
    /// `Some(eta)` for memory in step units.
    pub step_size: Option<f64>,
}

impl<T: WireScalar> Rule<T> for ErrorFeedback<T> {
    const NAME: &'static str = "ef";
    const MEMORY: Option<(&'static str, &'static str)> = Some(("e", "error memory"));
    type Settings = EfSettings;

    fn allocate(&mut self, n: usize) {
        self.e = vec![T::ZERO; n];
        self.v = vec![T::ZERO; n];
    }

    fn direction<'a, C: Compressor<T>>(
        &'a mut self,
        grads: &[T],
        compressor: &mut C,
        rng: &mut Rng,
        out: &'a mut [T],
    ) -> Result<(u64, &'a [T])> {
        match self.scale {
            Some(eta) => {
                let eta = T::from_f64(eta);
                for ((v, &g), &e) in self.v.iter_mut().zip(grads).zip(&self.e) {
                    *v = eta.mul_add(g, e);
                }
            }
            None => {
                for ((v, &g), &e) in self.v.iter_mut().zip(grads).zip(&self.e) {
                    *v = g + e;
                }
            }
        }
        let msg = compressor.compress(&self.v, out, rng)?;
        Ok((msg.bits, out))
    }

    fn commit(&mut self, message: &[T]) {
        for ((e, &v), &c) in self.e.iter_mut().zip(&self.v).zip(message) {
            *e = v - c;
        }
    }

    fn step_size(&self) -> Option<f64> {
        self.scale
    }

    fn set_step_size(&mut self, eta: f64) -> Result<()> {
        match &mut self.scale {
            Some(s) => {
                positive("lr", eta)?;
                *s = eta;
                Ok(())
            }
            None => Err(Error::Unsupported("EF in gradient units has no step size".into())),
        }
    }

    fn memory(&self) -> &[T] {
        &self.e
    }

    fn settings(&self) -> EfSettings {
        EfSettings { step_size: self.scale }
    }

    fn check_settings(&self, saved: &EfSettings) -> Result<()> {
        match (self.scale, saved.step_size) {
            (Some(_), Some(eta)) => positive("eta", eta),
            (None, None) => Ok(()),
            (mine, theirs) => Err(Error::mismatch(
                "error feedback units",
                units(mine.is_some()),
                units(theirs.is_some()),
            )),
        }
    }

    fn restore(&mut self, saved: EfSettings, memory: Vec<T>) {
        (self.scale, self.e) = (saved.step_size, memory);
    }
}

fn units(steps: bool) -> &'static str {
    if steps { "step units" } else { "gradient units" }
}

/// EF21 (Richtarik, Sokolov, Fatkhullin 2021): keeps a gradient estimate `d`, sends
/// `C(g - d)`, and hands the refreshed estimate `d + C(g - d)` to the optimizer. A step
/// receives `g_k = grad f(x_k)`, so the estimate refresh of the paper's recursion is placed
/// at the start of the step that uses it. `d` has the units of a gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct Ef21Feedback<T> {
    init: Ef21Init,
    started: bool,
    d: Vec<T>,
    /// `g - d`, the compressed vector.
    u: Vec<T>,
    /// The refreshed estimate, committed by swapping with `d`.
    next: Vec<T>,
}

impl<T: WireScalar> Ef21Feedback<T> {
    /// EF21 with initialisation `init`.
    pub fn new(init: Ef21Init) -> Self {
        Ef21Feedback { init, started: false, d: Vec::new(), u: Vec::new(), next: Vec::new() }
    }

    /// The gradient estimate (after a step: the `d_k` that step moved along).
    pub fn estimate(&self) -> &[T] {
        &self.d
    }

    /// Sets the estimate used by the next refresh and marks the rule as started, so
    /// [`Ef21Init`] no longer applies. Errors on a wrong length or a non-finite entry,
    /// changing nothing.
    pub fn set_estimate(&mut self, d: &[T]) -> Result<()> {
        gradus_core::validate::same_len("gradient estimate", self.d.len(), d.len())?;
        gradus_core::validate::all_finite("gradient estimate", d)?;
        self.d.copy_from_slice(d);
        self.started = true;
        Ok(())
    }
}

/// Stored settings of [`Ef21Feedback`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ef21Settings {
    /// The initialisation.
    pub init: Ef21Init,
    /// Whether the first step was taken (or the estimate set).
    pub started: bool,
}

impl<T: WireScalar> Rule<T> for Ef21Feedback<T> {
    const NAME: &'static str = "ef21";
    const MEMORY: Option<(&'static str, &'static str)> = Some(("d", "gradient estimate"));
    type Settings = Ef21Settings;

    fn allocate(&mut self, n: usize) {
        self.d = vec![T::ZERO; n];
        self.u = vec![T::ZERO; n];
        self.next = vec![T::ZERO; n];
    }

    fn direction<'a, C: Compressor<T>>(
        &'a mut self,
        grads: &[T],
        compressor: &mut C,
        rng: &mut Rng,
        out: &'a mut [T],
    ) -> Result<(u64, &'a [T])> {
        let n = self.d.len();
        if !self.started && self.init == Ef21Init::Gradient {
            self.next.copy_from_slice(grads);
            return Ok((message_bits(n, n, T::VALUE_BITS, 0), &self.next));
        }
        for ((u, &g), &d) in self.u.iter_mut().zip(grads).zip(&self.d) {
            *u = g - d;
        }
        let msg = compressor.compress(&self.u, out, rng)?;
        for ((nx, &d), &c) in self.next.iter_mut().zip(&self.d).zip(out.iter()) {
            *nx = d + c;
        }
        Ok((msg.bits, &self.next))
    }

    fn commit(&mut self, _message: &[T]) {
        std::mem::swap(&mut self.d, &mut self.next);
        self.started = true;
    }

    fn memory(&self) -> &[T] {
        &self.d
    }

    fn settings(&self) -> Ef21Settings {
        Ef21Settings { init: self.init, started: self.started }
    }

    fn check_settings(&self, saved: &Ef21Settings) -> Result<()> {
        if saved.init != self.init {
            return Err(Error::mismatch(
                "EF21 initialisation",
                format!("{:?}", self.init),
                format!("{:?}", saved.init),
            ));
        }
        Ok(())
    }

    fn restore(&mut self, saved: Ef21Settings, memory: Vec<T>) {
        (self.started, self.d) = (saved.started, memory);
    }
}
