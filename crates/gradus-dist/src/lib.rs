//! Communication between workers: the third seam of gradus.
//!
//! - [`compression`]: compressors, compression with feedback (none, EF, EF21) as a wrapper
//!   over any optimizer, paper 06's CGD / EF / EF21 as its named instances, and their tight
//!   rates (paper 06).
//! - [`federated`]: robust aggregators, attacks, LSH gradient screening (LSHFed) and a
//!   federated-learning simulator (papers 05, 09).

pub mod comm;
pub mod compression;
pub mod federated;
