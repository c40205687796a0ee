//! Task profiles: how a task's questions, wrong answers and collaboration behave in the
//! simulation. The three profiles are ASSUMPTIONS chosen to mimic the qualitative findings
//! of the test-time-scaling literature (voting saturates on knowledge questions, refinement
//! helps code most, long chains drift); they are not measured.

use gradus_core::validate::{non_negative, positive, unit_interval};
use gradus_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::pool::Benchmark;

/// Parameters of one simulated task (see [`crate::env::SimEnv`] for how each enters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskProfile {
    /// Name, e.g. `math-like`.
    pub name: String,
    /// Whose published scores give the single-call accuracies.
    pub benchmark: Benchmark,
    /// Tokens of the question prompt.
    pub prompt_tokens: f64,
    /// Tokens of one answer.
    pub output_tokens: f64,
    /// Correlation of the latent scores of two calls from different families (shared
    /// question difficulty).
    pub rho_common: f64,
    /// Correlation of the latent scores of two calls from the same family (difficulty plus
    /// the family's shared blind spots); `rho_common <= rho_family < 1`.
    pub rho_family: f64,
    /// Number of distinct plausible wrong answers per question.
    pub distractors: usize,
    /// Wrong answers are drawn with weights `k^-zipf_exponent`, `k = 1..=distractors`.
    pub zipf_exponent: f64,
    /// Probability that a wrong call of a family gives that family's shared wrong answer
    /// for the question (correlated errors within a family).
    pub family_share: f64,
    /// Refiner: probability of fixing a wrong input when its own attempt is right.
    pub fix_prob: f64,
    /// Refiner: probability of breaking a right input when its own attempt is wrong, at the
    /// first refinement of a chain.
    pub break_prob: f64,
    /// Refiner: relative growth of the break probability per further refinement
    /// (`break_prob (1 + break_growth (r - 1))` at the `r`-th): long chains drift.
    pub break_growth: f64,
    /// Aggregator: probability of picking the right answer among its inputs when present
    /// and its own attempt is right.
    pub select_skill: f64,
    /// Aggregator: number of inputs at which it is overloaded half the time
    /// (`1 / (1 + (k / capacity)^3)` is the probability it reads its `k` inputs properly;
    /// otherwise it returns a random input's answer).
    pub context_capacity: f64,
}

impl TaskProfile {
    /// MATH-like: free-form answers (many distractors), moderate correlation, refinement
    /// helps, aggregation by a strong model helps.
    pub fn math_like() -> Self {
        TaskProfile {
            name: "math-like".into(),
            benchmark: Benchmark::Math,
            prompt_tokens: 200.0,
            output_tokens: 500.0,
            rho_common: 0.35,
            rho_family: 0.55,
            distractors: 12,
            zipf_exponent: 1.0,
            family_share: 0.35,
            fix_prob: 0.5,
            break_prob: 0.1,
            break_growth: 0.7,
            select_skill: 0.7,
            context_capacity: 6.0,
        }
    }

    /// MMLU-like: four options (three distractors), a model knows the answer or not (high
    /// correlation), refinement and selection help little.
    pub fn knowledge_like() -> Self {
        TaskProfile {
            name: "knowledge-like".into(),
            benchmark: Benchmark::Mmlu,
            prompt_tokens: 300.0,
            output_tokens: 120.0,
            rho_common: 0.5,
            rho_family: 0.8,
            distractors: 3,
            zipf_exponent: 0.8,
            family_share: 0.6,
            fix_prob: 0.2,
            break_prob: 0.15,
            break_growth: 0.5,
            select_skill: 0.4,
            context_capacity: 8.0,
        }
    }

    /// HumanEval-like: many distinct wrong programs, refinement (debugging) helps most, but
    /// aggregators are overloaded by few long inputs.
    pub fn code_like() -> Self {
        TaskProfile {
            name: "code-like".into(),
            benchmark: Benchmark::HumanEval,
            prompt_tokens: 250.0,
            output_tokens: 350.0,
            rho_common: 0.35,
            rho_family: 0.6,
            distractors: 30,
            zipf_exponent: 1.2,
            family_share: 0.3,
            fix_prob: 0.65,
            break_prob: 0.06,
            break_growth: 0.9,
            select_skill: 0.6,
            context_capacity: 4.0,
        }
    }

    /// The three profiles.
    pub fn all() -> [TaskProfile; 3] {
        [Self::math_like(), Self::knowledge_like(), Self::code_like()]
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        non_negative("prompt_tokens", self.prompt_tokens)?;
        positive("output_tokens", self.output_tokens)?;
        unit_interval("rho_common", self.rho_common)?;
        if !(self.rho_family >= self.rho_common && self.rho_family < 1.0) {
            return Err(Error::hyper(
                "rho_family",
                self.rho_family,
                "must satisfy rho_common <= rho_family < 1",
            ));
        }
        if self.distractors == 0 || self.distractors > u16::MAX as usize - 1 {
            return Err(Error::hyper(
                "distractors",
                self.distractors as f64,
                "must lie in 1..65535",
            ));
        }
        non_negative("zipf_exponent", self.zipf_exponent)?;
        unit_interval("family_share", self.family_share)?;
        unit_interval("fix_prob", self.fix_prob)?;
        unit_interval("break_prob", self.break_prob)?;
        non_negative("break_growth", self.break_growth)?;
        unit_interval("select_skill", self.select_skill)?;
        positive("context_capacity", self.context_capacity)?;
        Ok(())
    }

    /// Break probability at the `r`-th refinement of a chain (`r >= 1`), capped at 1.
    pub fn break_at(&self, r: u32) -> f64 {
        (self.break_prob * (1.0 + self.break_growth * (r.max(1) - 1) as f64)).min(1.0)
    }

    /// Probability that an aggregator with `k` inputs reads them properly.
    pub fn attention(&self, k: usize) -> f64 {
        1.0 / (1.0 + (k as f64 / self.context_capacity).powi(3))
    }
}
