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
