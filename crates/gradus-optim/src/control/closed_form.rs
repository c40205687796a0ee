//! Closed-form optimal trajectories for separable quadratic losses over an infinite horizon
//! (paper 10, spec items 3-5; the official notebooks' `get_curves_qloss*`). They are the
//! oracles the Riccati solver and the learning rules are tested against, and the curves of
//! the second and third figures.
//!
//! Per coordinate the loss is `h/2 (θ - μ)²`, the kinetic weight `G/(2η)`, so only
//! `c = η k / G` (the *control authority*) enters the rates.

/// Rate `r = sqrt(γ²/4 + c h) - γ/2` of the optimal approach `θ(t) = μ + (θ₀ - μ) e^{-r t}`
/// (spec item 3; item 4 with `c = η k / G`).
///
/// Evaluated as `c h / (sqrt(γ²/4 + c h) + γ/2)`, which keeps full precision in the
/// gradient-descent regime `γ² >> c h`, where the difference form cancels.
pub fn rate(c: f64, gamma: f64, h: f64) -> f64 {
    stable_root_difference(0.5 * gamma, c * h)
}

/// `sqrt(s² + q) - s` for `s >= 0`, written as `q / (sqrt(s² + q) + s)` (no cancellation).
pub(crate) fn stable_root_difference(s: f64, q: f64) -> f64 {
    let root = (s * s + q).sqrt();
    if root + s == 0.0 { 0.0 } else { q / (root + s) }
}

/// `θ(t) = μ + (θ₀ - μ) e^{-r t}` with [`rate`].
pub fn trajectory(c: f64, gamma: f64, h: f64, mu: f64, theta0: f64, t: f64) -> f64 {
    mu + (theta0 - mu) * (-rate(c, gamma, h) * t).exp()
}

/// Discounted cost accumulated on `[0, t]` along the optimum of one coordinate (spec item 3,
/// with the metric `G`): `G/(2η) (r² + c h) (θ₀ - μ)² / (2r + γ) (1 - e^{-(2r + γ) t})`.
/// At `t = ∞` it equals the value `P/2 (θ₀ - μ)²` with `P = G r / η`.
pub fn cost(eta: f64, k: f64, g: f64, gamma: f64, h: f64, delta0: f64, t: f64) -> f64 {
    let c = eta * k / g;
    let r = rate(c, gamma, h);
    let total = g / (2.0 * eta) * (r * r + c * h) * delta0 * delta0 / (2.0 * r + gamma);
    if t.is_infinite() { total } else { total * -(-(2.0 * r + gamma) * t).exp_m1() }
}

/// Rate of the optimal approach under weight-decay default dynamics `f(θ) = -j θ` (spec item
/// 5): `sqrt(γ²/4 + c h + j (j + γ)) - γ/2`.
///
/// The Euler-Lagrange equation and the Riccati equation of this functional both give
/// `j (j + γ)`; the official notebook writes `j (j - γ)`, which is this function at `-j`
/// (default dynamics `+j θ`). The two agree at `γ = 0`, the only value its figure uses.
pub fn decay_rate(c: f64, gamma: f64, h: f64, j: f64) -> f64 {
    stable_root_difference(0.5 * gamma, c * h + j * (j + gamma))
}

/// Fixed point factor `B = c h / (c h + j (j + γ))` under `f(θ) = -j θ`: the optimum
/// converges to `B μ`, not to `μ` (same sign convention as [`decay_rate`]).
pub fn decay_fixed_point_factor(c: f64, gamma: f64, h: f64, j: f64) -> f64 {
    c * h / (c * h + j * (j + gamma))
}

/// The optimum for an isotropic 2-D quadratic (`h₁ = h₂ = h`) under rotational default
/// dynamics `f(θ) = q J θ`, `J` the rotation by +90° (spec item 5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rotation {
    /// Decay rate `λ = sqrt(γ²/4 + c h) - γ/2`.
    pub lambda: f64,
    /// Angular frequency `q` of the spiral.
    pub q: f64,
    /// Where the optimum converges: `c h / ((c h + q²)² + (q γ)²) · M μ` with
    /// `M = [[c h + q², -q γ], [q γ, c h + q²]]`.
    pub fixed_point: [f64; 2],
}

impl Rotation {
    /// The solution for authority `c`, discount `gamma`, curvature `h`, frequency `q` and
    /// loss minimum `mu`.
    pub fn new(c: f64, gamma: f64, h: f64, q: f64, mu: [f64; 2]) -> Self {
        let a = c * h + q * q;
        let ratio = c * h / (a * a + (q * gamma).powi(2));
        let fixed_point =
            [ratio * (a * mu[0] - q * gamma * mu[1]), ratio * (q * gamma * mu[0] + a * mu[1])];
        Rotation { lambda: rate(c, gamma, h), q, fixed_point }
    }

    /// `θ(t) = θ* + e^{-λ t} R(q t) (θ₀ - θ*)`, `R` the rotation by angle `q t`.
    pub fn trajectory(&self, theta0: [f64; 2], t: f64) -> [f64; 2] {
        let (s, c) = (self.q * t).sin_cos();
        let e = (-self.lambda * t).exp();
        let d = [theta0[0] - self.fixed_point[0], theta0[1] - self.fixed_point[1]];
        [
            self.fixed_point[0] + e * (c * d[0] - s * d[1]),
            self.fixed_point[1] + e * (s * d[0] + c * d[1]),
        ]
    }
}
