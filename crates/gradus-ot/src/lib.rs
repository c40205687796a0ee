//! Optimal transport and distributionally robust optimisation (papers 03 and 08).
//!
//! - [`semidiscrete`]: the semi-dual of entropic semi-discrete OT between a sampled source
//!   `mu` and a discrete target `nu = sum_j w_j delta_{y_j}`, its stochastic gradient (a
//!   stable softmax over the targets), the Laguerre / power-cell map, and
//!   [`semidiscrete::Drag`]: DRAG (decreasing regularisation, averaged gradient; paper 08)
//!   with the fixed-epsilon and unregularised averaged-SGD baselines as settings of it.
//! - [`examples`]: the paper's synthetic problems with closed-form potentials and costs.
//! - [`sinkhorn`] (log-domain with epsilon scaling) and [`exact1d`] (sorting): discrete OT
//!   references.
//! - [`flows`]: particle samplers over weighted particles (Langevin, Wasserstein-Fisher-Rao
//!   with birth-death, SVGD with the median-bandwidth RBF kernel).
//! - [`dro`]: gradient-flow-sampler DRO (paper 03), with WRM and the Sinkhorn-DRO dual.
//!
//! Everything is `f64`. Randomness comes from explicit seeds and is split by work item
//! ([`gradus_core::rng::stream`]), so no result depends on the rayon thread count.

#![warn(missing_docs)]

pub mod dro;
pub mod exact1d;
pub mod examples;
pub mod flows;
mod measure;
pub mod semidiscrete;
pub mod sinkhorn;
mod source;
mod vectorized;

#[doc(hidden)]
pub mod fuzzing;

pub use measure::DiscreteMeasure;
pub use source::{Gaussian, SampleSet, Source, UniformBall, UniformBox};
