//! BR-MTRL: Byzantine-resilient federated multi-task representation learning (paper 09, Le
//! and Moothedath 2025).
//!
//! Every client `i` models its task as `h_i(phi(x))`: a shared representation `phi` (all
//! layers but the last) and a personal head `h_i`. Per round, sampled clients fit their
//! head with `phi` frozen, then run representation epochs with the head frozen and upload
//! the change of `phi`; the server aggregates the uploads with a robust rule
//! ([`crate::federated::aggregate`]: geometric median, Krum, ...) while Byzantine clients
//! send attacked uploads ([`crate::federated::attack`]). Heads never leave the clients.
//!
//! - [`representation`]: the [`Representation`] trait and [`LinearRep`] (`phi(x) = B^T x`);
//!   [`mlp`]: the [`Mlp`] representation (ReLU / tanh layers);
//! - [`head`]: the [`Head`] trait, [`RegressionHead`] (`y = theta^T z`) and [`SoftmaxHead`];
//! - [`client`]: the alternating local update (head fit, then representation epochs) on
//!   caller-owned [`ClientWorkspace`]s;
//! - [`server`]: the round driver [`Mtrl`] over a [`Federation`] (sampling, parallel clients,
//!   attack, aggregation, evaluation with refitted heads);
//! - [`transfer`]: new clients with a frozen representation vs training from scratch;
//! - [`subspace`]: orthonormalisation and principal angles (the linear model's metric);
//! - [`data`]: client tasks and their generators (linear multi-task, label subsets).

pub mod client;
pub mod data;
pub mod head;
pub mod mlp;
pub mod representation;
pub mod server;
pub mod subspace;
mod transfer;

pub use client::{ClientWorkspace, HeadFit, LocalSgd, LocalUpdate};
pub use data::{LinearTasks, Samples, Task};
pub use head::{Head, Metric, RegressionHead, SoftmaxHead};
pub use mlp::{Activation, Mlp};
pub use representation::{LinearRep, Representation};
pub use server::{Evaluation, Federation, Mtrl, MtrlConfig, RoundRecord};
pub use subspace::{orthonormalize, principal_angles, subspace_distance};
