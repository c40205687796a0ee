//! Byzantine-robust federated learning (papers 05 LSHFed and 09 BR-MTRL).
//!
//! - [`Updates`]: `n` client vectors of one dimension `d`, row-major, borrowed.
//! - [`aggregate`]: the server rules — mean, coordinate-wise median, trimmed mean, geometric
//!   median (smoothed Weiszfeld), Krum / multi-Krum, centered clipping. Distance-based rules
//!   go through one Gram matrix product ([`gram`]).
//! - [`attack`]: seeded Byzantine attacks (sign flip, Gaussian noise, scaling, ALIE, IPM,
//!   label flip, mimic, and an adaptive attack that keeps the honest LSH code).
//! - [`lsh`]: random-hyperplane sign hashing per layer (paper 05 §2, "LSHGM"), packed `u64`
//!   codes and popcount Hamming distances; [`lshfed`]: the LSHFed round protocol (hash-ring
//!   election, aggregator groups, verifier, reputation); [`screening`]: a per-client
//!   screening rule built on the same codes.
//! - [`sim`]: a federated simulator (IID / Dirichlet clients, local steps with any gradus
//!   optimizer, partial participation, Byzantine clients, any defence), deterministic for a
//!   seed whatever the thread count; [`round`]: its named steps (participants, local
//!   updates, attack, non-finite policy, one type per defence behind a trait) and the seed
//!   streams, shared with the rank version [`crate::comm::fed`].
//! - [`data`]: synthetic generators, client splits, CIFAR-10 binary and LEAF FEMNIST loaders.
//! - [`mtrl`]: BR-MTRL (paper 09), multi-task representation learning with a shared
//!   representation, personal heads and robust aggregation of the representation.

pub mod aggregate;
pub mod attack;
pub mod data;
pub mod gram;
pub mod lsh;
pub mod lshfed;
pub mod mtrl;
pub mod round;
pub mod screening;
mod sha256;
pub mod sim;
mod updates;

#[doc(hidden)]
pub mod fuzzing;

pub use aggregate::{Aggregate, Aggregator, CenteredClipping, Krum, Weiszfeld, WeiszfeldStart};
pub use attack::Attack;
pub use lsh::{LshCode, LshHasher, hamming};
pub use updates::{NonFinitePolicy, Updates, stack_rows};
