//! Seeded synthetic data for fast tests and experiments.

use gradus_core::{Error, Result, Rng};
use gradus_models::data::normal;

use super::Dataset;

/// A `classes`-class Gaussian mixture in `R^dim`: class means with entries
/// `N(0, separation^2)`, unit isotropic within-class noise, uniformly drawn labels
/// (`gradus_models::data::classification` with condition number 1).
pub fn gaussian_mixture(
    n: usize,
    dim: usize,
    classes: usize,
    separation: f64,
    rng: &mut Rng,
) -> Result<Dataset> {
    checked_size(n, dim)?;
    let (x, y) = gradus_models::data::classification::<f64>(n, dim, classes, separation, 1.0, rng);
    Dataset::new(x.as_slice().to_vec(), y, dim, classes)
}

/// Linear regression data `y = X w* + noise * N(0, 1)` with `X` and `w*` standard normal;
/// returns `(X row-major n x dim, y, w*)`. Errors if `n * dim` overflows or `noise` is not
/// finite.
pub fn linear_regression(
    n: usize,
    dim: usize,
    noise: f64,
    rng: &mut Rng,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let len = checked_size(n, dim)?;
    if !noise.is_finite() {
        return Err(Error::hyper("noise", noise, "must be finite"));
    }
    let w: Vec<f64> = (0..dim).map(|_| normal(rng)).collect();
    let x: Vec<f64> = (0..len).map(|_| normal(rng)).collect();
    let y = (0..n)
        .map(|i| {
            let clean: f64 = x[i * dim..(i + 1) * dim].iter().zip(&w).map(|(a, b)| a * b).sum();
            clean + noise * normal(rng)
        })
        .collect();
    Ok((x, y, w))
}

/// `n * dim`, or an error naming the overflow.
fn checked_size(n: usize, dim: usize) -> Result<usize> {
    n.checked_mul(dim).ok_or_else(|| Error::InvalidShape {
        what: "synthetic data",
        detail: format!("{n} rows x {dim} features overflows"),
    })
}
