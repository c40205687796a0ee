//! # gradus
//!
//! A gradient-descent engine: SIMD optimizer kernels, adaptive preconditioners in one unified
//! form, an allocation-free training loop, and the methods of ten optimisation
//! papers (see `docs/papers.md`).
//!
//! This facade re-exports the workspace crates under short names:
//!
//! | module | crate | contents |
//! |---|---|---|
//! | [`core`] | `gradus-core` | `Scalar`, `Layout`, `Error`, `Objective`, seeding, `Par` |
//! | [`kernels`] | `gradus-kernels` | pulp SIMD elementwise kernels and their scalar references |
//! | [`linalg`] | `gradus-linalg` | eigendecomposition, inverse matrix roots, Toeplitz solvers |
//! | [`optim`] | `gradus-optim` | `Agm` (SGD ... Adam ... Adalayer), `Shampoo`, schedules, `Trainer`, checkpoints |
//! | [`models`] | `gradus-models` | objectives with exact gradients and HVPs, sharpness, Toeplitz covariance |
//! | [`dist`] | `gradus-dist` | compressors, error feedback, robust aggregation, LSH screening, federated simulation |
//! | [`ot`] | `gradus-ot` | semi-discrete OT (DRAG), Sinkhorn, particle flows (Langevin, WFR, SVGD), DRO |
//! | [`graph`] | `gradus-graph` | test-time-compute collaboration graphs, REINFORCE / Agent-REINFORCE, simulated LLM environment |
//! | [`ode`] | `gradus-ode` | fixed-step RK4 and adaptive Dormand-Prince RK45 on a time grid |
//! | [`report`] | `gradus-report` | Markdown/CSV tables and SVG plots |
//!
//! All crates share one error type, [`Error`].

pub use gradus_core as core;
pub use gradus_dist as dist;
pub use gradus_graph as graph;
pub use gradus_kernels as kernels;
pub use gradus_linalg as linalg;
pub use gradus_models as models;
pub use gradus_ode as ode;
pub use gradus_optim as optim;
pub use gradus_ot as ot;
pub use gradus_report as report;

pub use gradus_core::{Error, Layout, Objective, Par, Result, Scalar};
pub use gradus_optim::{Agm, AgmConfig, Optimizer, Schedule, Trainer};

#[doc(hidden)]
pub mod fuzz_harness;
