//! Configuration of the unified adaptive gradient method (paper 01, "unified AGM form"):
//! ```text
//! m_t = beta1 m_{t-1} + (1 - beta1) g_t          momentum
//! V_t = beta2 V_{t-1} + (1 - beta2) Psi(g_t)     statistic, one value per partition block
//! P_t = (V_t + eps)^(-E)  or  1 / (V_t^E + eps)   preconditioner
//! theta_{t+1} = theta_t - eta P_t m_t
//! ```
//! Every named optimizer is a point in this space; see the constructors on [`crate::Agm`].

use gradus_core::validate::{non_negative, positive, unit_interval_open_right};
use gradus_core::{Error, Par, Result};
use serde::{Deserialize, Serialize};

/// How gradients are averaged over time before the preconditioner is applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Momentum {
    /// Use the (preconditioned) gradient directly.
    None,
    /// Adam's exponential moving average `m = beta1 m + (1 - beta1) g`, applied *before* the
    /// preconditioner (paper 01's form).
    Ema { beta1: f64 },
    /// PyTorch SGD's buffer `b = mu b + (1 - dampening) x`, optionally with the Nesterov
    /// look-ahead `x + mu b`, where `x` is the *preconditioned* gradient (for SGD, `P = I`;
    /// for RMSProp this is PyTorch's ordering). The buffer starts at zero.
    HeavyBall { mu: f64, dampening: f64, nesterov: bool },
}

/// Which coordinates share one second-moment statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Partition {
    /// One statistic per coordinate (Adam, RMSProp, Adagrad).
    Coordinates,
    /// One per block of the [`gradus_core::Layout`] (Adam-mini).
    LayoutBlocks,
    /// One per layout block, except the named matrix blocks, which get one per row
    /// (Adalayer: the last layer per output row).
    LayoutBlocksWithRows { row_blocks: Vec<String> },
    /// One statistic for all parameters (global-scalar RMSProp).
    Global,
}

/// The second-moment statistic `V` and how it is built from gradients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Statistic {
    /// No statistic: `P = I` (SGD).
    None,
    /// Exponential moving average of mean squared gradients per partition block.
    Ema { beta2: f64, partition: Partition },
    /// Running sum of mean squared gradients per partition block (Adagrad), starting at
    /// `initial`.
    Sum { initial: f64, partition: Partition },
}

impl Statistic {
    /// The partition, if there is a statistic.
    pub fn partition(&self) -> Option<&Partition> {
        match self {
            Statistic::None => None,
            Statistic::Ema { partition, .. } | Statistic::Sum { partition, .. } => Some(partition),
        }
    }
}

/// Where epsilon enters the preconditioner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EpsPlacement {
    /// `P = 1 / (V^E + eps)`: PyTorch's Adam/RMSProp/Adagrad.
    Outside,
    /// `P = (V + eps)^(-E)`: the form of paper 01 (and of AdamE).
    Inside,
}

/// Storage format of optimizer moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatePrecision {
    /// Same type as the parameters.
    Full,
    /// bfloat16 moments rounded to nearest (f32 parameters and the Adam family only); see
    /// [`gradus_kernels::bf16`] for the precision trade-off (updates below half a bf16 ulp
    /// are lost).
    Bf16,
    /// bfloat16 moments with stochastic rounding: unbiased, so small updates accumulate in
    /// expectation. The random bits are a hash of the step, the layout block and the element
    /// position: runs are reproducible and independent of the thread count.
    Bf16Stochastic,
}

impl StatePrecision {
    /// Whether moments are stored as bf16.
    pub fn is_bf16(self) -> bool {
        !matches!(self, StatePrecision::Full)
    }
}

/// Weight decay: coupled (added to the gradient as `wd * p`) or decoupled (`p *= 1 - lr wd`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightDecay {
    /// Coefficient `wd >= 0`.
    pub coefficient: f64,
    /// Decoupled (AdamW, Loshchilov & Hutter 2019) when true.
    pub decoupled: bool,
}

/// Full configuration of an [`crate::Agm`].
///
/// Non-exhaustive, so that adding a field is not a breaking change: start from a named
/// constructor ([`AgmConfig::sgd`], [`AgmConfig::adam`], [`AgmConfig::rmsprop`],
/// [`AgmConfig::adagrad`]) and change fields with the `with_*` setters (or by assigning the
/// public fields), e.g. `AgmConfig::adam(1e-3).with_amsgrad(true).with_max_grad_norm(1.0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AgmConfig {
    /// Learning rate `eta > 0` (the schedule's base value).
    pub lr: f64,
    /// Momentum rule.
    pub momentum: Momentum,
    /// Second-moment statistic.
    pub statistic: Statistic,
    /// Preconditioner exponent `E` in `[0, 1]`: `1/2` is Adam, `0` is SGD with momentum
    /// (paper 01's AdamE hypothesis).
    pub exponent: f64,
    /// Epsilon `> 0`.
    pub eps: f64,
    /// Placement of epsilon.
    pub eps_placement: EpsPlacement,
    /// Divide `m` by `1 - beta1^t` and `V` by `1 - beta2^t` (Ema statistic/momentum only).
    pub bias_correction: bool,
    /// Use the running maximum of `V` (AMSGrad, Reddi et al. 2018).
    pub amsgrad: bool,
    /// Subtract the squared running mean of gradients from `V` (centered RMSProp). Needs a
    /// coordinate-wise Ema statistic.
    pub centered: bool,
    /// Weight decay.
    pub weight_decay: WeightDecay,
    /// Learning-rate decay of Adagrad: `lr_t = lr / (1 + (t - 1) lr_decay)`.
    pub lr_decay: f64,
    /// Rescale the gradient to this global Euclidean norm when it is larger.
    pub max_grad_norm: Option<f64>,
    /// Storage of the moments.
    pub precision: StatePrecision,
    /// Read the gradient once before updating, to reject NaN/Inf gradients with the state
    /// untouched (default). Turning it off saves that read (about 4 of 32 bytes per parameter
    /// for f32 Adam) but a non-finite gradient then corrupts parameters and state: only for
    /// callers that validate gradients themselves. Clipping always reads the gradient first.
    #[serde(default = "default_true")]
    pub check_finite: bool,
    /// Parallelism of the kernels.
    pub par: Par,
}

fn default_true() -> bool {
    true
}

impl AgmConfig {
    /// The plain-SGD point of the space: `P = I`, no momentum, no decay.
    pub fn sgd(lr: f64) -> Self {
        AgmConfig {
            lr,
            momentum: Momentum::None,
            statistic: Statistic::None,
            exponent: 0.5,
            eps: 1e-8,
            eps_placement: EpsPlacement::Outside,
            bias_correction: false,
            amsgrad: false,
            centered: false,
            weight_decay: WeightDecay { coefficient: 0.0, decoupled: false },
            lr_decay: 0.0,
            max_grad_norm: None,
            precision: StatePrecision::Full,
            check_finite: true,
            par: Par::Rayon,
        }
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        positive("lr", self.lr)?;
        match self.momentum {
            Momentum::None => {}
            Momentum::Ema { beta1 } => unit_interval_open_right("beta1", beta1)?,
            Momentum::HeavyBall { mu, dampening, nesterov } => {
                unit_interval_open_right("momentum", mu)?;
                if !(0.0..=1.0).contains(&dampening) {
                    return Err(Error::hyper("dampening", dampening, "must lie in [0, 1]"));
                }
                if nesterov && (mu == 0.0 || dampening != 0.0) {
                    return Err(Error::hyper(
                        "nesterov",
                        mu,
                        "Nesterov momentum needs momentum > 0 and dampening = 0",
                    ));
                }
            }
        }
        match &self.statistic {
            Statistic::None => {
                if self.amsgrad || self.centered {
                    return Err(Error::Unsupported(
                        "amsgrad and centered need a second-moment statistic".into(),
                    ));
                }
            }
            Statistic::Ema { beta2, partition } => {
                unit_interval_open_right("beta2", *beta2)?;
                if self.centered && *partition != Partition::Coordinates {
                    return Err(Error::Unsupported(
                        "centered needs a coordinate-wise statistic".into(),
                    ));
                }
            }
            Statistic::Sum { initial, .. } => {
                non_negative("initial_accumulator", *initial)?;
                if self.centered {
                    return Err(Error::Unsupported("centered needs an Ema statistic".into()));
                }
            }
        }
        if !(0.0..=1.0).contains(&self.exponent) {
            return Err(Error::hyper("exponent", self.exponent, "must lie in [0, 1]"));
        }
        positive("eps", self.eps)?;
        non_negative("weight_decay", self.weight_decay.coefficient)?;
        non_negative("lr_decay", self.lr_decay)?;
        if let Some(c) = self.max_grad_norm {
            positive("max_grad_norm", c)?;
        }
        Ok(())
    }

    /// A description of everything that determines the *shape* of the optimizer state.
    /// Two configs with the same key can exchange states; changing any of these fields
    /// between steps is refused.
    pub fn state_key(&self) -> String {
        let momentum = match self.momentum {
            Momentum::None => "none",
            Momentum::Ema { .. } => "ema",
            Momentum::HeavyBall { .. } => "heavy-ball",
        };
        let statistic = match &self.statistic {
            Statistic::None => "none".to_string(),
            Statistic::Ema { partition, .. } => format!("ema/{partition:?}"),
            Statistic::Sum { partition, .. } => format!("sum/{partition:?}"),
        };
        format!(
            "momentum={momentum};statistic={statistic};amsgrad={};centered={};precision={:?}",
            self.amsgrad, self.centered, self.precision
        )
    }
}

impl AgmConfig {
    /// Sets `lr` (learning rate).
    #[must_use]
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Sets `momentum` (momentum rule).
    #[must_use]
    pub fn with_momentum(mut self, momentum: Momentum) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets `statistic` (second-moment statistic).
    #[must_use]
    pub fn with_statistic(mut self, statistic: Statistic) -> Self {
        self.statistic = statistic;
        self
    }

    /// Sets `exponent` (preconditioner exponent).
    #[must_use]
    pub fn with_exponent(mut self, exponent: f64) -> Self {
        self.exponent = exponent;
        self
    }

    /// Sets `eps` (epsilon).
    #[must_use]
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets `eps_placement` (placement of epsilon).
    #[must_use]
    pub fn with_eps_placement(mut self, eps_placement: EpsPlacement) -> Self {
        self.eps_placement = eps_placement;
        self
    }

    /// Sets `bias_correction` (bias correction).
    #[must_use]
    pub fn with_bias_correction(mut self, bias_correction: bool) -> Self {
        self.bias_correction = bias_correction;
        self
    }

    /// Sets `amsgrad` (AMSGrad running maximum).
    #[must_use]
    pub fn with_amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// Sets `centered` (centered second moment).
    #[must_use]
    pub fn with_centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }

    /// Sets `weight_decay` (weight decay).
    #[must_use]
    pub fn with_weight_decay(mut self, weight_decay: WeightDecay) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets `lr_decay` (Adagrad learning-rate decay).
    #[must_use]
    pub fn with_lr_decay(mut self, lr_decay: f64) -> Self {
        self.lr_decay = lr_decay;
        self
    }

    /// Sets `max_grad_norm` (global-norm clipping); takes a value or `None`.
    #[must_use]
    pub fn with_max_grad_norm(mut self, max_grad_norm: impl Into<Option<f64>>) -> Self {
        self.max_grad_norm = max_grad_norm.into();
        self
    }

    /// Sets `precision` (moment storage).
    #[must_use]
    pub fn with_precision(mut self, precision: StatePrecision) -> Self {
        self.precision = precision;
        self
    }

    /// Sets `check_finite` (gradient finiteness check).
    #[must_use]
    pub fn with_check_finite(mut self, check_finite: bool) -> Self {
        self.check_finite = check_finite;
        self
    }

    /// Sets `par` (kernel parallelism).
    #[must_use]
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }
}
