//! The Sinkhorn-DRO dual (Wang, Gao and Xie), paper 03's "Dual" baseline:
//! `F(theta) = lambda eps E_x log E_{z ~ N(x, s^2 I)} exp(l(theta, z) / (lambda eps))`,
//! estimated with `m` reference draws per point:
//! `lambda eps mean_x [ logsumexp_j(l(theta, z_j) / (lambda eps)) - ln m ]`, whose gradient
//! is the softmax-weighted mean of `grad_theta l(theta, z_j)`: a Fisher-Rao-only reweighting
//! of reference samples.
//!
//! The reference variance `s^2` is a setting. The Gibbs law the samplers target is the
//! reference `N(x, (eps/2) I)` tilted by `exp(l / (lambda eps))`, so `s^2 = eps/2` makes the
//! dual and the samplers estimate the same law; the official code draws with variance `eps`
//! (spec: keep it configurable). The default here is `eps/2`.
//!
//! Unlike [`super::GfsDro`] and [`super::Erm`], a step allocates its per-point draws (the
//! number of draws changes from step to step under [`DualSamples::RandomLevel`]).

use gradus_core::{Error, Objective, Par, Result, Rng};
use rand::Rng as _;

use super::data::Dataset;
use super::gradient_flow::{check_data, per_point_mean, pick_batch};
use super::loss::PointLoss;
use crate::source::normal;

/// Reference draws per nominal point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DualSamples {
    /// Always `m`.
    Fixed(usize),
    /// `m = 2^l` with a level `l in 0..=L` drawn per outer step with probability
    /// `2^-l / (2 - 2^-L)` (the official code's randomised level).
    RandomLevel {
        /// `L`.
        max_level: u32,
    },
}

/// Settings of [`SinkhornDro`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkhornDroConfig {
    /// `lambda > 0`; `+inf` makes the weights uniform (mean loss over the noisy copies).
    pub lambda: f64,
    /// `eps > 0` (`0` only with `lambda = inf`).
    pub epsilon: f64,
    /// Reference variance `s^2` (`None`: `eps / 2`).
    pub reference_variance: Option<f64>,
    /// Draws per point.
    pub samples: DualSamples,
    /// Nominal points per step (`0`: all).
    pub batch: usize,
    /// Parallelism over nominal points.
    pub par: Par,
}

/// The Sinkhorn-DRO dual objective.
pub struct SinkhornDro<'a, L: ?Sized> {
    loss: &'a L,
    data: &'a Dataset,
    cfg: SinkhornDroConfig,
    idx: Vec<usize>,
}

impl<'a, L: PointLoss + ?Sized> SinkhornDro<'a, L> {
    /// The dual of `loss` over `data`.
    pub fn new(loss: &'a L, data: &'a Dataset, cfg: SinkhornDroConfig) -> Result<Self> {
        if cfg.lambda.is_nan() || cfg.lambda <= 0.0 {
            return Err(Error::hyper("lambda", cfg.lambda, "must be > 0"));
        }
        gradus_core::validate::non_negative("epsilon", cfg.epsilon)?;
        if cfg.lambda.is_finite() {
            gradus_core::validate::positive("epsilon", cfg.epsilon)?;
        }
        if let Some(v) = cfg.reference_variance {
            gradus_core::validate::non_negative("reference variance", v)?;
        }
        match cfg.samples {
            DualSamples::Fixed(0) => return Err(Error::hyper("samples", 0.0, "must be >= 1")),
            DualSamples::RandomLevel { max_level } if max_level > 20 => {
                return Err(Error::hyper("max level", max_level as f64, "must be <= 20"));
            }
            _ => {}
        }
        check_data(loss, data)?;
        Ok(SinkhornDro { loss, data, cfg, idx: Vec::new() })
    }

    fn draws(&self, rng: &mut Rng) -> usize {
        match self.cfg.samples {
            DualSamples::Fixed(m) => m,
            DualSamples::RandomLevel { max_level } => {
                let total = 2.0 - 0.5f64.powi(max_level as i32);
                let mut u = rng.random::<f64>() * total;
                let mut level = max_level;
                for l in 0..=max_level {
                    let p = 0.5f64.powi(l as i32);
                    if u < p {
                        level = l;
                        break;
                    }
                    u -= p;
                }
                1 << level
            }
        }
    }
}

impl<L: PointLoss + ?Sized> Objective<f64> for SinkhornDro<'_, L> {
    fn dim(&self) -> usize {
        self.loss.num_params()
    }

    fn loss_grad(&mut self, theta: &[f64], grad: &mut [f64], rng: &mut Rng) -> Result<f64> {
        gradus_core::validate::same_len("theta", self.loss.num_params(), theta.len())?;
        gradus_core::validate::same_len("gradient", theta.len(), grad.len())?;
        gradus_core::validate::all_finite("theta", theta)?;
        let mut idx = std::mem::take(&mut self.idx);
        pick_batch(self.data.len(), self.cfg.batch, rng, &mut idx);
        let m = self.draws(rng);
        let seed: u64 = rng.random();
        let temp = self.cfg.lambda * self.cfg.epsilon;
        let sd = self.cfg.reference_variance.unwrap_or(0.5 * self.cfg.epsilon).sqrt();
        let (loss, data) = (self.loss, self.data);
        let out = per_point_mean(&idx, seed, theta.len(), self.cfg.par, grad, |i, r, g| {
            let x = data.point(i);
            let label = data.label(i);
            let zs: Vec<f64> = (0..m)
                .flat_map(|_| x.iter().map(|v| v + sd * normal(r)).collect::<Vec<_>>())
                .collect();
            let ls: Vec<f64> = zs
                .chunks_exact(x.len())
                .map(|z| loss.loss(theta, label, z))
                .collect::<Result<_>>()?;
            let (weights, value) = if temp.is_finite() {
                let mut e: Vec<f64> = ls.iter().map(|l| l / temp).collect();
                let (mx, s) = crate::vectorized::softmax_in_place(&mut e);
                e.iter_mut().for_each(|v| *v /= s);
                (e, temp * (mx + s.ln() - (m as f64).ln()))
            } else {
                (vec![1.0 / m as f64; m], ls.iter().sum::<f64>() / m as f64)
            };
            for (z, w) in zs.chunks_exact(x.len()).zip(&weights) {
                loss.loss_grad_theta(theta, label, z, *w, g)?;
            }
            Ok(value)
        });
        self.idx = idx;
        out
    }
}
