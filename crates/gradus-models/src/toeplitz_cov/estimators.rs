//! Gradient descent with Armijo backtracking (paper 07's Algorithms 1 and 2, from the official
//! code): per iteration, trial steps `theta - eta_b g_b` for each parameter group `b` (the
//! layout blocks `amplitudes` and `frequencies`, step `eta0 * lr_scale`), accepted when
//! `L_new <= L - alpha sum_b eta_b |g_b|^2`, otherwise every `eta_b` is multiplied by `beta`
//! (at most `max_halvings` times). Step sizes restart from `eta0` each iteration. The run
//! stops after `patience` consecutive iterations with `| |g_t| - |g_{t-1}| | < tol` and
//! `|L_t - L_{t-1}| < tol`, or after `max_iter` iterations.

use gradus_core::{Error, Layout, Result, Rng, rng};
use rand::Rng as _;

use super::likelihood::ToeplitzNll;
use super::model::{SinusoidModel, inverse_amplitude};

/// Armijo GD settings (defaults: the official code's, with `eta0 = 8e-2`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmijoParams {
    /// Initial step of each iteration (times each block's `lr_scale`).
    pub eta0: f64,
    /// Sufficient-decrease constant.
    pub alpha: f64,
    /// Backtracking factor.
    pub beta: f64,
    /// Maximum backtracking steps per iteration.
    pub max_halvings: u32,
    /// Stagnation iterations before stopping.
    pub patience: u32,
    /// Stagnation tolerance on the loss and the gradient norm.
    pub tol: f64,
    /// Iteration cap.
    pub max_iter: usize,
    /// Record the loss every this many iterations (0: never).
    pub record_every: usize,
}

impl Default for ArmijoParams {
    fn default() -> Self {
        ArmijoParams {
            eta0: 8e-2,
            alpha: 0.3,
            beta: 0.5,
            max_halvings: 20,
            patience: 12,
            tol: 1e-6,
            max_iter: 45_000,
            record_every: 0,
        }
    }
}

/// Outcome of [`armijo_gd`].
#[derive(Debug, Clone, PartialEq)]
pub struct ArmijoResult {
    /// Final parameters.
    pub theta: Vec<f64>,
    /// Final loss.
    pub loss: f64,
    /// Iterations taken.
    pub iterations: usize,
    /// Whether it stopped on stagnation (rather than the iteration cap).
    pub stagnated: bool,
    /// `(iteration, loss)` every `record_every` iterations.
    pub history: Vec<(usize, f64)>,
}

/// Step-size layouts of the three estimators.
impl SinusoidModel {
    /// Algorithm 1: one step size for all parameters.
    pub fn single_step_layout(&self) -> Layout {
        self.layout()
    }

    /// Algorithm 2: frequencies step `eta_w = freq_ratio * eta0` (9e-3 / 8e-2 in the code).
    pub fn separate_step_layout(&self, freq_ratio: f64) -> Result<Layout> {
        self.layout().with_hyper(
            "frequencies",
            gradus_core::BlockHyper { lr_scale: freq_ratio, weight_decay: None },
        )
    }

    /// Amplitudes only: frequencies frozen on their initial grid.
    pub fn amplitudes_only_layout(&self) -> Result<Layout> {
        self.separate_step_layout(0.0)
    }
}

/// Minimises `nll` from `theta0` with per-block step sizes from `layout` (see module docs).
/// A trial step whose `R` is not positive definite counts as a failed Armijo test.
pub fn armijo_gd(
    nll: &mut ToeplitzNll,
    layout: &Layout,
    theta0: &[f64],
    params: &ArmijoParams,
) -> Result<ArmijoResult> {
    let n = theta0.len();
    gradus_core::validate::same_len("layout", n, layout.len())?;
    gradus_core::validate::positive("eta0", params.eta0)?;
    if !(params.beta > 0.0 && params.beta < 1.0) {
        return Err(Error::hyper("beta", params.beta, "must lie in (0, 1)"));
    }
    let mut theta = theta0.to_vec();
    let mut g = vec![0.0; n];
    let mut loss = nll.loss_grad_theta(&theta, &mut g)?;
    let mut trial = vec![0.0; n];
    let mut g_trial = vec![0.0; n];
    let (mut prev_loss, mut prev_gnorm) = (f64::INFINITY, f64::INFINITY);
    let mut stall = 0;
    let mut history = Vec::new();
    let blocks: Vec<(std::ops::Range<usize>, f64)> =
        layout.blocks().iter().map(|b| (b.range(), b.hyper.lr_scale)).collect();
    for it in 0..params.max_iter {
        // Frozen blocks (lr_scale 0) do not count: their gradient never goes to zero.
        let gnorm = blocks
            .iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(r, _)| g[r.clone()].iter().map(|v| v * v).sum::<f64>())
            .sum::<f64>()
            .sqrt();
        if (gnorm - prev_gnorm).abs() < params.tol && (loss - prev_loss).abs() < params.tol {
            stall += 1;
            if stall >= params.patience {
                return Ok(ArmijoResult { theta, loss, iterations: it, stagnated: true, history });
            }
        } else {
            stall = 0;
        }
        (prev_loss, prev_gnorm) = (loss, gnorm);
        if params.record_every > 0 && it % params.record_every == 0 {
            history.push((it, loss));
        }
        let decrease: f64 =
            blocks.iter().map(|(r, s)| s * g[r.clone()].iter().map(|v| v * v).sum::<f64>()).sum();
        let mut eta = params.eta0;
        let mut accepted = false;
        for halving in 0..=params.max_halvings {
            for (r, s) in &blocks {
                for i in r.clone() {
                    trial[i] = theta[i] - eta * s * g[i];
                }
            }
            // Trial points need the loss only; the gradient is computed once, where accepted.
            match nll.loss_theta(&trial) {
                Ok(l) if l <= loss - params.alpha * eta * decrease => accepted = true,
                // After the last halving the code takes the (tiny) step anyway if it is valid.
                Ok(l) if halving == params.max_halvings && l.is_finite() => accepted = true,
                _ => {}
            }
            if accepted {
                break;
            }
            eta *= params.beta;
        }
        if accepted {
            loss = nll.loss_grad_theta(&trial, &mut g_trial)?;
            std::mem::swap(&mut theta, &mut trial);
            std::mem::swap(&mut g, &mut g_trial);
        }
    }
    Ok(ArmijoResult { theta, loss, iterations: params.max_iter, stagnated: false, history })
}

/// How frequencies start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// The code's default: `w_k = 2 pi (k - 1) / (K - 1)`, random small amplitudes.
    Spec,
    /// Frequencies uniform on `[0, 2 pi)`, random small amplitudes.
    RandomFrequencies,
}

/// Initial `theta`: powers `u_k = 0.005 U(0,1) tr(S) / K` (raw `a_k = softplus^{-1}(u_k / 20)`)
/// and frequencies by `init`.
pub fn initial_theta(model: &SinusoidModel, trace_s: f64, init: Init, seed: u64) -> Vec<f64> {
    let mut r: Rng = rng::seeded(seed);
    let k = model.k;
    let mut theta = vec![0.0; 2 * k];
    for a in theta[..k].iter_mut() {
        let u = (0.005 * r.random::<f64>() * trace_s / k as f64).max(1e-12);
        *a = inverse_amplitude(u, model.scale);
    }
    for (j, w) in theta[k..].iter_mut().enumerate() {
        *w = match init {
            Init::Spec => std::f64::consts::TAU * j as f64 / (k.max(2) - 1) as f64,
            Init::RandomFrequencies => r.random_range(0.0..std::f64::consts::TAU),
        };
    }
    theta
}
