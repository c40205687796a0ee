//! [`RankCluster`]: CGD / EF / EF21 with the workers spread over the ranks of a [`Transport`].
//!
//! The `n` workers are split into contiguous blocks ([`block`]), one per rank; rank 0 is also
//! the server. One call of `loss_grad` is one round, on every rank:
//!
//! 1. every rank runs the worker side of the method for its block (worker `i` draws from
//!    `rng::stream(seed_k, i)` as in [`crate::compression::Cluster`]);
//! 2. ranks `1..p` send one frame to rank 0: per worker its loss, the accounted
//!    [`Message`] and the packet of `c_i` ([`super::wire`]);
//! 3. rank 0 receives the frames in rank order, checks them, averages the messages in worker
//!    order (the order and arithmetic of `Cluster`) and sends every rank the packet of the
//!    mean `m = mean_i c_i`, the mean loss and the round's message totals;
//! 4. every rank commits its workers' memories and moves along `u = m` (CGD, EF) or
//!    `u = d <- d + m` (EF21, every rank keeping a copy of the server's `d`).
//!
//! The packets are exact (raw float bits), so every rank returns the direction and loss that
//! `Cluster` returns for the same objectives and generator, bit for bit, whatever the number
//! of ranks. All ranks must be driven by the same generator (e.g. the same `Trainer` seed):
//! frames carry the round number and seed, and a rank that disagrees is an error.
//!
//! A round in which a worker fails changes no state on any rank; every rank returns the first
//! failing worker's error in worker order. A rank that stays silent past the transport's
//! time-out or sends a malformed frame makes rank 0 return an error naming it and tell the
//! other ranks to stop.

use std::ops::Range;

use gradus_core::validate::same_len;
use gradus_core::{Error, Objective, Par, Result, Rng, rng};
use rand::RngCore;
use rayon::prelude::*;

use super::frame::{self, Head, Kind, Put, Reader};
use super::{Transport, peer_error, tag, wire};

mod checkpoint;
use crate::compression::{Compressor, Ef21Init, Message, Method, WireScalar, message_bits};

/// The workers rank `rank` of `ranks` holds when `workers` are split into contiguous blocks
/// (the first `workers % ranks` ranks get one more).
pub fn block(workers: usize, ranks: usize, rank: usize) -> Range<usize> {
    if ranks == 0 {
        return 0..0;
    }
    let (base, extra) = (workers / ranks, workers % ranks);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

/// Bytes on the wire, as seen by one rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WireStats {
    /// Bytes of frames this rank sent so far.
    pub bytes_sent: u64,
    /// Bytes of frames this rank received so far.
    pub bytes_received: u64,
    /// Rank 0: payload bits of every worker's packet so far (rank 0's own workers' packets
    /// counted as if sent); for top-k, rand-k and the identity this equals the accounted
    /// [`RankCluster::bits_up`].
    pub payload_bits_up: u64,
    /// Bytes this rank sent in the last round.
    pub last_sent: u64,
    /// Bytes this rank received in the last round.
    pub last_received: u64,
}

/// One local worker's sending side (as in `Cluster`).
#[derive(Debug, Clone)]
struct Worker<T, C> {
    compressor: C,
    grad: Vec<T>,
    memory: Vec<T>,
    loss: f64,
    message: Message,
    status: Result<()>,
}

/// A local worker's objective, sender and message buffer, as rayon hands them out.
type Slot<'a, O, T, C> = (usize, ((&'a mut O, &'a mut Worker<T, C>), &'a mut Vec<T>));

/// What every local worker needs to know about the round.
#[derive(Clone, Copy)]
struct Round<'a, T> {
    method: Method,
    full_first: bool,
    params: &'a [T],
    seed: u64,
}

/// CGD / EF / EF21 over the ranks of a transport (see the module documentation).
#[derive(Debug)]
pub struct RankCluster<T, O, C, X> {
    transport: X,
    method: Method,
    init: Ef21Init,
    workers: usize,
    first: usize,
    objectives: Vec<O>,
    local: Vec<Worker<T, C>>,
    messages: Vec<Vec<T>>,
    server: Vec<T>,
    mean: Vec<T>,
    scratch: Vec<T>,
    frame: Vec<u8>,
    dim: usize,
    par: Par,
    started: bool,
    rounds: u64,
    bits: u64,
    last: Message,
    stats: WireStats,
    compressor: String,
}

impl<T, O, C, X> RankCluster<T, O, C, X>
where
    T: WireScalar,
    O: Objective<T> + Send,
    C: Compressor<T> + Clone,
    X: Transport,
{
    /// This rank's part of a cluster of `workers` workers running `method`: `objectives` are
    /// the objectives of the workers [`block`]`(workers, ranks, rank)`, in order, each with a
    /// copy of `compressor`. Errors unless every rank holds at least one worker
    /// (`workers >= ranks`), the number of objectives is the block's, and every objective has
    /// the compressor's dimension. Purely local: a mismatch between ranks shows in the
    /// first round.
    pub fn new(
        transport: X,
        workers: usize,
        objectives: Vec<O>,
        compressor: C,
        method: Method,
    ) -> Result<Self> {
        let (rank, ranks) = (transport.rank(), transport.ranks());
        if ranks == 0 || rank >= ranks {
            return Err(Error::InvalidShape {
                what: "transport",
                detail: format!("rank {rank} of {ranks}"),
            });
        }
        if workers < ranks {
            return Err(Error::InvalidShape {
                what: "rank cluster",
                detail: format!("{workers} workers for {ranks} ranks: every rank needs one"),
            });
        }
        let range = block(workers, ranks, rank);
        same_len("worker objectives on this rank", range.len(), objectives.len())?;
        let dim = compressor.dim();
        for o in &objectives {
            same_len("worker objective dimension", dim, o.dim())?;
        }
        let memory = if method == Method::Cgd { 0 } else { dim };
        let local = (0..objectives.len())
            .map(|_| Worker {
                compressor: compressor.clone(),
                grad: vec![T::ZERO; dim],
                memory: vec![T::ZERO; memory],
                loss: 0.0,
                message: Message::default(),
                status: Ok(()),
            })
            .collect();
        Ok(RankCluster {
            transport,
            method,
            init: Ef21Init::default(),
            workers,
            first: range.start,
            messages: vec![vec![T::ZERO; dim]; objectives.len()],
            objectives,
            local,
            server: vec![T::ZERO; if method == Method::Ef21 { dim } else { 0 }],
            mean: vec![T::ZERO; dim],
            scratch: vec![T::ZERO; if rank == 0 { dim } else { 0 }],
            frame: Vec::new(),
            dim,
            par: Par::default(),
            started: false,
            rounds: 0,
            bits: 0,
            last: Message::default(),
            stats: WireStats::default(),
            compressor: compressor.name(),
        })
    }

    /// Sets EF21's initialisation (ignored by CGD and EF); must match on every rank.
    pub fn with_init(mut self, init: Ef21Init) -> Self {
        self.init = init;
        self
    }

    /// Runs this rank's workers with `par` (results do not depend on it).
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.transport.rank()
    }

    /// Number of ranks.
    pub fn ranks(&self) -> usize {
        self.transport.ranks()
    }

    /// Total number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The global indices of this rank's workers.
    pub fn local_workers(&self) -> Range<usize> {
        self.first..self.first + self.objectives.len()
    }

    /// Rounds completed.
    pub fn rounds(&self) -> u64 {
        self.rounds
    }

    /// Accounted bits sent from all workers to the server so far (as `Cluster::bits_up`).
    pub fn bits_up(&self) -> u64 {
        self.bits
    }

    /// The sum over all workers of the last round's messages.
    pub fn last_round(&self) -> Message {
        self.last
    }

    /// Bytes this rank moved.
    pub fn wire(&self) -> WireStats {
        self.stats
    }

    /// Memory of global worker `i` if this rank holds it (EF's `r_i`, EF21's `d_i`).
    pub fn memory(&self, i: usize) -> Option<&[T]> {
        let j = i.checked_sub(self.first)?;
        self.local.get(j).map(|w| w.memory.as_slice())
    }

    /// EF21's server estimate `d` (a copy on every rank; empty for CGD and EF).
    pub fn server_estimate(&self) -> &[T] {
        &self.server
    }

    /// The transport.
    pub fn transport_mut(&mut self) -> &mut X {
        &mut self.transport
    }

    fn work(round: &Round<'_, T>, o: &mut O, w: &mut Worker<T, C>, msg: &mut [T], index: usize) {
        w.status = Self::work_inner(round, o, w, msg, index);
    }

    /// The worker side of a round (`Cluster`'s, for global worker `index`).
    fn work_inner(
        round: &Round<'_, T>,
        objective: &mut O,
        s: &mut Worker<T, C>,
        msg: &mut [T],
        index: usize,
    ) -> Result<()> {
        let Round { method, full_first, params, seed } = *round;
        let mut r = rng::stream(seed, index as u64);
        let loss = objective.loss_grad(params, &mut s.grad, &mut r)?.to_f64();
        if !loss.is_finite() {
            return Err(Error::NonFinite { what: "worker loss (index is the worker)", index });
        }
        if s.grad.iter().any(|g| !g.is_finite()) {
            return Err(Error::NonFinite { what: "worker gradient (index is the worker)", index });
        }
        s.loss = loss;
        match method {
            Method::Cgd => {}
            Method::Ef => s.grad.iter_mut().zip(&s.memory).for_each(|(g, &m)| *g += m),
            Method::Ef21 if full_first => {
                msg.copy_from_slice(&s.grad);
                let n = msg.len();
                s.message = Message { nnz: n, bits: message_bits(n, n, T::VALUE_BITS, 0) };
                return Ok(());
            }
            Method::Ef21 => s.grad.iter_mut().zip(&s.memory).for_each(|(g, &m)| *g -= m),
        }
        s.message = s.compressor.compress(&s.grad, msg, &mut r).map_err(|e| match e {
            Error::NonFinite { .. } => {
                Error::NonFinite { what: "worker compressor input (index is the worker)", index }
            }
            e => e,
        })?;
        Ok(())
    }

    fn commit(method: Method, s: &mut Worker<T, C>, msg: &[T]) {
        match method {
            Method::Cgd => {}
            Method::Ef => {
                for ((m, &v), &c) in s.memory.iter_mut().zip(&s.grad).zip(msg.iter()) {
                    *m = v - c;
                }
            }
            Method::Ef21 => s.memory.iter_mut().zip(msg).for_each(|(m, &c)| *m += c),
        }
    }

    /// `acc (+)= msg`: the first message is copied, later ones added (`Cluster`'s order).
    fn accumulate(acc: &mut [T], msg: &[T], first: bool) {
        if first {
            acc.copy_from_slice(msg);
        } else {
            acc.iter_mut().zip(msg).for_each(|(a, &m)| *a += m);
        }
    }

    /// Payload bits a packet of `msg` with `nnz` reported values carries.
    fn payload_bits(msg: &[T], nnz: usize) -> u64 {
        let nonzero =
            msg.iter().filter(|x| x.magnitude_key() != 0 || x.to_f64().is_sign_negative()).count();
        let d = msg.len();
        let count = nonzero.max(nnz.min(d));
        message_bits(d, count, T::VALUE_BITS, 0)
    }

    fn send(&mut self, to: usize, tag: u32) -> Result<()> {
        self.transport.send(to, tag, &self.frame)?;
        self.stats.bytes_sent += self.frame.len() as u64;
        self.stats.last_sent += self.frame.len() as u64;
        Ok(())
    }

    fn recv(&mut self, from: usize, tag: u32) -> Result<Vec<u8>> {
        let b = self.transport.recv(from, tag)?;
        self.stats.bytes_received += b.len() as u64;
        self.stats.last_received += b.len() as u64;
        Ok(b)
    }

    fn recv_reply(&mut self, tag: u32) -> Result<Vec<u8>> {
        let b = super::recv_reply(&mut self.transport, tag)?;
        self.stats.bytes_received += b.len() as u64;
        self.stats.last_received += b.len() as u64;
        Ok(b)
    }

    /// Server: tells every other rank the run stopped because of `e`, then returns `e`.
    fn stop_others(&mut self, seed: u64, tag: u32, kind: Kind, e: Error) -> Error {
        let head = Head { kind, rank: 0, round: self.rounds, seed };
        frame::begin(&mut self.frame, head);
        self.frame.put_u8(2);
        self.frame.put_str(&e.to_string());
        frame::seal(&mut self.frame);
        for r in 1..self.transport.ranks() {
            // Best effort: the rank at fault may be gone.
            let _ = self.send(r, tag);
        }
        e
    }

    /// Rank 0's side of a round: receives, checks and averages every worker's message into
    /// `self.mean` and replies to every rank. Returns the mean loss and the message totals.
    fn serve(&mut self, seed: u64) -> Result<(f64, Message)> {
        let n = self.workers;
        let mut losses = Vec::with_capacity(n);
        let (mut nnz, mut bits, mut payload) = (0usize, 0u64, 0u64);
        let mut failed: Option<Error> = None;
        for (j, w) in self.local.iter_mut().enumerate() {
            match std::mem::replace(&mut w.status, Ok(())) {
                Err(e) => {
                    failed.get_or_insert(e);
                }
                Ok(()) => {
                    Self::accumulate(&mut self.mean, &self.messages[j], j == 0);
                    losses.push(w.loss);
                    nnz += w.message.nnz;
                    bits += w.message.bits;
                    payload += Self::payload_bits(&self.messages[j], w.message.nnz);
                }
            }
        }
        for r in 1..self.transport.ranks() {
            let got = self.recv(r, tag::ROUND).and_then(|bytes| {
                self.read_up(&bytes, r, seed, &mut failed, &mut losses, &mut nnz, &mut bits)
            });
            match got {
                Ok(p) => payload += p,
                Err(e) => return Err(self.stop_others(seed, tag::ROUND, Kind::Down, e)),
            }
        }
        let head = Head { kind: Kind::Down, rank: 0, round: self.rounds, seed };
        frame::begin(&mut self.frame, head);
        if let Some(e) = failed {
            self.frame.put_u8(1);
            frame::put_error(&mut self.frame, &e);
            frame::seal(&mut self.frame);
            for r in 1..self.transport.ranks() {
                self.send(r, tag::ROUND)?;
            }
            return Err(e);
        }
        let inv = T::ONE / T::from_usize(n);
        self.mean.iter_mut().for_each(|a| *a *= inv);
        let loss = losses.iter().sum::<f64>() / n as f64;
        self.frame.put_u8(0);
        self.frame.put_f64(loss);
        self.frame.put_u64(nnz as u64);
        self.frame.put_u64(bits);
        wire::encode(&self.mean, 0, &mut self.frame);
        frame::seal(&mut self.frame);
        for r in 1..self.transport.ranks() {
            self.send(r, tag::ROUND)?;
        }
        self.stats.payload_bits_up += payload;
        Ok((loss, Message { nnz, bits }))
    }

    /// Reads rank `r`'s uplink frame into the running sums; returns its payload bits.
    #[allow(clippy::too_many_arguments)]
    fn read_up(
        &mut self,
        bytes: &[u8],
        r: usize,
        seed: u64,
        failed: &mut Option<Error>,
        losses: &mut Vec<f64>,
        nnz: &mut usize,
        bits: &mut u64,
    ) -> Result<u64> {
        let mut rd = Reader::open(bytes, r, Kind::Up, self.rounds, seed)?;
        let range = block(self.workers, self.transport.ranks(), r);
        let (first, count, dim) = (rd.u32()? as usize, rd.u32()? as usize, rd.u64()?);
        if first != range.start || count != range.len() {
            return Err(rd.error(format!(
                "frame for workers {first}..{}, expected {}..{}",
                first + count,
                range.start,
                range.end
            )));
        }
        if dim != self.dim as u64 {
            return Err(rd.error(format!("dimension {dim}, expected {}", self.dim)));
        }
        let mut payload = 0;
        for i in range {
            match rd.u8()? {
                0 => {
                    let loss = rd.f64()?;
                    let (m_nnz, m_bits) = (rd.u64()?, rd.u64()?);
                    if !loss.is_finite() {
                        return Err(rd.error(format!("worker {i}: loss {loss}")));
                    }
                    if m_nnz > self.dim as u64 {
                        return Err(rd.error(format!("worker {i}: {m_nnz} values")));
                    }
                    let p = wire::decode(rd.rest(), &mut self.scratch)
                        .map_err(|e| rd.error(format!("worker {i}: {e}")))?;
                    payload += p.payload_bits;
                    rd.skip(p.bytes)?;
                    if failed.is_none() {
                        Self::accumulate(&mut self.mean, &self.scratch, i == 0);
                    }
                    losses.push(loss);
                    *nnz += m_nnz as usize;
                    *bits += m_bits;
                }
                1 => {
                    let e = frame::get_error(&mut rd)?;
                    failed.get_or_insert(e);
                }
                s => return Err(rd.error(format!("worker {i}: status {s}"))),
            }
        }
        rd.finish()?;
        Ok(payload)
    }

    /// A non-zero rank's side: sends its workers' messages, waits for the server's reply and
    /// decodes the mean message into `self.mean`.
    fn report(&mut self, seed: u64) -> Result<(f64, Message)> {
        let me = self.transport.rank();
        let head = Head { kind: Kind::Up, rank: me as u32, round: self.rounds, seed };
        frame::begin(&mut self.frame, head);
        self.frame.put_u32(self.first as u32);
        self.frame.put_u32(self.local.len() as u32);
        self.frame.put_u64(self.dim as u64);
        for (j, w) in self.local.iter_mut().enumerate() {
            match std::mem::replace(&mut w.status, Ok(())) {
                Ok(()) => {
                    self.frame.put_u8(0);
                    self.frame.put_f64(w.loss);
                    self.frame.put_u64(w.message.nnz as u64);
                    self.frame.put_u64(w.message.bits);
                    wire::encode(&self.messages[j], w.message.nnz, &mut self.frame);
                }
                Err(e) => {
                    self.frame.put_u8(1);
                    frame::put_error(&mut self.frame, &e);
                }
            }
        }
        frame::seal(&mut self.frame);
        self.send(0, tag::ROUND)?;
        let bytes = self.recv_reply(tag::ROUND)?;
        let mut rd = Reader::open(&bytes, 0, Kind::Down, self.rounds, seed)?;
        match rd.u8()? {
            0 => {
                let loss = rd.f64()?;
                let (nnz, bits) = (rd.u64()? as usize, rd.u64()?);
                let p = wire::decode(rd.rest(), &mut self.mean)?;
                rd.skip(p.bytes)?;
                rd.finish()?;
                Ok((loss, Message { nnz, bits }))
            }
            1 => Err(frame::get_error(&mut rd)?),
            2 => Err(peer_error(0, &format!("stopped the run: {}", rd.string()?))),
            s => Err(rd.error(format!("status {s}"))),
        }
    }
}

impl<T, O, C, X> Objective<T> for RankCluster<T, O, C, X>
where
    T: WireScalar,
    O: Objective<T> + Send,
    C: Compressor<T> + Clone,
    X: Transport,
{
    fn dim(&self) -> usize {
        self.dim
    }

    /// One round on this rank (a collective call: every rank must make it): writes the
    /// server's direction `u` into `grad` and returns the mean of all workers' losses.
    fn loss_grad(&mut self, params: &[T], grad: &mut [T], rng: &mut Rng) -> Result<T> {
        same_len("parameters", self.dim, params.len())?;
        same_len("direction", self.dim, grad.len())?;
        let seed = rng.next_u64();
        let method = self.method;
        let full_first = method == Method::Ef21 && !self.started && self.init == Ef21Init::Gradient;
        let round = Round { method, full_first, params, seed };
        let first = self.first;
        let work = |(j, ((o, w), msg)): Slot<'_, O, T, C>| {
            Self::work(&round, o, w, msg, first + j);
        };
        if self.par.is_parallel() {
            self.objectives
                .par_iter_mut()
                .zip(self.local.par_iter_mut())
                .zip(self.messages.par_iter_mut())
                .enumerate()
                .for_each(work);
        } else {
            self.objectives
                .iter_mut()
                .zip(self.local.iter_mut())
                .zip(self.messages.iter_mut())
                .enumerate()
                .for_each(work);
        }
        self.stats.last_sent = 0;
        self.stats.last_received = 0;
        let (loss, total) =
            if self.transport.rank() == 0 { self.serve(seed)? } else { self.report(seed)? };
        for (w, msg) in self.local.iter_mut().zip(&self.messages) {
            Self::commit(method, w, msg);
        }
        if method == Method::Ef21 {
            for ((o, d), &m) in grad.iter_mut().zip(self.server.iter_mut()).zip(&self.mean) {
                *d += m;
                *o = *d;
            }
        } else {
            grad.copy_from_slice(&self.mean);
        }
        self.started = true;
        self.rounds += 1;
        self.last = total;
        self.bits += total.bits;
        Ok(T::from_f64(loss))
    }
}
