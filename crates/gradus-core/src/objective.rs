use crate::{Result, Rng, Scalar};

/// A differentiable training objective: parameters in, loss and gradient out.
///
/// Implementations write the gradient into a caller-owned buffer and must not allocate in
/// [`Objective::loss_grad`] after construction, so a training loop over them can be
/// allocation-free. Checked (zero allocations per step after warm-up, on the calling thread
/// and across the rayon pool) by the workspace test `tests/alloc_free_objectives.rs` for the
/// gradus-models objectives (softmax, logistic, quadratic, `Regression` over every
/// `SquaredLossModel`) and by gradus-dist's tests for `Cluster`; the DRO objectives and
/// particle flows of gradus-ot are not covered by those tests. Stochastic objectives (minibatches, label noise) draw all randomness from
/// the `rng` argument, which makes a run reproducible from its seed.
pub trait Objective<T: Scalar> {
    /// Number of parameters.
    fn dim(&self) -> usize;

    /// Evaluates the (possibly stochastic) loss at `params` and writes its gradient to `grad`.
    ///
    /// Errors if `params` or `grad` do not have length [`Objective::dim`]. On error `grad` may
    /// hold partial results; the caller must not use it.
    fn loss_grad(&mut self, params: &[T], grad: &mut [T], rng: &mut Rng) -> Result<T>;
}
