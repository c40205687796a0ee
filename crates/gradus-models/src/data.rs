//! Synthetic data generators (seeded) for tests, benchmarks and experiments.

use gradus_core::{Error, Result, Rng, Scalar};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use crate::Dense;

/// A standard normal draw.
pub fn normal(rng: &mut Rng) -> f64 {
    StandardNormal.sample(rng)
}

/// A `rows x cols` matrix of independent standard normal entries.
pub fn gaussian_matrix<T: Scalar>(rows: usize, cols: usize, rng: &mut Rng) -> Dense<T> {
    let data = (0..rows * cols).map(|_| T::from_f64(normal(rng))).collect();
    Dense::from_parts(rows, cols, data)
}

/// A Haar-random `n x n` orthogonal matrix (Gram-Schmidt on a Gaussian matrix, twice for
/// stability).
pub fn random_orthogonal(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut q: Vec<f64> = (0..n * n).map(|_| normal(rng)).collect();
    for i in 0..n {
        for _ in 0..2 {
            for j in 0..i {
                let d: f64 = (0..n).map(|k| q[i * n + k] * q[j * n + k]).sum();
                for k in 0..n {
                    q[i * n + k] -= d * q[j * n + k];
                }
            }
        }
        let norm = (0..n).map(|k| q[i * n + k].powi(2)).sum::<f64>().sqrt();
        for k in 0..n {
            q[i * n + k] /= norm;
        }
    }
    q
}

/// A `k`-class Gaussian-mixture classification set: class means drawn with standard
/// deviation `separation`, unit within-class noise, then feature `j` scaled by
/// `condition^(-j/(d-1))` so that the problem is ill-conditioned (adaptive methods matter).
/// Returns the `n x d` design and the labels in `0..k`.
///
/// Errors, naming the argument, for `k = 0` (no class to draw a label from), `d = 0`, a
/// design of more than `usize::MAX` entries, a negative or non-finite `separation`, or a
/// non-positive or non-finite `condition`.
pub fn classification<T: Scalar>(
    n: usize,
    d: usize,
    k: usize,
    separation: f64,
    condition: f64,
    rng: &mut Rng,
) -> Result<(Dense<T>, Vec<usize>)> {
    if k == 0 {
        return Err(Error::hyper("k", 0.0, "need at least one class"));
    }
    if d == 0 {
        return Err(Error::hyper("d", 0.0, "need at least one feature"));
    }
    let bytes =
        |count: usize| count.checked_mul(size_of::<f64>()).filter(|&b| b <= isize::MAX as usize);
    let (Some(entries), Some(_), Some(_)) = (
        n.checked_mul(d).filter(|&e| bytes(e).is_some()),
        k.checked_mul(d).and_then(bytes),
        bytes(n),
    ) else {
        return Err(Error::InvalidShape {
            what: "classification data",
            detail: format!("{n} x {d} design with {k} class means overflows usize"),
        });
    };
    gradus_core::validate::non_negative("separation", separation)?;
    gradus_core::validate::positive("condition", condition)?;
    let means: Vec<f64> = (0..k * d).map(|_| separation * normal(rng)).collect();
    let scale: Vec<f64> =
        (0..d).map(|j| condition.powf(-(j as f64) / (d.max(2) - 1) as f64)).collect();
    let mut labels = Vec::with_capacity(n);
    let mut data = Vec::with_capacity(entries);
    for _ in 0..n {
        let y = rng.random_range(0..k);
        labels.push(y);
        for j in 0..d {
            data.push(T::from_f64(scale[j] * (means[y * d + j] + normal(rng))));
        }
    }
    Ok((Dense::from_parts(n, d, data), labels))
}

/// Fills `idx` with a minibatch of row indices below `n`: all rows in order when
/// `idx.len() == n`, otherwise uniform draws with replacement.
pub(crate) fn sample_batch(idx: &mut [usize], n: usize, rng: &mut Rng) {
    if idx.len() == n {
        idx.iter_mut().enumerate().for_each(|(i, v)| *v = i);
    } else {
        idx.iter_mut().for_each(|v| *v = rng.random_range(0..n));
    }
}
