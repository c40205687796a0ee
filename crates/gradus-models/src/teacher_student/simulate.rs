//! Online SGD on a Gaussian-input teacher-student committee, one fresh sample per step.
//!
//! Inputs `X ~ N(0, I_N)`; teacher rows `v_1..v_M` orthonormal (so `T = I`); student rows
//! `w_1..w_K`. Label `y = sum_n sigma(<v_n, X>) + eps`, `eps ~ N(0, Delta)`; loss
//! `1/2 (y - sum_i sigma(<w_i, X>))^2`; step `w_i <- w_i + delta e sigma'(lambda_i) X` with
//! `e = y - sum_i sigma(lambda_i)` and `delta = c / N^alpha`. With `K = M = 1` this is the
//! single-index model (a generalised linear model) of paper 02; with erf units it is the soft
//! committee machine of Saad & Solla (1995). The order parameters are computed from the
//! weights when asked for (two dot products per pair), never from stored trajectories.
//!
//! Time is the gradient-flow time `tau = steps * delta`; the critical scaling of paper 02 is
//! `alpha = 1`, where `N` steps are `tau = c`.

use gradus_core::rng::stream;
use gradus_core::{Error, Par, Result, Rng};
use gradus_kernels::{axpy, dot, scale, sum_squares};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::Activation;
use super::erf_integrals::Overlaps;

/// Everything that defines an online-SGD run (apart from the seed and initialisation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Input dimension `N`.
    pub dim: usize,
    /// Student units `K`.
    pub students: usize,
    /// Teacher units `M`.
    pub teachers: usize,
    /// Activation of every unit.
    pub activation: Activation,
    /// Step-size constant `c` in `delta = c / N^alpha`.
    pub c: f64,
    /// Step-size exponent `alpha` (`1` is the critical scaling).
    pub alpha: f64,
    /// Label-noise variance `Delta`.
    pub noise_var: f64,
    /// Keep every student row on the unit sphere (renormalise after each step), the setting
    /// of the information-exponent results of Ben Arous, Gheissari & Jagannath (2021).
    pub spherical: bool,
}

impl SgdConfig {
    /// A single-index model (`K = M = 1`) at the critical scaling `delta = c / N`.
    pub fn single_index(dim: usize, activation: Activation, c: f64, noise_var: f64) -> Self {
        SgdConfig {
            dim,
            students: 1,
            teachers: 1,
            activation,
            c,
            alpha: 1.0,
            noise_var,
            spherical: false,
        }
    }

    /// Validates the configuration.
    pub fn check(&self) -> Result<()> {
        if self.dim < 2 || self.students == 0 || self.teachers == 0 {
            return Err(Error::InvalidShape {
                what: "teacher-student sizes",
                detail: format!(
                    "need N >= 2, K >= 1, M >= 1; got N = {}, K = {}, M = {}",
                    self.dim, self.students, self.teachers
                ),
            });
        }
        if self.students + self.teachers > self.dim {
            return Err(Error::InvalidShape {
                what: "teacher-student sizes",
                detail: format!(
                    "K + M = {} exceeds N = {}",
                    self.students + self.teachers,
                    self.dim
                ),
            });
        }
        self.activation.check()?;
        gradus_core::validate::positive("step constant c", self.c)?;
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::hyper("step exponent alpha", self.alpha, "must be finite and >= 0"));
        }
        gradus_core::validate::non_negative("label noise variance", self.noise_var)
    }

    /// `delta = c / N^alpha`.
    pub fn step_size(&self) -> f64 {
        self.c / (self.dim as f64).powf(self.alpha)
    }

    /// `kappa = delta N`, the weight of the second-order (corrector) term in the limit ODE:
    /// `c` at the critical scaling, `-> 0` below it.
    pub fn kappa(&self) -> f64 {
        self.step_size() * self.dim as f64
    }
}

/// How the student starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// `w_i ~ N(0, scale^2 I / N)`: overlaps with the teacher of order `scale / sqrt N`
    /// (spherical runs rescale the rows to unit norm).
    Random {
        /// Typical norm of each student row.
        scale: f64,
    },
    /// Exactly `R_in = r0 [i = n]`, `Q = q0 I` (needs `q0 >= r0^2`): the limit ODE then starts
    /// at the same point as every seed. Spherical runs rescale the rows to unit norm.
    Aligned {
        /// Overlap of student `i` with teacher `i`.
        r0: f64,
        /// Squared norm of each student row.
        q0: f64,
    },
}

/// The state of one online-SGD run.
#[derive(Debug, Clone)]
pub struct OnlineSgd {
    cfg: SgdConfig,
    delta: f64,
    /// Student rows, `K x N` row-major.
    w: Vec<f64>,
    /// Teacher rows, `M x N` row-major, orthonormal.
    v: Vec<f64>,
    /// The current sample.
    x: Vec<f64>,
    lambda: Vec<f64>,
    rng: Rng,
    steps: u64,
}

/// Fills `x` with independent standard normal draws.
fn fill_normal(rng: &mut Rng, x: &mut [f64]) {
    for xi in x.iter_mut() {
        *xi = StandardNormal.sample(rng);
    }
}

/// `row <- row / |row|`.
fn normalise_row(row: &mut [f64]) -> Result<()> {
    let norm = sum_squares(Par::Seq, row).sqrt();
    if !(norm.is_finite() && norm > 0.0) {
        return Err(Error::NonFinite { what: "student row norm", index: 0 });
    }
    scale(Par::Seq, 1.0 / norm, row);
    Ok(())
}

/// Gram-Schmidt of `row` against the first `count` rows of `basis` (twice, for stability),
/// then normalisation. Errors if `row` is (numerically) in their span.
fn orthonormalise(basis: &[f64], count: usize, row: &mut [f64]) -> Result<()> {
    let n = row.len();
    for _ in 0..2 {
        for j in 0..count {
            let b = &basis[j * n..(j + 1) * n];
            let d = dot(Par::Seq, row, b)?;
            axpy(Par::Seq, -d, b, row)?;
        }
    }
    let norm = dot(Par::Seq, row, row)?.sqrt();
    if !(norm > 1e-8) {
        return Err(Error::Singular { detail: "random direction fell in the teacher span".into() });
    }
    scale(Par::Seq, 1.0 / norm, row);
    Ok(())
}

impl OnlineSgd {
    /// A run for `seed`: the teacher, the initial student and the sample stream come from
    /// separate ChaCha streams of `seed`, so they do not depend on each other's sizes.
    pub fn new(cfg: SgdConfig, init: Init, seed: u64) -> Result<Self> {
        cfg.check()?;
        let (n, k, m) = (cfg.dim, cfg.students, cfg.teachers);
        let mut teacher_rng = stream(seed, 1);
        let mut init_rng = stream(seed, 2);
        // Teachers first, then (for the aligned start) the students' orthogonal directions, all
        // in one orthonormal family.
        let mut basis = vec![0.0; (m + k) * n];
        for j in 0..m {
            let (done, rest) = basis.split_at_mut(j * n);
            fill_normal(&mut teacher_rng, &mut rest[..n]);
            orthonormalise(done, j, &mut rest[..n])?;
        }
        let mut w = vec![0.0; k * n];
        match init {
            Init::Random { scale: s } => {
                gradus_core::validate::non_negative("init scale", s)?;
                fill_normal(&mut init_rng, &mut w);
                scale(Par::Seq, s / (n as f64).sqrt(), &mut w);
            }
            Init::Aligned { r0, q0 } => {
                if !(r0.is_finite() && q0.is_finite() && q0 >= r0 * r0) {
                    return Err(Error::hyper("aligned init q0", q0, "must be finite and >= r0^2"));
                }
                for i in 0..k {
                    let (done, rest) = basis.split_at_mut((m + i) * n);
                    fill_normal(&mut init_rng, &mut rest[..n]);
                    orthonormalise(done, m + i, &mut rest[..n])?;
                    let wi = &mut w[i * n..(i + 1) * n];
                    let along = if i < m { r0 } else { 0.0 };
                    axpy(Par::Seq, (q0 - along * along).sqrt(), &rest[..n], wi)?;
                    if i < m {
                        axpy(Par::Seq, along, &basis[i * n..(i + 1) * n], wi)?;
                    }
                }
            }
        }
        if cfg.spherical {
            for wi in w.chunks_exact_mut(n) {
                normalise_row(wi)?;
            }
        }
        basis.truncate(m * n);
        Ok(OnlineSgd {
            cfg,
            delta: cfg.step_size(),
            w,
            v: basis,
            x: vec![0.0; n],
            lambda: vec![0.0; k],
            rng: stream(seed, 3),
            steps: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Gradient-flow time `tau = steps * delta`.
    pub fn time(&self) -> f64 {
        self.steps as f64 * self.delta
    }

    /// The student rows (`K x N`).
    pub fn students(&self) -> &[f64] {
        &self.w
    }

    /// One online step on a fresh sample. Allocates nothing. A non-finite update (divergence
    /// at too large a step) is an error and leaves the weights as they were before the step.
    pub fn step(&mut self) -> Result<()> {
        let n = self.cfg.dim;
        let act = self.cfg.activation;
        fill_normal(&mut self.rng, &mut self.x);
        let mut y = 0.0;
        for vn in self.v.chunks_exact(n) {
            y += act.value(dot(Par::Seq, vn, &self.x)?);
        }
        if self.cfg.noise_var > 0.0 {
            let eps: f64 = StandardNormal.sample(&mut self.rng);
            y += self.cfg.noise_var.sqrt() * eps;
        }
        let mut e = y;
        for (l, wi) in self.lambda.iter_mut().zip(self.w.chunks_exact(n)) {
            *l = dot(Par::Seq, wi, &self.x)?;
            e -= act.value(*l);
        }
        // All coefficients are checked before any row moves, so a failed step changes nothing.
        for (i, l) in self.lambda.iter_mut().enumerate() {
            *l = self.delta * e * act.deriv(*l);
            if !l.is_finite() {
                return Err(Error::NonFinite { what: "online SGD step coefficient", index: i });
            }
        }
        if self.cfg.spherical {
            // |w + a X|^2 = |w|^2 + 2 a lambda + a^2 |X|^2: the new norms are known before any
            // row moves, so a failed step still changes nothing.
            let xx = sum_squares(Par::Seq, &self.x);
            for (i, (coef, wi)) in self.lambda.iter().zip(self.w.chunks_exact(n)).enumerate() {
                let ww = sum_squares(Par::Seq, wi);
                let lam = dot(Par::Seq, wi, &self.x)?;
                let nn = ww + coef * (2.0 * lam + coef * xx);
                if !(nn.is_finite() && nn > 0.0) {
                    return Err(Error::NonFinite { what: "spherical step norm", index: i });
                }
            }
        }
        for (coef, wi) in self.lambda.iter().zip(self.w.chunks_exact_mut(n)) {
            axpy(Par::Seq, *coef, &self.x, wi)?;
            if self.cfg.spherical {
                normalise_row(wi)?;
            }
        }
        self.steps += 1;
        Ok(())
    }

    /// `steps` online steps.
    pub fn run(&mut self, steps: u64) -> Result<()> {
        for _ in 0..steps {
            self.step()?;
        }
        Ok(())
    }

    /// The overlaps `Q = W W^T`, `R = W V^T`, `T = V V^T` of the current weights.
    pub fn overlaps(&self) -> Result<Overlaps> {
        let (n, k, m) = (self.cfg.dim, self.cfg.students, self.cfg.teachers);
        let mut o =
            Overlaps { k, m, q: vec![0.0; k * k], r: vec![0.0; k * m], t: vec![0.0; m * m] };
        for i in 0..k {
            let wi = &self.w[i * n..(i + 1) * n];
            for j in 0..k {
                o.q[i * k + j] = dot(Par::Seq, wi, &self.w[j * n..(j + 1) * n])?;
            }
            for p in 0..m {
                o.r[i * m + p] = dot(Par::Seq, wi, &self.v[p * n..(p + 1) * n])?;
            }
        }
        for p in 0..m {
            for s in 0..m {
                o.t[p * m + s] =
                    dot(Par::Seq, &self.v[p * n..(p + 1) * n], &self.v[s * n..(s + 1) * n])?;
            }
        }
        if let Some(index) = o.q.iter().chain(&o.r).position(|x| !x.is_finite()) {
            return Err(Error::NonFinite { what: "overlaps", index });
        }
        Ok(o)
    }

    /// Runs to gradient-flow time `tau` (or just past it: whole steps), recording the overlaps
    /// at each time of `times` (increasing; the first may be 0). Returns one record per time.
    pub fn record(&mut self, times: &[f64]) -> Result<Vec<Overlaps>> {
        let mut out = Vec::with_capacity(times.len());
        for &t in times {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::hyper("record time", t, "must be finite and >= 0"));
            }
            let target = (t / self.delta).round() as u64;
            if target > self.steps {
                self.run(target - self.steps)?;
            }
            out.push(self.overlaps()?);
        }
        Ok(out)
    }

    /// Runs until `stop(overlaps)` holds, checking every `every` steps, for at most `cap`
    /// steps. Returns the step count at which it held, or `None` at the cap.
    pub fn run_until(
        &mut self,
        every: u64,
        cap: u64,
        mut stop: impl FnMut(&Overlaps) -> bool,
    ) -> Result<Option<u64>> {
        if every == 0 {
            return Err(Error::hyper("check interval", 0.0, "must be at least 1 step"));
        }
        loop {
            if stop(&self.overlaps()?) {
                return Ok(Some(self.steps));
            }
            if self.steps >= cap {
                return Ok(None);
            }
            self.run(every.min(cap - self.steps))?;
        }
    }
}

/// Runs `f(seed)` for every seed on the rayon pool. Each seed owns its run and its ChaCha
/// streams, so the results (in seed order) do not depend on the thread count.
pub fn for_seeds<R: Send>(
    seeds: &[u64],
    f: impl Fn(u64) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    seeds.par_iter().map(|&s| f(s)).collect()
}
