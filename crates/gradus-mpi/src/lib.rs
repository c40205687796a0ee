//! Data-parallel and federated runs across processes.
//!
//! The seam is [`gradus_dist::comm::Transport`]; this crate adds
//!
//! - [`transport::Mpi`] (feature `mpi`): the transport over MPI point-to-point messages,
//!   with a time-out on every receive (polled probes, so a silent rank is an error, not a
//!   hang);
//! - [`problem`]: the synthetic logistic-regression shards the `train-dist` and `mpi-check`
//!   binaries train, generated per worker so each rank builds only its own;
//! - [`driver`]: the round loop (`x <- x - eta u`, round `k` drawing from
//!   `rng::stream(seed, k)`, so a run resumes from a checkpoint at any round).
//!
//! Binaries (feature `mpi`): `train-dist` (`mpirun -np 4 train-dist ...`: logistic
//! regression with EF21 + top-k across ranks, per-round loss, bytes and time) and
//! `mpi-check` (bit-for-bit comparison with the in-process cluster, fault injection), run by
//! this crate's tests under `mpirun`.

/// Writes one line to standard error in a single `write` call.
///
/// `eprintln!` writes a formatted line piece by piece to the unbuffered stderr, and
/// `mpirun` forwards each rank's pieces as they come, so two ranks reporting at once
/// interleave mid-line. A single write of a short line to a pipe is atomic.
#[macro_export]
macro_rules! eprintln_whole {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let mut line = ::std::format!($($arg)*);
        line.push('\n');
        // Nothing useful can be done if stderr itself is gone.
        ::std::io::stderr().lock().write_all(line.as_bytes()).ok();
    }};
}

pub mod driver;
pub mod fault;
pub mod problem;
pub mod run;

#[cfg(feature = "mpi")]
pub mod transport;
