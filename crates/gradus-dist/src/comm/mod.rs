//! Running workers in several processes: the communication seam.
//!
//! - [`Transport`]: point-to-point byte messages between `ranks` processes (or threads),
//!   with a time-out on every receive. Two implementations: [`Local`] (threads of one
//!   process, connected by channels; the default) and the MPI transport of the `gradus-mpi`
//!   crate (behind its `mpi` feature, so the default build needs no system MPI).
//! - [`wire`]: the wire format of a compressed message (dense or sparse index-value pairs),
//!   whose payload is the size the compressors' bit accounting reports.
//! - [`RankCluster`]: CGD / EF / EF21 with the workers spread over the ranks of a
//!   transport, rank 0 the server; the same trajectory as [`crate::compression::Cluster`]
//!   for the same seeds, bit for bit, with checkpoints for resuming.
//! - [`fed`]: the federated aggregation step over a transport: each rank holds its clients,
//!   rank 0 runs the robust rule or the LSH screen.
//!
//! A receive that sees nothing within the time-out, a frame that fails validation, or a rank
//! whose round or seed differs from the server's, is an error naming the rank; the server
//! then tells the other ranks to stop, so no rank waits forever.

pub mod fed;
mod frame;
mod local;
mod rank_cluster;
pub mod wire;

#[doc(hidden)]
pub mod fuzzing;

pub use local::Local;
pub use rank_cluster::{RankCluster, WireStats, block};

use gradus_core::{Error, Result};

/// Point-to-point messages between the ranks of a group.
///
/// Messages from one rank to another arrive in the order sent. `recv` waits at most the
/// transport's time-out and then errors, naming the silent rank, so a dead peer never hangs
/// the caller.
pub trait Transport {
    /// This process's (or thread's) rank, in `0..ranks()`.
    fn rank(&self) -> usize;

    /// Number of ranks.
    fn ranks(&self) -> usize;

    /// Sends `bytes` with `tag` to rank `to`.
    fn send(&mut self, to: usize, tag: u32, bytes: &[u8]) -> Result<()>;

    /// The next message with `tag` from rank `from`.
    fn recv(&mut self, from: usize, tag: u32) -> Result<Vec<u8>>;
}

impl<X: Transport + ?Sized> Transport for Box<X> {
    fn rank(&self) -> usize {
        (**self).rank()
    }
    fn ranks(&self) -> usize {
        (**self).ranks()
    }
    fn send(&mut self, to: usize, tag: u32, bytes: &[u8]) -> Result<()> {
        (**self).send(to, tag, bytes)
    }
    fn recv(&mut self, from: usize, tag: u32) -> Result<Vec<u8>> {
        (**self).recv(from, tag)
    }
}

/// The error for a peer that cannot be reached or stayed silent.
pub fn peer_error(rank: usize, what: &str) -> Error {
    Error::Io { path: format!("rank {rank}"), message: what.to_string() }
}

/// A non-server rank's wait for the server's reply: up to `ranks` time-outs, since the
/// server may itself be waiting out the time-out of another rank before it can reply (and
/// should be the one to name the silent rank). A dead server still ends the wait.
pub(crate) fn recv_reply<X: Transport + ?Sized>(t: &mut X, tag: u32) -> Result<Vec<u8>> {
    let mut last = None;
    for _ in 0..t.ranks().max(1) {
        match t.recv(0, tag) {
            Ok(b) => return Ok(b),
            Err(e @ Error::Io { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| peer_error(0, "no reply")))
}

/// Message tags.
pub(crate) mod tag {
    /// Data-parallel rounds.
    pub const ROUND: u32 = 11;
    /// Checkpoint consistency checks.
    pub const CHECK: u32 = 12;
    /// Federated rounds.
    pub const FED: u32 = 13;
}
