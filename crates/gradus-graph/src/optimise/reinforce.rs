//! REINFORCE over `p_theta` (GPTSwarm-style, generalised to the whole graph model).

use gradus_core::{Error, Result};
use gradus_optim::Optimizer;

use super::{Record, SearchContext, Searcher, sample_batch};
use crate::graph::Graph;
use crate::model::{GraphDistribution, GraphSpace, clip_logits};

/// REINFORCE with a mean baseline: per iteration `M` graphs `G_i ~ p_theta` (truncated to the
/// budget) with utilities `U_i`, `b = mean(U_i)`, and
/// `grad J ~ (1/M) sum_i (U_i - b) grad log p_theta(G_i)`.
///
/// The estimate is handed to a gradus [`Optimizer`] as the gradient of the loss `-J`, so
/// any update rule (SGD, Adam, ...) applies. The batch-mean baseline scales the estimate's
/// expectation by `(M - 1) / M` (each `U_i` is in its own baseline; tested against exact
/// enumeration), which leaves its direction unbiased. With the baseline, the untruncated score
/// `grad log p_theta(G)` also estimates the gradient of the truncated objective (the
/// normaliser's score `grad log Z` multiplies `U_i - b`, whose mean is zero). Logits are
/// clipped to `[-clip, clip]` after each step so the distribution keeps exploring.
#[derive(Debug, Clone)]
pub struct Reinforce<O> {
    theta: Vec<f64>,
    dist: GraphDistribution,
    grad: Vec<f64>,
    optimizer: O,
    clip: f64,
}

impl<O: Optimizer<f64>> Reinforce<O> {
    /// REINFORCE from the uniform distribution (`theta = 0`) with `optimizer`, which must be
    /// built on `space.layout()`.
    pub fn new(space: &GraphSpace, optimizer: O, clip: f64) -> Result<Self> {
        gradus_core::validate::same_len("optimizer layout", space.dim(), optimizer.layout().len())?;
        gradus_core::validate::positive("clip", clip)?;
        Ok(Reinforce {
            theta: vec![0.0; space.dim()],
            dist: GraphDistribution::uniform(space),
            grad: vec![0.0; space.dim()],
            optimizer,
            clip,
        })
    }

    /// Current logits.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// The current distribution.
    pub fn distribution(&self) -> &GraphDistribution {
        &self.dist
    }

    /// The score-function estimate of `-grad J` (the loss gradient) from scored graphs,
    /// written to the internal buffer and returned.
    pub fn loss_gradient(&mut self, batch: &[Record]) -> Result<&[f64]> {
        if batch.is_empty() {
            return Err(Error::InvalidShape { what: "REINFORCE batch", detail: "empty".into() });
        }
        if let Some(i) = batch.iter().position(|r| !r.utility.is_finite()) {
            return Err(Error::NonFinite { what: "utilities", index: i });
        }
        let m = batch.len() as f64;
        let baseline = batch.iter().map(|r| r.utility).sum::<f64>() / m;
        self.grad.fill(0.0);
        for r in batch {
            self.dist.add_score(&r.graph, -(r.utility - baseline) / m, &mut self.grad)?;
        }
        Ok(&self.grad)
    }
}

impl<O: Optimizer<f64>> Searcher for Reinforce<O> {
    fn name(&self) -> String {
        format!("REINFORCE ({})", self.optimizer.name())
    }

    fn propose(
        &mut self,
        t: u64,
        n: usize,
        ctx: &SearchContext,
        out: &mut Vec<Graph>,
    ) -> Result<u64> {
        sample_batch(&self.dist, t, n, ctx, out)
    }

    fn learn(&mut self, batch: &[Record], _: &[Record], _: &SearchContext) -> Result<()> {
        self.loss_gradient(batch)?;
        // A rejected step leaves theta and the optimizer state untouched.
        self.optimizer.step(&mut self.theta, &self.grad)?;
        clip_logits(&mut self.theta, self.clip);
        self.dist.update(&self.theta)
    }
}
