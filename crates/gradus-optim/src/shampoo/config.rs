//! Shampoo configuration (Gupta, Koren & Singer 2018; the distributed variant's knobs).

use gradus_core::validate::{non_negative, positive, unit_interval_open_right};
use gradus_core::{Error, Par, Result};
use gradus_linalg::RootMethod;
use serde::{Deserialize, Serialize};

/// Where the step *size* comes from (grafting, Agarwal et al. 2020): Shampoo's direction is
/// rescaled per block to the norm of this method's direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Grafting {
    /// Use Shampoo's direction as is.
    None,
    /// The gradient's norm.
    Sgd,
    /// Adagrad: `g / (sqrt(sum g^2) + eps)`.
    Adagrad,
    /// RMSProp: `g / (sqrt(v) + eps)`, `v = beta2 v + (1 - beta2) g^2`.
    RmsProp { beta2: f64 },
    /// RMSProp with bias correction of `v` (Adam's second moment).
    Adam { beta2: f64 },
}

/// Shampoo hyperparameters.
///
/// Non-exhaustive, so that adding a field is not a breaking change: start from
/// [`ShampooConfig::new`] and change fields with the `with_*` setters (or by assigning the
/// public fields), e.g. `ShampooConfig::new(0.1).with_momentum(0.9)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShampooConfig {
    /// Learning rate `> 0`.
    pub lr: f64,
    /// Statistics `L <- beta2 L + (1 - beta2) G G^T`; `1` means the running sum `L += G G^T`.
    pub beta2: f64,
    /// Added to the statistics' diagonal before the root.
    pub epsilon: f64,
    /// Root order `p` of `L^{-1/p}`, `R^{-1/p}` (4 for matrices, as in the paper).
    pub root: u32,
    /// Recompute the roots every this many steps (`>= 1`).
    pub precondition_frequency: u64,
    /// Use the graft direction alone before this step.
    pub start_preconditioning_step: u64,
    /// Split matrix dimensions larger than this into blocks of at most this size.
    pub max_preconditioner_dim: usize,
    /// Matrix blocks with a side below this, and all vector blocks, use the graft method only.
    pub min_preconditioner_dim: usize,
    /// Step-size source.
    pub grafting: Grafting,
    /// Epsilon of the graft method's denominator.
    pub graft_epsilon: f64,
    /// Heavy-ball momentum on the final direction, `[0, 1)`.
    pub momentum: f64,
    /// Decoupled weight decay `p <- (1 - lr wd) p`.
    pub weight_decay: f64,
    /// Root algorithm.
    pub root_method: RootMethod,
    /// Parallelism across preconditioner blocks when recomputing roots.
    pub par: Par,
}

impl ShampooConfig {
    /// Defaults close to distributed Shampoo's: EMA statistics with `beta2 = 0.999`,
    /// `epsilon = 1e-12`, 4th roots every 10 steps from step 1, blocks of at most 1024, Adam
    /// grafting, no momentum.
    pub fn new(lr: f64) -> Self {
        ShampooConfig {
            lr,
            beta2: 0.999,
            epsilon: 1e-12,
            root: 4,
            precondition_frequency: 10,
            start_preconditioning_step: 1,
            max_preconditioner_dim: 1024,
            min_preconditioner_dim: 2,
            grafting: Grafting::Adam { beta2: 0.999 },
            graft_epsilon: 1e-8,
            momentum: 0.0,
            weight_decay: 0.0,
            root_method: RootMethod::Eigh,
            par: Par::Rayon,
        }
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        positive("lr", self.lr)?;
        if !(self.beta2 > 0.0 && self.beta2 <= 1.0) {
            return Err(Error::hyper("beta2", self.beta2, "must lie in (0, 1]"));
        }
        non_negative("epsilon", self.epsilon)?;
        if self.root == 0 {
            return Err(Error::hyper("root", 0.0, "must be >= 1"));
        }
        if self.precondition_frequency == 0 {
            return Err(Error::hyper("precondition_frequency", 0.0, "must be >= 1"));
        }
        if self.max_preconditioner_dim == 0 {
            return Err(Error::hyper("max_preconditioner_dim", 0.0, "must be >= 1"));
        }
        match self.grafting {
            Grafting::RmsProp { beta2 } | Grafting::Adam { beta2 } => {
                unit_interval_open_right("graft beta2", beta2)?
            }
            _ => {}
        }
        positive("graft_epsilon", self.graft_epsilon)?;
        unit_interval_open_right("momentum", self.momentum)?;
        non_negative("weight_decay", self.weight_decay)?;
        Ok(())
    }

    /// Fields that shape the state; they cannot change between steps or across a load.
    pub(crate) fn state_key(&self) -> String {
        let graft = match self.grafting {
            Grafting::None => "none",
            Grafting::Sgd => "sgd",
            Grafting::Adagrad => "adagrad",
            Grafting::RmsProp { .. } => "rmsprop",
            Grafting::Adam { .. } => "adam",
        };
        format!(
            "max_dim={};min_dim={};graft={graft};momentum={}",
            self.max_preconditioner_dim,
            self.min_preconditioner_dim,
            self.momentum > 0.0
        )
    }
}

impl ShampooConfig {
    /// Sets `lr` (learning rate).
    #[must_use]
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Sets `beta2` (statistics decay, 1 for the running sum).
    #[must_use]
    pub fn with_beta2(mut self, beta2: f64) -> Self {
        self.beta2 = beta2;
        self
    }

    /// Sets `epsilon` (diagonal added before the root).
    #[must_use]
    pub fn with_epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Sets `root` (root order).
    #[must_use]
    pub fn with_root(mut self, root: u32) -> Self {
        self.root = root;
        self
    }

    /// Sets `precondition_frequency` (steps between root recomputations).
    #[must_use]
    pub fn with_precondition_frequency(mut self, precondition_frequency: u64) -> Self {
        self.precondition_frequency = precondition_frequency;
        self
    }

    /// Sets `start_preconditioning_step` (first preconditioned step).
    #[must_use]
    pub fn with_start_preconditioning_step(mut self, start_preconditioning_step: u64) -> Self {
        self.start_preconditioning_step = start_preconditioning_step;
        self
    }

    /// Sets `max_preconditioner_dim` (largest block side).
    #[must_use]
    pub fn with_max_preconditioner_dim(mut self, max_preconditioner_dim: usize) -> Self {
        self.max_preconditioner_dim = max_preconditioner_dim;
        self
    }

    /// Sets `min_preconditioner_dim` (smallest preconditioned block side).
    #[must_use]
    pub fn with_min_preconditioner_dim(mut self, min_preconditioner_dim: usize) -> Self {
        self.min_preconditioner_dim = min_preconditioner_dim;
        self
    }

    /// Sets `grafting` (step-size source).
    #[must_use]
    pub fn with_grafting(mut self, grafting: Grafting) -> Self {
        self.grafting = grafting;
        self
    }

    /// Sets `graft_epsilon` (epsilon of the graft method).
    #[must_use]
    pub fn with_graft_epsilon(mut self, graft_epsilon: f64) -> Self {
        self.graft_epsilon = graft_epsilon;
        self
    }

    /// Sets `momentum` (heavy-ball momentum).
    #[must_use]
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets `weight_decay` (decoupled weight decay).
    #[must_use]
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets `root_method` (root algorithm).
    #[must_use]
    pub fn with_root_method(mut self, root_method: RootMethod) -> Self {
        self.root_method = root_method;
        self
    }

    /// Sets `par` (parallelism across blocks).
    #[must_use]
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }
}
