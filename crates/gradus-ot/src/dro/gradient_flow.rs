//! GFS-DRO (paper 03, Alg. 2): for each nominal point of a minibatch, evolve particles from
//! `x` towards the worst-case law `p_{theta,x} ∝ exp(R_theta(x, .) / (lambda eps))` with a
//! particle flow for `K` inner steps, then hand the (weighted) particle average of
//! `grad_theta l` to the outer optimizer. WRM (Sinha et al. 2018) is gradient ascent on `R`
//! with one particle and no noise; `lambda = +inf` (radius 0) leaves the particles at `x`:
//! ERM.

use gradus_core::{Error, Objective, Par, Result, Rng, rng};
use gradus_optim::Optimizer;
use rand::Rng as _;
use rayon::prelude::*;

use super::data::Dataset;
use super::loss::{GibbsTarget, PointLoss};
use crate::flows::{Bandwidth, BirthDeath, Flow, Langevin, Particles, Reaction, Svgd, Wfr};
use crate::source::normal;

/// The inner sampler of the worst-case law.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InnerSampler {
    /// Wasserstein gradient flow: Langevin `y <- y + h grad R + sqrt(2 h lambda eps) xi`
    /// (Alg. 3), particles started at `x`.
    Wgf,
    /// Wasserstein-Fisher-Rao (Alg. 4): Langevin positions plus reweighting, started at `x`.
    Wfr {
        /// Reaction step `h_w`.
        weight_step: f64,
        /// Density estimate of the reaction (the code's is [`Reaction::PointMass`]).
        reaction: Reaction,
        /// Optional birth-death.
        birth_death: Option<BirthDeath>,
    },
    /// SVGD (Alg. 5) with the median bandwidth, started at `x + init_noise N(0, I)`.
    Svgd {
        /// Standard deviation of the initial spread (code: 0.1).
        init_noise: f64,
        /// Optional RMSProp step scaling (decay).
        rmsprop: Option<f64>,
    },
    /// WRM: deterministic gradient ascent on `R`, one particle.
    Wrm,
}

/// Settings of [`GfsDro`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GfsConfig {
    /// Transport penalty `lambda = 1/(2 tau) > 0`; `+inf` means radius 0 (ERM).
    pub lambda: f64,
    /// Entropic regularisation `eps >= 0` (the samplers' temperature is `lambda eps`).
    pub epsilon: f64,
    /// Particles per nominal point `m` (WRM uses one).
    pub particles: usize,
    /// Inner steps `K`.
    pub inner_steps: usize,
    /// Inner step `h`.
    pub step: f64,
    /// The sampler.
    pub sampler: InnerSampler,
    /// Clip particle coordinates to `[lo, hi]` after every inner step.
    pub clip: Option<(f64, f64)>,
    /// Nominal points per outer step, drawn with replacement (`0`: all, in order).
    pub batch: usize,
    /// Parallelism over the nominal points of a batch.
    pub par: Par,
}

impl GfsConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        if self.lambda.is_nan() || self.lambda <= 0.0 {
            return Err(Error::hyper("lambda", self.lambda, "must be > 0 (or +inf for ERM)"));
        }
        gradus_core::validate::non_negative("epsilon", self.epsilon)?;
        gradus_core::validate::positive("inner step", self.step)?;
        if self.particles == 0 {
            return Err(Error::hyper("particles", 0.0, "must be >= 1"));
        }
        if let Some((lo, hi)) = self.clip {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(Error::hyper("clip range", hi - lo, "need finite lo <= hi"));
            }
        }
        match self.sampler {
            InnerSampler::Wfr { weight_step, .. } => {
                gradus_core::validate::positive("weight step", weight_step)?
            }
            InnerSampler::Svgd { init_noise, rmsprop } => {
                gradus_core::validate::non_negative("svgd init noise", init_noise)?;
                if self.lambda.is_finite() {
                    gradus_core::validate::positive("epsilon (svgd)", self.epsilon)?;
                    if self.particles < 2 {
                        return Err(Error::hyper("particles", 1.0, "svgd needs >= 2"));
                    }
                }
                if let Some(r) = rmsprop {
                    gradus_core::validate::unit_interval_open_right("rmsprop decay", r)?;
                }
            }
            InnerSampler::Wgf | InnerSampler::Wrm => {}
        }
        Ok(())
    }
}

/// The GFS-DRO objective over a data set: `loss_grad` runs the inner samplers and returns
/// the robust loss estimate `mean_x sum_j w_j l(theta, y_j)` with its gradient.
pub struct GfsDro<'a, L: ?Sized> {
    loss: &'a L,
    data: &'a Dataset,
    cfg: GfsConfig,
    idx: Vec<usize>,
}

/// Minibatch indices: all points in order, or `batch` uniform draws with replacement.
pub(crate) fn pick_batch(n: usize, batch: usize, rng: &mut Rng, idx: &mut Vec<usize>) {
    idx.clear();
    if batch == 0 || batch >= n {
        idx.extend(0..n);
    } else {
        idx.extend((0..batch).map(|_| rng.random_range(0..n)));
    }
}

pub(crate) fn check_data<L: PointLoss + ?Sized>(loss: &L, data: &Dataset) -> Result<()> {
    gradus_core::validate::same_len("data dimension", loss.dim(), data.dim())
}

/// Adds `scale * mean over idx of per-point (loss, grad)` computed by `f`, in index order.
pub(crate) fn per_point_mean(
    idx: &[usize],
    seed: u64,
    p: usize,
    par: Par,
    grad: &mut [f64],
    f: impl Fn(usize, &mut Rng, &mut [f64]) -> Result<f64> + Sync,
) -> Result<f64> {
    let run = |(pos, &i): (usize, &usize)| {
        let mut r = rng::stream(seed, pos as u64);
        let mut g = vec![0.0; p];
        f(i, &mut r, &mut g).map(|l| (l, g))
    };
    let parts: Vec<Result<(f64, Vec<f64>)>> = if par.is_parallel() {
        idx.par_iter().enumerate().map(run).collect()
    } else {
        idx.iter().enumerate().map(run).collect()
    };
    grad.fill(0.0);
    let inv = 1.0 / idx.len().max(1) as f64;
    let mut loss = 0.0;
    for part in parts {
        let (l, g) = part?;
        if !l.is_finite() {
            return Err(Error::NonFinite { what: "robust loss", index: 0 });
        }
        loss += l * inv;
        for (o, v) in grad.iter_mut().zip(&g) {
            *o += v * inv;
        }
    }
    gradus_core::validate::all_finite("robust gradient", grad)?;
    Ok(loss)
}

impl<'a, L: PointLoss + ?Sized> GfsDro<'a, L> {
    /// GFS-DRO of `loss` over `data`.
    pub fn new(loss: &'a L, data: &'a Dataset, cfg: GfsConfig) -> Result<Self> {
        cfg.validate()?;
        check_data(loss, data)?;
        Ok(GfsDro { loss, data, cfg, idx: Vec::new() })
    }

    /// The configuration.
    pub fn config(&self) -> &GfsConfig {
        &self.cfg
    }

    fn check_theta(&self, theta: &[f64]) -> Result<()> {
        gradus_core::validate::same_len("theta", self.loss.num_params(), theta.len())?;
        gradus_core::validate::all_finite("theta", theta)
    }

    /// The particles approximating the worst-case law of nominal point `i` after the inner
    /// steps (`i < data.len()`).
    pub fn worst_case(&self, theta: &[f64], i: usize, r: &mut Rng) -> Result<Particles> {
        self.check_theta(theta)?;
        if i >= self.data.len() {
            return Err(Error::InvalidShape {
                what: "nominal point",
                detail: format!("index {i} of {}", self.data.len()),
            });
        }
        self.sample_point(theta, i, r)
    }

    fn sample_point(&self, theta: &[f64], i: usize, r: &mut Rng) -> Result<Particles> {
        let c = &self.cfg;
        let x = self.data.point(i);
        let d = x.len();
        if c.lambda.is_infinite() {
            return Particles::new(d, x.to_vec());
        }
        let target =
            GibbsTarget { loss: self.loss, theta, x, label: self.data.label(i), lambda: c.lambda };
        let t = c.lambda * c.epsilon;
        let copies = |m: usize| Particles::new(d, x.repeat(m));
        let langevin = |temp: f64| -> Result<Langevin> {
            let l = Langevin::new(c.step, temp)?;
            match c.clip {
                Some((lo, hi)) => l.with_clip(lo, hi),
                None => Ok(l),
            }
        };
        match c.sampler {
            InnerSampler::Wgf | InnerSampler::Wrm => {
                let (m, temp) =
                    if c.sampler == InnerSampler::Wrm { (1, 0.0) } else { (c.particles, t) };
                let mut p = copies(m)?;
                let mut flow = langevin(temp)?;
                for _ in 0..c.inner_steps {
                    flow.step(&mut p, &target, r, Par::Seq)?;
                }
                Ok(p)
            }
            InnerSampler::Wfr { weight_step, reaction, birth_death } => {
                let mut p = copies(c.particles)?;
                let mut flow = Wfr::new(langevin(t)?, weight_step, reaction)?;
                if let Some(bd) = birth_death {
                    flow = flow.with_birth_death(bd)?;
                }
                for _ in 0..c.inner_steps {
                    flow.step(&mut p, &target, r, Par::Seq)?;
                }
                Ok(p)
            }
            InnerSampler::Svgd { init_noise, rmsprop } => {
                let mut pos = x.repeat(c.particles);
                for v in pos.iter_mut() {
                    *v += init_noise * normal(r);
                }
                let mut p = Particles::new(d, pos)?;
                let mut flow = Svgd::new(c.step, Bandwidth::Median, t)?;
                if let Some(rho) = rmsprop {
                    flow = flow.with_rmsprop(rho)?;
                }
                for _ in 0..c.inner_steps {
                    flow.step(&mut p, &target, r, Par::Seq)?;
                    if let Some((lo, hi)) = c.clip {
                        for v in p.pos.iter_mut() {
                            *v = v.max(lo).min(hi);
                        }
                    }
                }
                Ok(p)
            }
        }
    }

    /// Robust loss and its gradient (written to `grad`) over the nominal points `idx`, with
    /// point `k` of the list drawing from `rng::stream(seed, k)`.
    pub fn loss_grad_on(
        &self,
        theta: &[f64],
        idx: &[usize],
        seed: u64,
        grad: &mut [f64],
    ) -> Result<f64> {
        self.check_theta(theta)?;
        gradus_core::validate::same_len("gradient", theta.len(), grad.len())?;
        if let Some(&i) = idx.iter().find(|&&i| i >= self.data.len()) {
            return Err(Error::InvalidShape {
                what: "nominal point",
                detail: format!("index {i}"),
            });
        }
        per_point_mean(idx, seed, theta.len(), self.cfg.par, grad, |i, r, g| {
            let p = self.sample_point(theta, i, r)?;
            let label = self.data.label(i);
            let mut l = 0.0;
            for (y, &w) in p.positions().chunks_exact(p.dim()).zip(p.weights()) {
                l += w * self.loss.loss_grad_theta(theta, label, y, w, g);
            }
            Ok(l)
        })
    }
}

impl<L: PointLoss + ?Sized> Objective<f64> for GfsDro<'_, L> {
    fn dim(&self) -> usize {
        self.loss.num_params()
    }

    fn loss_grad(&mut self, theta: &[f64], grad: &mut [f64], rng: &mut Rng) -> Result<f64> {
        let mut idx = std::mem::take(&mut self.idx);
        pick_batch(self.data.len(), self.cfg.batch, rng, &mut idx);
        let seed: u64 = rng.random();
        let out = self.loss_grad_on(theta, &idx, seed, grad);
        self.idx = idx;
        out
    }
}

/// Empirical risk minimisation (sample average approximation): the mean loss over a
/// minibatch of nominal points.
pub struct Erm<'a, L: ?Sized> {
    loss: &'a L,
    data: &'a Dataset,
    batch: usize,
    idx: Vec<usize>,
}

impl<'a, L: PointLoss + ?Sized> Erm<'a, L> {
    /// ERM of `loss` over `data` with minibatches of `batch` (`0`: full batch).
    pub fn new(loss: &'a L, data: &'a Dataset, batch: usize) -> Result<Self> {
        check_data(loss, data)?;
        Ok(Erm { loss, data, batch, idx: Vec::new() })
    }

    /// Mean loss over all points.
    pub fn full_loss(&self, theta: &[f64]) -> f64 {
        let n = self.data.len();
        (0..n).map(|i| self.loss.loss(theta, self.data.label(i), self.data.point(i))).sum::<f64>()
            / n as f64
    }
}

impl<L: PointLoss + ?Sized> Objective<f64> for Erm<'_, L> {
    fn dim(&self) -> usize {
        self.loss.num_params()
    }

    fn loss_grad(&mut self, theta: &[f64], grad: &mut [f64], rng: &mut Rng) -> Result<f64> {
        gradus_core::validate::same_len("theta", self.loss.num_params(), theta.len())?;
        gradus_core::validate::same_len("gradient", theta.len(), grad.len())?;
        pick_batch(self.data.len(), self.batch, rng, &mut self.idx);
        grad.fill(0.0);
        let inv = 1.0 / self.idx.len() as f64;
        let mut l = 0.0;
        for &i in &self.idx {
            l += inv
                * self.loss.loss_grad_theta(
                    theta,
                    self.data.label(i),
                    self.data.point(i),
                    inv,
                    grad,
                );
        }
        if !l.is_finite() {
            return Err(Error::NonFinite { what: "loss", index: 0 });
        }
        gradus_core::validate::all_finite("gradient", grad)?;
        Ok(l)
    }
}

/// `steps` outer steps: `theta <- opt.step(theta, grad objective(theta))`. Returns the loss
/// estimate of every step. Stops at the first error (theta keeps the last good value). The
/// loop runs on a rayon pool thread ([`Par::on_pool`]): every step runs several short
/// parallel particle passes, which would otherwise each wake the pool from outside.
pub fn train<O: Objective<f64> + Send, P: Optimizer<f64> + Send>(
    objective: &mut O,
    opt: &mut P,
    theta: &mut [f64],
    steps: usize,
    rng: &mut Rng,
) -> Result<Vec<f64>> {
    Par::Rayon.on_pool(|| {
        let mut grad = vec![0.0; theta.len()];
        let mut losses = Vec::with_capacity(steps);
        for _ in 0..steps {
            losses.push(objective.loss_grad(theta, &mut grad, rng)?);
            opt.step(theta, &grad)?;
        }
        Ok(losses)
    })
}
