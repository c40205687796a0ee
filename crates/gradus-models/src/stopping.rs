//! Early stopping on a held-out validation metric, with a best-validation checkpoint.
//!
//! A training run that optimises an empirical objective can keep lowering it long after the
//! model stopped getting better at anything else (it overfits the training points), so a
//! plateau of the *training* objective may never come. The rule here watches a metric
//! evaluated on points the optimiser never sees: the run has converged once that metric has
//! not improved by more than a relative tolerance for `patience` consecutive evaluations,
//! and the model the run reports is the one with the lowest validation value seen (the
//! checkpoint), not the last iterate. A run still improving when its budget ends has *not*
//! converged.
//!
//! The rule is the same for every method: it sees one number per evaluation and a slice of
//! parameters, nothing method-specific.

use gradus_core::{Error, Result};

/// What one [`EarlyStopping::observe`] call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The value is the lowest seen so far; the parameters were copied into the checkpoint.
    pub new_best: bool,
    /// The rule has fired (now or earlier): no improvement above the tolerance for
    /// `patience` evaluations.
    pub converged: bool,
}

/// Early stopping with patience and a relative tolerance, keeping the best parameters.
///
/// Let `r` be the value at the last *significant* improvement (`+inf` before the first
/// evaluation). A value `v` is a significant improvement when `v < r - rel_tol |r|`; then
/// `r <- v` and the patience counter restarts. The rule fires at the `patience`-th
/// evaluation in a row without one. Independently, the checkpoint follows the plain minimum:
/// any value below every earlier one (first occurrence on ties) copies the parameters, so
/// small improvements that do not reset the patience still move the reported model.
///
/// The checkpoint buffer is allocated once in [`EarlyStopping::new`]; `observe` never
/// allocates, so it can sit inside a training loop.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    rel_tol: f64,
    patience: u64,
    evaluations: u64,
    reference: f64,
    since_improvement: u64,
    best_value: f64,
    best_at: Option<u64>,
    best_params: Vec<f64>,
    converged_at: Option<u64>,
}

impl EarlyStopping {
    /// The rule with relative tolerance `rel_tol >= 0` (finite), `patience >= 1` evaluations,
    /// and a checkpoint of `params` parameters.
    pub fn new(rel_tol: f64, patience: u64, params: usize) -> Result<Self> {
        gradus_core::validate::non_negative("rel_tol", rel_tol)?;
        if !rel_tol.is_finite() {
            return Err(Error::hyper("rel_tol", rel_tol, "must be finite"));
        }
        if patience == 0 {
            return Err(Error::hyper("patience", 0.0, "must be at least 1"));
        }
        Ok(EarlyStopping {
            rel_tol,
            patience,
            evaluations: 0,
            reference: f64::INFINITY,
            since_improvement: 0,
            best_value: f64::INFINITY,
            best_at: None,
            best_params: vec![0.0; params],
            converged_at: None,
        })
    }

    /// Feeds the validation value of the current parameters (lower is better).
    ///
    /// A non-finite value or parameter, or parameters of the wrong length, is an error and
    /// leaves the rule untouched (a diverged run must not pass for a plateau). Once the rule
    /// has fired, further values are checked but change nothing.
    pub fn observe(&mut self, value: f64, params: &[f64]) -> Result<Observation> {
        if !value.is_finite() {
            return Err(Error::NonFinite {
                what: "validation metric",
                index: self.evaluations as usize,
            });
        }
        gradus_core::validate::same_len(
            "checkpoint parameters",
            self.best_params.len(),
            params.len(),
        )?;
        gradus_core::validate::all_finite("checkpoint parameters", params)?;
        if self.converged_at.is_some() {
            return Ok(Observation { new_best: false, converged: true });
        }
        self.evaluations += 1;
        let new_best = value < self.best_value;
        if new_best {
            self.best_value = value;
            self.best_at = Some(self.evaluations);
            self.best_params.copy_from_slice(params);
        }
        // `reference = inf` before the first value: the first value always counts.
        if value < self.reference - self.rel_tol * self.reference.abs()
            || self.reference.is_infinite()
        {
            self.reference = value;
            self.since_improvement = 0;
        } else {
            self.since_improvement += 1;
            if self.since_improvement >= self.patience {
                self.converged_at = Some(self.evaluations);
            }
        }
        Ok(Observation { new_best, converged: self.converged_at.is_some() })
    }

    /// Values observed so far (the evaluation count at which the rule fired, once it has).
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// The evaluation (1-based) of the lowest value, once one was observed.
    pub fn best_at(&self) -> Option<u64> {
        self.best_at
    }

    /// The lowest value observed.
    pub fn best_value(&self) -> Option<f64> {
        self.best_at.map(|_| self.best_value)
    }

    /// The parameters of the lowest value, once one was observed.
    pub fn best_params(&self) -> Option<&[f64]> {
        self.best_at.map(|_| self.best_params.as_slice())
    }

    /// The evaluation (1-based) at which the rule fired, if it did.
    pub fn converged_at(&self) -> Option<u64> {
        self.converged_at
    }

    /// The relative tolerance.
    pub fn rel_tol(&self) -> f64 {
        self.rel_tol
    }

    /// The patience in evaluations.
    pub fn patience(&self) -> u64 {
        self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `values` with parameters `[value, index]` until the rule fires; returns the
    /// 1-based evaluation at which it fired.
    fn run(rule: &mut EarlyStopping, values: &[f64]) -> Option<u64> {
        for (i, &v) in values.iter().enumerate() {
            if rule.observe(v, &[v, i as f64]).unwrap().converged {
                return rule.converged_at();
            }
        }
        None
    }

    #[test]
    fn a_run_that_keeps_improving_hits_the_cap() {
        // 2% better every evaluation, tolerance 1%: never a plateau within 200 evaluations,
        // and the checkpoint is the last one.
        let values: Vec<f64> = (0..200).map(|k| 0.98f64.powi(k)).collect();
        let mut rule = EarlyStopping::new(0.01, 5, 2).unwrap();
        assert_eq!(run(&mut rule, &values), None);
        assert_eq!(rule.evaluations(), 200);
        assert_eq!(rule.best_at(), Some(200));
        assert_eq!(rule.best_params().unwrap(), &[values[199], 199.0]);
    }

    #[test]
    fn slow_improvement_below_the_tolerance_is_a_plateau() {
        // 0.1% per evaluation with tolerance 1%: every step improves the checkpoint, but the
        // reference moves only after a 1% gain, which takes more than the patience.
        let values: Vec<f64> = (0..100).map(|k| 0.999f64.powi(k)).collect();
        let mut rule = EarlyStopping::new(0.01, 5, 2).unwrap();
        assert_eq!(run(&mut rule, &values), Some(6));
        assert_eq!(rule.best_at(), Some(6));
        assert!((rule.best_value().unwrap() - 0.999f64.powi(5)).abs() < 1e-15);
    }

    #[test]
    fn a_noisy_plateau_converges_and_keeps_its_best_epoch() {
        // A decay to 1 that then wobbles by +-0.3% (deterministic "noise"), tolerance 1%,
        // patience 8: converged 8 evaluations after the last gain above 1%.
        let values: Vec<f64> = (0..300)
            .map(|k| {
                let k = k as f64;
                1.0 + 2.0 * (-k / 3.0).exp() + 0.003 * (1.7 * k).sin()
            })
            .collect();
        let mut rule = EarlyStopping::new(0.01, 8, 2).unwrap();
        let fired = run(&mut rule, &values).expect("a plateau must converge");
        assert!(fired < 40, "fired at {fired}");
        // The checkpoint is the first minimum of the prefix the rule saw.
        let seen = &values[..fired as usize];
        let (arg, min) = seen
            .iter()
            .enumerate()
            .fold((0, f64::INFINITY), |(a, m), (i, &v)| if v < m { (i, v) } else { (a, m) });
        assert_eq!(rule.best_at(), Some(arg as u64 + 1));
        assert_eq!(rule.best_params().unwrap(), &[min, arg as f64]);
    }

    #[test]
    fn the_best_epoch_is_tracked_through_a_rise() {
        // Overfitting shape: falls to 1.0 at evaluation 4, then rises.
        let values = [3.0, 2.0, 1.5, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0];
        let mut rule = EarlyStopping::new(0.0, 3, 2).unwrap();
        assert_eq!(run(&mut rule, &values), Some(7));
        assert_eq!(rule.best_at(), Some(4));
        assert_eq!(rule.best_value(), Some(1.0));
        assert_eq!(rule.best_params().unwrap(), &[1.0, 3.0]);
        // After firing, further values change nothing.
        let obs = rule.observe(0.1, &[0.1, 99.0]).unwrap();
        assert_eq!(obs, Observation { new_best: false, converged: true });
        assert_eq!(rule.best_params().unwrap(), &[1.0, 3.0]);
        assert_eq!(rule.evaluations(), 7);
    }

    #[test]
    fn a_nan_value_is_an_error_not_a_plateau() {
        let mut rule = EarlyStopping::new(0.01, 1, 1).unwrap();
        rule.observe(2.0, &[1.0]).unwrap();
        let before = format!("{rule:?}");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = rule.observe(bad, &[1.0]).unwrap_err();
            assert!(matches!(e, Error::NonFinite { what: "validation metric", index: 1 }), "{e}");
        }
        assert!(rule.observe(1.0, &[f64::NAN]).is_err());
        assert!(rule.observe(1.0, &[1.0, 2.0]).is_err());
        assert_eq!(format!("{rule:?}"), before, "errors leave the rule untouched");
        // With patience 1 a NaN that were ignored would have fired the rule.
        assert_eq!(rule.converged_at(), None);
        assert_eq!(rule.best_params(), Some(&[1.0][..]));
    }

    #[test]
    fn invalid_settings_are_errors() {
        assert!(EarlyStopping::new(-0.1, 3, 1).is_err());
        assert!(EarlyStopping::new(f64::NAN, 3, 1).is_err());
        assert!(EarlyStopping::new(f64::INFINITY, 3, 1).is_err());
        assert!(EarlyStopping::new(0.01, 0, 1).is_err());
        let rule = EarlyStopping::new(0.01, 3, 4).unwrap();
        assert_eq!((rule.best_at(), rule.best_value(), rule.best_params()), (None, None, None));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(256)))]

        /// For positive sequences: the checkpoint is the first minimum of what the rule saw,
        /// and when it fired, the last `patience` values are no more than `rel_tol` (relative)
        /// below the best value before them.
        #[test]
        fn checkpoint_is_the_prefix_minimum_and_firing_means_no_gain(
            values in prop::collection::vec(0.01f64..10.0, 1..80),
            rel_tol in 0.0f64..0.2,
            patience in 1u64..10,
        ) {
            let mut rule = EarlyStopping::new(rel_tol, patience, 2).unwrap();
            let fired = run(&mut rule, &values);
            let seen = &values[..rule.evaluations() as usize];
            let mut arg = 0;
            for (i, &v) in seen.iter().enumerate() {
                if v < seen[arg] {
                    arg = i;
                }
            }
            prop_assert_eq!(rule.best_at(), Some(arg as u64 + 1));
            prop_assert_eq!(rule.best_params().unwrap(), &[seen[arg], arg as f64][..]);
            match fired {
                Some(t) => {
                    let t = t as usize;
                    prop_assert!(t > patience as usize);
                    let split = t - patience as usize;
                    let before = seen[..split].iter().copied().fold(f64::INFINITY, f64::min);
                    let window = seen[split..].iter().copied().fold(f64::INFINITY, f64::min);
                    prop_assert!(window >= (1.0 - rel_tol) * before - 1e-12);
                }
                None => prop_assert_eq!(seen.len(), values.len()),
            }
        }
    }
}
