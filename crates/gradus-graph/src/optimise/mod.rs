//! Searching for the best graph within a FLOPs budget with a fixed number of evaluations:
//! the loop ([`search`]) is written once; methods implement [`Searcher`] (propose graphs,
//! learn from their scores).
//!
//! - [`RandomSearch`]: graphs from the uniform `p_0`, truncated to the budget;
//! - [`Reinforce`]: REINFORCE with a mean baseline, the score-function estimate fed as a
//!   gradient to any gradus [`gradus_optim::Optimizer`];
//! - [`AgentReinforce`]: REINFORCE's "sampling - gradient - update" as "sampling - feedback -
//!   update", the update written by a [`Feedback`] agent ([`HeuristicAgent`], or an LLM with
//!   the `llm-agent` feature);
//! - [`fixed`]: best-of-N and sequential-refinement graphs at the same budget.

mod agent;
pub mod fixed;
mod heuristic;
mod random;
mod reinforce;

use std::collections::HashMap;

use gradus_core::{Error, Par, Result, rng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use agent::{AgentReinforce, Feedback, FeedbackInput};
pub use heuristic::HeuristicAgent;
pub use random::RandomSearch;
pub use reinforce::Reinforce;

use crate::env::{Environment, Evaluation, Utility};
use crate::graph::{CostModel, Graph};
use crate::model::{GraphDistribution, check_budget};

/// Seed labels of the streams a search draws from.
const SAMPLE_LABEL: u64 = 0x5A3B_0000_0000_0001;
const EVAL_LABEL: u64 = 0x5A3B_0000_0000_0002;
const BATCH_LABEL: u64 = 0x5A3B_0000_0000_0003;

/// Settings of one search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// FLOPs per question no returned or sampled graph may exceed.
    pub budget: f64,
    /// Graph evaluations the search may spend.
    pub evaluations: usize,
    /// Graphs sampled and evaluated per iteration (`M`).
    pub batch: usize,
    /// The objective.
    pub utility: Utility,
    /// Rejection-sampling draws per graph before giving up.
    pub max_draws: usize,
    /// Seed of the sampling, the minibatches and the evaluation noise.
    pub seed: u64,
    /// Incumbent selection under evaluation noise: the incumbent maximises the mean observed
    /// utility minus `selection_z` binomial standard errors of its mean accuracy (0: the
    /// plain mean). Graphs evaluated more often have smaller errors.
    pub selection_z: f64,
    /// Evaluate an iteration's graphs in parallel (results do not depend on it).
    pub par: Par,
}

impl SearchConfig {
    /// `evaluations` evaluations in batches of `batch` at `budget` FLOPs, accuracy objective,
    /// 20000 draws per sample, incumbent chosen one standard error below its mean.
    pub fn new(budget: f64, evaluations: usize, batch: usize, seed: u64) -> Self {
        SearchConfig {
            budget,
            evaluations,
            batch,
            utility: Utility::accuracy(),
            max_draws: 20_000,
            seed,
            selection_z: 1.0,
            par: Par::Rayon,
        }
    }

    /// Checks the settings against a pool's prices.
    pub fn validate(&self, cost: &CostModel) -> Result<()> {
        check_budget(cost, self.budget)?;
        for (field, v) in [
            ("evaluations", self.evaluations),
            ("batch", self.batch),
            ("max_draws", self.max_draws),
        ] {
            if v == 0 {
                return Err(Error::hyper(field, 0.0, "must be at least 1"));
            }
        }
        gradus_core::validate::non_negative("latency_weight", self.utility.latency_weight)?;
        gradus_core::validate::non_negative("selection_z", self.selection_z)
    }
}

/// Names of the pool's families, sizes and models (for reports and agent prompts).
#[derive(Debug, Clone, PartialEq)]
pub struct Names {
    /// Family names.
    pub families: Vec<String>,
    /// Size-class names.
    pub sizes: Vec<String>,
    /// Model names, family-major.
    pub models: Vec<String>,
}

impl Names {
    /// The names an environment gives its pool.
    pub fn of<E: Environment + ?Sized>(env: &E) -> Self {
        let cost = env.cost_model();
        let (f, s) = (cost.families(), cost.sizes());
        Names {
            families: (0..f).map(|i| env.family_name(i)).collect(),
            sizes: (0..s).map(|i| env.size_name(i)).collect(),
            models: (0..f * s).map(|m| env.model_name(m / s, m % s)).collect(),
        }
    }

    /// Name of model `(family, size)`.
    pub fn model(&self, family: usize, size: usize) -> &str {
        &self.models[family * self.sizes.len() + size]
    }
}

/// What a method sees besides its own state.
pub struct SearchContext<'a> {
    /// The settings.
    pub cfg: &'a SearchConfig,
    /// Prices of the pool.
    pub cost: &'a CostModel,
    /// Names of the pool.
    pub names: &'a Names,
}

/// One evaluated graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The graph.
    pub graph: Graph,
    /// What its minibatch evaluation measured.
    pub evaluation: Evaluation,
    /// The objective on that evaluation (what the method sees).
    pub utility: f64,
    /// Iteration it was proposed in.
    pub iteration: u64,
}

/// A search method: proposes graphs, learns from their scores.
pub trait Searcher {
    /// Name for reports.
    fn name(&self) -> String;

    /// Writes the graphs to evaluate at iteration `t` into `out` (at least one, at most
    /// `n`; every one within the budget). Returns the number of rejected draws.
    fn propose(
        &mut self,
        t: u64,
        n: usize,
        ctx: &SearchContext,
        out: &mut Vec<Graph>,
    ) -> Result<u64>;

    /// Learns from the records of the graphs just proposed (`history` holds every earlier
    /// record). On error the method's state is unchanged.
    fn learn(&mut self, batch: &[Record], history: &[Record], ctx: &SearchContext) -> Result<()>;
}

/// Draws `n` graphs from `dist` truncated to the budget, graph `i` of iteration `t` from its
/// own stream (so the draws do not depend on how the work is split). Returns the rejections.
pub fn sample_batch(
    dist: &GraphDistribution,
    t: u64,
    n: usize,
    ctx: &SearchContext,
    out: &mut Vec<Graph>,
) -> Result<u64> {
    out.resize_with(n, Graph::default);
    let seed = rng::derive_seed(ctx.cfg.seed ^ SAMPLE_LABEL, t);
    let mut rejections = 0;
    for (i, g) in out.iter_mut().enumerate() {
        let mut r = rng::stream(seed, i as u64);
        rejections += dist.sample_within(&mut r, ctx.cost, ctx.cfg.budget, ctx.cfg.max_draws, g)?;
    }
    Ok(rejections)
}

/// Running statistics of one distinct graph's evaluations.
struct Observed {
    utility: f64,
    right: f64,
    questions: f64,
    count: f64,
    first: usize,
}

impl Observed {
    fn new(first: usize) -> Self {
        Observed { utility: 0.0, right: 0.0, questions: 0.0, count: 0.0, first }
    }

    fn add(&mut self, r: &Record) {
        self.utility += r.utility;
        self.right += r.evaluation.accuracy * r.evaluation.questions as f64;
        self.questions += r.evaluation.questions as f64;
        self.count += 1.0;
    }

    /// Mean utility minus `z` binomial standard errors of the mean accuracy (the accuracy
    /// smoothed by half a question each way, so a perfect score still has an error).
    fn score(&self, z: f64) -> f64 {
        let p = (self.right + 0.5) / (self.questions + 1.0);
        self.utility / self.count - z * (p * (1.0 - p) / self.questions.max(1.0)).sqrt()
    }
}

/// The outcome of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// The method's name.
    pub method: String,
    /// Every evaluated graph, in order.
    pub records: Vec<Record>,
    /// After evaluation `n` (index `n - 1`): the reference utility of the incumbent, the
    /// graph with the best pessimistic score so far: its mean observed utility (a graph drawn
    /// again is evaluated again on a new minibatch) minus `selection_z` standard errors;
    /// ties go to the graph evaluated first. Observed utilities are optimistic under
    /// evaluation noise (the best of many noisy scores is biased upward); the reference
    /// re-evaluation is what the search really found.
    pub curve: Vec<f64>,
    /// The final incumbent.
    pub best: Graph,
    /// Its reference evaluation.
    pub best_reference: Evaluation,
    /// Evaluation (1-based) at which the incumbent last changed.
    pub last_change: usize,
    /// Rejected draws over all samples.
    pub rejections: u64,
    /// Iterations run.
    pub iterations: u64,
}

/// Runs `method` against `env` until `cfg.evaluations` graphs have been evaluated.
///
/// Iteration `t` evaluates every proposal on the same minibatch of questions (common random
/// numbers make the comparison within a batch fairer), each with its own noise stream, in
/// parallel with `Par::Rayon`; results are bit-identical for any thread count. The incumbent
/// (best mean observed utility, see [`SearchResult::curve`]) is re-evaluated with
/// [`Environment::reference`] whenever it changes.
pub fn search<S: Searcher + ?Sized, E: Environment + ?Sized>(
    method: &mut S,
    env: &E,
    cfg: &SearchConfig,
) -> Result<SearchResult> {
    let cost = env.cost_model();
    cfg.validate(cost)?;
    let names = Names::of(env);
    let ctx = SearchContext { cfg, cost, names: &names };
    let mut records: Vec<Record> = Vec::with_capacity(cfg.evaluations);
    let mut curve = Vec::with_capacity(cfg.evaluations);
    let mut proposals = Vec::new();
    let mut seen: HashMap<Graph, Observed> = HashMap::new();
    let mut references: HashMap<Graph, Evaluation> = HashMap::new();
    let mut incumbent: Option<(Graph, Evaluation)> = None;
    let (mut rejections, mut last_change, mut t) = (0u64, 0usize, 0u64);
    while records.len() < cfg.evaluations {
        let n = cfg.batch.min(cfg.evaluations - records.len());
        rejections += method.propose(t, n, &ctx, &mut proposals)?;
        proposals.truncate(cfg.evaluations - records.len());
        if proposals.is_empty() {
            return Err(Error::Unsupported(format!("{} proposed no graph", method.name())));
        }
        if let Some(g) = proposals.iter().find(|g| cost.flops_unchecked(g) > cfg.budget) {
            return Err(Error::Unsupported(format!(
                "{} proposed a graph over budget ({:.3e} > {:.3e} FLOPs)",
                method.name(),
                cost.flops_unchecked(g),
                cfg.budget
            )));
        }
        let batch_id = rng::derive_seed(cfg.seed ^ BATCH_LABEL, t);
        let noise = rng::derive_seed(cfg.seed ^ EVAL_LABEL, t);
        let eval =
            |(i, g): (usize, &Graph)| env.evaluate(g, batch_id, &mut rng::stream(noise, i as u64));
        let evals: Vec<Result<Evaluation>> = if cfg.par.is_parallel() {
            proposals.par_iter().enumerate().map(eval).collect()
        } else {
            proposals.iter().enumerate().map(eval).collect()
        };
        let start = records.len();
        let mut batch = Vec::with_capacity(proposals.len());
        for (g, e) in proposals.iter().zip(evals) {
            let evaluation = e?;
            let utility = cfg.utility.of(&evaluation);
            batch.push(Record { graph: g.clone(), evaluation, utility, iteration: t });
        }
        method.learn(&batch, &records, &ctx)?;
        for (k, r) in batch.iter().enumerate() {
            let e = seen.entry(r.graph.clone()).or_insert(Observed::new(start + k));
            e.add(r);
            // The best pessimistic score; ties to the earliest first evaluation (so the
            // choice does not depend on the map's iteration order).
            let z = cfg.selection_z;
            let Some((top, _)) = seen.iter().max_by(|a, b| {
                a.1.score(z).total_cmp(&b.1.score(z)).then(b.1.first.cmp(&a.1.first))
            }) else {
                continue;
            };
            if incumbent.as_ref().is_none_or(|(g, _)| g != top) {
                let reference = match references.get(top) {
                    Some(e) => *e,
                    None => {
                        let e = env.reference(top)?;
                        references.insert(top.clone(), e);
                        e
                    }
                };
                incumbent = Some((top.clone(), reference));
                last_change = start + k + 1;
            }
            curve.push(incumbent.as_ref().map_or(f64::NAN, |(_, e)| cfg.utility.of(e)));
        }
        records.extend(batch);
        t += 1;
    }
    let (best, best_reference) =
        incumbent.ok_or_else(|| Error::Unsupported("no evaluation ran".into()))?;
    Ok(SearchResult {
        method: method.name(),
        best,
        best_reference,
        records,
        curve,
        last_change,
        rejections,
        iterations: t,
    })
}
