//! Learning-rate schedules: the multiplier applied to the base learning rate at each step.

use gradus_core::validate::positive;
use gradus_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// A learning-rate schedule. [`Schedule::factor`]`(t)` multiplies the base learning rate for
/// step `t` (0-based: the first step uses `factor(0)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// `1`.
    Constant,
    /// `gamma^floor(t / every)`, `gamma` in `(0, 1]`.
    Step { every: u64, gamma: f64 },
    /// `gamma^t`, `gamma` in `(0, 1]`.
    Exponential { gamma: f64 },
    /// `(1 + decay t)^(-power)`; `power = 1` is inverse-time decay, and `decay = 1` gives the
    /// polynomial `(t + 1)^(-power)` of stochastic-approximation step sizes.
    InverseTime { decay: f64, power: f64 },
    /// Linear warm-up from `1/warmup` to 1 over `warmup` steps, then linear decay to
    /// `final_factor` at step `total` (constant afterwards).
    Linear { warmup: u64, total: u64, final_factor: f64 },
    /// Linear warm-up as above, then half a cosine from 1 down to `final_factor` at `total`.
    Cosine { warmup: u64, total: u64, final_factor: f64 },
}

impl Schedule {
    /// Checks the parameters; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { every, gamma } => {
                if every == 0 {
                    return Err(Error::hyper("every", 0.0, "must be >= 1"));
                }
                decay_factor(gamma)
            }
            // A factor above 1 grows without bound: the rate would become infinite (and be
            // refused by the optimizer) after enough steps instead of failing up front.
            Schedule::Exponential { gamma } => decay_factor(gamma),
            Schedule::InverseTime { decay, power } => {
                gradus_core::validate::non_negative("decay", decay)?;
                gradus_core::validate::non_negative("power", power)
            }
            Schedule::Linear { warmup, total, final_factor }
            | Schedule::Cosine { warmup, total, final_factor } => {
                if total < warmup {
                    return Err(Error::hyper("total", total as f64, "must be >= warmup"));
                }
                gradus_core::validate::unit_interval("final_factor", final_factor)
            }
        }
    }

    /// Multiplier of the base learning rate for step `t` (0-based).
    pub fn factor(&self, t: u64) -> f64 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::Step { every, gamma } => gamma.powf((t / every.max(1)) as f64),
            Schedule::Exponential { gamma } => gamma.powf(t as f64),
            Schedule::InverseTime { decay, power } => (1.0 + decay * t as f64).powf(-power),
            Schedule::Linear { warmup, total, final_factor } => {
                warmup_then(t, warmup, total, |x| 1.0 - (1.0 - final_factor) * x)
            }
            Schedule::Cosine { warmup, total, final_factor } => {
                warmup_then(t, warmup, total, |x| {
                    final_factor
                        + (1.0 - final_factor) * 0.5 * (1.0 + (std::f64::consts::PI * x).cos())
                })
            }
        }
    }
}

/// Errors unless `0 < gamma <= 1`.
fn decay_factor(gamma: f64) -> Result<()> {
    positive("gamma", gamma)?;
    if gamma > 1.0 {
        return Err(Error::hyper("gamma", gamma, "must lie in (0, 1]: a decay factor"));
    }
    Ok(())
}

/// Warm-up `(t + 1) / warmup` (never zero), then `decay(progress)` with progress in `[0, 1]`.
fn warmup_then(t: u64, warmup: u64, total: u64, decay: impl Fn(f64) -> f64) -> f64 {
    if t < warmup {
        return (t + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup);
    let progress = if span == 0 { 1.0 } else { ((t - warmup) as f64 / span as f64).min(1.0) };
    decay(progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms() {
        assert_eq!(Schedule::Constant.factor(1000), 1.0);
        assert_eq!(Schedule::Step { every: 10, gamma: 0.5 }.factor(25), 0.25);
        assert!((Schedule::Exponential { gamma: 0.9 }.factor(3) - 0.729).abs() < 1e-15);
        assert_eq!(Schedule::InverseTime { decay: 1.0, power: 1.0 }.factor(3), 0.25);
        let lin = Schedule::Linear { warmup: 4, total: 14, final_factor: 0.0 };
        assert_eq!(lin.factor(0), 0.25);
        assert_eq!(lin.factor(3), 1.0);
        assert_eq!(lin.factor(4), 1.0);
        assert_eq!(lin.factor(9), 0.5);
        assert_eq!(lin.factor(100), 0.0);
        let cos = Schedule::Cosine { warmup: 0, total: 10, final_factor: 0.1 };
        assert!((cos.factor(0) - 1.0).abs() < 1e-15);
        assert!((cos.factor(5) - 0.55).abs() < 1e-12);
        assert!((cos.factor(10) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn invalid_parameters_are_named() {
        let e = Schedule::Step { every: 0, gamma: 0.5 }.validate().unwrap_err();
        assert!(e.to_string().contains("every"));
        let e = Schedule::Cosine { warmup: 5, total: 2, final_factor: 0.0 }.validate().unwrap_err();
        assert!(e.to_string().contains("total"));
        assert!(Schedule::Exponential { gamma: -1.0 }.validate().is_err());
    }
}
