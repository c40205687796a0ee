//! The model pool: families x sizes, each model with its parameter count and its published
//! single-call accuracy on the three benchmarks the paper uses (MATH, MMLU, HumanEval).

use gradus_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// A benchmark whose published scores set a model's single-call accuracy in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Benchmark {
    /// MATH (competition mathematics; 0-shot chain of thought for the instruct models).
    Math,
    /// MMLU (or MMLU-redux, see the pool's notes): multiple-choice knowledge questions.
    Mmlu,
    /// HumanEval pass@1 (Python functions).
    HumanEval,
}

impl Benchmark {
    /// Every benchmark, in the order of [`ModelCard::accuracy`].
    pub const ALL: [Benchmark; 3] = [Benchmark::Math, Benchmark::Mmlu, Benchmark::HumanEval];

    /// Position in [`Benchmark::ALL`].
    pub fn index(self) -> usize {
        match self {
            Benchmark::Math => 0,
            Benchmark::Mmlu => 1,
            Benchmark::HumanEval => 2,
        }
    }

    /// Name as printed in reports.
    pub fn name(self) -> &'static str {
        match self {
            Benchmark::Math => "MATH",
            Benchmark::Mmlu => "MMLU",
            Benchmark::HumanEval => "HumanEval",
        }
    }
}

/// One model of the pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Short name, e.g. `Qwen2.5-7B`.
    pub name: String,
    /// Parameters, in billions.
    pub params_b: f64,
    /// Single-call accuracy in `(0, 1)` on each benchmark of [`Benchmark::ALL`].
    pub accuracy: [f64; 3],
}

/// A grid of models: `families x sizes`, row-major (every family has every size class, so
/// family and size can be chosen by separate categoricals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPool {
    /// Family names.
    pub families: Vec<String>,
    /// Size-class names (`small`, `medium`, `large`); the parameter count is per model.
    pub sizes: Vec<String>,
    /// The models, `families.len() * sizes.len()` of them, family-major.
    pub models: Vec<ModelCard>,
}

/// Most families a pool may have (per-query family latents live in stack arrays).
pub const MAX_FAMILIES: usize = 8;

impl ModelPool {
    /// Checks the grid: non-empty, consistent lengths, at most [`MAX_FAMILIES`] families,
    /// positive finite parameter counts, accuracies strictly inside `(0, 1)`.
    pub fn validate(&self) -> Result<()> {
        let (f, s) = (self.families.len(), self.sizes.len());
        if f == 0 || s == 0 {
            return Err(Error::InvalidShape {
                what: "model pool",
                detail: format!("{f} families x {s} sizes: the pool is empty"),
            });
        }
        if f > MAX_FAMILIES {
            return Err(Error::InvalidShape {
                what: "model pool",
                detail: format!("{f} families exceed the maximum of {MAX_FAMILIES}"),
            });
        }
        gradus_core::validate::same_len("model pool models", f * s, self.models.len())?;
        for m in &self.models {
            if !(m.params_b.is_finite() && m.params_b > 0.0) {
                return Err(Error::hyper("params_b", m.params_b, "must be finite and > 0"));
            }
            if let Some(&a) = m.accuracy.iter().find(|a| !(**a > 0.0 && **a < 1.0)) {
                return Err(Error::hyper(
                    "accuracy",
                    a,
                    "single-call accuracies must lie in (0, 1)",
                ));
            }
        }
        Ok(())
    }

    /// The model `(family, size)`.
    pub fn model(&self, family: usize, size: usize) -> &ModelCard {
        &self.models[family * self.sizes.len() + size]
    }

    /// Parameter counts in billions, family-major (for [`crate::CostModel`]).
    pub fn params_b(&self) -> Vec<f64> {
        self.models.iter().map(|m| m.params_b).collect()
    }

    /// Two open instruction-tuned families in three size classes, with their published
    /// scores (as fractions):
    ///
    /// | model | params | MATH | MMLU | HumanEval |
    /// |---|---|---|---|---|
    /// | Qwen2.5-1.5B-Instruct | 1.54 B | 55.2 | 50.7 (MMLU-redux) | 61.6 |
    /// | Qwen2.5-7B-Instruct | 7.61 B | 75.5 | 75.4 (MMLU-redux) | 84.8 |
    /// | Qwen2.5-72B-Instruct | 72.7 B | 83.1 | 86.8 (MMLU-redux) | 86.6 |
    /// | Llama-3.1-8B-Instruct | 8.03 B | 51.9 | 69.4 | 72.6 |
    /// | Llama-3.1-70B-Instruct | 70.6 B | 68.0 | 83.6 | 80.5 |
    /// | Llama-3.1-405B-Instruct | 405 B | 73.8 | 87.3 | 89.0 |
    ///
    /// Sources: the Qwen2.5 release notes (Qwen team, Sept 2024) and Qwen2.5 Technical
    /// Report (arXiv:2412.15115), instruction-model tables (Qwen reports MMLU-redux, not
    /// MMLU, for its instruct models); the Llama 3.1 model card (Meta, July 2024:
    /// MATH 0-shot CoT, MMLU 5-shot, HumanEval 0-shot). `docs/papers.md` says which figures
    /// were re-checked while building this.
    pub fn open_2024() -> Self {
        let card = |name: &str, params_b: f64, math: f64, mmlu: f64, he: f64| ModelCard {
            name: name.into(),
            params_b,
            accuracy: [math / 100.0, mmlu / 100.0, he / 100.0],
        };
        ModelPool {
            families: vec!["Qwen2.5".into(), "Llama-3.1".into()],
            sizes: vec!["small".into(), "medium".into(), "large".into()],
            models: vec![
                card("Qwen2.5-1.5B", 1.54, 55.2, 50.7, 61.6),
                card("Qwen2.5-7B", 7.61, 75.5, 75.4, 84.8),
                card("Qwen2.5-72B", 72.7, 83.1, 86.8, 86.6),
                card("Llama-3.1-8B", 8.03, 51.9, 69.4, 72.6),
                card("Llama-3.1-70B", 70.6, 68.0, 83.6, 80.5),
                card("Llama-3.1-405B", 405.0, 73.8, 87.3, 89.0),
            ],
        }
    }
}
