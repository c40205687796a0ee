//! The trainer and its optimizer agree on the learning rate: a rate set through
//! `optimizer_mut()` is used, not overwritten by the rate the trainer stored (issue 18).

use gradus_core::{Layout, Objective, Result, Rng};
use gradus_optim::{Agm, AgmConfig, Optimizer, Schedule, Trainer};

/// `f(x) = |x|^2 / 2`: gradient `x`, so SGD with rate `lr` maps `x` to `(1 - lr) x` exactly
/// for the rates used here (powers of two).
struct HalfSquare;

impl Objective<f64> for HalfSquare {
    fn dim(&self) -> usize {
        1
    }
    fn loss_grad(&mut self, params: &[f64], grad: &mut [f64], _: &mut Rng) -> Result<f64> {
        grad[0] = params[0];
        Ok(0.5 * params[0] * params[0])
    }
}

fn trainer(lr: f64) -> Trainer<f64, HalfSquare, Agm<f64>> {
    let opt = Agm::new("sgd", AgmConfig::sgd(lr), Layout::flat(1).unwrap()).unwrap();
    Trainer::new(HalfSquare, opt, vec![1.0], 0).unwrap()
}

#[test]
fn rate_set_through_optimizer_mut_is_used_and_kept() {
    let mut t = trainer(0.5);
    t.run(1).unwrap();
    assert_eq!(t.params(), &[0.5]);
    // Before the fix the trainer reset the rate to its stored 0.5 at the next step.
    t.optimizer_mut().set_lr(0.25).unwrap();
    assert_eq!(t.base_lr(), 0.25);
    t.run(1).unwrap();
    assert_eq!(t.params(), &[0.5 * 0.75]);
    assert_eq!((t.optimizer().lr(), t.base_lr()), (0.25, 0.25));
    // A rate set before the first run counts too.
    let mut t = trainer(0.5);
    t.optimizer_mut().set_lr(0.125).unwrap();
    t.run(2).unwrap();
    assert_eq!(t.params(), &[0.875 * 0.875]);
}

#[test]
fn rate_set_through_optimizer_mut_becomes_the_scheduled_base() {
    // Halve every step: rates 0.5, then (after the user sets 0.25 as the new base) 0.25 * 0.5.
    let mut t = trainer(0.5).with_schedule(Schedule::Step { every: 1, gamma: 0.5 }).unwrap();
    t.run(1).unwrap();
    assert_eq!(t.params(), &[0.5]);
    t.optimizer_mut().set_lr(0.25).unwrap();
    t.run(1).unwrap();
    assert_eq!(t.optimizer().lr(), 0.125);
    assert_eq!(t.params(), &[0.5 * 0.875]);
    assert_eq!(t.base_lr(), 0.25);
    // Untouched between runs, the base stays and the schedule keeps scaling it.
    t.run(1).unwrap();
    assert_eq!(t.optimizer().lr(), 0.0625);
    // `set_base_lr` is the same thing through the trainer, and a refused rate changes nothing.
    assert!(t.set_base_lr(-1.0).is_err());
    assert_eq!((t.base_lr(), t.optimizer().lr()), (0.25, 0.0625));
    t.set_base_lr(1.0).unwrap();
    assert_eq!((t.base_lr(), t.optimizer().lr()), (1.0, 1.0));
    t.run(1).unwrap();
    assert_eq!(t.optimizer().lr(), 0.5f64.powi(3));
}
