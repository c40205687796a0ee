//! Scoring graphs. [`Environment`] is what the optimisers see, so a real evaluator (one that
//! runs the LLMs on benchmark questions) can replace the simulated [`SimEnv`].
//!
//! The engine cannot run LLMs: [`SimEnv`] simulates them, with per-model single-call
//! accuracies from published benchmark figures ([`ModelPool::open_2024`]) and explicit,
//! ASSUMED models of voting, refinement and aggregation ([`TaskProfile`]).

mod normal;
mod pool;
mod sim;
mod task;
pub mod theory;

use gradus_core::{Result, Rng};
use serde::{Deserialize, Serialize};

pub use normal::{cdf as normal_cdf, quantile as normal_quantile};
pub use pool::{Benchmark, MAX_FAMILIES, ModelCard, ModelPool};
pub use sim::SimEnv;
pub use task::TaskProfile;

use crate::graph::{CostModel, Graph};

/// What one evaluation of a graph measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Fraction of questions answered right.
    pub accuracy: f64,
    /// Cost, FLOPs per question.
    pub flops: f64,
    /// Latency, seconds (critical path).
    pub latency_s: f64,
    /// Questions the accuracy was measured on.
    pub questions: usize,
}

/// The objective: `accuracy - latency_weight * latency_s` (paper 04's joint accuracy-latency
/// objective; `latency_weight = 0` is accuracy alone).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Utility {
    /// Accuracy points traded per second of latency.
    pub latency_weight: f64,
}

impl Utility {
    /// Accuracy alone.
    pub fn accuracy() -> Self {
        Utility { latency_weight: 0.0 }
    }

    /// The utility of an evaluation.
    pub fn of(&self, e: &Evaluation) -> f64 {
        e.accuracy - self.latency_weight * e.latency_s
    }
}

/// Scores collaboration graphs on a task.
///
/// Implementations must be deterministic given their inputs: `evaluate` may use only the
/// minibatch id and `rng`; `reference` must be a function of the graph alone.
pub trait Environment: Sync {
    /// Prices the pool's calls on this task (cost in FLOPs, latency).
    fn cost_model(&self) -> &CostModel;

    /// Display name of model `(family, size)`.
    fn model_name(&self, family: usize, size: usize) -> String;

    /// Display name of a family (agents refer to families by it).
    fn family_name(&self, family: usize) -> String {
        format!("family-{family}")
    }

    /// Display name of a size class (agents refer to sizes by it).
    fn size_name(&self, size: usize) -> String {
        format!("size-{size}")
    }

    /// Scores `graph` on minibatch `batch` of questions (equal ids mean equal questions, so
    /// graphs compared within an iteration see the same ones); per-call randomness comes
    /// from `rng`. Errors if the graph uses a model outside the pool.
    fn evaluate(&self, graph: &Graph, batch: u64, rng: &mut Rng) -> Result<Evaluation>;

    /// The graph's score measured as precisely as the environment can (a large held-out
    /// question set), used to report what a search really found.
    fn reference(&self, graph: &Graph) -> Result<Evaluation>;
}
