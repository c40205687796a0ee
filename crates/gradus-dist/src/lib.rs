//! Communication between workers: the third seam of gradus.
//!
//! - [`compression`]: compressors, compressed gradient descent, error feedback (EF, EF21) and
//!   their tight rates (paper 06).
//! - [`federated`]: robust aggregators, attacks, LSH gradient screening (LSHFed) and a
//!   federated-learning simulator (papers 05, 09).

pub mod comm;
pub mod compression;
pub mod federated;
