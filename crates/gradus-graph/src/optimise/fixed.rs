//! Hand-designed test-time-scaling graphs at a given budget: the reference points the
//! searches are compared with.

use gradus_core::Result;

use crate::env::{Environment, Evaluation};
use crate::graph::{CostModel, Graph};
use crate::model::{GraphSpace, check_budget};

/// The two classic shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `N` samples of one model and a majority vote, `N` as large as the budget and the
    /// space allow.
    BestOfN,
    /// One model answering, then refining its answer, as deep as the budget and the space
    /// allow.
    SelfRefine,
}

impl Shape {
    /// Name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Shape::BestOfN => "best-of-N (vote)",
            Shape::SelfRefine => "sequential self-refinement",
        }
    }
}

/// The largest graph of `shape` for model `(family, size)` within `budget` and `space`, or
/// `None` if one call is already over budget.
pub fn largest(
    shape: Shape,
    cost: &CostModel,
    space: &GraphSpace,
    budget: f64,
    family: usize,
    size: usize,
) -> Result<Option<Graph>> {
    type Build = fn(usize, usize, usize) -> Result<Graph>;
    let (limit, build): (usize, Build) = match shape {
        Shape::BestOfN => (space.max_width(), Graph::parallel),
        Shape::SelfRefine => (space.max_depth(), Graph::chain),
    };
    let mut best = None;
    for n in 1..=limit {
        let g = build(family, size, n)?;
        if cost.flops(&g)? > budget {
            break;
        }
        best = Some(g);
    }
    Ok(best)
}

/// A fixed graph with its reference evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedGraph {
    /// Its shape.
    pub shape: Shape,
    /// The graph.
    pub graph: Graph,
    /// Its reference evaluation.
    pub reference: Evaluation,
}

/// Both shapes for every model of the pool that can afford one call, evaluated on the
/// reference questions.
pub fn all<E: Environment + ?Sized>(
    env: &E,
    space: &GraphSpace,
    budget: f64,
) -> Result<Vec<FixedGraph>> {
    let cost = env.cost_model();
    check_budget(cost, budget)?;
    let mut out = Vec::new();
    for shape in [Shape::BestOfN, Shape::SelfRefine] {
        for family in 0..cost.families() {
            for size in 0..cost.sizes() {
                if let Some(graph) = largest(shape, cost, space, budget, family, size)? {
                    let reference = env.reference(&graph)?;
                    out.push(FixedGraph { shape, graph, reference });
                }
            }
        }
    }
    Ok(out)
}
