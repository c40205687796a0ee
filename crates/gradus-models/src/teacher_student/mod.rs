//! Teacher-student models with Gaussian inputs under online SGD, and their high-dimensional
//! limits (paper 02: Rangriz 2025, limit theorems for SGD in single-layer networks; Saad &
//! Solla 1995 for the soft committee machine).
//!
//! - [`activation`]: ReLU, erf, tanh and normalised Hermite polynomials (information
//!   exponent `k`);
//! - [`simulate`]: the online-SGD simulator (one fresh sample per step, `delta = c / N^alpha`,
//!   SIMD dot/axpy, no allocation per sample) and order parameters;
//! - [`erf_integrals`]: the closed-form Gaussian integrals of erf units and the
//!   generalisation error;
//! - [`ode`]: the ballistic and critical-scaling limit ODEs, fixed points, and the linearised
//!   (Ornstein-Uhlenbeck) fluctuations;
//! - [`hermite`]: Hermite polynomials and Gauss-Hermite rules.

pub mod activation;
pub mod chebyshev;
pub mod erf_integrals;
pub mod hermite;
pub mod ode;
pub mod simulate;

pub use activation::Activation;
pub use erf_integrals::{Overlaps, generalisation_error};
pub use ode::{SingleIndexOde, lyapunov_2x2, solve_committee_erf};
pub use simulate::{Init, OnlineSgd, SgdConfig, for_seeds};
