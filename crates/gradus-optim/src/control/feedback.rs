//! The optimal feedback law of one quadratic coordinate, written in terms of the gradient:
//! the learning rules of paper 10 are this law with the curvature known, assumed or inferred.
//!
//! For a coordinate with loss `h/2 (θ - μ)²`, authority `c = η k / G`, discount `γ`, imposed
//! decay `f(θ) = -j θ` and a task that is replaced at rate `λ` by a fresh one whose minimum is
//! drawn from a prior with mean 0, the Riccati solution of the infinite-horizon problem gives
//!
//! ```text
//! θ̇ = -α g - β θ,     g = h (θ - μ) = ∂L/∂θ
//! ρ = sqrt((j + γ/2)² + c h) - (j + γ/2),   r = j + ρ,   D = γ + λ + r
//! α = c / D,          β = (λ ρ + j (γ + λ + j)) / D
//! ```
//!
//! Derivation (checked against the Riccati solver in `tests/control_rules.rs`): the stationary
//! value `W = P/2 θ² + b θ + const` gives `θ̇ = -j θ - (η/G)(P θ + b)` with `ρ = η P / G`
//! solving `ρ² + (2j + γ) ρ = c h`; eliminating `μ` through `g` leaves the form above. A task
//! switch at rate `λ` ends the current task and continues with the expected value of a fresh
//! one, `P/2 θ² + const` (the prior mean is 0), so the current task is solved with discount
//! `γ + λ` and the extra running cost `λ P/2 θ²`; its Riccati equation has the same `P`, hence
//! the same `ρ`, and the pull `λ P θ` is the decay term `λ ρ / D`.
//!
//! Limits: `h = 0` (or `γ → ∞`) gives gradient descent with rate `c/γ` (spec item 1; natural
//! gradient with `G`, item 2); `γ = j = λ = 0` gives `α = sqrt(c/h)`, the square-root-of-
//! curvature rule of the long horizon (items 3 and 6); `λ > 0` adds weight decay toward the
//! prior mean, the optimal response to task uncertainty.

use super::closed_form::stable_root_difference;

/// The coefficients of `θ̇ = -α g - β θ` and the closed-loop rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feedback {
    /// Gain `α` on the gradient.
    pub gain: f64,
    /// Decay `β` toward the prior mean 0.
    pub decay: f64,
    /// Rate `r = j + ρ` at which the optimum approaches its fixed point.
    pub rate: f64,
}

/// The optimal feedback law for authority `c = η k / G`, discount `gamma`, imposed decay `j`,
/// task-switch rate `hazard` and curvature `h` (module docs). When `γ + λ + r = 0` (no
/// discount, no decay, no hazard, zero curvature) the gain is infinite.
pub fn feedback(c: f64, gamma: f64, j: f64, hazard: f64, h: f64) -> Feedback {
    let rho = stable_root_difference(j + 0.5 * gamma, c * h);
    let rate = j + rho;
    let den = gamma + hazard + rate;
    Feedback { gain: c / den, decay: (hazard * rho + j * (gamma + hazard + j)) / den, rate }
}

/// Friction `sqrt(γ² + 4 c h)` of the inertial law `θ̈ = -friction θ̇ - c g`.
///
/// Its characteristic roots are `-r` and `-(r + γ)` with `r` the optimal rate
/// ([`super::closed_form::rate`]), so the slow mode of this heavy ball *is* the optimal
/// trajectory and the other one decays faster: momentum realises the long-horizon optimum
/// from gradients alone. At `γ = 0` it is critical damping `2 sqrt(c h)`; for `γ → ∞` the
/// ball is overdamped and moves by gradient flow with rate `c/γ`.
pub fn friction(c: f64, gamma: f64, h: f64) -> f64 {
    (gamma * gamma + 4.0 * c * h).sqrt()
}
