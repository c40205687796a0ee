//! Optimizers for gradus: update rules that turn gradients into steps.
//!
//! - [`Agm`]: the unified adaptive gradient method of paper 01 (`theta -= eta P(V) m`), which
//!   covers SGD, momentum, Nesterov, Adam, AdamW, AMSGrad, RMSProp, Adagrad, Adam-mini,
//!   Adalayer and the exponent family AdamE. Fused SIMD kernels run the common cases in one
//!   pass over memory; a scalar reference path defines the meaning of every configuration.
//! - [`control`]: learning rules derived as optimal control (paper 10): the discounted action,
//!   its Riccati solution for quadratic losses, path optimisation for any loss, and
//!   [`control::ControlRule`] (GD, natural gradient, momentum, the square-root-of-curvature
//!   rule, the ballistic Adam/RMSProp-like rule, weight decay under task uncertainty).
//! - [`Schedule`]: learning-rate schedules; [`Trainer`]: the allocation-free training loop.
//! - [`OptimizerState`] and [`checkpoint`]: versioned, atomically written, checksummed state.

mod agm;
pub mod checkpoint;
mod config;
pub mod control;
mod optimizer;
pub mod partition;
mod schedule;
pub mod shampoo;
mod state;
mod trainer;

pub use agm::Agm;
pub use config::{
    AgmConfig, EpsPlacement, Momentum, Partition, StatePrecision, Statistic, WeightDecay,
};
pub use optimizer::{Optimizer, StepInfo};
pub use schedule::Schedule;
pub use shampoo::{Grafting, Shampoo, ShampooConfig};
pub use state::{BufferData, NamedBuffer, OptimizerState, SCHEMA_VERSION, config_value};
pub use trainer::{Control, LossLog, Observer, RunSummary, StepRecord, StopReason, Trainer};
