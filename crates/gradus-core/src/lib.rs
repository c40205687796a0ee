//! Shared foundation of gradus.
//!
//! Everything the other crates agree on lives here and nowhere else:
//! - [`Scalar`]: the float types parameters and statistics are stored in (`f32`, `f64`);
//! - [`Layout`]: a flat parameter buffer cut into named blocks with shapes and per-block
//!   hyperparameter overrides (param groups, Adam-mini / Adalayer partitions, Shampoo shapes);
//! - [`Error`]: the error enum every fallible public function returns;
//! - [`Objective`]: parameters in, loss and gradient out, into caller-owned buffers;
//! - [`rng`]: explicit, stream-splittable seeding so results never depend on thread count;
//! - [`Par`]: parallelism as a value passed in.

pub mod alloc_count;
mod error;
mod layout;
pub mod numeric;
mod objective;
mod par;
pub mod rng;
mod scalar;
pub mod testing;
pub mod validate;

pub use error::{Error, Result};
pub use layout::{Block, BlockHyper, Layout, Shape};
pub use objective::Objective;
pub use par::Par;
pub use rng::Rng;
pub use scalar::Scalar;
