//! The deterministic heuristic agent of the spec (RECONSTRUCTED surrogate of paper 04's LLM
//! agent): what an agent summarising the best graphs in text would do, as arithmetic.

use std::collections::BTreeMap;

use gradus_core::{Error, Result, validate};

use super::Record;
use super::agent::{Feedback, FeedbackInput};
use crate::model::Choice;

/// A feedback agent without randomness or an LLM:
///
/// - **initialisation (Insight 1)**: evaluates every model once, alone at the largest
///   best-of-N the budget allows, and sets each slot's family and size logits to
///   `max((u - u_best) / temperature, floor)`, where `u` is the best probe utility of that
///   family (size); unaffordable choices get `floor`;
/// - **update**: moves every logit block toward the smoothed marginals of the best
///   `elite_fraction` of the graphs seen so far (between `min_elite` and `max_elite` of
///   them), `theta <- (1 - step) theta + step log p_elite` (a cross-entropy-method step;
///   `logit(p_elite)` for edges);
/// - **Insights 2-3**: if the history shows a depth beyond the best-scoring depth `D*`
///   scoring worse (mean of its 3 best graphs, judged once `min_count` graphs have it),
///   every depth beyond `D*` loses `penalty` in the target; likewise widths beyond the best
///   width `W*`, where `W*` is judged among graphs of depth `D*` (the width limit depends on
///   the depth).
#[derive(Debug, Clone, PartialEq)]
pub struct HeuristicAgent {
    /// Fraction of the records so far the update moves toward (the best ones), in `(0, 1]`.
    pub elite_fraction: f64,
    /// At least this many and at most `max_elite` best records.
    pub min_elite: usize,
    /// Most best records used.
    pub max_elite: usize,
    /// Blend factor toward the elite marginals, in `(0, 1]`.
    pub step: f64,
    /// Pseudo-count added to every outcome (keeps exploration alive).
    pub smoothing: f64,
    /// Initial logits are utility differences divided by this.
    pub temperature: f64,
    /// Logit penalty on depths / widths past the observed optimum.
    pub penalty: f64,
    /// Graphs a depth (width) needs before it is judged.
    pub min_count: usize,
    /// Logit given to unaffordable models at initialisation.
    pub floor: f64,
    /// Evaluate the per-model probes and initialise from them (false: start uniform, an
    /// ablation of Insight 1).
    pub probes: bool,
}

impl Default for HeuristicAgent {
    fn default() -> Self {
        HeuristicAgent {
            elite_fraction: 0.25,
            min_elite: 2,
            max_elite: 16,
            step: 0.5,
            smoothing: 0.5,
            temperature: 0.05,
            penalty: 1.5,
            min_count: 4,
            floor: -10.0,
            probes: true,
        }
    }
}

impl HeuristicAgent {
    /// Checks the settings; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        if !(self.elite_fraction > 0.0 && self.elite_fraction <= 1.0) {
            return Err(Error::hyper("elite_fraction", self.elite_fraction, "must lie in (0, 1]"));
        }
        if self.min_elite == 0 || self.max_elite < self.min_elite {
            return Err(Error::hyper(
                "max_elite",
                self.max_elite as f64,
                "need 1 <= min_elite <= max_elite",
            ));
        }
        if !(self.step > 0.0 && self.step <= 1.0) {
            return Err(Error::hyper("step", self.step, "must lie in (0, 1]"));
        }
        validate::positive("smoothing", self.smoothing)?;
        validate::positive("temperature", self.temperature)?;
        validate::non_negative("penalty", self.penalty)?;
        if !(self.floor.is_finite() && self.floor < 0.0) {
            return Err(Error::hyper("floor", self.floor, "must be finite and < 0"));
        }
        Ok(())
    }
}

/// Mean of the 3 largest values per key, for keys with at least `min_count` values.
fn top3_means(items: impl Iterator<Item = (usize, f64)>, min_count: usize) -> BTreeMap<usize, f64> {
    let mut groups: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for (k, u) in items {
        groups.entry(k).or_default().push(u);
    }
    groups
        .into_iter()
        .filter(|(_, v)| v.len() >= min_count.max(1))
        .map(|(k, mut v)| {
            v.sort_by(|a, b| b.total_cmp(a));
            let top = &v[..v.len().min(3)];
            (k, top.iter().sum::<f64>() / top.len() as f64)
        })
        .collect()
}

/// The best key and whether some larger judged key scores worse (evidence that scaling past
/// it hurts).
fn limit(scores: &BTreeMap<usize, f64>) -> Option<usize> {
    let (&best, &top) = scores.iter().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))?;
    scores.iter().any(|(&k, &s)| k > best && s < top).then_some(best)
}

impl Feedback for HeuristicAgent {
    fn name(&self) -> String {
        if self.probes { "heuristic agent".into() } else { "heuristic agent, no probes".into() }
    }

    fn wants_probes(&self) -> bool {
        self.probes
    }

    fn initialise(&mut self, input: &FeedbackInput, theta: &mut [f64]) -> Result<()> {
        self.validate()?;
        let s = input.space;
        let (nf, ns) = (s.families(), s.sizes());
        let mut fam = vec![f64::NEG_INFINITY; nf];
        let mut size = vec![f64::NEG_INFINITY; ns];
        for r in input.batch {
            let Some(v) = r.graph.nodes().first() else { continue };
            if r.graph.nodes().iter().all(|w| (w.family, w.size) == (v.family, v.size)) {
                fam[v.family] = fam[v.family].max(r.utility);
                size[v.size] = size[v.size].max(r.utility);
            }
        }
        let best = fam.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !best.is_finite() {
            return Err(Error::Unsupported(
                "heuristic agent: no single-model probe was evaluated".into(),
            ));
        }
        let logit = |u: f64| ((u - best) / self.temperature).max(self.floor);
        for d in 0..s.max_depth() {
            for i in 0..s.max_width() {
                for (k, &u) in fam.iter().enumerate() {
                    theta[s.family_offset(d, i) + k] = logit(u);
                }
                for (k, &u) in size.iter().enumerate() {
                    theta[s.size_offset(d, i) + k] = logit(u);
                }
            }
        }
        Ok(())
    }

    fn update(&mut self, input: &FeedbackInput, theta: &mut [f64]) -> Result<()> {
        self.validate()?;
        let s = input.space;
        let all: Vec<&Record> = input.history.iter().chain(input.batch).collect();
        if all.is_empty() {
            return Err(Error::InvalidShape { what: "agent input", detail: "no records".into() });
        }
        if let Some(i) = all.iter().position(|r| !r.utility.is_finite()) {
            return Err(Error::NonFinite { what: "utilities", index: i });
        }
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by(|&a, &b| all[b].utility.total_cmp(&all[a].utility).then(a.cmp(&b)));
        let k = ((self.elite_fraction * all.len() as f64).ceil() as usize)
            .clamp(self.min_elite, self.max_elite)
            .min(all.len());
        let elites = &order[..k];

        let mut counts = vec![0.0; s.dim()];
        let mut edge_total = vec![0.0; s.dim()];
        for &e in elites {
            s.visit_choices(&all[e].graph, |c| match c {
                Choice::Categorical { offset, outcome, .. } => counts[offset + outcome] += 1.0,
                Choice::Edge { index, present } => {
                    counts[index] += if present { 1.0 } else { 0.0 };
                    edge_total[index] += 1.0;
                }
            });
        }

        // Insights 2-3: scaling limits of depth, and of width at the best depth.
        let depth_scores =
            top3_means(all.iter().map(|r| (r.graph.depth(), r.utility)), self.min_count);
        let depth_limit = limit(&depth_scores);
        let best_depth = depth_scores
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(&d, _)| d);
        let width_limit = best_depth.and_then(|bd| {
            let at_depth = all.iter().filter(|r| r.graph.depth() == bd);
            limit(&top3_means(at_depth.map(|r| (r.graph.max_width(), r.utility)), self.min_count))
        });

        let (a, eta) = (self.smoothing, self.step);
        let width_offsets: Vec<usize> = (0..s.max_depth()).map(|d| s.width_offset(d)).collect();
        s.for_each_categorical(|off, len| {
            let total: f64 = counts[off..off + len].iter().sum();
            if total == 0.0 {
                return;
            }
            // Outcome k of the depth block is depth k + 1; of a width block, width k + 1.
            let cap = if off == s.depth_offset() {
                depth_limit
            } else if width_offsets.contains(&off) {
                width_limit
            } else {
                None
            };
            for k in 0..len {
                let mut target = ((counts[off + k] + a) / (total + len as f64 * a)).ln();
                if cap.is_some_and(|c| k + 1 > c) {
                    target -= self.penalty;
                }
                theta[off + k] = (1.0 - eta) * theta[off + k] + eta * target;
            }
        });
        for idx in s.edge_range() {
            if edge_total[idx] > 0.0 {
                let p = (counts[idx] + a) / (edge_total[idx] + 2.0 * a);
                theta[idx] = (1.0 - eta) * theta[idx] + eta * (p / (1.0 - p)).ln();
            }
        }
        Ok(())
    }
}
