//! Helpers shared by experiments: statistics over seeds and a full-loss observer.

use gradus_core::{Result, Scalar};
use gradus_models::Differentiable;
use gradus_optim::{Control, Observer, StepRecord};

/// Mean and sample standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Evaluates the deterministic full-data loss of a model copy every `every` steps.
pub struct FullLoss<T, M> {
    model: M,
    grad: Vec<T>,
    every: u64,
    /// `(step, full loss)`.
    pub records: Vec<(u64, f64)>,
}

impl<T: Scalar, M: Differentiable<T>> FullLoss<T, M> {
    /// Observer over `model` firing every `every` steps, with room for `capacity` records.
    pub fn new(model: M, every: u64, capacity: usize) -> Self {
        let n = model.num_params();
        FullLoss { model, grad: vec![T::ZERO; n], every, records: Vec::with_capacity(capacity) }
    }
}

impl<T: Scalar, M: Differentiable<T>> Observer<T> for FullLoss<T, M> {
    fn every(&self) -> u64 {
        self.every
    }
    fn observe(&mut self, r: &StepRecord<'_, T>) -> Result<Control> {
        let f = self.model.full_loss_grad(r.params, &mut self.grad)?;
        self.records.push((r.step, f.to_f64()));
        Ok(Control::Continue)
    }
}

/// Shares an observer's records with the experiment after the trainer consumed it (the
/// trainer may run its loop on a pool thread, hence `Arc<Mutex>`).
pub struct Shared<O>(pub std::sync::Arc<std::sync::Mutex<O>>);

impl<T, O: Observer<T>> Observer<T> for Shared<O> {
    fn every(&self) -> u64 {
        locked(&self.0).every()
    }
    fn observe(&mut self, r: &StepRecord<'_, T>) -> Result<Control> {
        locked(&self.0).observe(r)
    }
}

/// The value behind a shared record sink. A panic while it was held (which would already have
/// ended the run) does not make the records unreadable.
pub fn locked<V>(m: &std::sync::Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
