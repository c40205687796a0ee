//! `p_theta(G)` evaluated at one `theta`: sampling, exact log-probabilities and the score
//! `grad_theta log p_theta(G)` (paper 04, "probabilistic graph optimisation").

use gradus_core::{Error, Result, Rng, validate};
use rand::Rng as _;

use super::space::{Choice, GraphSpace, ROLES};
use crate::graph::{CostModel, Graph, Node, Role};

/// `p_theta` prepared at one `theta`: the probability and log-probability of every outcome of
/// every categorical (softmax of its logits, max-shifted) and Bernoulli (sigmoid), so that
/// drawing a graph or scoring one needs no transcendental function.
///
/// `log p(G) = log P(depth) + sum_d log P(w_d) + sum_v [log P(f_v) + log P(s_v) + log P(r_v)]
/// + sum_{d, i < w_d, j < w_{d+1}} log Bern(e_dij)`: only the slots and edges that exist in
/// `G` contribute (the others are not drawn).
#[derive(Debug, Clone, PartialEq)]
pub struct GraphDistribution {
    space: GraphSpace,
    prob: Vec<f64>,
    logp: Vec<f64>,
    /// `log(1 - p)` for edge logits (unused elsewhere).
    log1mp: Vec<f64>,
}

/// `log sigmoid(x)` without overflow.
fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 { -(-x).exp().ln_1p() } else { x - x.exp().ln_1p() }
}

/// Draws an index from the probabilities `p` with one uniform; the last index with positive
/// probability absorbs round-off.
fn draw(p: &[f64], rng: &mut Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    let mut last = 0;
    for (k, &pk) in p.iter().enumerate() {
        if pk > 0.0 {
            acc += pk;
            last = k;
            if u < acc {
                return k;
            }
        }
    }
    last
}

impl GraphDistribution {
    /// Prepares `p_theta`. Errors if `theta` has the wrong length or a non-finite entry.
    pub fn new(space: &GraphSpace, theta: &[f64]) -> Result<Self> {
        let n = space.dim();
        let mut d = GraphDistribution {
            space: *space,
            prob: vec![0.0; n],
            logp: vec![0.0; n],
            log1mp: vec![0.0; n],
        };
        d.update(theta)?;
        Ok(d)
    }

    /// The uniform distribution (all logits zero): every categorical uniform, every edge a
    /// fair coin.
    pub fn uniform(space: &GraphSpace) -> Self {
        let n = space.dim();
        let mut d = GraphDistribution {
            space: *space,
            prob: vec![0.0; n],
            logp: vec![0.0; n],
            log1mp: vec![0.0; n],
        };
        d.fill(&vec![0.0; n]);
        d
    }

    /// Re-prepares at a new `theta` without allocating; on error nothing changes.
    pub fn update(&mut self, theta: &[f64]) -> Result<()> {
        validate::same_len("theta", self.space.dim(), theta.len())?;
        validate::all_finite("theta", theta)?;
        self.fill(theta);
        Ok(())
    }

    fn fill(&mut self, theta: &[f64]) {
        let s = self.space;
        s.for_each_categorical(|off, n| self.softmax(theta, off, n));
        for k in s.edge_range() {
            self.logp[k] = log_sigmoid(theta[k]);
            self.log1mp[k] = log_sigmoid(-theta[k]);
            self.prob[k] = self.logp[k].exp();
        }
    }

    fn softmax(&mut self, theta: &[f64], off: usize, n: usize) {
        let x = &theta[off..off + n];
        let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        for (k, xk) in x.iter().enumerate() {
            self.logp[off + k] = xk - lse;
            self.prob[off + k] = self.logp[off + k].exp();
        }
    }

    /// The space.
    pub fn space(&self) -> &GraphSpace {
        &self.space
    }

    /// Probabilities of every outcome, laid out like `theta` (softmax within each
    /// categorical, sigmoid for edges).
    pub fn probabilities(&self) -> &[f64] {
        &self.prob
    }

    /// Draws a graph into `out` (its allocations are reused).
    pub fn sample(&self, rng: &mut Rng, out: &mut Graph) {
        let s = &self.space;
        let (dd, w) = (s.max_depth(), s.max_width());
        out.clear();
        let depth = 1 + draw(&self.prob[s.depth_offset()..s.depth_offset() + dd], rng);
        for d in 0..depth {
            let wd = 1 + draw(&self.prob[s.width_offset(d)..s.width_offset(d) + w], rng);
            out.push_layer(wd);
            for i in 0..wd {
                let fo = s.family_offset(d, i);
                let so = s.size_offset(d, i);
                let family = draw(&self.prob[fo..fo + s.families()], rng);
                let size = draw(&self.prob[so..so + s.sizes()], rng);
                let role = if d == 0 {
                    Role::Generate
                } else {
                    let ro = s.role_offset(d, i);
                    Role::ALL[draw(&self.prob[ro..ro + ROLES], rng)]
                };
                out.push_node(Node { layer: d, slot: i, family, size, role });
            }
        }
        for d in 0..depth.saturating_sub(1) {
            let (w1, w2) = (out.widths()[d], out.widths()[d + 1]);
            for i in 0..w1 {
                for j in 0..w2 {
                    let u: f64 = rng.random();
                    out.push_edge(u < self.prob[s.edge_index(d, i, j)]);
                }
            }
        }
    }

    /// Draws graphs until one costs at most `budget` FLOPs (rejection sampling from `p_theta`
    /// truncated to the feasible set), trying at most `cap` times. Returns the number of
    /// rejected draws. Errors if `budget` is not positive, below the cheapest graph, or if
    /// `cap` draws were all over budget ([`Error::NoConvergence`], residual = cheapest drawn
    /// cost / budget); `out` then holds the last draw.
    pub fn sample_within(
        &self,
        rng: &mut Rng,
        cost: &CostModel,
        budget: f64,
        cap: usize,
        out: &mut Graph,
    ) -> Result<u64> {
        self.check_cost_model(cost)?;
        check_budget(cost, budget)?;
        let mut cheapest = f64::INFINITY;
        for r in 0..cap {
            self.sample(rng, out);
            let c = cost.flops_unchecked(out);
            if c <= budget {
                return Ok(r as u64);
            }
            cheapest = cheapest.min(c);
        }
        Err(Error::NoConvergence {
            method: "budget rejection sampling",
            iterations: cap,
            residual: cheapest / budget,
        })
    }

    /// Errors unless `cost` prices the same pool as the space.
    pub fn check_cost_model(&self, cost: &CostModel) -> Result<()> {
        if (cost.families(), cost.sizes()) != (self.space.families(), self.space.sizes()) {
            return Err(Error::mismatch(
                "model pool",
                format!("{} families x {} sizes", self.space.families(), self.space.sizes()),
                format!("{} families x {} sizes", cost.families(), cost.sizes()),
            ));
        }
        Ok(())
    }

    /// Exact `log p_theta(G)` (untruncated). Errors if `g` is outside the space.
    pub fn log_prob(&self, g: &Graph) -> Result<f64> {
        self.space.check(g)?;
        let mut lp = 0.0;
        self.space.visit_choices(g, |c| match c {
            Choice::Categorical { offset, outcome, .. } => lp += self.logp[offset + outcome],
            Choice::Edge { index, present: true } => lp += self.logp[index],
            Choice::Edge { index, present: false } => lp += self.log1mp[index],
        });
        Ok(lp)
    }

    /// Adds `weight * grad_theta log p_theta(G)` to `grad`: `onehot(k) - softmax` over each
    /// categorical drawn, `e - sigmoid(theta_e)` for each edge drawn, zero elsewhere. Errors
    /// (leaving `grad` unchanged) on a length mismatch, a non-finite weight, or a graph
    /// outside the space.
    pub fn add_score(&self, g: &Graph, weight: f64, grad: &mut [f64]) -> Result<()> {
        validate::same_len("score gradient", self.space.dim(), grad.len())?;
        if !weight.is_finite() {
            return Err(Error::NonFinite { what: "score weight", index: 0 });
        }
        self.space.check(g)?;
        self.space.visit_choices(g, |c| match c {
            Choice::Categorical { offset, len, outcome } => {
                for (g, p) in grad[offset..offset + len].iter_mut().zip(&self.prob[offset..]) {
                    *g -= weight * p;
                }
                grad[offset + outcome] += weight;
            }
            Choice::Edge { index, present } => {
                grad[index] += weight * (if present { 1.0 } else { 0.0 } - self.prob[index]);
            }
        });
        Ok(())
    }
}

/// Errors unless `budget` is a finite positive number of FLOPs at least the cheapest graph's.
pub fn check_budget(cost: &CostModel, budget: f64) -> Result<()> {
    validate::positive("budget", budget)?;
    let min = cost.min_graph_flops();
    if budget < min {
        return Err(Error::hyper(
            "budget",
            budget,
            "below the cost of the cheapest graph (one call of the smallest model)",
        ));
    }
    Ok(())
}

/// Clamps every logit to `[-bound, bound]` (the spec's guard against saturated distributions
/// that stop exploring). Non-finite entries are left for the caller's validation to reject.
pub fn clip_logits(theta: &mut [f64], bound: f64) {
    for t in theta.iter_mut() {
        *t = t.clamp(-bound, bound);
    }
}
