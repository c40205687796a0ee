//! [`Local`]: the in-process transport, one endpoint per thread, connected by channels.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use gradus_core::{Error, Result};

use super::{Transport, peer_error};

/// A tagged message in a channel.
type Msg = (u32, Vec<u8>);

/// One rank's endpoint of an in-process mesh (see [`Local::mesh`]). Every ordered pair of
/// ranks has its own channel, so messages between two ranks arrive in the order sent.
#[derive(Debug)]
pub struct Local {
    rank: usize,
    to: Vec<Sender<Msg>>,
    from: Vec<Receiver<Msg>>,
    timeout: Duration,
}

impl Local {
    /// `ranks` connected endpoints (rank `r` at index `r`), each waiting at most `timeout`
    /// for a message. Errors unless `ranks >= 1` and the timeout is positive.
    pub fn mesh(ranks: usize, timeout: Duration) -> Result<Vec<Local>> {
        if ranks == 0 {
            return Err(Error::InvalidShape { what: "mesh", detail: "no ranks".into() });
        }
        if timeout.is_zero() {
            return Err(Error::hyper("timeout", 0.0, "must be positive"));
        }
        // chans[a][b]: from a to b.
        let mut tx: Vec<Vec<Option<Sender<Msg>>>> = Vec::with_capacity(ranks);
        let mut rx: Vec<Vec<Option<Receiver<Msg>>>> =
            (0..ranks).map(|_| (0..ranks).map(|_| None).collect()).collect();
        for a in 0..ranks {
            let mut row = Vec::with_capacity(ranks);
            for rx_b in rx.iter_mut() {
                let (s, r) = channel();
                row.push(Some(s));
                rx_b[a] = Some(r);
            }
            tx.push(row);
        }
        let mut out = Vec::with_capacity(ranks);
        for (rank, (row, col)) in tx.into_iter().zip(rx).enumerate() {
            out.push(Local {
                rank,
                to: row.into_iter().flatten().collect(),
                from: col.into_iter().flatten().collect(),
                timeout,
            });
        }
        Ok(out)
    }
}

impl Transport for Local {
    fn rank(&self) -> usize {
        self.rank
    }

    fn ranks(&self) -> usize {
        self.to.len()
    }

    fn send(&mut self, to: usize, tag: u32, bytes: &[u8]) -> Result<()> {
        let ch = self.to.get(to).ok_or_else(|| peer_error(to, "no such rank"))?;
        ch.send((tag, bytes.to_vec())).map_err(|_| peer_error(to, "has exited"))
    }

    fn recv(&mut self, from: usize, tag: u32) -> Result<Vec<u8>> {
        let ch = self.from.get(from).ok_or_else(|| peer_error(from, "no such rank"))?;
        match ch.recv_timeout(self.timeout) {
            Ok((t, bytes)) if t == tag => Ok(bytes),
            Ok((t, _)) => Err(Error::corrupt(
                "message from a rank",
                format!("rank {from} sent tag {t}, expected {tag}"),
            )),
            Err(RecvTimeoutError::Timeout) => Err(peer_error(
                from,
                &format!("sent nothing within {:.1} s", self.timeout.as_secs_f64()),
            )),
            Err(RecvTimeoutError::Disconnected) => {
                Err(peer_error(from, "has exited without sending"))
            }
        }
    }
}
