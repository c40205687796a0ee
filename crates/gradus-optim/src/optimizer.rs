use gradus_core::{Layout, Result, Scalar};

use crate::state::OptimizerState;

/// What one optimizer step did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct StepInfo {
    /// Index of the step just taken (1 for the first).
    pub step: u64,
    /// Euclidean norm of the raw gradient (`NaN` when the optimizer was configured not to
    /// read the gradient before updating).
    pub grad_norm: f64,
    /// Factor the gradient was multiplied by (global-norm clipping), 1 when not clipped.
    pub clip_scale: f64,
    /// Base learning rate used by this step (before per-block scales).
    pub lr: f64,
    /// Matrix-root computations that failed this step, whose previous root was kept
    /// (Shampoo); 0 for diagonal methods.
    pub root_failures: u32,
}

impl StepInfo {
    /// A record for step `step` with the given gradient norm, clip factor and learning rate.
    pub fn new(step: u64, grad_norm: f64, clip_scale: f64, lr: f64) -> Self {
        StepInfo { step, grad_norm, clip_scale, lr, root_failures: 0 }
    }
}

/// A first-order update rule: turns gradients into parameter steps.
///
/// All state is allocated at construction: [`Optimizer::step`] never allocates. A rejected
/// step (wrong length, NaN or infinite gradient) returns an error and leaves parameters and
/// state bit-for-bit unchanged.
pub trait Optimizer<T: Scalar> {
    /// Short name stored in checkpoints, e.g. `"adam"`.
    fn name(&self) -> &str;

    /// The parameter layout the optimizer was built for.
    fn layout(&self) -> &Layout;

    /// Updates `params` in place from `grads`.
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<StepInfo>;

    /// Current base learning rate.
    fn lr(&self) -> f64;

    /// Sets the base learning rate (schedules call this between steps).
    fn set_lr(&mut self, lr: f64) -> Result<()>;

    /// Number of steps taken.
    fn steps_taken(&self) -> u64;

    /// A serialisable copy of the full state (hyperparameters, step count, buffers). Errors
    /// if the configuration cannot be serialised.
    fn state(&self) -> Result<OptimizerState>;

    /// Restores a state produced by [`Optimizer::state`]. Errors, naming the mismatch, if it
    /// belongs to another optimizer, layout, scalar type or schema version; on error nothing
    /// changes.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()>;
}

/// Boxed optimizers are optimizers, so a driver can choose one at run time.
impl<T: Scalar, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn layout(&self) -> &Layout {
        (**self).layout()
    }
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<StepInfo> {
        (**self).step(params, grads)
    }
    fn lr(&self) -> f64 {
        (**self).lr()
    }
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        (**self).set_lr(lr)
    }
    fn steps_taken(&self) -> u64 {
        (**self).steps_taken()
    }
    fn state(&self) -> Result<OptimizerState> {
        (**self).state()
    }
    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        (**self).load_state(state)
    }
}
