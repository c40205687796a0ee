//! Nominal data sets: labelled points, and the generators of paper 03's experiments.

use gradus_core::{Error, Result, rng};
use rand::Rng as _;

use crate::source::normal;

/// `n` nominal points in `R^d` (row-major) with one label each (0 for label-free losses).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    dim: usize,
    x: Vec<f64>,
    labels: Vec<usize>,
}

impl Dataset {
    /// Points `x` (row-major, `dim` columns, finite) with `labels`.
    pub fn new(dim: usize, x: Vec<f64>, labels: Vec<usize>) -> Result<Self> {
        if dim == 0 || x.is_empty() || x.len() % dim != 0 {
            return Err(Error::InvalidShape {
                what: "dataset",
                detail: format!("{} coordinates in dimension {dim}", x.len()),
            });
        }
        gradus_core::validate::same_len("labels", x.len() / dim, labels.len())?;
        gradus_core::validate::all_finite("dataset points", &x)?;
        Ok(Dataset { dim, x, labels })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always false (at least one point).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Point `i`.
    pub fn point(&self, i: usize) -> &[f64] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// Label of point `i`.
    pub fn label(&self, i: usize) -> usize {
        self.labels[i]
    }

    /// All points, row-major.
    pub fn points(&self) -> &[f64] {
        &self.x
    }

    /// All labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Splits off a held-out part (a validation split): `round(fraction n)` points chosen
    /// uniformly without replacement by a Fisher-Yates shuffle seeded with `seed`. Returns
    /// `(kept, held_out)`; each part keeps the original order of its points. Both parts must
    /// be non-empty (`0 < fraction < 1` and `n` large enough), else an error.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::hyper("held-out fraction", fraction, "must be in (0, 1)"));
        }
        let n = self.len();
        let held = (fraction * n as f64).round() as usize;
        if held == 0 || held == n {
            return Err(Error::InvalidShape {
                what: "held-out split",
                detail: format!("fraction {fraction} of {n} points leaves an empty part"),
            });
        }
        let mut order: Vec<usize> = (0..n).collect();
        let mut r = rng::seeded(seed);
        for i in (1..n).rev() {
            order.swap(i, r.random_range(0..=i));
        }
        let mut out = vec![false; n];
        for &i in &order[..held] {
            out[i] = true;
        }
        let part = |take: bool| {
            let idx: Vec<usize> = (0..n).filter(|&i| out[i] == take).collect();
            let x = idx.iter().flat_map(|&i| self.point(i).iter().copied()).collect();
            Dataset::new(self.dim, x, idx.iter().map(|&i| self.labels[i]).collect())
        };
        Ok((part(false)?, part(true)?))
    }
}

/// The imbalanced circle data of paper 03, Sec. 6.1: `x ~ N(0, I_2)`, label 1 when
/// `|x| > sqrt 2`; points with `sqrt2/1.3 <= |x| <= 1.3 sqrt2` are dropped (margin gap) and,
/// for training, every point of the open first quadrant too; the first `n` kept of `10 n`
/// draws.
pub fn circle(n: usize, seed: u64, drop_first_quadrant: bool) -> Result<Dataset> {
    let mut r = rng::seeded(seed);
    let s2 = 2f64.sqrt();
    let (mut x, mut labels) = (Vec::with_capacity(2 * n), Vec::with_capacity(n));
    for _ in 0..10 * n {
        if labels.len() == n {
            break;
        }
        let p = [normal(&mut r), normal(&mut r)];
        let norm = p[0].hypot(p[1]);
        if (s2 / 1.3..=1.3 * s2).contains(&norm) {
            continue;
        }
        if drop_first_quadrant && p[0] > 0.0 && p[1] > 0.0 {
            continue;
        }
        x.extend_from_slice(&p);
        labels.push(usize::from(norm > s2));
    }
    Dataset::new(2, x, labels)
}

/// Two interleaved half circles (scikit-learn's `make_moons` shape) with Gaussian noise of
/// standard deviation `noise`: `n0` points of the upper moon (label 0) and `n1` of the lower
/// one (label 1), shuffled.
pub fn two_moons(n0: usize, n1: usize, noise: f64, seed: u64) -> Result<Dataset> {
    gradus_core::validate::non_negative("noise", noise)?;
    let mut r = rng::seeded(seed);
    let mut pts = Vec::with_capacity(n0 + n1);
    for i in 0..n0 + n1 {
        let t = std::f64::consts::PI * r.random::<f64>();
        let (p, label) =
            if i < n0 { ([t.cos(), t.sin()], 0) } else { ([1.0 - t.cos(), 0.5 - t.sin()], 1) };
        pts.push(([p[0] + noise * normal(&mut r), p[1] + noise * normal(&mut r)], label));
    }
    for i in (1..pts.len()).rev() {
        let j = r.random_range(0..=i);
        pts.swap(i, j);
    }
    let x = pts.iter().flat_map(|(p, _)| p.iter().copied()).collect();
    Dataset::new(2, x, pts.iter().map(|p| p.1).collect())
}

/// `n` scalar uncertainties `z ~ U[-half_width, half_width]` (uncertain least squares).
pub fn uniform_scalars(n: usize, half_width: f64, seed: u64) -> Result<Dataset> {
    gradus_core::validate::non_negative("half width", half_width)?;
    let mut r = rng::seeded(seed);
    let x = (0..n).map(|_| half_width * (2.0 * r.random::<f64>() - 1.0)).collect();
    Dataset::new(1, x, vec![0; n])
}

/// A Gaussian mixture with identity covariance per class: paper 03's stand-in for the
/// CIFAR-10 features of Sec. 6.3 (10 classes in `R^32`, class means `3 N(0, I) / sqrt 32`).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    dim: usize,
    means: Vec<f64>,
}

impl GaussianMixture {
    /// `classes >= 2` means in `R^dim`, each `scale N(0, I) / sqrt(dim)`, drawn from `seed`.
    pub fn new(classes: usize, dim: usize, scale: f64, seed: u64) -> Result<Self> {
        if classes < 2 || dim == 0 {
            return Err(Error::InvalidShape {
                what: "gaussian mixture",
                detail: format!("{classes} classes in dimension {dim} (need >= 2 and >= 1)"),
            });
        }
        gradus_core::validate::non_negative("mean scale", scale)?;
        if !scale.is_finite() {
            return Err(Error::hyper("mean scale", scale, "must be finite"));
        }
        let mut r = rng::seeded(seed);
        let s = scale / (dim as f64).sqrt();
        let means = (0..classes * dim).map(|_| s * normal(&mut r)).collect();
        Ok(GaussianMixture { dim, means })
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.means.len() / self.dim
    }

    /// Mean of class `c`.
    pub fn mean(&self, c: usize) -> Option<&[f64]> {
        self.means.get(c * self.dim..(c + 1) * self.dim)
    }

    /// `n >= 1` points: label uniform over the classes, `x = mean(label) + N(0, I)`.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Dataset> {
        let mut r = rng::seeded(seed);
        let k = self.classes();
        let mut x = Vec::with_capacity(n * self.dim);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let c = r.random_range(0..k);
            let m = &self.means[c * self.dim..(c + 1) * self.dim];
            x.extend(m.iter().map(|v| v + normal(&mut r)));
            labels.push(c);
        }
        Dataset::new(self.dim, x, labels)
    }
}

/// Mean Euclidean norm of the points (the unit of paper 03's attack radii, Sec. 6.3).
pub fn mean_norm(data: &Dataset) -> f64 {
    let s: f64 = data
        .points()
        .chunks_exact(data.dim())
        .map(|p| p.iter().map(|v| v * v).sum::<f64>().sqrt())
        .sum();
    s / data.len() as f64
}
