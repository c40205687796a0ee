//! DRAG (paper 08, Algorithm 1): projected stochastic gradient descent on the semi-dual with
//! a decreasing entropic regularisation `eps_k`, step `gamma_k = gamma_1 k^-b`, and
//! Polyak-Ruppert (or log-weighted) averaging of the projected iterates. A constant schedule
//! gives the fixed-epsilon averaged SGD baseline, and `eps = 0` the unregularised one.

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Par, Result, Rng};
use pulp::Simd;

use super::SemiDiscrete;
use super::cloud::{self, CHUNK, chunk_range};
use crate::source::Source;
use crate::vectorized::{self, Kernel, exp_nonpos};
use rayon::prelude::*;

/// The regularisation used by step `k + 1` (the gradient of step `k` uses `eps_{k-1}`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EpsilonSchedule {
    /// `eps_k = eps` for all `k`; `0` is the unregularised semi-dual (indicator gradients).
    Constant(f64),
    /// `eps_0 = initial`, `eps_k = scale k^-decay` for `k >= 1`. The paper's Algorithm 1 is
    /// `initial = scale = 1`; its experiments use `scale = 0.1`, `decay = 0.33`.
    Decreasing {
        /// `eps_0`.
        initial: f64,
        /// The factor in `scale k^-decay`.
        scale: f64,
        /// The exponent `a`.
        decay: f64,
    },
}

impl EpsilonSchedule {
    /// `eps_k`.
    pub fn at(&self, k: u64) -> f64 {
        match *self {
            EpsilonSchedule::Constant(e) => e,
            EpsilonSchedule::Decreasing { initial, .. } if k == 0 => initial,
            EpsilonSchedule::Decreasing { scale, decay, .. } => scale * (k as f64).powf(-decay),
        }
    }

    fn validate(&self) -> Result<()> {
        match *self {
            EpsilonSchedule::Constant(e) => gradus_core::validate::non_negative("epsilon", e),
            EpsilonSchedule::Decreasing { initial, scale, decay } => {
                gradus_core::validate::positive("epsilon initial", initial)?;
                gradus_core::validate::positive("epsilon scale", scale)?;
                gradus_core::validate::non_negative("epsilon decay", decay)
            }
        }
    }
}

/// How the returned potential averages the iterates `g_0, g_1, ...`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Averaging {
    /// `gbar_k = g_k / (k+1) + k/(k+1) gbar_{k-1}` (Polyak-Ruppert; Algorithm 1).
    Uniform,
    /// `gbar_t = sum_k ln(k+1)^omega g_k / sum_k ln(k+1)^omega` (paper's Appendix A; omega =
    /// 2 there). `g_0` gets weight 0.
    LogWeighted {
        /// The exponent `omega >= 0`.
        omega: f64,
    },
    /// No averaging: report the last iterate.
    LastIterate,
}

/// The convex set iterates are projected onto (coordinate-wise clipping, O(M)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Projection {
    /// No projection (sources without compact support).
    None,
    /// `C_inf = [0, upper]^M`; the paper takes `upper = 2 R^2`.
    Box {
        /// Upper bound of every coordinate.
        upper: f64,
    },
    /// `C_u = { g_1 = 0, |g_j| <= R |y_1 - y_j| }` with `R` bounding the supports of both
    /// measures (Lemma 1: contains a minimiser for every `eps >= 0`).
    Anchored {
        /// The radius `R`.
        radius: f64,
    },
}

/// Parameters of [`Drag`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DragConfig {
    /// `gamma_1 > 0` (paper: the diameter of the source support).
    pub gamma1: f64,
    /// Step exponent `b` in `[0, 1]` (paper: 2/3).
    pub b: f64,
    /// The regularisation schedule.
    pub epsilon: EpsilonSchedule,
    /// Averaging of the iterates.
    pub averaging: Averaging,
    /// Projection set.
    pub projection: Projection,
    /// Samples per gradient (mini-batch `n_b >= 1`).
    pub batch: usize,
    /// Multiply `gamma_1` by `sqrt(n_b)` (the paper's mini-batch rule).
    pub scale_step_with_batch: bool,
    /// Parallelism over chunks of 4096 targets (used when `M >= 8192`).
    pub par: Par,
}

impl DragConfig {
    /// The paper's default: `eps_k = 0.1 k^-0.33` (`eps_0 = 0.1`), `b = 2/3`, uniform
    /// averaging, projection on `C_u` with radius `radius`, single samples.
    pub fn paper(gamma1: f64, radius: f64) -> Self {
        DragConfig {
            gamma1,
            b: 2.0 / 3.0,
            epsilon: EpsilonSchedule::Decreasing { initial: 0.1, scale: 0.1, decay: 0.33 },
            averaging: Averaging::Uniform,
            projection: Projection::Anchored { radius },
            batch: 1,
            scale_step_with_batch: true,
            par: Par::Seq,
        }
    }

    /// The fixed-regularisation averaged SGD baseline (same steps, averaging, projection).
    pub fn fixed_epsilon(gamma1: f64, radius: f64, eps: f64) -> Self {
        DragConfig { epsilon: EpsilonSchedule::Constant(eps), ..Self::paper(gamma1, radius) }
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        gradus_core::validate::positive("gamma1", self.gamma1)?;
        gradus_core::validate::unit_interval("b", self.b)?;
        self.epsilon.validate()?;
        if let Averaging::LogWeighted { omega } = self.averaging {
            gradus_core::validate::non_negative("omega", omega)?;
        }
        match self.projection {
            Projection::None => {}
            Projection::Box { upper } => gradus_core::validate::positive("box upper", upper)?,
            Projection::Anchored { radius } => {
                gradus_core::validate::positive("projection radius", radius)?
            }
        }
        if self.batch == 0 {
            return Err(Error::hyper("batch", 0.0, "must be >= 1"));
        }
        Ok(())
    }
}

/// The DRAG iteration over a [`SemiDiscrete`] problem. O(dM) work and memory per sample.
pub struct Drag<'p, S> {
    problem: &'p SemiDiscrete<S>,
    cfg: DragConfig,
    g: Vec<f64>,
    avg: Vec<f64>,
    k: u64,
    weight_sum: f64,
    /// An upper bound on `max_j |g_j|` (and so on `|gbar_j|`, a convex combination): each step
    /// moves a potential by at most `gamma |chi_j - w_j| <= gamma`, so a step that could
    /// overflow is refused before anything is written.
    g_max: f64,
    /// `|g_j| <= bound_j` for `Projection::Anchored` (empty otherwise).
    bound: Vec<f64>,
    work: Vec<f64>,
    acc: Vec<f64>,
    stats: Vec<(f64, f64)>,
    scales: Vec<f64>,
    xs: Vec<f64>,
    node_max: Vec<f64>,
    hits: Vec<usize>,
}

/// The weights as the update loop sees them.
#[derive(Clone, Copy)]
enum Weights<'a> {
    Uniform(f64),
    Each(&'a [f64]),
}

/// The projection as the update loop sees it.
#[derive(Clone, Copy)]
enum Clip<'a> {
    Free,
    Interval(f64, f64),
    Symmetric(&'a [f64]),
}

struct Update<'a> {
    g: &'a mut [f64],
    avg: &'a mut [f64],
    /// `chi_j = src_j * scale`.
    src: &'a [f64],
    scale: f64,
    w: Weights<'a>,
    clip: Clip<'a>,
    gamma: f64,
    lambda: f64,
}

/// `g_j <- clip_j(g_j - gamma (src_j scale - w_j))`, `avg_j <- avg_j + lambda (g_j - avg_j)`.
#[inline(always)]
fn update_loop(u: Update<'_>, w_at: impl Fn(usize) -> f64, clip_at: impl Fn(usize, f64) -> f64) {
    let n = u.g.len();
    let (g, avg, src) = (u.g, &mut u.avg[..n], &u.src[..n]);
    let (gamma, scale, lambda) = (u.gamma, u.scale, u.lambda);
    for j in 0..n {
        let v = clip_at(j, g[j] - gamma * src[j].mul_add(scale, -w_at(j)));
        g[j] = v;
        avg[j] = lambda.mul_add(v - avg[j], avg[j]);
    }
}

// Iterates are finite, so plain comparisons clamp (no NaN handling needed).
#[inline(always)]
fn clamp(v: f64, lo: f64, hi: f64) -> f64 {
    let v = if v < lo { lo } else { v };
    if v > hi { hi } else { v }
}

impl Kernel for Update<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self, _simd: S) {
        let n = self.g.len();
        match (self.w, self.clip) {
            (Weights::Uniform(w), Clip::Free) => update_loop(self, |_| w, |_, v| v),
            (Weights::Uniform(w), Clip::Interval(lo, hi)) => {
                update_loop(self, |_| w, |_, v| clamp(v, lo, hi))
            }
            (Weights::Uniform(w), Clip::Symmetric(b)) => {
                let b = &b[..n];
                update_loop(self, |_| w, |j, v| clamp(v, -b[j], b[j]))
            }
            (Weights::Each(ws), Clip::Free) => {
                let ws = &ws[..n];
                update_loop(self, |j| ws[j], |_, v| v)
            }
            (Weights::Each(ws), Clip::Interval(lo, hi)) => {
                let ws = &ws[..n];
                update_loop(self, |j| ws[j], |_, v| clamp(v, lo, hi))
            }
            (Weights::Each(ws), Clip::Symmetric(b)) => {
                let (ws, b) = (&ws[..n], &b[..n]);
                update_loop(self, |j| ws[j], |j, v| clamp(v, -b[j], b[j]))
            }
        }
    }
}

struct Accumulate<'a> {
    acc: &'a mut [f64],
    src: &'a [f64],
    scale: f64,
}

impl Kernel for Accumulate<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self, _simd: S) {
        for (a, s) in self.acc.iter_mut().zip(self.src) {
            *a = s.mul_add(self.scale, *a);
        }
    }
}

impl<'p, S: Source> Drag<'p, S> {
    /// DRAG on `problem` from `g0` (default 0), projected onto the configured set first.
    pub fn new(problem: &'p SemiDiscrete<S>, cfg: DragConfig, g0: Option<&[f64]>) -> Result<Self> {
        cfg.validate()?;
        let m = problem.len();
        let mut g = match g0 {
            Some(g0) => {
                same_len("initial potential g0", m, g0.len())?;
                all_finite("initial potential g0", g0)?;
                g0.to_vec()
            }
            None => vec![0.0; m],
        };
        let bound: Vec<f64> = match cfg.projection {
            Projection::Anchored { radius } => {
                let y0 = problem.target().point(0);
                (0..m)
                    .map(|j| {
                        let yj = problem.target().point(j);
                        let d2: f64 = y0.iter().zip(yj).map(|(a, b)| (a - b) * (a - b)).sum();
                        // g_1 = 0 exactly, even when other atoms coincide with y_1.
                        if j == 0 { 0.0 } else { radius * d2.sqrt() }
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        match cfg.projection {
            Projection::None => {}
            Projection::Box { upper } => g.iter_mut().for_each(|v| *v = v.max(0.0).min(upper)),
            Projection::Anchored { .. } => {
                g.iter_mut().zip(&bound).for_each(|(v, b)| *v = v.max(-b).min(*b))
            }
        }
        let nc = cloud::chunks(m);
        let g_max = g.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        Ok(Drag {
            problem,
            cfg,
            g_max,
            avg: g.clone(),
            g,
            k: 0,
            weight_sum: 0.0,
            bound,
            work: vec![0.0; m],
            acc: vec![0.0; m],
            stats: vec![(0.0, 0.0); nc],
            scales: vec![0.0; nc],
            xs: vec![0.0; cfg.batch * problem.dim()],
            node_max: Vec::new(),
            hits: Vec::with_capacity(cfg.batch),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DragConfig {
        &self.cfg
    }

    /// Steps taken so far, `k`.
    pub fn steps(&self) -> u64 {
        self.k
    }

    /// The current iterate `g_k`.
    pub fn potential(&self) -> &[f64] {
        &self.g
    }

    /// The averaged potential `gbar_k` (what DRAG returns).
    pub fn average(&self) -> &[f64] {
        &self.avg
    }

    /// The regularisation the next step's gradient uses, `eps_k`.
    pub fn epsilon(&self) -> f64 {
        self.cfg.epsilon.at(self.k)
    }

    /// The step size of step `k >= 1`: `gamma_1 (sqrt(n_b)) k^-b`.
    pub fn step_size(&self, k: u64) -> f64 {
        let g1 = if self.cfg.scale_step_with_batch {
            self.cfg.gamma1 * (self.cfg.batch as f64).sqrt()
        } else {
            self.cfg.gamma1
        };
        g1 * (k.max(1) as f64).powf(-self.cfg.b)
    }

    /// One step with `n_b` fresh samples of the source drawn from `rng`.
    pub fn step(&mut self, rng: &mut Rng) -> Result<()> {
        let mut xs = std::mem::take(&mut self.xs);
        let d = self.problem.dim();
        for x in xs.chunks_exact_mut(d) {
            self.problem.source().sample(rng, x);
        }
        let out = self.step_with(&xs);
        self.xs = xs;
        out
    }

    /// `steps` steps (see [`Drag::step`]), on a pool thread when the passes are parallel
    /// ([`Par::on_pool`]: a step is a few short passes, and forking them from outside the
    /// pool costs a thread wake-up each).
    pub fn run(&mut self, steps: u64, rng: &mut Rng) -> Result<()> {
        let par = self.cfg.par;
        par.on_pool(|| {
            for _ in 0..steps {
                self.step(rng)?;
            }
            Ok(())
        })
    }

    /// One step with the given samples (`n_b * d` coordinates, row-major). Errors leave the
    /// state untouched.
    pub fn step_with(&mut self, xs: &[f64]) -> Result<()> {
        let d = self.problem.dim();
        same_len("DRAG samples", self.cfg.batch * d, xs.len())?;
        all_finite("DRAG samples", xs)?;
        let k = self.k + 1;
        let eps = self.cfg.epsilon.at(self.k);
        let gamma = self.step_size(k);
        // The weight sum is committed only once the step has succeeded.
        let mut weight_sum = self.weight_sum;
        let lambda = match self.cfg.averaging {
            Averaging::Uniform => 1.0 / (k as f64 + 1.0),
            Averaging::LastIterate => 1.0,
            Averaging::LogWeighted { omega } => {
                let wk = ((k + 1) as f64).ln().powf(omega);
                weight_sum += wk;
                wk / weight_sum
            }
        };
        let g_max = match self.cfg.projection {
            Projection::Box { upper } => (self.g_max + gamma).min(upper.abs()),
            _ => self.g_max + gamma,
        };
        if !(g_max < 1e300 && lambda.is_finite() && gamma.is_finite()) {
            return Err(gradus_core::Error::NonFinite {
                what: "DRAG step (potentials would overflow)",
                index: 0,
            });
        }
        // Samples far outside the targets' scale overflow the scores (|x - y|^2 = inf): reject
        // the step before anything is written.
        let overflow = || gradus_core::Error::NonFinite {
            what: "DRAG softmax (sample too far from the targets)",
            index: 0,
        };
        let m = self.problem.len();
        let parallel = self.cfg.par.is_parallel() && m >= 2 * CHUNK;
        let cl = self.problem.cloud();
        let nb = self.cfg.batch;
        if eps > 0.0 && nb == 1 {
            // Fused path: softmax chunk pieces, then one update pass rescaling each chunk.
            let (mx, s) =
                cl.softmax(xs, &self.g, 1.0 / eps, &mut self.work, &mut self.stats, parallel);
            if !(mx.is_finite() && s.is_finite() && s > 0.0) {
                return Err(overflow());
            }
            for (sc, st) in self.scales.iter_mut().zip(&self.stats) {
                *sc = exp_nonpos(st.0 - mx) / s;
            }
            self.update(gamma, lambda, false, parallel);
        } else if eps > 0.0 {
            self.acc.fill(0.0);
            for x in xs.chunks_exact(d) {
                let (mx, s) =
                    cl.softmax(x, &self.g, 1.0 / eps, &mut self.work, &mut self.stats, parallel);
                if !(mx.is_finite() && s.is_finite() && s > 0.0) {
                    self.acc.fill(0.0);
                    self.scales.fill(1.0);
                    return Err(overflow());
                }
                for (sc, st) in self.scales.iter_mut().zip(&self.stats) {
                    *sc = exp_nonpos(st.0 - mx) / (s * nb as f64);
                }
                let body = |(c, (a, src)): (usize, (&mut [f64], &[f64]))| {
                    vectorized::run(Accumulate { acc: a, src, scale: self.scales[c] });
                };
                if parallel {
                    self.acc
                        .par_chunks_mut(CHUNK)
                        .zip(self.work.par_chunks(CHUNK))
                        .enumerate()
                        .for_each(body);
                } else {
                    self.acc
                        .chunks_mut(CHUNK)
                        .zip(self.work.chunks(CHUNK))
                        .enumerate()
                        .for_each(body);
                }
            }
            self.scales.fill(1.0);
            self.update(gamma, lambda, true, parallel);
        } else {
            self.hits.clear();
            if let Some(tree) = self.problem.tree() {
                tree.node_max(&self.g, &mut self.node_max);
                for x in xs.chunks_exact(d) {
                    self.hits.push(tree.query(x, &self.g, &self.node_max));
                }
            } else {
                for x in xs.chunks_exact(d) {
                    let (j, _) = cl.argmax(x, &self.g, &mut self.work, &mut self.stats, parallel);
                    self.hits.push(j);
                }
            }
            for &j in &self.hits {
                self.acc[j] += 1.0 / nb as f64;
            }
            self.scales.fill(1.0);
            self.update(gamma, lambda, true, parallel);
            for &j in &self.hits {
                self.acc[j] = 0.0;
            }
        }
        self.k = k;
        self.weight_sum = weight_sum;
        self.g_max = g_max;
        Ok(())
    }

    /// `g <- Proj(g - gamma (chi - w))`, `gbar <- gbar + lambda (g - gbar)`, chunk by chunk,
    /// with `chi` from `acc` (or `work`) times the chunk scale.
    fn update(&mut self, gamma: f64, lambda: f64, from_acc: bool, parallel: bool) {
        let src: &[f64] = if from_acc { &self.acc } else { &self.work };
        let cl = self.problem.cloud();
        let m = self.g.len();
        let scales = &self.scales;
        let (bound, projection) = (&self.bound[..], self.cfg.projection);
        let body = |(c, (g, avg)): (usize, (&mut [f64], &mut [f64]))| {
            let (lo, hi) = chunk_range(m, c);
            let w = match cl.uniform {
                Some(w) => Weights::Uniform(w),
                None => Weights::Each(&cl.w[lo..hi]),
            };
            let clip = match projection {
                Projection::None => Clip::Free,
                Projection::Box { upper } => Clip::Interval(0.0, upper),
                Projection::Anchored { .. } => Clip::Symmetric(&bound[lo..hi]),
            };
            vectorized::run(Update {
                g,
                avg,
                src: &src[lo..hi],
                scale: scales[c],
                w,
                clip,
                gamma,
                lambda,
            });
        };
        if parallel {
            self.g
                .par_chunks_mut(CHUNK)
                .zip(self.avg.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(body);
        } else {
            self.g.chunks_mut(CHUNK).zip(self.avg.chunks_mut(CHUNK)).enumerate().for_each(body);
        }
    }
}
