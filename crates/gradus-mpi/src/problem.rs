//! Synthetic logistic regression split over workers: worker `i`'s shard depends only on the
//! seed and `i`, so a rank builds only the shards of its own workers.
//!
//! Features are i.i.d. `N(0, 1/features)` (rows of unit expected norm, so the loss is
//! `1/4`-smooth in the weights); labels are `sign(x . w* + 0.1 z)` for a planted `w*` with
//! i.i.d. `N(0, 1)` entries and noise `z ~ N(0, 1)`.

use std::ops::Range;

use gradus_core::{Error, Result, rng};
use gradus_models::{Dense, LogisticRegression};
use rand::Rng as _;
use rand_distr::StandardNormal;

/// The size and seed of a synthetic problem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// Features per row (the model has `features + 1` parameters).
    pub features: usize,
    /// Rows per worker.
    pub rows: usize,
    /// L2 regularisation.
    pub l2: f64,
    /// Seed of the data.
    pub seed: u64,
}

impl Spec {
    /// Number of parameters, `features + 1` (weights and bias).
    pub fn dim(&self) -> usize {
        self.features + 1
    }

    /// The planted weights `w*`.
    pub fn planted(&self) -> Vec<f64> {
        let mut r = rng::stream(self.seed, u64::MAX);
        (0..self.features).map(|_| r.sample(StandardNormal)).collect()
    }

    /// Worker `i`'s shard (full-batch objective). Errors for zero features or rows, or a
    /// negative `l2`.
    pub fn shard(&self, i: usize, planted: &[f64]) -> Result<LogisticRegression<f64>> {
        if self.features == 0 || self.rows == 0 {
            return Err(Error::InvalidShape {
                what: "problem",
                detail: format!("{} features, {} rows", self.features, self.rows),
            });
        }
        gradus_core::validate::same_len("planted weights", self.features, planted.len())?;
        let mut r = rng::stream(self.seed, i as u64);
        let scale = 1.0 / (self.features as f64).sqrt();
        let mut x = Vec::with_capacity(self.rows * self.features);
        let mut y = Vec::with_capacity(self.rows);
        for _ in 0..self.rows {
            let row: Vec<f64> =
                (0..self.features).map(|_| scale * r.sample::<f64, _>(StandardNormal)).collect();
            let noise: f64 = r.sample(StandardNormal);
            let z: f64 = row.iter().zip(planted).map(|(a, b)| a * b).sum::<f64>() + 0.1 * noise;
            y.push(if z >= 0.0 { 1.0 } else { -1.0 });
            x.extend_from_slice(&row);
        }
        let x = Dense::from_row_major(self.rows, self.features, x)?;
        LogisticRegression::new(x, y, self.l2, self.rows)
    }

    /// The shards of workers `range`.
    pub fn shards(&self, range: Range<usize>) -> Result<Vec<LogisticRegression<f64>>> {
        let planted = self.planted();
        range.map(|i| self.shard(i, &planted)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_depend_on_the_worker_only() {
        let s = Spec { features: 6, rows: 5, l2: 0.0, seed: 3 };
        let a = s.shards(0..3).unwrap();
        let b = s.shards(2..3).unwrap();
        let p = vec![0.1; 7];
        let (mut g1, mut g2) = (vec![0.0; 7], vec![0.0; 7]);
        use gradus_core::Objective;
        let mut r = rng::seeded(0);
        let l1 = a[2].clone().loss_grad(&p, &mut g1, &mut r).unwrap();
        let l2 = b[0].clone().loss_grad(&p, &mut g2, &mut r).unwrap();
        assert_eq!((l1, &g1), (l2, &g2));
        let l0 = a[0].clone().loss_grad(&p, &mut g2, &mut r).unwrap();
        assert_ne!(l0, l1);
        assert!(s.shards(0..0).unwrap().is_empty());
        assert!(Spec { rows: 0, ..s }.shards(0..1).is_err());
    }
}
