//! The probabilistic graph model `p_theta(G)` (paper 04, RECONSTRUCTED parameterisation):
//! categorical depth and per-layer widths, per-node categorical family, size and role, and
//! Bernoulli edges between consecutive layers, with exact log-probabilities, the score
//! function, and sampling restricted to a FLOPs budget by rejection.

mod dist;
mod enumerate;
mod space;

pub use dist::{GraphDistribution, check_budget, clip_logits};
pub use enumerate::for_each_graph;
pub use space::{Choice, GraphSpace, ROLES};
