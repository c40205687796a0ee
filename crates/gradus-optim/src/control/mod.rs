//! Learning rules derived as optimal control (paper 10: Vastola, Gershman, Rajan 2025,
//! "Gradient descent as loss landscape navigation").
//!
//! Parameters `theta(t)` are a controlled system. A learning rule is a policy for
//! `theta_dot`; the optimal one minimises the discounted action
//!
//! ```text
//! J[theta] = ∫_0^T e^{-γ t} [ (1/(2η)) (θ̇ - f(θ))ᵀ G (θ̇ - f(θ)) + k L(θ) ] dt,   f(θ) = A θ
//! ```
//!
//! - [`ControlProblem`]: `η`, `k`, `γ`, the metric `G` and the default dynamics `A`;
//!   [`Potential`]: the loss `L` ([`QuadraticLoss`], [`DoubleWell`]).
//! - [`DiscreteAction`]: the action on a time grid (forward-difference velocity, loss at the
//!   left point, as in the official notebooks) with its exact gradient and Hessian;
//!   [`minimise_path`]: gradient descent on it (the notebooks' method) or block-tridiagonal
//!   Newton.
//! - [`DoubleWellSetup`]: the settings of the paper's first figure.
//! - [`LqProblem`]: quadratic losses in closed form: the algebraic Riccati equation for an
//!   infinite horizon, and the exact minimiser of the discretised finite-horizon action by the
//!   backward Riccati recursion.
//! - [`closed_form`]: the spec's formulas (items 3-5), the test oracles.
//! - [`feedback`]: the optimal per-coordinate feedback law `θ̇ = -α g - β θ` those solutions
//!   imply, and [`ControlRule`]: that law as an [`crate::Optimizer`] (GD, natural gradient,
//!   momentum, the square-root-of-curvature rule, the ballistic Adam/RMSProp-like rule, weight
//!   decay and the response to a task switch are settings of it).

mod action;
pub mod closed_form;
mod dense;
mod feedback;
mod figure1;
mod kernel;
mod path;
mod potential;
mod problem;
mod riccati;
mod rule;

pub use action::{ActionParts, DiscreteAction, TimeGrid};
pub use feedback::{Feedback, feedback, friction};
pub use figure1::DoubleWellSetup;
pub use path::{Boundary, Method, PathSettings, PathSolution, linear_path, minimise_path};
pub use potential::{DoubleWell, Potential, QuadraticLoss};
pub use problem::ControlProblem;
pub use riccati::{LqProblem, LqSolution};
pub use rule::{ControlRule, ControlRuleConfig, Curvature, Law};
