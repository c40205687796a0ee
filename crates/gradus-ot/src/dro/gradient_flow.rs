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
use crate::flows::{
    Bandwidth, BirthDeath, Flow, Langevin, Particles, Reaction, Rgo, RgoWork, Svgd, Wfr,
};
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
    /// The RGO rejection sampler (Alg. 6, [`Rgo::dro`]): `m` independent draws per point,
    /// exact when the loss is `smoothness`-smooth in `y` (needs `lambda > L / 2`).
    Rgo {
        /// The smoothness bound `L` of `l(theta, .)`.
        smoothness: f64,
        /// Gradient-ascent steps for the mode `y*` (code: 200 for least squares, <= 5 for
        /// CIFAR).
        ascent_steps: usize,
        /// Proposals per draw before falling back to `y*` (code: 100).
        max_trials: usize,
    },
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
            InnerSampler::Rgo { smoothness, ascent_steps, max_trials } => {
                if self.lambda.is_finite() {
                    Rgo::dro(self.lambda, self.epsilon, smoothness, ascent_steps, max_trials)?;
                }
            }
            InnerSampler::Wgf | InnerSampler::Wrm => {}
        }
        Ok(())
    }
}

/// The GFS-DRO objective over a data set: `loss_grad` runs the inner samplers and returns
/// the robust loss estimate `mean_x sum_j w_j l(theta, y_j)` with its gradient.
///
/// Every nominal point of a batch owns a preallocated slot (particles, sampler scratch,
/// gradient), so after the first step with a given batch size a step makes no heap
/// allocation, sequentially or on the rayon pool (`tests/dro_alloc_free.rs`).
pub struct GfsDro<'a, L: ?Sized> {
    loss: &'a L,
    data: &'a Dataset,
    cfg: GfsConfig,
    idx: Vec<usize>,
    slots: Vec<Slot>,
}

/// The sampler state of one slot, built once from the configuration.
enum SlotSampler {
    /// Radius 0: the particle stays at `x`.
    Fixed,
    Langevin(Langevin),
    Wfr(Box<Wfr>),
    Svgd(Box<Svgd>),
    Rgo(Rgo, RgoWork),
}

/// The work of one nominal point of a batch.
struct Slot {
    particles: Particles,
    sampler: SlotSampler,
    grad: Vec<f64>,
    out: Result<f64>,
}

impl Slot {
    fn new(cfg: &GfsConfig, x: &[f64], p: usize) -> Result<Self> {
        let t = cfg.lambda * cfg.epsilon;
        let langevin = |temp: f64| -> Result<Langevin> {
            let l = Langevin::new(cfg.step, temp)?;
            match cfg.clip {
                Some((lo, hi)) => l.with_clip(lo, hi),
                None => Ok(l),
            }
        };
        let sampler = if cfg.lambda.is_infinite() {
            SlotSampler::Fixed
        } else {
            match cfg.sampler {
                InnerSampler::Wrm => SlotSampler::Langevin(langevin(0.0)?),
                InnerSampler::Wgf => SlotSampler::Langevin(langevin(t)?),
                InnerSampler::Wfr { weight_step, reaction, birth_death } => {
                    let mut flow = Wfr::new(langevin(t)?, weight_step, reaction)?;
                    if let Some(bd) = birth_death {
                        flow = flow.with_birth_death(bd)?;
                    }
                    SlotSampler::Wfr(Box::new(flow))
                }
                InnerSampler::Svgd { rmsprop, .. } => {
                    let mut flow = Svgd::new(cfg.step, Bandwidth::Median, t)?;
                    if let Some(rho) = rmsprop {
                        flow = flow.with_rmsprop(rho)?;
                    }
                    SlotSampler::Svgd(Box::new(flow))
                }
                InnerSampler::Rgo { smoothness, ascent_steps, max_trials } => SlotSampler::Rgo(
                    Rgo::dro(cfg.lambda, cfg.epsilon, smoothness, ascent_steps, max_trials)?,
                    RgoWork::default(),
                ),
            }
        };
        Ok(Slot {
            particles: Particles::new(x.len(), x.repeat(cfg.particles))?,
            sampler,
            grad: vec![0.0; p],
            out: Ok(0.0),
        })
    }
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
/// (Allocates per point; used by the Sinkhorn dual.)
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

/// Evolves the slot's particles from nominal point `i` towards its worst-case law.
fn sample_point<L: PointLoss + ?Sized>(
    loss: &L,
    data: &Dataset,
    cfg: &GfsConfig,
    theta: &[f64],
    i: usize,
    r: &mut Rng,
    slot: &mut Slot,
) -> Result<()> {
    let (x, label) = (data.point(i), data.label(i));
    // One evaluation checks theta and the label, so a bad label is reported as such rather
    // than as a non-finite target value inside the sampler.
    loss.loss(theta, label, x)?;
    let target = GibbsTarget { loss, theta, x, label, lambda: cfg.lambda };
    let p = &mut slot.particles;
    match &mut slot.sampler {
        SlotSampler::Fixed => p.reset_copies(x, 1)?,
        SlotSampler::Langevin(flow) => {
            let m = if cfg.sampler == InnerSampler::Wrm { 1 } else { cfg.particles };
            p.reset_copies(x, m)?;
            for _ in 0..cfg.inner_steps {
                flow.step(p, &target, r, Par::Seq)?;
            }
        }
        SlotSampler::Wfr(flow) => {
            p.reset_copies(x, cfg.particles)?;
            for _ in 0..cfg.inner_steps {
                flow.step(p, &target, r, Par::Seq)?;
            }
        }
        SlotSampler::Rgo(rgo, work) => {
            p.reset_copies(x, cfg.particles)?;
            rgo.sample(&target, x, &mut p.pos, r, work)?;
        }
        SlotSampler::Svgd(flow) => {
            let InnerSampler::Svgd { init_noise, .. } = cfg.sampler else {
                return Err(Error::Unsupported("svgd slot without an svgd sampler".into()));
            };
            p.reset_copies(x, cfg.particles)?;
            for v in p.pos.iter_mut() {
                *v += init_noise * normal(r);
            }
            flow.reset();
            for _ in 0..cfg.inner_steps {
                flow.step(p, &target, r, Par::Seq)?;
                if let Some((lo, hi)) = cfg.clip {
                    for v in p.pos.iter_mut() {
                        *v = v.max(lo).min(hi);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Samples point `i` into `slot`, then `slot.grad = sum_j w_j grad_theta l(theta, y_j)`;
/// returns `sum_j w_j l(theta, y_j)`.
fn point_loss_grad<L: PointLoss + ?Sized>(
    loss: &L,
    data: &Dataset,
    cfg: &GfsConfig,
    theta: &[f64],
    i: usize,
    r: &mut Rng,
    slot: &mut Slot,
) -> Result<f64> {
    sample_point(loss, data, cfg, theta, i, r, slot)?;
    let label = data.label(i);
    let p = &slot.particles;
    slot.grad.fill(0.0);
    let mut l = 0.0;
    for (y, &w) in p.positions().chunks_exact(p.dim()).zip(p.weights()) {
        l += w * loss.loss_grad_theta(theta, label, y, w, &mut slot.grad)?;
    }
    Ok(l)
}

impl<'a, L: PointLoss + ?Sized> GfsDro<'a, L> {
    /// GFS-DRO of `loss` over `data`.
    pub fn new(loss: &'a L, data: &'a Dataset, cfg: GfsConfig) -> Result<Self> {
        cfg.validate()?;
        check_data(loss, data)?;
        Ok(GfsDro { loss, data, cfg, idx: Vec::new(), slots: Vec::new() })
    }

    /// The configuration.
    pub fn config(&self) -> &GfsConfig {
        &self.cfg
    }

    /// Changes the number of inner steps `K` (the Sec. 6.3 schedule grows it per epoch).
    pub fn set_inner_steps(&mut self, k: usize) {
        self.cfg.inner_steps = k;
    }

    fn check_theta(&self, theta: &[f64]) -> Result<()> {
        gradus_core::validate::same_len("theta", self.loss.num_params(), theta.len())?;
        gradus_core::validate::all_finite("theta", theta)
    }

    fn check_index(&self, i: usize) -> Result<()> {
        if i >= self.data.len() {
            return Err(Error::InvalidShape {
                what: "nominal point",
                detail: format!("index {i} of {}", self.data.len()),
            });
        }
        Ok(())
    }

    /// The particles approximating the worst-case law of nominal point `i` after the inner
    /// steps (`i < data.len()`).
    pub fn worst_case(&self, theta: &[f64], i: usize, r: &mut Rng) -> Result<Particles> {
        self.check_theta(theta)?;
        self.check_index(i)?;
        let mut slot = Slot::new(&self.cfg, self.data.point(i), theta.len())?;
        sample_point(self.loss, self.data, &self.cfg, theta, i, r, &mut slot)?;
        Ok(slot.particles)
    }

    /// Robust loss and its gradient (written to `grad`) over the nominal points `idx`, with
    /// point `k` of the list drawing from `rng::stream(seed, k)`.
    pub fn loss_grad_on(
        &mut self,
        theta: &[f64],
        idx: &[usize],
        seed: u64,
        grad: &mut [f64],
    ) -> Result<f64> {
        self.check_theta(theta)?;
        gradus_core::validate::same_len("gradient", theta.len(), grad.len())?;
        if let Some(&i) = idx.iter().find(|&&i| i >= self.data.len()) {
            self.check_index(i)?;
        }
        while self.slots.len() < idx.len() {
            self.slots.push(Slot::new(&self.cfg, self.data.point(0), theta.len())?);
        }
        let GfsDro { loss, data, cfg, slots, .. } = self;
        let (loss, data, cfg) = (*loss, *data, &*cfg);
        let slots = &mut slots[..idx.len()];
        let run = |(pos, (slot, &i)): (usize, (&mut Slot, &usize))| {
            let mut r = rng::stream(seed, pos as u64);
            slot.out = point_loss_grad(loss, data, cfg, theta, i, &mut r, slot);
        };
        if cfg.par.is_parallel() {
            slots.par_iter_mut().zip(idx.par_iter()).enumerate().for_each(run);
        } else {
            slots.iter_mut().zip(idx.iter()).enumerate().for_each(run);
        }
        // Errors first, so `grad` is untouched when any point failed.
        for (k, slot) in slots.iter_mut().enumerate() {
            match std::mem::replace(&mut slot.out, Ok(0.0)) {
                Err(e) => return Err(e),
                Ok(l) if !l.is_finite() => {
                    return Err(Error::NonFinite { what: "robust loss", index: k });
                }
                Ok(l) => slot.out = Ok(l),
            }
            if let Some(index) = slot.grad.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite { what: "robust gradient", index });
            }
        }
        // Reduce in index order: the sum does not depend on the thread count.
        grad.fill(0.0);
        let inv = 1.0 / idx.len().max(1) as f64;
        let mut total = 0.0;
        for slot in slots.iter() {
            total += slot.out.as_ref().map_or(0.0, |l| *l) * inv;
            for (o, v) in grad.iter_mut().zip(&slot.grad) {
                *o += v * inv;
            }
        }
        Ok(total)
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
/// minibatch of nominal points. A step allocates nothing once the index buffer has grown.
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
    pub fn full_loss(&self, theta: &[f64]) -> Result<f64> {
        let n = self.data.len();
        let mut s = 0.0;
        for i in 0..n {
            s += self.loss.loss(theta, self.data.label(i), self.data.point(i))?;
        }
        Ok(s / n as f64)
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
            let li =
                self.loss.loss_grad_theta(theta, self.data.label(i), self.data.point(i), inv, grad);
            match li {
                Ok(v) => l += inv * v,
                Err(e) => {
                    grad.fill(0.0);
                    return Err(e);
                }
            }
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
