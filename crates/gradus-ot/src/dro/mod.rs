//! Distributionally robust optimisation with gradient-flow samplers (paper 03, GFS-DRO).
//!
//! Entropic (Sinkhorn-type) Wasserstein DRO in penalised form, in the code's units
//! (`lambda = 1/(2 tau)`):
//! `min_theta E_{x ~ P_hat} max_{pi(.|x)} E[ l(theta, y) - lambda |y - x|^2 ] - (entropy)`,
//! whose inner maximiser for each nominal `x` is the Gibbs law
//! `p_{theta,x}(y) ∝ exp( R_theta(x, y) / (lambda eps) )`,
//! `R_theta(x, y) = l(theta, y) - lambda |y - x|^2`, and whose gradient is (Danskin)
//! `E_x E_{y ~ p_{theta,x}} grad_theta l(theta, y)`.
//! [`GfsDro`] samples `p_{theta,x}` with a particle flow ([`crate::flows`]: Langevin = WGF,
//! WFR, SVGD) and hands the weighted-particle gradient to any gradus optimizer; WRM is the
//! noise-free, single-particle case; [`SinkhornDro`] is the importance-weighted dual.
//! Radius 0 (no perturbation at all) is `lambda = +inf`, which reduces every method to ERM.

mod attack;
pub mod data;
mod gradient_flow;
mod loss;
mod models;
mod sinkhorn_dro;

pub use attack::{fgsm_accuracy, pgd_l2_accuracy, pgd_l2_point, pgd_linf_accuracy};
pub use data::Dataset;
pub use gradient_flow::{Erm, GfsConfig, GfsDro, InnerSampler, train};
pub use loss::{Classifier, GibbsTarget, PointLoss};
pub use models::{Mlp, MultinomialLogistic, UncertainLeastSquares};
pub use sinkhorn_dro::{DualSamples, SinkhornDro, SinkhornDroConfig};
