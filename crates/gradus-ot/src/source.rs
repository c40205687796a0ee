//! Source measures `mu` accessed through samples, and fixed Monte-Carlo sample sets.

use gradus_core::{Error, Result, Rng, rng};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// A standard normal draw.
pub(crate) fn normal(rng: &mut Rng) -> f64 {
    StandardNormal.sample(rng)
}

/// An absolutely continuous source measure `mu` on `R^d` that can be sampled.
pub trait Source: Send + Sync {
    /// Dimension `d`.
    fn dim(&self) -> usize;

    /// Writes one draw `X ~ mu` into `out` (which should have length `dim()`; only the
    /// common prefix is written otherwise).
    fn sample(&self, rng: &mut Rng, out: &mut [f64]);

    /// `sup { |x| : x in supp mu }`, or `None` when the support is unbounded.
    fn radius(&self) -> Option<f64>;

    /// Diameter of the support, or `None` when unbounded (DRAG's default `gamma_1`).
    fn diameter(&self) -> Option<f64>;
}

/// The uniform distribution on the box `prod_k [lo_k, hi_k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct UniformBox {
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl UniformBox {
    /// `U(prod_k [lo_k, hi_k])`; needs `lo_k < hi_k`, all finite, same lengths, `d >= 1`.
    pub fn new(lo: Vec<f64>, hi: Vec<f64>) -> Result<Self> {
        gradus_core::validate::same_len("box upper corner", lo.len(), hi.len())?;
        if lo.is_empty() {
            return Err(Error::InvalidShape { what: "box", detail: "dimension 0".into() });
        }
        gradus_core::validate::all_finite("box lower corner", &lo)?;
        gradus_core::validate::all_finite("box upper corner", &hi)?;
        if let Some(k) = lo.iter().zip(&hi).position(|(a, b)| a >= b) {
            return Err(Error::hyper("box side", hi[k] - lo[k], "need lo < hi in every side"));
        }
        Ok(UniformBox { lo, hi })
    }

    /// `U([a, b]^d)`.
    pub fn cube(d: usize, a: f64, b: f64) -> Result<Self> {
        Self::new(vec![a; d], vec![b; d])
    }

    /// Lower corner.
    pub fn lo(&self) -> &[f64] {
        &self.lo
    }

    /// Upper corner.
    pub fn hi(&self) -> &[f64] {
        &self.hi
    }
}

impl Source for UniformBox {
    fn dim(&self) -> usize {
        self.lo.len()
    }

    fn sample(&self, rng: &mut Rng, out: &mut [f64]) {
        for ((o, a), b) in out.iter_mut().zip(&self.lo).zip(&self.hi) {
            *o = a + (b - a) * rng.random::<f64>();
        }
    }

    fn radius(&self) -> Option<f64> {
        let r2: f64 = self.lo.iter().zip(&self.hi).map(|(a, b)| (a * a).max(b * b)).sum();
        Some(r2.sqrt())
    }

    fn diameter(&self) -> Option<f64> {
        Some(self.lo.iter().zip(&self.hi).map(|(a, b)| (b - a) * (b - a)).sum::<f64>().sqrt())
    }
}

/// The uniform distribution on the Euclidean ball `B(center, radius)`.
#[derive(Debug, Clone, PartialEq)]
pub struct UniformBall {
    center: Vec<f64>,
    radius: f64,
}

impl UniformBall {
    /// `U(B(center, radius))`; needs a finite centre of dimension `>= 1` and `radius > 0`.
    pub fn new(center: Vec<f64>, radius: f64) -> Result<Self> {
        if center.is_empty() {
            return Err(Error::InvalidShape { what: "ball", detail: "dimension 0".into() });
        }
        gradus_core::validate::all_finite("ball centre", &center)?;
        gradus_core::validate::positive("ball radius", radius)?;
        Ok(UniformBall { center, radius })
    }
}

impl Source for UniformBall {
    fn dim(&self) -> usize {
        self.center.len()
    }

    fn sample(&self, rng: &mut Rng, out: &mut [f64]) {
        // Isotropic direction times a radius with density proportional to r^(d-1).
        let d = self.center.len();
        let mut norm2 = 0.0;
        for o in out.iter_mut().take(d) {
            let z: f64 = StandardNormal.sample(rng);
            *o = z;
            norm2 += z * z;
        }
        let r = self.radius * rng.random::<f64>().powf(1.0 / d as f64);
        let scale = if norm2 > 0.0 { r / norm2.sqrt() } else { 0.0 };
        for (o, c) in out.iter_mut().zip(&self.center) {
            *o = c + scale * *o;
        }
    }

    fn radius(&self) -> Option<f64> {
        Some(self.center.iter().map(|c| c * c).sum::<f64>().sqrt() + self.radius)
    }

    fn diameter(&self) -> Option<f64> {
        Some(2.0 * self.radius)
    }
}

/// The isotropic Gaussian `N(mean, std^2 I)` (unbounded support: DRAG runs unprojected).
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    mean: Vec<f64>,
    std: f64,
}

impl Gaussian {
    /// `N(mean, std^2 I)`; needs a finite mean of dimension `>= 1` and `std > 0`.
    pub fn new(mean: Vec<f64>, std: f64) -> Result<Self> {
        if mean.is_empty() {
            return Err(Error::InvalidShape { what: "gaussian", detail: "dimension 0".into() });
        }
        gradus_core::validate::all_finite("gaussian mean", &mean)?;
        gradus_core::validate::positive("gaussian std", std)?;
        Ok(Gaussian { mean, std })
    }
}

impl Source for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn sample(&self, rng: &mut Rng, out: &mut [f64]) {
        for (o, m) in out.iter_mut().zip(&self.mean) {
            let z: f64 = StandardNormal.sample(rng);
            *o = m + self.std * z;
        }
    }

    fn radius(&self) -> Option<f64> {
        None
    }

    fn diameter(&self) -> Option<f64> {
        None
    }
}

/// A fixed set of `n` draws from a source (row-major), used as common random numbers: every
/// potential is evaluated on the same samples, so differences between potentials carry far
/// less Monte-Carlo noise than independent estimates would.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSet {
    dim: usize,
    points: Vec<f64>,
}

/// Samples per independently seeded block of [`SampleSet::draw`].
const DRAW_BLOCK: usize = 4096;

impl SampleSet {
    /// `n` draws from `source`; block `b` of 4096 draws uses `rng::stream(seed, b)`, so the set
    /// is the same for every thread count.
    pub fn draw(source: &dyn Source, n: usize, seed: u64) -> Self {
        let dim = source.dim();
        let mut points = vec![0.0; n * dim];
        if dim > 0 {
            points.par_chunks_mut(DRAW_BLOCK * dim).enumerate().for_each(|(b, block)| {
                let mut r = rng::stream(seed, b as u64);
                for x in block.chunks_exact_mut(dim) {
                    source.sample(&mut r, x);
                }
            });
        }
        SampleSet { dim, points }
    }

    /// Wraps given points (row-major, `dim` columns), checking shape and finiteness.
    pub fn from_points(dim: usize, points: Vec<f64>) -> Result<Self> {
        if dim == 0 || points.len() % dim != 0 {
            return Err(Error::InvalidShape {
                what: "sample set",
                detail: format!("{} coordinates in dimension {dim}", points.len()),
            });
        }
        gradus_core::validate::all_finite("sample set", &points)?;
        Ok(SampleSet { dim, points })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.points.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples, row-major.
    pub fn points(&self) -> &[f64] {
        &self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_in_support_and_have_right_moments() {
        let mut r = rng::seeded(1);
        let b = UniformBox::cube(3, 0.5, 1.5).unwrap();
        let ball = UniformBall::new(vec![1.0, -1.0], 2.0).unwrap();
        let mut x = [0.0; 3];
        let mut mean = 0.0;
        let n = 20000;
        for _ in 0..n {
            b.sample(&mut r, &mut x);
            assert!(x.iter().all(|v| (0.5..1.5).contains(v)));
            mean += x[0] / n as f64;
            ball.sample(&mut r, &mut x[..2]);
            assert!(((x[0] - 1.0).powi(2) + (x[1] + 1.0).powi(2)).sqrt() <= 2.0 + 1e-12);
        }
        // Standard error of the mean of U(0.5, 1.5) over 2e4 draws is 0.002.
        assert!((mean - 1.0).abs() < 0.01);
        assert_eq!(b.diameter(), Some(3f64.sqrt()));
        assert!(UniformBox::new(vec![1.0], vec![1.0]).is_err());
        assert!(UniformBall::new(vec![0.0], 0.0).is_err());
        assert!(Gaussian::new(vec![], 1.0).is_err());
    }

    #[test]
    fn sample_sets_do_not_depend_on_threads() {
        let src = Gaussian::new(vec![0.0; 3], 1.0).unwrap();
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let a = one.install(|| SampleSet::draw(&src, 10_000, 5));
        let b = three.install(|| SampleSet::draw(&src, 10_000, 5));
        assert_eq!(a, b);
        assert_eq!(a.len(), 10_000);
    }
}
