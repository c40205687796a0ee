//! [`Mpi`]: the [`Transport`] over MPI point-to-point messages (rsmpi on the system MPI).
//!
//! Receives poll `MPI_Improbe` for the expected source and tag until a message is there or
//! the time-out passes, so a rank that died silently or hangs is an error naming it rather
//! than a receive that never returns. Sends are non-blocking requests polled the same way;
//! a send that has not completed by the time-out cannot be withdrawn (MPI cannot release
//! the buffer), so the transport then prints the reason and aborts the MPI job, which ends
//! every rank.

use std::time::{Duration, Instant};

use gradus_core::{Error, Result};
use gradus_dist::comm::{Transport, peer_error};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// Exit code of an MPI job aborted by a transport (a send that could not complete).
pub const ABORT_CODE: i32 = 70;

/// One rank's endpoint on an MPI communicator.
pub struct Mpi {
    world: SimpleCommunicator,
    timeout: Duration,
}

impl Mpi {
    /// The transport over `world`, waiting at most `timeout` for a message. Errors for a zero
    /// time-out.
    pub fn new(world: SimpleCommunicator, timeout: Duration) -> Result<Self> {
        if timeout.is_zero() {
            return Err(Error::hyper("timeout", 0.0, "must be positive"));
        }
        Ok(Mpi { world, timeout })
    }

    /// The communicator.
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// Ends the whole MPI job with `code` (after the caller printed why).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    fn peer(&self, r: usize) -> Result<mpi::topology::Process<'_>> {
        if r >= self.ranks() {
            return Err(peer_error(r, "no such rank"));
        }
        Ok(self.world.process_at_rank(r as i32))
    }
}

/// Waits between polls: spin briefly (a reply is often already on its way), then sleep so
/// a waiting rank leaves the CPU to the ranks that compute.
fn pause(polls: u32) {
    if polls < 200 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(if polls < 2000 { 20 } else { 200 }));
    }
}

impl Transport for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn ranks(&self) -> usize {
        self.world.size() as usize
    }

    fn send(&mut self, to: usize, tag: u32, bytes: &[u8]) -> Result<()> {
        let p = self.peer(to)?;
        let deadline = Instant::now() + self.timeout;
        let timeout = self.timeout;
        let world = &self.world;
        mpi::request::scope(|scope| {
            let mut req = p.immediate_send_with_tag(scope, bytes, tag as i32);
            let mut polls = 0u32;
            loop {
                match req.test() {
                    Ok(_) => return Ok(()),
                    Err(r) => req = r,
                }
                if Instant::now() > deadline {
                    crate::eprintln_whole!(
                        "gradus-mpi: rank {}: a message to rank {to} was not taken within \
                         {:.1} s; aborting the MPI job",
                        world.rank(),
                        timeout.as_secs_f64()
                    );
                    world.abort(ABORT_CODE);
                }
                pause(polls);
                polls = polls.saturating_add(1);
            }
        })
    }

    fn recv(&mut self, from: usize, tag: u32) -> Result<Vec<u8>> {
        let p = self.peer(from)?;
        let deadline = Instant::now() + self.timeout;
        let mut polls = 0u32;
        loop {
            if let Some(m) = p.immediate_matched_probe_with_tag(tag as i32) {
                let (bytes, _) = m.matched_receive_vec::<u8>();
                return Ok(bytes);
            }
            if Instant::now() > deadline {
                return Err(peer_error(
                    from,
                    &format!("sent nothing within {:.1} s", self.timeout.as_secs_f64()),
                ));
            }
            pause(polls);
            polls = polls.saturating_add(1);
        }
    }
}
