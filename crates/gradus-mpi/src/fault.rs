//! Fault injection for tests of the failure paths: a [`Transport`] wrapper that, on one rank
//! and from one round on, goes silent, garbles its frames or ends the process.

use std::time::Duration;

use gradus_core::{Error, Result};
use gradus_dist::comm::Transport;

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The rank stops sending (stays alive for the given time, then errors out).
    Silent(Duration),
    /// The rank flips a byte in the middle of every frame it sends.
    Garble,
    /// The process exits with code 3 without saying goodbye (no MPI finalize).
    Exit,
}

impl Fault {
    /// Parses `silent`, `garble` or `exit`; `silent` stays alive for `linger`.
    pub fn parse(s: &str, linger: Duration) -> Result<Fault> {
        match s {
            "silent" => Ok(Fault::Silent(linger)),
            "garble" => Ok(Fault::Garble),
            "exit" => Ok(Fault::Exit),
            _ => Err(Error::Unsupported(format!("fault `{s}` (silent | garble | exit)"))),
        }
    }
}

/// A transport that injects `fault` into the sends of rank `rank` from its `from_send`-th
/// send on (0-based; a worker rank sends once per round, so this is the round).
pub struct Faulty<X> {
    inner: X,
    fault: Option<(Fault, usize, usize)>,
    sends: usize,
}

impl<X: Transport> Faulty<X> {
    /// Wraps `inner`; `fault` is `(what, rank, from_send)`, or `None` for a faithful transport.
    pub fn new(inner: X, fault: Option<(Fault, usize, usize)>) -> Self {
        Faulty { inner, fault, sends: 0 }
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &X {
        &self.inner
    }
}

impl<X: Transport> Transport for Faulty<X> {
    fn rank(&self) -> usize {
        self.inner.rank()
    }

    fn ranks(&self) -> usize {
        self.inner.ranks()
    }

    fn send(&mut self, to: usize, tag: u32, bytes: &[u8]) -> Result<()> {
        let k = self.sends;
        self.sends += 1;
        match self.fault {
            Some((f, rank, from)) if rank == self.inner.rank() && k >= from => match f {
                Fault::Silent(linger) => {
                    std::thread::sleep(linger);
                    Err(Error::Unsupported("injected fault: this rank went silent".into()))
                }
                Fault::Garble => {
                    let mut b = bytes.to_vec();
                    let at = b.len() / 2;
                    if let Some(x) = b.get_mut(at) {
                        *x ^= 0x5a;
                    }
                    self.inner.send(to, tag, &b)
                }
                Fault::Exit => std::process::exit(3),
            },
            _ => self.inner.send(to, tag, bytes),
        }
    }

    fn recv(&mut self, from: usize, tag: u32) -> Result<Vec<u8>> {
        self.inner.recv(from, tag)
    }
}
