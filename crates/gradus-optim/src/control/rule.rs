//! [`ControlRule`]: the optimal feedback law of paper 10 as an [`Optimizer`].
//!
//! One rule, several settings. Per coordinate, with authority `c_i = η k / G_i`, curvature
//! `h_i` (known, assumed, or inferred online), and the coefficients of [`super::feedback`]:
//!
//! ```text
//! Feedback:  θ ← θ - Δt (α(h) g + β(h) θ)                              (θ̇ = -α g - β θ)
//! Inertial:  m ← μ m + (1 - μ) g,  θ ← θ - Δt (c/φ) m,  φ = sqrt(γ² + 4 c h), μ = e^{-φ Δt}
//! ```
//!
//! The inertial law is the heavy ball `θ̈ = -φ θ̇ - c g` with the velocity relaxed exactly over
//! each step, whose slow mode is the optimal trajectory ([`super::friction`]). The step `Δt`
//! is the optimizer's learning rate. Named settings (constructors of [`ControlRuleConfig`]):
//!
//! | setting | curvature | law | reduces to |
//! |---|---|---|---|
//! | `gd` | 0 | feedback, `γ = 1` | SGD with learning rate `Δt` |
//! | `natural_gradient` | 0 | feedback, metric `G` | `θ -= Δt G⁻¹ g` |
//! | `sqrt_curvature` | known `h` | feedback, `γ = 0` | `θ -= Δt sqrt(c/h) g` |
//! | `momentum` | assumed `h₀` | inertial | heavy ball, `μ = e^{-φ Δt}` |
//! | `ballistic` | EMA of `g²` | feedback, `γ = 0` | `θ -= Δt sqrt(c) g / sqrt(v + eps)` |
//! | `adaptive` | EMA of `g²` | feedback, `γ > 0` | SGD (`v → 0`) ... ballistic (`γ → 0`) |
//!
//! plus `with_decay(j)` (imposed weight decay, `f = -j θ`, partly resisted by the optimum) and
//! `with_hazard(λ)` (tasks replaced at rate `λ`: weight decay toward the prior mean as the
//! optimal response), and [`ControlRule::respond_to_task_switch`] (the optimal response to a
//! detected switch: relax toward the prior mean, a soft weight reset).
//!
//! The ballistic setting is the official code's "Ballistic" optimizer (eps inside the root, no
//! bias correction, no first moment) with `lr = Δt sqrt(c)`: the square-root-of-curvature rule
//! with the curvature estimated by the gradient's second moment (empirical Fisher), updated
//! with forgetting. That identification of the RMSProp statistic with curvature is this
//! engine's reading of the paper's Bayesian argument (the spec marks it RECONSTRUCTED).

use gradus_core::validate::{non_negative, positive, same_len, unit_interval_open_right};
use gradus_core::{Error, Layout, Par, Result};
use gradus_kernels::chunk::for_each_chunk;
use gradus_kernels::{SimdFloat, grad_stats, norm2};
use serde::{Deserialize, Serialize};

use super::feedback::{feedback, friction};
use super::kernel::{AdaptiveConsts, adaptive_pass};
use crate::optimizer::{Optimizer, StepInfo};
use crate::state::{BufferData, NamedBuffer, OptimizerState, SCHEMA_VERSION};

/// What the rule knows about the curvature of each coordinate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Curvature {
    /// One assumed curvature `h₀ >= 0` for every coordinate; `0` gives gradient descent.
    Scale(f64),
    /// Known diagonal curvature, one `h_i >= 0` per parameter.
    Diagonal(Vec<f64>),
    /// Inferred online: `v ← β₂ v + (1 - β₂) g²`, `h = v + eps` (the second moment of the
    /// gradient as a curvature estimate, forgotten at rate `1 - β₂`).
    GradSquareEma {
        /// Forgetting factor in `[0, 1)`.
        beta2: f64,
        /// Floor `> 0` added to the estimate.
        eps: f64,
    },
}

/// First-order feedback or second-order (momentum) realisation of the optimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Law {
    /// `θ̇ = -α g - β θ`.
    Feedback,
    /// `θ̈ = -φ θ̇ - c g` (no imposed decay, no hazard).
    Inertial,
}

/// Hyperparameters of a [`ControlRule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlRuleConfig {
    /// Time step `Δt > 0` (the learning rate a schedule scales).
    pub lr: f64,
    /// Inverse cost of motion `η > 0`.
    pub eta: f64,
    /// Weight of the loss `k > 0`.
    pub k: f64,
    /// Discount rate `γ >= 0`.
    pub gamma: f64,
    /// Imposed decay `j >= 0`: default dynamics `f(θ) = -j θ`.
    pub decay: f64,
    /// Task-switch rate `λ >= 0` (prior mean of a fresh task's minimum: 0).
    pub hazard: f64,
    /// Diagonal metric `G` (`None`: identity), one `G_i > 0` per parameter.
    pub metric: Option<Vec<f64>>,
    /// The curvature the law uses.
    pub curvature: Curvature,
    /// Feedback or inertial law.
    pub law: Law,
    /// Rescale the gradient to this global Euclidean norm when it is larger.
    pub max_grad_norm: Option<f64>,
    /// Parallelism of the update pass.
    pub par: Par,
}

impl ControlRuleConfig {
    /// Gradient descent: zero curvature, `η = k = γ = 1`, so `α = 1` and `θ -= Δt g`.
    pub fn gd(lr: f64) -> Self {
        ControlRuleConfig {
            lr,
            eta: 1.0,
            k: 1.0,
            gamma: 1.0,
            decay: 0.0,
            hazard: 0.0,
            metric: None,
            curvature: Curvature::Scale(0.0),
            law: Law::Feedback,
            max_grad_norm: None,
            par: Par::Rayon,
        }
    }

    /// Natural (diagonally preconditioned) gradient descent: `θ -= Δt G⁻¹ g`.
    pub fn natural_gradient(lr: f64, metric: Vec<f64>) -> Self {
        ControlRuleConfig { metric: Some(metric), ..Self::gd(lr) }
    }

    /// The long-horizon rule with known curvature: `γ = 0`, `θ -= Δt sqrt(η k / h) g`.
    pub fn sqrt_curvature(lr: f64, curvature: Vec<f64>) -> Self {
        ControlRuleConfig { gamma: 0.0, curvature: Curvature::Diagonal(curvature), ..Self::gd(lr) }
    }

    /// The general feedback law with discount `gamma` and the given curvature.
    pub fn discounted(lr: f64, gamma: f64, curvature: Curvature) -> Self {
        ControlRuleConfig { gamma, curvature, ..Self::gd(lr) }
    }

    /// Momentum: the inertial law tuned to curvature `h0` (critically damped at `γ = 0`).
    pub fn momentum(lr: f64, gamma: f64, h0: f64) -> Self {
        ControlRuleConfig {
            gamma,
            curvature: Curvature::Scale(h0),
            law: Law::Inertial,
            ..Self::gd(lr)
        }
    }

    /// The ballistic rule of the official code: `γ = 0`, curvature from the EMA of `g²`.
    pub fn ballistic(lr: f64, beta2: f64, eps: f64) -> Self {
        Self::adaptive(lr, 0.0, beta2, eps)
    }

    /// The feedback law with discount `gamma` and curvature inferred online.
    pub fn adaptive(lr: f64, gamma: f64, beta2: f64, eps: f64) -> Self {
        ControlRuleConfig {
            gamma,
            curvature: Curvature::GradSquareEma { beta2, eps },
            ..Self::gd(lr)
        }
    }

    /// The same rule under imposed weight decay `f(θ) = -j θ`.
    pub fn with_decay(mut self, j: f64) -> Self {
        self.decay = j;
        self
    }

    /// The same rule for tasks replaced at rate `hazard`.
    pub fn with_hazard(mut self, hazard: f64) -> Self {
        self.hazard = hazard;
        self
    }

    /// The same rule with global-norm gradient clipping.
    pub fn with_clipping(mut self, max_grad_norm: f64) -> Self {
        self.max_grad_norm = Some(max_grad_norm);
        self
    }

    /// Checks every field against `n` parameters; the error names the first invalid one.
    pub fn validate(&self, n: usize) -> Result<()> {
        positive("lr", self.lr)?;
        positive("eta", self.eta)?;
        positive("k", self.k)?;
        non_negative("gamma", self.gamma)?;
        non_negative("decay", self.decay)?;
        non_negative("hazard", self.hazard)?;
        if let Some(g) = &self.metric {
            same_len("metric", n, g.len())?;
            if let Some(&bad) = g.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
                return Err(Error::hyper("metric", bad, "entries must be finite and > 0"));
            }
        }
        let zero_curvature = match &self.curvature {
            Curvature::Scale(h) => {
                non_negative("curvature", *h)?;
                *h == 0.0
            }
            Curvature::Diagonal(h) => {
                same_len("curvature", n, h.len())?;
                if let Some(&bad) = h.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                    return Err(Error::hyper("curvature", bad, "entries must be finite and >= 0"));
                }
                h.contains(&0.0)
            }
            Curvature::GradSquareEma { beta2, eps } => {
                unit_interval_open_right("beta2", *beta2)?;
                positive("eps", *eps)?;
                false
            }
        };
        if let Some(c) = self.max_grad_norm {
            positive("max_grad_norm", c)?;
        }
        match self.law {
            Law::Feedback if zero_curvature && self.gamma + self.decay + self.hazard == 0.0 => {
                Err(Error::hyper(
                    "gamma",
                    self.gamma,
                    "with zero curvature, gamma, decay and hazard cannot all be 0 (the optimal \
                     gain is infinite)",
                ))
            }
            Law::Inertial if self.decay != 0.0 || self.hazard != 0.0 => Err(Error::Unsupported(
                "the inertial law is derived without imposed decay or task hazard".into(),
            )),
            Law::Inertial if zero_curvature && self.gamma == 0.0 => Err(Error::hyper(
                "gamma",
                self.gamma,
                "the inertial law with zero curvature needs gamma > 0 (zero friction)",
            )),
            _ => Ok(()),
        }
    }

    /// What determines the shape of the state: the law and whether curvature is inferred.
    fn state_key(&self) -> String {
        let adaptive = matches!(self.curvature, Curvature::GradSquareEma { .. });
        format!("law={:?};inferred curvature={adaptive}", self.law)
    }
}

/// The control-derived learning rule (module docs), allocation-free per step.
#[derive(Debug, Clone)]
pub struct ControlRule<T: SimdFloat> {
    name: String,
    cfg: ControlRuleConfig,
    layout: Layout,
    t: u64,
    /// EMA of squared gradients (inferred curvature only).
    v: Vec<T>,
    /// Velocity EMA (inertial law only).
    m: Vec<T>,
    /// Per-coordinate coefficients, when the metric or the curvature varies by coordinate:
    /// the authority `c_i` (inferred curvature), or `(α_i, β_i)` (feedback) / `(φ_i, c_i/φ_i)`
    /// (inertial) for known curvature. Empty when uniform.
    coef_a: Vec<T>,
    coef_b: Vec<T>,
}

/// Constants of one step, folded from the configuration.
#[derive(Clone, Copy)]
struct Consts<T> {
    dt: T,
    g_scale: T,
    c: T,
    gamma: T,
    /// `j + γ/2`.
    shift: T,
    decay: T,
    hazard: T,
    /// `j (γ + λ + j)`.
    decay_term: T,
    beta2: T,
    eps: T,
    sqrt_c: T,
}

impl<T: SimdFloat> Consts<T> {
    fn adaptive(&self) -> AdaptiveConsts<T> {
        AdaptiveConsts {
            dt: self.dt,
            g_scale: self.g_scale,
            beta2: self.beta2,
            one_minus_beta2: T::ONE - self.beta2,
            eps: self.eps,
            c: self.c,
            dt_sqrt_c: self.dt * self.sqrt_c,
            shift: self.shift,
            rate_sum: self.gamma + self.hazard + self.decay,
            hazard: self.hazard,
            decay_term: self.decay_term,
        }
    }
}

impl<T: SimdFloat> ControlRule<T> {
    /// A rule called `name` with configuration `cfg` over `layout`. Errors name the first
    /// invalid hyperparameter.
    pub fn new(name: &str, cfg: ControlRuleConfig, layout: Layout) -> Result<Self> {
        if layout.is_empty() {
            return Err(Error::InvalidShape { what: "layout", detail: "no parameters".into() });
        }
        let n = layout.len();
        cfg.validate(n)?;
        let mut rule = ControlRule {
            name: name.to_string(),
            v: if matches!(cfg.curvature, Curvature::GradSquareEma { .. }) {
                vec![T::ZERO; n]
            } else {
                Vec::new()
            },
            m: if cfg.law == Law::Inertial { vec![T::ZERO; n] } else { Vec::new() },
            cfg,
            layout,
            t: 0,
            coef_a: Vec::new(),
            coef_b: Vec::new(),
        };
        rule.refresh_coefficients();
        Ok(rule)
    }

    /// Gradient descent with learning rate `lr`.
    pub fn gd(layout: Layout, lr: f64) -> Result<Self> {
        Self::new("control-gd", ControlRuleConfig::gd(lr), layout)
    }

    /// The official code's ballistic rule: `θ -= lr g / sqrt(v + eps)`.
    pub fn ballistic(layout: Layout, lr: f64, beta2: f64, eps: f64) -> Result<Self> {
        Self::new("ballistic", ControlRuleConfig::ballistic(lr, beta2, eps), layout)
    }

    /// Momentum tuned to curvature `h0` with discount `gamma`.
    pub fn momentum(layout: Layout, lr: f64, gamma: f64, h0: f64) -> Result<Self> {
        Self::new("control-momentum", ControlRuleConfig::momentum(lr, gamma, h0), layout)
    }

    /// The configuration.
    pub fn config(&self) -> &ControlRuleConfig {
        &self.cfg
    }

    /// Replaces the hyperparameters between steps; the law and whether curvature is inferred
    /// cannot change. On error nothing changes.
    pub fn set_config(&mut self, cfg: ControlRuleConfig) -> Result<()> {
        cfg.validate(self.layout.len())?;
        if cfg.state_key() != self.cfg.state_key() {
            return Err(Error::mismatch(
                "state-shaping configuration",
                self.cfg.state_key(),
                cfg.state_key(),
            ));
        }
        self.cfg = cfg;
        self.refresh_coefficients();
        Ok(())
    }

    /// Authority `c_i = η k / G_i` of coordinate `i`.
    fn authority(&self, i: usize) -> f64 {
        let c = self.cfg.eta * self.cfg.k;
        self.cfg.metric.as_ref().map_or(c, |g| c / g[i])
    }

    /// Fills the per-coordinate coefficients (they do not depend on `Δt`).
    fn refresh_coefficients(&mut self) {
        let n = self.layout.len();
        let cfg = &self.cfg;
        let per_coord = cfg.metric.is_some() || matches!(cfg.curvature, Curvature::Diagonal(_));
        self.coef_a.clear();
        self.coef_b.clear();
        if !per_coord {
            return;
        }
        for i in 0..n {
            let c = self.authority(i);
            let pair = match &self.cfg.curvature {
                Curvature::GradSquareEma { .. } => None,
                Curvature::Scale(h) => Some(self.fixed_pair(c, *h)),
                Curvature::Diagonal(h) => Some(self.fixed_pair(c, h[i])),
            };
            match pair {
                // Inferred curvature needs only the authority; the rest is computed per step.
                None => self.coef_a.push(T::from_f64(c)),
                Some((a, b)) => {
                    self.coef_a.push(T::from_f64(a));
                    self.coef_b.push(T::from_f64(b));
                }
            }
        }
    }

    /// `(α, β)` (feedback) or `(φ, c/φ)` (inertial) for authority `c` and curvature `h`.
    fn fixed_pair(&self, c: f64, h: f64) -> (f64, f64) {
        let cfg = &self.cfg;
        match cfg.law {
            Law::Feedback => {
                let f = feedback(c, cfg.gamma, cfg.decay, cfg.hazard, h);
                (f.gain, f.decay)
            }
            Law::Inertial => {
                let phi = friction(c, cfg.gamma, h);
                (phi, c / phi)
            }
        }
    }

    fn consts(&self, clip: f64) -> Consts<T> {
        let cfg = &self.cfg;
        let c = cfg.eta * cfg.k;
        let (beta2, eps) = match cfg.curvature {
            Curvature::GradSquareEma { beta2, eps } => (beta2, eps),
            _ => (0.0, 0.0),
        };
        Consts {
            dt: T::from_f64(cfg.lr),
            g_scale: T::from_f64(clip),
            c: T::from_f64(c),
            gamma: T::from_f64(cfg.gamma),
            shift: T::from_f64(cfg.decay + 0.5 * cfg.gamma),
            decay: T::from_f64(cfg.decay),
            hazard: T::from_f64(cfg.hazard),
            decay_term: T::from_f64(cfg.decay * (cfg.gamma + cfg.hazard + cfg.decay)),
            beta2: T::from_f64(beta2),
            eps: T::from_f64(eps),
            sqrt_c: T::from_f64(c.sqrt()),
        }
    }

    /// The optimal response to a detected task switch when nothing is known yet about the new
    /// task: the belief about its minimum is the prior (mean 0), toward which the optimum
    /// relaxes at the closed-loop rate `r_i`, so after `elapsed` time
    /// `θ_i ← θ_i e^{-r_i elapsed}` (a full weight reset as `elapsed → ∞` or motion becomes
    /// free). The velocity is cleared; the curvature estimate is kept. Errors (nothing
    /// changed) for a wrong length, non-finite parameters or a negative `elapsed`.
    pub fn respond_to_task_switch(&mut self, params: &mut [T], elapsed: f64) -> Result<()> {
        same_len("parameters", self.layout.len(), params.len())?;
        non_negative("elapsed", elapsed)?;
        gradus_core::validate::all_finite("parameters", params)?;
        let cfg = self.cfg.clone();
        for (i, p) in params.iter_mut().enumerate() {
            let c = self.authority(i);
            let h = match &cfg.curvature {
                Curvature::Scale(h) => *h,
                Curvature::Diagonal(h) => h[i],
                Curvature::GradSquareEma { eps, .. } => self.v[i].to_f64() + eps,
            };
            let r = feedback(c, cfg.gamma, cfg.decay, cfg.hazard, h).rate;
            *p = T::from_f64(p.to_f64() * (-r * elapsed).exp());
        }
        self.m.iter_mut().for_each(|m| *m = T::ZERO);
        Ok(())
    }
}

/// Which loop a step runs (chosen once per step, so the loops carry no branches).
#[derive(Clone, Copy)]
enum Mode {
    /// Same `(α, β)` everywhere: `θ ← (1 - Δt β) θ - Δt α g`.
    UniformFeedback,
    /// Per-coordinate `(α_i, β_i)`.
    CoordFeedback,
    /// Inferred curvature, `γ = j = λ = 0`: `θ -= Δt sqrt(c) g / sqrt(v + eps)`.
    Ballistic,
    /// Inferred curvature, general feedback.
    AdaptiveFeedback,
    /// Same `(μ, Δt c/φ)` everywhere.
    UniformInertial,
    /// Per-coordinate `(φ_i, c_i/φ_i)`.
    CoordInertial,
    /// Inferred curvature, inertial.
    AdaptiveInertial,
}

impl<T: SimdFloat> Optimizer<T> for ControlRule<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<StepInfo> {
        let n = self.layout.len();
        same_len("parameters", n, params.len())?;
        same_len("gradient", n, grads.len())?;
        let par = self.cfg.par;
        let stats = grad_stats(par, grads);
        if !stats.all_finite {
            let index = grads.iter().position(|g| !g.is_finite()).unwrap_or(0);
            return Err(Error::NonFinite { what: "gradient", index });
        }
        let grad_norm = if stats.sum_squares.is_finite() {
            stats.sum_squares.to_f64().sqrt()
        } else {
            norm2(par, grads).to_f64()
        };
        let clip = match self.cfg.max_grad_norm {
            Some(c) if grad_norm > c => c / grad_norm,
            _ => 1.0,
        };
        let k = self.consts(clip);
        let cfg = &self.cfg;
        let adaptive = matches!(cfg.curvature, Curvature::GradSquareEma { .. });
        let per_coord = !self.coef_a.is_empty();
        let mode = match (cfg.law, adaptive, per_coord) {
            (Law::Feedback, true, _)
                if cfg.gamma == 0.0 && cfg.decay == 0.0 && cfg.hazard == 0.0 =>
            {
                Mode::Ballistic
            }
            (Law::Feedback, true, _) => Mode::AdaptiveFeedback,
            (Law::Feedback, false, false) => Mode::UniformFeedback,
            (Law::Feedback, false, true) => Mode::CoordFeedback,
            (Law::Inertial, true, _) => Mode::AdaptiveInertial,
            (Law::Inertial, false, false) => Mode::UniformInertial,
            (Law::Inertial, false, true) => Mode::CoordInertial,
        };
        let uniform = match (&cfg.curvature, cfg.law) {
            (Curvature::Scale(h), _) if !per_coord => {
                let (a, b) = self.fixed_pair(cfg.eta * cfg.k, *h);
                (T::from_f64(a), T::from_f64(b))
            }
            _ => (T::ZERO, T::ZERO),
        };
        let lr = cfg.lr;
        // The inertial law relaxes the velocity exactly over a step: μ = e^{-φ Δt}.
        let uniform_mu = T::from_f64((-uniform.0.to_f64() * lr).exp());
        let v = (!self.v.is_empty()).then_some(&mut self.v[..]);
        let m = (!self.m.is_empty()).then_some(&mut self.m[..]);
        let ca = (!self.coef_a.is_empty()).then_some(&self.coef_a[..]);
        let cb = (!self.coef_b.is_empty()).then_some(&self.coef_b[..]);
        let body = |((p, g), (v, m), (ca, cb)): PartsOf<'_, T>| {
            pulp::Arch::new().dispatch(|| {
                update(mode, &k, uniform, uniform_mu, p, g, v, m, ca, cb);
            });
        };
        for_each_chunk(par, n, ((params, grads), (v, m), (ca, cb)), &body);
        self.t += 1;
        Ok(StepInfo::new(self.t, grad_norm, clip, lr))
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        positive("lr", lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.t
    }

    fn state(&self) -> Result<OptimizerState> {
        let mut buffers = Vec::new();
        if !self.v.is_empty() {
            buffers.push(NamedBuffer { name: "v".into(), data: BufferData::from_scalars(&self.v) });
        }
        if !self.m.is_empty() {
            buffers.push(NamedBuffer { name: "m".into(), data: BufferData::from_scalars(&self.m) });
        }
        Ok(OptimizerState {
            schema_version: SCHEMA_VERSION,
            optimizer: self.name.clone(),
            scalar: T::NAME.into(),
            layout: self.layout.clone(),
            step: self.t,
            config: crate::state::config_value(&self.cfg)?,
            buffers,
        })
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_header::<T>(&self.name, &self.layout)?;
        let cfg: ControlRuleConfig = serde_json::from_value(state.config.clone())
            .map_err(|e| Error::corrupt("optimizer configuration", e.to_string()))?;
        cfg.validate(self.layout.len())?;
        if cfg.state_key() != self.cfg.state_key() {
            return Err(Error::mismatch(
                "optimizer configuration",
                self.cfg.state_key(),
                cfg.state_key(),
            ));
        }
        let restore = |name: &'static str, current: &Vec<T>| -> Result<Vec<T>> {
            if current.is_empty() {
                return Ok(Vec::new());
            }
            let data = state.buffer(name)?;
            data.check_finite(name)?;
            let mut out = current.clone();
            data.copy_to(name, &mut out)?;
            Ok(out)
        };
        let v = restore("v", &self.v)?;
        let m = restore("m", &self.m)?;
        let known = |name: &str| (name == "v" && !v.is_empty()) || (name == "m" && !m.is_empty());
        if let Some(extra) = state.buffers.iter().find(|b| !known(&b.name)) {
            return Err(Error::mismatch("buffers", "only the configured v, m", &extra.name));
        }
        (self.cfg, self.t, self.v, self.m) = (cfg, state.step, v, m);
        self.refresh_coefficients();
        Ok(())
    }
}

type PartsOf<'a, T> = (
    (&'a mut [T], &'a [T]),
    (Option<&'a mut [T]>, Option<&'a mut [T]>),
    (Option<&'a [T]>, Option<&'a [T]>),
);

/// One pass over a chunk. The `Option`s are present exactly when `mode` reads them (the
/// constructor allocates them accordingly), so the fallbacks below are never taken.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update<T: SimdFloat>(
    mode: Mode,
    k: &Consts<T>,
    (ua, ub): (T, T),
    uniform_mu: T,
    p: &mut [T],
    g: &[T],
    v: Option<&mut [T]>,
    m: Option<&mut [T]>,
    ca: Option<&[T]>,
    cb: Option<&[T]>,
) {
    let dt = k.dt;
    let gs = k.g_scale;
    let (mut v_own, mut m_own): (&mut [T], &mut [T]) = (&mut [], &mut []);
    if let Some(v) = v {
        v_own = v;
    }
    if let Some(m) = m {
        m_own = m;
    }
    let (ca, cb) = (ca.unwrap_or(&[]), cb.unwrap_or(&[]));
    let one_minus_b2 = T::ONE - k.beta2;
    match mode {
        Mode::UniformFeedback => {
            let (a, b) = (dt * ua * gs, T::ONE - dt * ub);
            for (p, &g) in p.iter_mut().zip(g) {
                *p = (-a).mul_add(g, b * *p);
            }
        }
        Mode::CoordFeedback => {
            for i in 0..p.len() {
                let b = (-dt).mul_add(cb[i], T::ONE);
                p[i] = (-(dt * ca[i] * gs)).mul_add(g[i], b * p[i]);
            }
        }
        Mode::Ballistic | Mode::AdaptiveFeedback => {
            let general = matches!(mode, Mode::AdaptiveFeedback);
            let c = (!ca.is_empty()).then_some(ca);
            adaptive_pass(&k.adaptive(), general, p, g, v_own, c);
        }
        Mode::UniformInertial => {
            let mu = uniform_mu;
            let lr = dt * ub;
            for i in 0..p.len() {
                let mi = mu.mul_add(m_own[i], (T::ONE - mu) * gs * g[i]);
                m_own[i] = mi;
                p[i] = (-lr).mul_add(mi, p[i]);
            }
        }
        Mode::CoordInertial => {
            for i in 0..p.len() {
                let mu = (-(ca[i] * dt)).exp();
                let mi = mu.mul_add(m_own[i], (T::ONE - mu) * gs * g[i]);
                m_own[i] = mi;
                p[i] = (-(dt * cb[i])).mul_add(mi, p[i]);
            }
        }
        Mode::AdaptiveInertial => {
            let four = T::from_f64(4.0);
            for i in 0..p.len() {
                let gi = gs * g[i];
                let vi = k.beta2.mul_add(v_own[i], one_minus_b2 * gi * gi);
                v_own[i] = vi;
                let c = if ca.is_empty() { k.c } else { ca[i] };
                let phi = (four * c).mul_add(vi + k.eps, k.gamma * k.gamma).sqrt();
                let mu = (-(phi * dt)).exp();
                let mi = mu.mul_add(m_own[i], (T::ONE - mu) * gi);
                m_own[i] = mi;
                p[i] = (-(dt * c / phi)).mul_add(mi, p[i]);
            }
        }
    }
}
