//! Paper 06's three methods as named instances of [`Compressed`] over SGD:
//!
//! - [`Cgd`]: `x_{k+1} = x_k - eta C(grad f(x_k))`, SGD at rate `eta` fed `C(g)`;
//! - [`Ef`]: `v_k = e_k + eta grad f(x_k)`, `c_k = C(v_k)`, `x_{k+1} = x_k - c_k`,
//!   `e_{k+1} = v_k - c_k`: EF in step units over SGD at rate 1 (`x - 1 c` rounds like
//!   `x - c`);
//! - [`Ef21`]: `x_{k+1} = x_k - eta d_k`, `d_{k+1} = d_k + C(grad f(x_{k+1}) - d_k)`, SGD
//!   at rate `eta` fed the refreshed estimate.
//!
//! SGD's update `x = fma(-eta, u, x)` is the one the methods were written with, so these
//! reproduce the former dedicated implementations bit for bit (tested against scalar
//! references of the recursions in `tests/compression_methods.rs`).

use gradus_core::{Layout, Result};
use gradus_optim::Agm;

use super::compressed::Compressed;
use super::compressor::Compressor;
use super::feedback::{Ef21Feedback, ErrorFeedback, NoFeedback};
use super::link::check_new;
use super::method::Ef21Init;
use super::scalar::WireScalar;

/// Compressed gradient descent (paper 06, "CGD").
pub type Cgd<T, C> = Compressed<T, Agm<T>, C, NoFeedback>;

/// Error feedback (paper 06, "EF"), memory in step units.
pub type Ef<T, C> = Compressed<T, Agm<T>, C, ErrorFeedback<T>>;

/// EF21 (paper 06, "EF21").
pub type Ef21<T, C> = Compressed<T, Agm<T>, C, Ef21Feedback<T>>;

impl<T: WireScalar, C: Compressor<T>> Compressed<T, Agm<T>, C, NoFeedback> {
    /// CGD over `layout` with step `eta`, compressor `compressor` and generator seed `seed`.
    /// Errors unless `eta > 0`, the layout is non-empty and matches the compressor's dimension.
    pub fn new(layout: Layout, compressor: C, eta: f64, seed: u64) -> Result<Self> {
        check_new(&layout, eta)?;
        Ok(Compressed::wrap(Agm::sgd(layout, eta)?, compressor, NoFeedback, seed)?.named("cgd"))
    }
}

impl<T: WireScalar, C: Compressor<T>> Compressed<T, Agm<T>, C, ErrorFeedback<T>> {
    /// EF over `layout` with step `eta`, compressor `compressor` and generator seed `seed`:
    /// [`ErrorFeedback::step_units`] over SGD at rate 1. Errors unless `eta > 0`, the layout
    /// is non-empty and matches the compressor's dimension.
    pub fn new(layout: Layout, compressor: C, eta: f64, seed: u64) -> Result<Self> {
        check_new(&layout, eta)?;
        let rule = ErrorFeedback::step_units(eta)?;
        Ok(Compressed::wrap(Agm::sgd(layout, 1.0)?, compressor, rule, seed)?.named("ef"))
    }
}

impl<T, O, C> Compressed<T, O, C, ErrorFeedback<T>>
where
    T: WireScalar,
    O: gradus_optim::Optimizer<T>,
    C: Compressor<T>,
{
    /// The error memory `e_k` (step units for [`Ef`], gradient units otherwise).
    pub fn error(&self) -> &[T] {
        self.feedback().error()
    }

    /// Sets the error memory (paper 06's analysis allows any `e_0`). Errors on a wrong
    /// length or a non-finite entry, leaving the memory unchanged.
    pub fn set_error(&mut self, e: &[T]) -> Result<()> {
        self.feedback_mut().set_error(e)
    }
}

impl<T: WireScalar, C: Compressor<T>> Compressed<T, Agm<T>, C, Ef21Feedback<T>> {
    /// EF21 over `layout` with step `eta`, compressor `compressor`, initialisation `init`
    /// and generator seed `seed`. Errors unless `eta > 0`, the layout is non-empty and
    /// matches the compressor's dimension.
    pub fn new(layout: Layout, compressor: C, eta: f64, init: Ef21Init, seed: u64) -> Result<Self> {
        check_new(&layout, eta)?;
        let rule = Ef21Feedback::new(init);
        Ok(Compressed::wrap(Agm::sgd(layout, eta)?, compressor, rule, seed)?.named("ef21"))
    }
}

impl<T, O, C> Compressed<T, O, C, Ef21Feedback<T>>
where
    T: WireScalar,
    O: gradus_optim::Optimizer<T>,
    C: Compressor<T>,
{
    /// The gradient estimate `d` (after a step: the `d_k` that step moved along).
    pub fn estimate(&self) -> &[T] {
        self.feedback().estimate()
    }

    /// Sets the estimate used by the next refresh (paper 06's analysis allows any `d`) and
    /// marks the method as started, so [`Ef21Init`] no longer applies. Errors on a wrong
    /// length or a non-finite entry, leaving the estimate unchanged.
    pub fn set_estimate(&mut self, d: &[T]) -> Result<()> {
        self.feedback_mut().set_estimate(d)
    }
}
