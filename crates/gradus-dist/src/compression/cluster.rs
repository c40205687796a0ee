//! `n` workers and a server running CGD, EF or EF21 on `f = (1/n) sum_i f_i`.
//!
//! A [`Cluster`] is the communication step as an [`Objective`]: one call of `loss_grad` is
//! one round. Every worker evaluates its own objective at the broadcast parameters, runs the
//! worker side of the method and sends a compressed message; the server averages the
//! messages and returns the direction `u` it moves along, `x_{k+1} = x_k - eta u`. Pair it
//! with any optimizer (`Agm::sgd(layout, eta)` gives the methods exactly) and run it with a
//! `Trainer`:
//!
//! | method | worker `i` sends | worker memory | server direction `u` |
//! |---|---|---|---|
//! | CGD | `c_i = C(g_i)` | none | `mean_i c_i` |
//! | EF | `c_i = C(r_i + g_i)` | `r_i <- r_i + g_i - c_i` | `mean_i c_i` |
//! | EF21 | `c_i = C(g_i - d_i)` | `d_i <- d_i + c_i` | `d <- d + mean_i c_i` |
//!
//! EF keeps its memory `r_i = e_i / eta` in gradient units, so the step size stays in the
//! optimizer. For a positively homogeneous compressor (`C(a v) = a C(v)` for `a > 0`: top-k,
//! rand-k, scaled sign, QSGD, natural dithering; not natural compression) and a constant
//! step this is exactly the EF recursion of paper 06 with `e_i = eta r_i`.
//!
//! Workers run in parallel (rayon) when `par` allows it. Worker `i` draws its randomness
//! (minibatches, compressor) from `rng::stream(seed_k, i)`, where `seed_k` is drawn from the
//! generator of the call; the server sums messages in worker order. Results are therefore
//! bit-identical for every thread count. A round in which any worker fails changes no
//! worker memory and no server state; the error is the first failing worker's in worker
//! order, and a non-finite gradient or compressor input names the worker as its index.

use gradus_core::validate::same_len;
use gradus_core::{Error, Objective, Par, Result, Rng, rng};
use rand::RngCore;
use rayon::prelude::*;

use super::compressor::{Compressor, Message, message_bits};
use super::method::{Ef21Init, Method};
use super::scalar::WireScalar;

/// Coordinates per piece of the server's parallel sum (fixed, so the sum order is too).
const PIECE: usize = 1 << 14;

/// What every worker needs to know about the current round.
#[derive(Clone, Copy)]
struct Round<'a, T> {
    method: Method,
    /// EF21 with [`Ef21Init::Gradient`], first round: send the gradient itself.
    full_first: bool,
    params: &'a [T],
    seed: u64,
}

/// A worker's objective, sender and message buffer, as rayon hands them out.
type Slot<'a, O, T, C> = (usize, ((&'a mut O, &'a mut Sender<T, C>), &'a mut Vec<T>));

/// One worker's sending side and buffers.
#[derive(Debug, Clone)]
struct Sender<T, C> {
    compressor: C,
    /// The gradient, then the vector that is compressed.
    grad: Vec<T>,
    /// EF: `r_i`; EF21: `d_i`; CGD: empty.
    memory: Vec<T>,
    loss: f64,
    message: Message,
    status: Result<()>,
}

/// `n` workers and a server (see the module documentation).
#[derive(Debug, Clone)]
pub struct Cluster<T, O, C> {
    method: Method,
    init: Ef21Init,
    objectives: Vec<O>,
    senders: Vec<Sender<T, C>>,
    messages: Vec<Vec<T>>,
    server: Vec<T>,
    dim: usize,
    par: Par,
    started: bool,
    rounds: u64,
    bits: u64,
    last: Message,
}

impl<T, O, C> Cluster<T, O, C>
where
    T: WireScalar,
    O: Objective<T> + Send,
    C: Compressor<T> + Clone,
{
    /// Workers with objectives `objectives` (one each), all using copies of `compressor`,
    /// running `method`. Errors unless there is at least one worker, every objective has
    /// the compressor's dimension.
    pub fn new(objectives: Vec<O>, compressor: C, method: Method) -> Result<Self> {
        let Some(first) = objectives.first() else {
            return Err(Error::InvalidShape { what: "cluster", detail: "no workers".into() });
        };
        let dim = first.dim();
        for o in &objectives {
            same_len("worker objective dimension", dim, o.dim())?;
        }
        same_len("compressor dimension", dim, compressor.dim())?;
        let memory = if method == Method::Cgd { 0 } else { dim };
        let senders = (0..objectives.len())
            .map(|_| Sender {
                compressor: compressor.clone(),
                grad: vec![T::ZERO; dim],
                memory: vec![T::ZERO; memory],
                loss: 0.0,
                message: Message::default(),
                status: Ok(()),
            })
            .collect();
        Ok(Cluster {
            method,
            init: Ef21Init::default(),
            messages: vec![vec![T::ZERO; dim]; objectives.len()],
            objectives,
            senders,
            server: vec![T::ZERO; if method == Method::Ef21 { dim } else { 0 }],
            dim,
            par: Par::default(),
            started: false,
            rounds: 0,
            bits: 0,
            last: Message::default(),
        })
    }

    /// Sets EF21's initialisation (ignored by CGD and EF).
    pub fn with_init(mut self, init: Ef21Init) -> Self {
        self.init = init;
        self
    }

    /// Runs workers and the server sum with `par` (results do not depend on it).
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.objectives.len()
    }

    /// Worker `i`'s objective.
    pub fn objective(&self, i: usize) -> Option<&O> {
        self.objectives.get(i)
    }

    /// Rounds completed.
    pub fn rounds(&self) -> u64 {
        self.rounds
    }

    /// Bits sent from workers to the server so far (the server's broadcast is not counted).
    pub fn bits_up(&self) -> u64 {
        self.bits
    }

    /// The sum over workers of the last round's messages (values sent and bits).
    pub fn last_round(&self) -> Message {
        self.last
    }

    /// Worker `i`'s memory: EF's `r_i` (gradient units) or EF21's `d_i`; empty for CGD.
    pub fn memory(&self, i: usize) -> Option<&[T]> {
        self.senders.get(i).map(|s| s.memory.as_slice())
    }

    /// The server's EF21 estimate `d = mean_i d_i` (empty for CGD and EF).
    pub fn server_estimate(&self) -> &[T] {
        &self.server
    }

    /// The worker side of one round, writing the message into `msg`.
    fn work(
        round: &Round<'_, T>,
        objective: &mut O,
        s: &mut Sender<T, C>,
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
        // EF's `r_i + g_i` (or EF21's difference) can overflow although both are finite.
        s.message = s.compressor.compress(&s.grad, msg, &mut r).map_err(|e| match e {
            Error::NonFinite { .. } => {
                Error::NonFinite { what: "worker compressor input (index is the worker)", index }
            }
            e => e,
        })?;
        Ok(())
    }

    /// Commits a worker's memory after every worker succeeded.
    fn commit(method: Method, s: &mut Sender<T, C>, msg: &[T]) {
        match method {
            Method::Cgd => {}
            Method::Ef => {
                for ((m, &v), &c) in s.memory.iter_mut().zip(&s.grad).zip(msg) {
                    *m = v - c;
                }
            }
            Method::Ef21 => s.memory.iter_mut().zip(msg).for_each(|(m, &c)| *m += c),
        }
    }

    /// Server: `out = mean_i msg_i` (and for EF21 `d += mean`, `out = d`) on one piece.
    fn aggregate(messages: &[Vec<T>], start: usize, out: &mut [T], server: Option<&mut [T]>) {
        let inv = T::ONE / T::from_usize(messages.len());
        let end = start + out.len();
        out.copy_from_slice(&messages[0][start..end]);
        for m in &messages[1..] {
            out.iter_mut().zip(&m[start..end]).for_each(|(o, &x)| *o += x);
        }
        out.iter_mut().for_each(|o| *o *= inv);
        if let Some(server) = server {
            for (o, d) in out.iter_mut().zip(server) {
                *d += *o;
                *o = *d;
            }
        }
    }
}

impl<T, O, C> Objective<T> for Cluster<T, O, C>
where
    T: WireScalar,
    O: Objective<T> + Send,
    C: Compressor<T> + Clone,
{
    fn dim(&self) -> usize {
        self.dim
    }

    /// One round: writes the server's direction `u` into `grad` and returns the mean of the
    /// workers' losses.
    fn loss_grad(&mut self, params: &[T], grad: &mut [T], rng: &mut Rng) -> Result<T> {
        same_len("parameters", self.dim, params.len())?;
        same_len("direction", self.dim, grad.len())?;
        let seed = rng.next_u64();
        let method = self.method;
        let full_first = method == Method::Ef21 && !self.started && self.init == Ef21Init::Gradient;
        let round = Round { method, full_first, params, seed };
        let work = |(i, ((o, s), msg)): Slot<'_, O, T, C>| {
            s.status = Self::work(&round, o, s, msg, i);
        };
        let (objectives, senders, messages) =
            (&mut self.objectives, &mut self.senders, &mut self.messages);
        if self.par.is_parallel() {
            objectives
                .par_iter_mut()
                .zip(senders.par_iter_mut())
                .zip(messages.par_iter_mut())
                .enumerate()
                .for_each(work);
        } else {
            objectives
                .iter_mut()
                .zip(senders.iter_mut())
                .zip(messages.iter_mut())
                .enumerate()
                .for_each(work);
        }
        for s in self.senders.iter_mut() {
            std::mem::replace(&mut s.status, Ok(()))?;
        }
        let commit = |(s, msg): (&mut Sender<T, C>, &Vec<T>)| Self::commit(method, s, msg);
        let server = if method == Method::Ef21 { Some(()) } else { None };
        if self.par.is_parallel() {
            self.senders.par_iter_mut().zip(self.messages.par_iter()).for_each(commit);
            let msgs = &self.messages;
            if server.is_some() {
                grad.par_chunks_mut(PIECE)
                    .zip(self.server.par_chunks_mut(PIECE))
                    .enumerate()
                    .for_each(|(p, (out, d))| Self::aggregate(msgs, p * PIECE, out, Some(d)));
            } else {
                grad.par_chunks_mut(PIECE)
                    .enumerate()
                    .for_each(|(p, out)| Self::aggregate(msgs, p * PIECE, out, None));
            }
        } else {
            self.senders.iter_mut().zip(self.messages.iter()).for_each(commit);
            let srv = server.map(|_| self.server.as_mut_slice());
            Self::aggregate(&self.messages, 0, grad, srv);
        }
        self.started = true;
        self.rounds += 1;
        let (nnz, bits) =
            self.senders.iter().fold((0, 0), |(n, b), s| (n + s.message.nnz, b + s.message.bits));
        self.last = Message { nnz, bits };
        self.bits += bits;
        let loss = self.senders.iter().map(|s| s.loss).sum::<f64>() / self.senders.len() as f64;
        Ok(T::from_f64(loss))
    }
}
