//! Toeplitz covariance estimation by over-parameterised gradient descent (paper 07, Busbib &
//! Wiesel 2025).
//!
//! A `P x P` Hermitian Toeplitz covariance is modelled as a sum of `K` sinusoids,
//! ```text
//! R(a, w) = sum_k s(a_k) v(w_k) v(w_k)^H + delta I,   v(w) = [1, e^{iw}, ..., e^{i(P-1)w}],
//! s(a) = 20 softplus(a)  (amplitudes stay >= 0, so R >= delta I and is Toeplitz by construction)
//! ```
//! and fitted to `N` snapshots by minimising the Gaussian negative log-likelihood
//! `L = Re tr(R^{-1} S) + log det R` with gradient descent on `(a, w)` (Algorithms 1 and 2 of
//! the paper's code: Armijo backtracking, one step size or one per parameter group).
//!
//! Module map: [`model`] (parameters to the first column `r`), [`likelihood`] (the objective:
//! a structured `O(P^2 + N P log P)` path through Levinson-Durbin and the Gohberg-Semencul
//! inverse, and a dense `O(P^3)` oracle), [`estimators`] (Armijo GD, initialisations),
//! [`baselines`] (sample covariance, Toeplitz projection, Fisher-scoring ML, Cramer-Rao bound),
//! [`data`] (the paper's three generators and sampling), [`metrics`] (KL divergence,
//! first-row error).

pub mod baselines;
pub mod data;
mod dense;
pub mod estimators;
pub mod likelihood;
pub mod metrics;
pub mod model;
mod structured;

pub use estimators::{ArmijoParams, ArmijoResult, Init, armijo_gd};
pub use likelihood::{EvalPath, ToeplitzNll};
pub use model::{DataKind, SinusoidModel};
