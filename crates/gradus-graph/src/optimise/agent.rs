//! Agent-REINFORCE (paper 04): REINFORCE's "sampling - gradient - update" becomes
//! "sampling - feedback - update": an agent reads the sampled graphs and their scores and
//! edits `theta` directly, in place of the score-function gradient.

use gradus_core::{Result, validate};

use super::fixed::{self, Shape};
use super::{Record, SearchContext, Searcher, sample_batch};
use crate::graph::Graph;
use crate::model::{GraphDistribution, GraphSpace, clip_logits};

/// What a feedback agent reads.
pub struct FeedbackInput<'a> {
    /// The graph space (and the layout of `theta`).
    pub space: &'a GraphSpace,
    /// `p_theta` at the current `theta`.
    pub distribution: &'a GraphDistribution,
    /// Settings, prices and names.
    pub ctx: &'a SearchContext<'a>,
    /// The graphs just evaluated (the probes, for [`Feedback::initialise`]).
    pub batch: &'a [Record],
    /// Every earlier record.
    pub history: &'a [Record],
}

/// Turns scored samples into an update of `theta`: the "textual gradient" of
/// Agent-REINFORCE. Implementations write into the `theta` they are given (a copy of the
/// current logits); [`AgentReinforce`] commits it only if the call succeeds and the result
/// is finite, so a failing agent leaves the optimisation state unchanged.
pub trait Feedback {
    /// Name for reports.
    fn name(&self) -> String;

    /// Whether the agent wants every model evaluated once before its first update, alone at
    /// the largest best-of-N the budget allows: the per-model results behind Insight 1.
    fn wants_probes(&self) -> bool {
        false
    }

    /// Sets the initial `theta` from the probe records in `input.batch`. The default keeps
    /// it.
    fn initialise(&mut self, input: &FeedbackInput, theta: &mut [f64]) -> Result<()> {
        let _ = (input, theta);
        Ok(())
    }

    /// Writes the updated `theta` (the current logits on entry).
    fn update(&mut self, input: &FeedbackInput, theta: &mut [f64]) -> Result<()>;
}

/// Agent-REINFORCE: samples graphs from `p_theta` truncated to the budget and lets a
/// [`Feedback`] agent update `theta`; logits are clipped to `[-clip, clip]`.
#[derive(Debug, Clone)]
pub struct AgentReinforce<F> {
    space: GraphSpace,
    theta: Vec<f64>,
    proposal: Vec<f64>,
    dist: GraphDistribution,
    feedback: F,
    clip: f64,
    initialised: bool,
}

impl<F: Feedback> AgentReinforce<F> {
    /// Starts from the uniform distribution over `space`.
    pub fn new(space: &GraphSpace, feedback: F, clip: f64) -> Result<Self> {
        validate::positive("clip", clip)?;
        Ok(AgentReinforce {
            space: *space,
            theta: vec![0.0; space.dim()],
            proposal: vec![0.0; space.dim()],
            dist: GraphDistribution::uniform(space),
            feedback,
            clip,
            initialised: false,
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

    /// The agent.
    pub fn feedback(&self) -> &F {
        &self.feedback
    }

    /// Whether the probes have been learned from (or were not wanted and one update ran).
    pub fn initialised(&self) -> bool {
        self.initialised
    }

    fn probing(&self) -> bool {
        !self.initialised && self.feedback.wants_probes()
    }
}

impl<F: Feedback> Searcher for AgentReinforce<F> {
    fn name(&self) -> String {
        format!("Agent-REINFORCE ({})", self.feedback.name())
    }

    fn propose(
        &mut self,
        t: u64,
        n: usize,
        ctx: &SearchContext,
        out: &mut Vec<Graph>,
    ) -> Result<u64> {
        if !self.probing() {
            return sample_batch(&self.dist, t, n, ctx, out);
        }
        // Each model alone, with as many parallel calls as the budget and the space allow.
        out.clear();
        for family in 0..self.space.families() {
            for size in 0..self.space.sizes() {
                let probe = fixed::largest(
                    Shape::BestOfN,
                    ctx.cost,
                    &self.space,
                    ctx.cfg.budget,
                    family,
                    size,
                )?;
                out.extend(probe);
            }
        }
        Ok(0)
    }

    fn learn(&mut self, batch: &[Record], history: &[Record], ctx: &SearchContext) -> Result<()> {
        self.proposal.copy_from_slice(&self.theta);
        let input =
            FeedbackInput { space: &self.space, distribution: &self.dist, ctx, batch, history };
        if self.probing() {
            self.feedback.initialise(&input, &mut self.proposal)?;
        } else {
            self.feedback.update(&input, &mut self.proposal)?;
        }
        validate::all_finite("agent update", &self.proposal)?;
        clip_logits(&mut self.proposal, self.clip);
        self.dist.update(&self.proposal)?;
        std::mem::swap(&mut self.theta, &mut self.proposal);
        self.initialised = true;
        Ok(())
    }
}
