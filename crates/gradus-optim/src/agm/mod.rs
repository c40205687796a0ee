//! [`Agm`]: the unified adaptive gradient method of paper 01, and with it SGD, momentum,
//! Nesterov, Adam, AdamW, AMSGrad, RMSProp (centered), Adagrad, Adam-mini, Adalayer and AdamE.
//!
//! The meaning of every configuration is the scalar [`generic`] path, written straight from
//! the recursion in [`crate::config`]. Configurations that match a fused SIMD kernel take the
//! [`fused`] path instead; tests prove the two agree.

mod fused;
mod generic;
mod moment;

use gradus_core::validate::same_len;
use gradus_core::{Error, Layout, Result};
use gradus_kernels::{SimdFloat, grad_stats, norm2};

use crate::config::{AgmConfig, EpsPlacement, Momentum, Partition, Statistic, WeightDecay};
use crate::optimizer::{Optimizer, StepInfo};
use crate::partition::{BlockPartition, resolve};
use crate::state::{NamedBuffer, OptimizerState, SCHEMA_VERSION};
use moment::Moment;

/// The unified adaptive gradient method `theta -= eta P(V) m` (paper 01), allocation-free per
/// step.
#[derive(Debug, Clone)]
pub struct Agm<T: SimdFloat> {
    name: String,
    cfg: AgmConfig,
    layout: Layout,
    blocks: Option<BlockPartition>,
    t: u64,
    /// Momentum buffer (Ema or heavy ball), one per coordinate.
    m: Moment<T>,
    /// Second-moment statistic, one per coordinate or per partition block.
    v: Moment<T>,
    /// AMSGrad running maximum of `v`.
    vmax: Moment<T>,
    /// Running mean of gradients (centered RMSProp).
    avg: Vec<T>,
    /// Per-partition-block scratch (block means, then block preconditioners).
    scratch: Vec<T>,
    reference_only: bool,
}

/// Per-step values shared by the update paths.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepCtx<T> {
    /// Index of the step being taken (1-based).
    pub t: u64,
    /// Gradient multiplier from clipping.
    pub g_scale: T,
}

/// Learning rate, decoupled decay factor and coupled L2 coefficient of one layout block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockHyper {
    pub lr: f64,
    pub decay: f64,
    pub l2: f64,
}

impl<T: SimdFloat> Agm<T> {
    /// An optimizer called `name` with configuration `cfg` over `layout`.
    ///
    /// Errors name the first invalid hyperparameter, or the unsupported combination (bf16
    /// state needs `f32` parameters and an Adam-family configuration).
    pub fn new(name: &str, cfg: AgmConfig, layout: Layout) -> Result<Self> {
        cfg.validate()?;
        if layout.is_empty() {
            return Err(Error::InvalidShape { what: "layout", detail: "no parameters".into() });
        }
        let blocks = match cfg.statistic.partition() {
            Some(p) => resolve(p, &layout)?,
            None => None,
        };
        let n = layout.len();
        let bf16 = cfg.precision.is_bf16();
        if bf16 {
            let adam_family = matches!(cfg.momentum, Momentum::Ema { .. })
                && matches!(
                    cfg.statistic,
                    Statistic::Ema { partition: Partition::Coordinates, .. }
                )
                && !cfg.centered;
            if T::as_f32_slice(&[T::ZERO]).is_none() || !adam_family {
                return Err(Error::Unsupported(
                    "bf16 state needs f32 parameters, Ema momentum and a coordinate-wise Ema \
                     statistic (Adam, AdamW, AMSGrad, AdamE)"
                        .into(),
                ));
            }
        }
        let coord_moment = |value: f64| {
            if bf16 {
                Moment::bf16(&layout, value as f32)
            } else {
                Moment::full(n, T::from_f64(value))
            }
        };
        let m = match cfg.momentum {
            Momentum::None => Moment::empty(),
            _ => coord_moment(0.0),
        };
        let stat_len = blocks.as_ref().map_or(n, |b| b.len());
        let (v, initial) = match &cfg.statistic {
            Statistic::None => (Moment::empty(), 0.0),
            Statistic::Ema { .. } => (coord_or_block(&blocks, stat_len, 0.0, coord_moment), 0.0),
            Statistic::Sum { initial, .. } => {
                (coord_or_block(&blocks, stat_len, *initial, coord_moment), *initial)
            }
        };
        let vmax = if cfg.amsgrad {
            coord_or_block(&blocks, stat_len, initial, coord_moment)
        } else {
            Moment::empty()
        };
        let avg = if cfg.centered { vec![T::ZERO; n] } else { Vec::new() };
        let scratch = vec![T::ZERO; blocks.as_ref().map_or(0, |b| b.len())];
        Ok(Agm {
            name: name.to_string(),
            cfg,
            layout,
            blocks,
            t: 0,
            m,
            v,
            vmax,
            avg,
            scratch,
            reference_only: false,
        })
    }

    /// SGD: `p -= lr g`.
    pub fn sgd(layout: Layout, lr: f64) -> Result<Self> {
        Self::new("sgd", AgmConfig::sgd(lr), layout)
    }

    /// SGD with heavy-ball (or Nesterov) momentum `mu`, PyTorch's convention.
    pub fn sgd_momentum(layout: Layout, lr: f64, mu: f64, nesterov: bool) -> Result<Self> {
        let cfg = AgmConfig {
            momentum: Momentum::HeavyBall { mu, dampening: 0.0, nesterov },
            ..AgmConfig::sgd(lr)
        };
        Self::new(if nesterov { "nesterov" } else { "momentum" }, cfg, layout)
    }

    /// Adam with `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`, bias correction.
    pub fn adam(layout: Layout, lr: f64) -> Result<Self> {
        Self::new("adam", AgmConfig::adam(lr), layout)
    }

    /// AdamW: Adam with decoupled weight decay `wd`.
    pub fn adamw(layout: Layout, lr: f64, wd: f64) -> Result<Self> {
        let cfg = AgmConfig {
            weight_decay: WeightDecay { coefficient: wd, decoupled: true },
            ..AgmConfig::adam(lr)
        };
        Self::new("adamw", cfg, layout)
    }

    /// RMSProp with `alpha = 0.99`, `eps = 1e-8` (PyTorch defaults).
    pub fn rmsprop(layout: Layout, lr: f64) -> Result<Self> {
        Self::new("rmsprop", AgmConfig::rmsprop(lr), layout)
    }

    /// Adagrad with `eps = 1e-10` (PyTorch defaults).
    pub fn adagrad(layout: Layout, lr: f64) -> Result<Self> {
        Self::new("adagrad", AgmConfig::adagrad(lr), layout)
    }

    /// Adam-mini (Zhang et al. 2024): Adam's momentum with one second-moment scalar per
    /// layout block.
    pub fn adam_mini(layout: Layout, lr: f64) -> Result<Self> {
        let cfg = AgmConfig::adam(lr).with_partition(Partition::LayoutBlocks);
        Self::new("adam-mini", cfg, layout)
    }

    /// Adalayer (Zhao et al. 2024): one second-moment scalar per layer, and one per output
    /// row for the last matrix block of the layout (the output layer).
    pub fn adalayer(layout: Layout, lr: f64) -> Result<Self> {
        let last = layout
            .blocks()
            .iter()
            .rev()
            .find(|b| matches!(b.shape, gradus_core::Shape::Matrix { .. }))
            .map(|b| b.name.clone());
        let partition = match last {
            Some(name) => Partition::LayoutBlocksWithRows { row_blocks: vec![name] },
            None => Partition::LayoutBlocks,
        };
        Self::new("adalayer", AgmConfig::adam(lr).with_partition(partition), layout)
    }

    /// AdamE (paper 01, hypothesis): Adam with preconditioner `(v + eps)^(-E)`; `E = 1/2` is
    /// Adam with epsilon inside the root, `E = 0` is SGD with (bias-corrected) momentum.
    pub fn adam_e(layout: Layout, lr: f64, exponent: f64) -> Result<Self> {
        let cfg =
            AgmConfig { exponent, eps_placement: EpsPlacement::Inside, ..AgmConfig::adam(lr) };
        Self::new("adam-e", cfg, layout)
    }

    /// Forces the scalar reference path for every step (the definition the fused kernels are
    /// tested against). For tests and debugging; much slower.
    pub fn reference_only(mut self) -> Self {
        self.reference_only = true;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &AgmConfig {
        &self.cfg
    }

    /// Replaces the hyperparameters between steps. Fields that shape the state (momentum
    /// kind, statistic kind and partition, AMSGrad, centering, precision) cannot change; the
    /// error names the difference. On error nothing changes.
    pub fn set_config(&mut self, cfg: AgmConfig) -> Result<()> {
        cfg.validate()?;
        if cfg.state_key() != self.cfg.state_key() {
            return Err(Error::mismatch(
                "state-shaping configuration",
                self.cfg.state_key(),
                cfg.state_key(),
            ));
        }
        self.cfg = cfg;
        Ok(())
    }

    /// Writes the diagonal of the current preconditioner `P` (paper 01), one entry per
    /// parameter, bias-corrected at the current step. `P = 1` for SGD.
    pub fn preconditioner(&self, out: &mut [T]) -> Result<()> {
        same_len("preconditioner output", self.layout.len(), out.len())?;
        generic::preconditioner_diag(self, out);
        Ok(())
    }

    fn block_hyper(&self, b: usize) -> BlockHyper {
        block_hyper(&self.cfg, &self.layout, b)
    }
}

/// Learning rate and weight decay of layout block `b` (per-block overrides applied).
pub(crate) fn block_hyper(cfg: &AgmConfig, layout: &Layout, b: usize) -> BlockHyper {
    let h = layout.blocks()[b].hyper;
    let lr = cfg.lr * h.lr_scale;
    let wd = h.weight_decay.unwrap_or(cfg.weight_decay.coefficient);
    if cfg.weight_decay.decoupled {
        BlockHyper { lr, decay: 1.0 - lr * wd, l2: 0.0 }
    } else {
        BlockHyper { lr, decay: 1.0, l2: wd }
    }
}

fn coord_or_block<T: SimdFloat>(
    blocks: &Option<BlockPartition>,
    stat_len: usize,
    value: f64,
    coord: impl Fn(f64) -> Moment<T>,
) -> Moment<T> {
    if blocks.is_some() { Moment::full(stat_len, T::from_f64(value)) } else { coord(value) }
}

impl AgmConfig {
    /// Adam: `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`, bias correction, eps outside.
    pub fn adam(lr: f64) -> Self {
        AgmConfig {
            momentum: Momentum::Ema { beta1: 0.9 },
            statistic: Statistic::Ema { beta2: 0.999, partition: Partition::Coordinates },
            bias_correction: true,
            ..AgmConfig::sgd(lr)
        }
    }

    /// RMSProp: `alpha = 0.99`, `eps = 1e-8`, no momentum.
    pub fn rmsprop(lr: f64) -> Self {
        AgmConfig {
            statistic: Statistic::Ema { beta2: 0.99, partition: Partition::Coordinates },
            ..AgmConfig::sgd(lr)
        }
    }

    /// Adagrad: running sum from 0, `eps = 1e-10`.
    pub fn adagrad(lr: f64) -> Self {
        AgmConfig {
            statistic: Statistic::Sum { initial: 0.0, partition: Partition::Coordinates },
            eps: 1e-10,
            ..AgmConfig::sgd(lr)
        }
    }

    /// The same configuration with the statistic's partition replaced (no effect on SGD).
    pub fn with_partition(mut self, partition: Partition) -> Self {
        match &mut self.statistic {
            Statistic::None => {}
            Statistic::Ema { partition: p, .. } | Statistic::Sum { partition: p, .. } => {
                *p = partition
            }
        }
        self
    }
}

impl<T: SimdFloat> Optimizer<T> for Agm<T> {
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
        let grad_norm = if self.cfg.check_finite || self.cfg.max_grad_norm.is_some() {
            let stats = grad_stats(par, grads);
            if !stats.all_finite {
                let index = grads.iter().position(|g| !g.is_finite()).unwrap_or(0);
                return Err(Error::NonFinite { what: "gradient", index });
            }
            if stats.sum_squares.is_finite() {
                stats.sum_squares.to_f64().sqrt()
            } else {
                // The sum of squares overflowed: if one entry's own square does, every
                // second-moment rule would store an infinite `v` (and then refuse its own
                // checkpoint), so the step is refused before anything is written.
                if let Some(index) = grads.iter().position(|g| !(*g * *g).is_finite()) {
                    return Err(Error::NonFinite {
                        what: "square of a gradient entry (overflows the float type)",
                        index,
                    });
                }
                norm2(par, grads).to_f64()
            }
        } else {
            f64::NAN
        };
        let clip = match self.cfg.max_grad_norm {
            Some(c) if grad_norm > c => c / grad_norm,
            _ => 1.0,
        };
        let ctx = StepCtx { t: self.t + 1, g_scale: T::from_f64(clip) };
        if self.reference_only || !fused::step(self, ctx, params, grads)? {
            // Dispatched so the scalar loop is compiled with the machine's FMA: `mul_add` is
            // otherwise a libm call per element.
            pulp::Arch::new().dispatch(|| generic::step(self, ctx, params, grads));
        }
        self.t = ctx.t;
        Ok(StepInfo::new(ctx.t, grad_norm, clip, self.cfg.lr))
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        gradus_core::validate::positive("lr", lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.t
    }

    fn state(&self) -> Result<OptimizerState> {
        let mut buffers = Vec::new();
        let mut push = |name: &str, m: &Moment<T>| {
            if !m.is_empty() {
                buffers.push(NamedBuffer { name: name.into(), data: m.to_buffer() });
            }
        };
        push("m", &self.m);
        push("v", &self.v);
        push("vmax", &self.vmax);
        push("avg", &Moment::Full(self.avg.clone()));
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
        let cfg: AgmConfig = serde_json::from_value(state.config.clone())
            .map_err(|e| Error::corrupt("optimizer configuration", e.to_string()))?;
        cfg.validate()?;
        if cfg.state_key() != self.cfg.state_key() {
            return Err(Error::mismatch(
                "optimizer configuration",
                self.cfg.state_key(),
                cfg.state_key(),
            ));
        }
        let restore = |name: &'static str, m: &Moment<T>| -> Result<Moment<T>> {
            if m.is_empty() { Ok(Moment::empty()) } else { m.restored(name, state.buffer(name)?) }
        };
        let m = restore("m", &self.m)?;
        let v = restore("v", &self.v)?;
        let vmax = restore("vmax", &self.vmax)?;
        let Moment::Full(avg) = restore("avg", &Moment::Full(self.avg.clone()))? else {
            return Err(Error::corrupt("optimizer state", "avg must be full precision"));
        };
        let expected = [("m", &m), ("v", &v), ("vmax", &vmax)];
        let known = |name: &str| {
            expected.iter().any(|(n, b)| *n == name && !b.is_empty())
                || (name == "avg" && !avg.is_empty())
        };
        if let Some(extra) = state.buffers.iter().find(|b| !known(&b.name)) {
            return Err(Error::mismatch(
                "buffers",
                "only the configured m, v, vmax, avg",
                &extra.name,
            ));
        }
        (self.cfg, self.t, self.m, self.v, self.vmax, self.avg) =
            (cfg, state.step, m, v, vmax, avg);
        Ok(())
    }
}
