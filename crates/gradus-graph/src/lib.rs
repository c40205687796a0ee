//! Test-time-compute collaboration graphs (paper 04: Wang et al., "Generalizing Test-time
//! Compute-optimal Scaling as an Optimizable Graph", arXiv:2511.00086).
//!
//! The paper's body was not available; its graph grammar, the parameterisation of the
//! probability model and the agent step are RECONSTRUCTED from the abstract, secondary
//! summaries and GPTSwarm's REINFORCE edge optimisation (see `docs/papers.md`).
//!
//! - [`graph`]: collaboration graphs (layered DAGs of role + model nodes), their cost in
//!   FLOPs and their latency (critical path);
//! - [`model`]: `p_theta(G)` with exact log-probabilities, the score function, and sampling
//!   restricted to a budget;
//! - [`env`]: the [`env::Environment`] trait and a *simulated* environment (single-call
//!   accuracies from published benchmark figures; assumed models of voting, refinement and
//!   aggregation);
//! - [`optimise`]: random search, REINFORCE (any gradus optimizer), Agent-REINFORCE with a
//!   [`optimise::Feedback`] agent, and fixed best-of-N / self-refinement graphs;
//! - [`llm`]: the agent-reply format (parsing, validation, application to `theta`) and,
//!   with the `llm-agent` feature, an agent that asks an OpenAI-compatible endpoint.
//!
//! Everything is `f64` and seeded; a search gives the same result for any thread count.

#![warn(missing_docs)]

pub mod env;
pub mod graph;
pub mod llm;
pub mod model;
pub mod optimise;

#[doc(hidden)]
pub mod fuzzing;

pub use env::{Environment, Evaluation, SimEnv, TaskProfile, Utility};
pub use graph::{CostModel, Graph, Node, Role};
pub use model::{GraphDistribution, GraphSpace};
pub use optimise::{
    AgentReinforce, Feedback, HeuristicAgent, RandomSearch, Reinforce, SearchConfig, SearchResult,
    search,
};
