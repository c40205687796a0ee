//! Seeded synthetic data for fast tests and experiments.

use gradus_core::{Error, Result, Rng};
use gradus_models::data::normal;
use rand::Rng as _;

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
    let (x, y) = gradus_models::data::classification::<f64>(n, dim, classes, separation, 1.0, rng)?;
    Dataset::new(x.as_slice().to_vec(), y, dim, classes)
}

/// A `classes`-class Gaussian mixture in `R^dim` whose class means are kept, so that several
/// sets (clients with different label subsets, new clients, test sets) come from one mixture.
/// The model is [`gaussian_mixture`]'s: means with entries `N(0, separation^2)`, unit
/// isotropic within-class noise.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    /// Class means, row-major `classes x dim`.
    pub means: Vec<f64>,
    /// Features per row.
    pub dim: usize,
    /// Number of classes.
    pub classes: usize,
}

impl GaussianMixture {
    /// Draws the class means. Errors if `dim` or `classes` is zero, `classes * dim`
    /// overflows, or `separation` is not finite and `>= 0`.
    pub fn new(dim: usize, classes: usize, separation: f64, rng: &mut Rng) -> Result<Self> {
        gradus_core::validate::non_negative("separation", separation)?;
        if dim == 0 || classes == 0 {
            return Err(Error::InvalidShape {
                what: "gaussian mixture",
                detail: format!("need dim >= 1 and classes >= 1, got {dim} and {classes}"),
            });
        }
        let len = checked_size(classes, dim)?;
        let means = (0..len).map(|_| separation * normal(rng)).collect();
        Ok(GaussianMixture { means, dim, classes })
    }

    /// `n` rows whose labels are drawn uniformly from `labels` (a client's label subset;
    /// repeats weight a class up), each row `mean_y + N(0, I)`. Errors if `labels` is empty,
    /// holds a class not below `classes`, or `n * dim` overflows.
    pub fn sample(&self, labels: &[usize], n: usize, rng: &mut Rng) -> Result<Dataset> {
        if labels.is_empty() {
            return Err(Error::InvalidShape {
                what: "mixture labels",
                detail: "need at least one class to draw from".into(),
            });
        }
        if let Some(&c) = labels.iter().find(|&&c| c >= self.classes) {
            return Err(Error::InvalidShape {
                what: "mixture labels",
                detail: format!("class {c} is not below {}", self.classes),
            });
        }
        let len = checked_size(n, self.dim)?;
        let (mut x, mut y) = (Vec::with_capacity(len), Vec::with_capacity(n));
        for _ in 0..n {
            let c = labels[rng.random_range(0..labels.len())];
            y.push(c);
            let mean = &self.means[c * self.dim..(c + 1) * self.dim];
            x.extend(mean.iter().map(|m| m + normal(rng)));
        }
        Dataset::new(x, y, self.dim, self.classes)
    }
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
