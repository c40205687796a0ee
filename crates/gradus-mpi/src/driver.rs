//! The round loop shared by the in-process cluster, the thread mesh and MPI runs.

use std::time::Instant;

use gradus_core::validate::{all_finite, positive, same_len};
use gradus_core::{Error, Objective, Result, rng};

/// What one round did, as seen by this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round {
    /// Round number (0-based).
    pub round: u64,
    /// Mean loss over all workers at the round's parameters.
    pub loss: f64,
    /// Wall-clock seconds of the round (gradient, compression, communication, step).
    pub seconds: f64,
}

/// Rounds `from..to` of `x <- x - eta u`, where `u` is `objective`'s direction (a cluster's
/// aggregated message) and round `k` draws from `rng::stream(seed, k)`; `each` sees every
/// round after its step. Errors for a non-positive `eta`, a wrong length, a non-finite
/// direction, or the objective's error (the parameters then hold the last good round's).
pub fn rounds<O: Objective<f64>>(
    objective: &mut O,
    x: &mut [f64],
    eta: f64,
    seed: u64,
    range: std::ops::Range<u64>,
    mut each: impl FnMut(&O, Round, &[f64]) -> Result<()>,
) -> Result<()> {
    positive("eta", eta)?;
    same_len("parameters", objective.dim(), x.len())?;
    let mut u = vec![0.0; x.len()];
    for k in range {
        let t = Instant::now();
        let loss = objective.loss_grad(x, &mut u, &mut rng::stream(seed, k))?;
        all_finite("direction", &u)?;
        if !loss.is_finite() {
            return Err(Error::NonFinite { what: "mean loss", index: k as usize });
        }
        x.iter_mut().zip(&u).for_each(|(x, u)| *x -= eta * u);
        let r = Round { round: k, loss, seconds: t.elapsed().as_secs_f64() };
        each(objective, r, x)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradus_dist::compression::{Cluster, Identity, Method};

    #[test]
    fn identity_cgd_is_gradient_descent() {
        let spec = crate::problem::Spec { features: 4, rows: 6, l2: 0.01, seed: 1 };
        let shards = spec.shards(0..2).unwrap();
        let mut cl = Cluster::new(shards.clone(), Identity::new(5).unwrap(), Method::Cgd).unwrap();
        let mut x = vec![0.0; 5];
        let mut seen = Vec::new();
        rounds(&mut cl, &mut x, 0.5, 3, 0..4, |_, r, _| {
            seen.push(r.round);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        // Plain gradient descent on the mean of the two shards.
        let mut y = vec![0.0f64; 5];
        let mut s = shards;
        for _ in 0..4 {
            let (mut g0, mut g1) = (vec![0.0; 5], vec![0.0; 5]);
            let mut r = rng::seeded(0);
            s[0].loss_grad(&y, &mut g0, &mut r).unwrap();
            s[1].loss_grad(&y, &mut g1, &mut r).unwrap();
            for j in 0..5 {
                y[j] -= 0.5 * ((g0[j] + g1[j]) * 0.5);
            }
        }
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() <= 1e-15, "{a} vs {b}");
        }
        assert!(rounds(&mut cl, &mut x, -1.0, 3, 0..1, |_, _, _| Ok(())).is_err());
    }
}
