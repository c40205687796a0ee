//! Client tasks for multi-task representation learning and their generators: the linear
//! multi-task model of spec §3 (`y = x^T B* w_i + noise`, shared `B*`) and non-IID
//! classification with per-client label subsets drawn from one Gaussian mixture (the
//! stand-in for the paper's class-based CIFAR-10 split: each client holds a few classes).

use gradus_core::{Error, Result, rng, validate};
use gradus_models::data::normal;
use rand::seq::SliceRandom;

use super::subspace::orthonormalize;
use crate::federated::data::Dataset;
use crate::federated::data::synthetic::GaussianMixture;

/// Rows of `dim` features (row-major) with one target each.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples<Y> {
    /// Features, row-major `len x dim`.
    pub x: Vec<f64>,
    /// Targets.
    pub y: Vec<Y>,
    /// Features per row.
    pub dim: usize,
}

impl<Y> Samples<Y> {
    /// Checks `dim >= 1`, at least one row, `x.len() == y.len() * dim` and finite features
    /// (targets are checked against a head by the federation).
    pub fn new(x: Vec<f64>, y: Vec<Y>, dim: usize) -> Result<Self> {
        let s = Samples { x, y, dim };
        s.validate()?;
        Ok(s)
    }

    /// The checks of [`Samples::new`], for values built through the public fields.
    pub fn validate(&self) -> Result<()> {
        if self.dim == 0 || self.y.is_empty() {
            return Err(Error::InvalidShape {
                what: "samples",
                detail: format!("need dim >= 1 and rows >= 1, got {} x {}", self.y.len(), self.dim),
            });
        }
        let want = self.y.len().checked_mul(self.dim).ok_or_else(|| Error::InvalidShape {
            what: "samples",
            detail: "rows * dim overflows".into(),
        })?;
        validate::same_len("sample features (rows * dim)", want, self.x.len())?;
        validate::all_finite("sample features", &self.x)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The first `n` rows (all of them if `n` is larger).
    pub fn head_rows(&self, n: usize) -> Samples<Y>
    where
        Y: Clone,
    {
        let n = n.min(self.len());
        Samples { x: self.x[..n * self.dim].to_vec(), y: self.y[..n].to_vec(), dim: self.dim }
    }
}

/// Any labelled [`Dataset`] (e.g. from the CIFAR-10 or FEMNIST loaders) as client rows;
/// [`crate::federated::mtrl::Federation::new`] re-validates them.
impl From<Dataset> for Samples<usize> {
    fn from(d: Dataset) -> Self {
        Samples { x: d.x, y: d.y, dim: d.dim }
    }
}

/// One client's task: training rows (used for local updates and head fits) and test rows
/// (used only to score the personalised model).
#[derive(Debug, Clone, PartialEq)]
pub struct Task<Y> {
    /// Training rows.
    pub train: Samples<Y>,
    /// Test rows.
    pub test: Samples<Y>,
}

/// A uniformly random `d x k` orthonormal basis (Gaussian matrix, orthonormalised): the
/// true representation `B*` of the linear model.
pub fn random_basis(d: usize, k: usize, seed: u64) -> Result<Vec<f64>> {
    let mut r = rng::seeded(seed);
    let len = d.checked_mul(k).ok_or_else(|| Error::InvalidShape {
        what: "basis",
        detail: format!("{d} x {k} overflows"),
    })?;
    let mut b: Vec<f64> = (0..len).map(|_| normal(&mut r)).collect();
    orthonormalize(&mut b, d, k)?;
    Ok(b)
}

/// Settings of [`linear_tasks`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearTasks {
    /// Training rows per client.
    pub train: usize,
    /// Test rows per client.
    pub test: usize,
    /// Label noise standard deviation.
    pub noise: f64,
    /// Make every client's training design exactly whitened, `X_i^T X_i = m I` (needs
    /// `train >= d`). The global optimum of the multi-task least-squares objective is then
    /// the principal `k`-subspace of `sum_i beta_i beta_i^T` with `beta_i = X_i^T y_i / m`
    /// (Eckart-Young), a closed form to test against.
    pub whiten: bool,
}

/// `clients` linear tasks sharing `b_star` (row-major `d x k`): client `i` draws its head
/// `w_i ~ N(0, I_k)` and rows `x ~ N(0, I_d)`, `y = x^T B* w_i + noise N(0, 1)` from
/// `rng::stream(seed, i)`. Errors on an invalid basis shape, non-finite or negative noise,
/// zero rows, or `whiten` with fewer training rows than `d`.
pub fn linear_tasks(
    b_star: &[f64],
    d: usize,
    k: usize,
    clients: usize,
    cfg: LinearTasks,
    seed: u64,
) -> Result<Vec<Task<f64>>> {
    validate::non_negative("noise", cfg.noise)?;
    if k == 0 || k > d || d.checked_mul(k) != Some(b_star.len()) {
        return Err(Error::InvalidShape {
            what: "true basis",
            detail: format!(
                "need 1 <= k <= d and d * k entries, got d = {d}, k = {k}, {} entries",
                b_star.len()
            ),
        });
    }
    if cfg.whiten && cfg.train < d {
        return Err(Error::hyper("train", cfg.train as f64, "whitening needs train >= d rows"));
    }
    (0..clients)
        .map(|i| {
            let mut r = rng::stream(seed, i as u64);
            let w: Vec<f64> = (0..k).map(|_| normal(&mut r)).collect();
            let beta: Vec<f64> =
                (0..d).map(|j| (0..k).map(|c| b_star[j * k + c] * w[c]).sum::<f64>()).collect();
            let mut draw = |m: usize, whiten: bool| -> Result<Samples<f64>> {
                let mut x: Vec<f64> = (0..m * d).map(|_| normal(&mut r)).collect();
                if whiten {
                    // Orthonormal columns scaled by sqrt(m): X^T X = m I exactly.
                    orthonormalize(&mut x, m, d)?;
                    let s = (m as f64).sqrt();
                    x.iter_mut().for_each(|v| *v *= s);
                }
                let y = x
                    .chunks_exact(d)
                    .map(|row| {
                        row.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>()
                            + cfg.noise * normal(&mut r)
                    })
                    .collect();
                Samples::new(x, y, d)
            };
            Ok(Task { train: draw(cfg.train, cfg.whiten)?, test: draw(cfg.test, false)? })
        })
        .collect()
}

/// `clients` classification tasks from one mixture: client `i` holds `classes_per_client`
/// distinct classes (a uniformly random subset) and draws `train` and `test` rows with
/// labels uniform over its subset, all from `rng::stream(seed, i)`. Errors if
/// `classes_per_client` is zero or exceeds the mixture's classes, or a count is zero.
pub fn label_subset_tasks(
    mixture: &GaussianMixture,
    clients: usize,
    classes_per_client: usize,
    train: usize,
    test: usize,
    seed: u64,
) -> Result<Vec<Task<usize>>> {
    if classes_per_client == 0 || classes_per_client > mixture.classes {
        return Err(Error::hyper(
            "classes_per_client",
            classes_per_client as f64,
            "need 1 <= classes per client <= classes",
        ));
    }
    let mut all: Vec<usize> = (0..mixture.classes).collect();
    (0..clients)
        .map(|i| {
            let mut r = rng::stream(seed, i as u64);
            all.iter_mut().enumerate().for_each(|(c, v)| *v = c);
            let (mine, _) = all.partial_shuffle(&mut r, classes_per_client);
            let mut mine = mine.to_vec();
            mine.sort_unstable();
            let mut draw = |n: usize| -> Result<Samples<usize>> {
                let d = mixture.sample(&mine, n, &mut r)?;
                Samples::new(d.x, d.y, d.dim)
            };
            Ok(Task { train: draw(train)?, test: draw(test)? })
        })
        .collect()
}
