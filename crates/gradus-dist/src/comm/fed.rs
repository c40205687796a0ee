//! The federated simulator's rounds over a [`Transport`]: each rank holds a block of the
//! clients ([`super::block`]) and trains those that participate; rank 0 is the server and
//! runs the attack simulation, the non-finite policy and the defence (a robust
//! [`crate::federated::Aggregator`] such as Krum, the geometric median or the trimmed mean,
//! or the per-client LSH screen), then sends every rank the global update and the round's
//! record.
//!
//! [`run`] calls the steps of [`Federation::run`] ([`crate::federated::round`]: participants,
//! per-client generator streams, local updates, Byzantine choice and attacks, policy,
//! defence, accuracy); only the gathering of the updates and the broadcast differ, so for
//! the same configuration every rank returns the history `Federation::run` returns, bit for
//! bit, whatever the number of ranks. The LSHFed protocol (reputation election) is not
//! distributed: it is an [`Error::Unsupported`].
//!
//! Client updates travel as exact [`super::wire`] packets; a client whose local training hit
//! a non-finite value is sent as such (the server sees a non-finite row, as in process).

use gradus_core::{Error, Layout, Result, rng};
use gradus_models::SoftmaxRegression;
use gradus_optim::Optimizer;

use super::frame::{self, Head, Kind, Put, Reader};
use super::{Transport, block, peer_error, tag, wire};
use crate::federated::data::Dataset;
use crate::federated::round::{self, DefenseRule, RoundInfo};
use crate::federated::sim::{Defense, FedConfig, FedHistory, RoundRecord};

/// This rank's part of a federation: the datasets of its block of clients, and the server's
/// and test sets (used on rank 0; the other ranks may pass them too, they are not read).
#[derive(Debug, Clone)]
pub struct FedPart {
    /// Total clients.
    pub clients: usize,
    /// The datasets of clients `block(clients, ranks, rank)`, in order.
    pub local: Vec<Dataset>,
    /// The server's clean set.
    pub server: Dataset,
    /// The test set.
    pub test: Dataset,
}

/// Runs `cfg.rounds` rounds from the zero model on this rank (a collective call: every rank
/// calls it with the same `cfg`); `make_opt` builds a client's local optimizer. Every rank
/// returns the same history.
pub fn run<X, O, F>(
    transport: &mut X,
    part: &FedPart,
    cfg: &FedConfig,
    make_opt: F,
) -> Result<FedHistory>
where
    X: Transport,
    O: Optimizer<f64>,
    F: Fn(Layout) -> Result<O>,
{
    let (rank, ranks) = (transport.rank(), transport.ranks());
    if matches!(cfg.defense, Defense::LshFed { .. }) {
        return Err(Error::Unsupported("the LSHFed protocol over ranks".into()));
    }
    let n = part.clients;
    if n < ranks {
        return Err(Error::InvalidShape {
            what: "federation",
            detail: format!("{n} clients for {ranks} ranks: every rank needs one"),
        });
    }
    let mine = block(n, ranks, rank);
    gradus_core::validate::same_len("clients on this rank", mine.len(), part.local.len())?;
    round::check_config(cfg, n)?;
    let test_set = &part.test;
    let sets = part.local.iter().chain([&part.server, test_set]);
    round::check_sets(sets, test_set, "this rank's clients, then server, then test")?;
    let layout = round::layout(test_set)?;
    let dim = layout.len();
    let byzantine = round::byzantine_clients(n, cfg);
    let is_byz = |i: usize| byzantine.binary_search(&i).is_ok();
    let flip = cfg.attack.flips_labels();
    let mut models = mine
        .clone()
        .zip(&part.local)
        .map(|(i, d)| round::client_model(d, flip && is_byz(i), cfg))
        .collect::<Result<Vec<_>>>()?;
    let mut server = Server::new(part, cfg, &layout, rank == 0)?;
    let mut test = round::client_model(test_set, false, cfg)?;
    let chance = 1.0 / test_set.classes as f64;
    let mut params = vec![0.0; dim];
    let initial_accuracy = 1.0 - test.error_rate(&params)?;
    if let Some(s) = server.as_mut() {
        s.start(&params, cfg, &make_opt)?;
    }
    let mut rounds = Vec::new();
    let mut diverged = false;
    let mut buf = Vec::new();
    let mut update = vec![0.0; dim];
    for t in 0..cfg.rounds {
        if diverged {
            rounds.push(RoundRecord::after_divergence(chance));
            continue;
        }
        let participants = round::uniform_participants(n, cfg, t);
        let round_seed = round::round_seed(cfg, t);
        // This rank's participants, in id order.
        let trained: Vec<(usize, Result<Vec<f64>>)> = participants
            .iter()
            .filter(|&&c| mine.contains(&c))
            .map(|&c| {
                let m = &mut models[c - mine.start];
                let r = rng::stream(round_seed, c as u64);
                (c, round::local_update(m, &params, cfg, &make_opt, r))
            })
            .collect();
        let head =
            |r: usize, kind| Head { kind, rank: r as u32, round: t as u64, seed: round_seed };
        let rec = if let Some(s) = server.as_mut() {
            let outcome = s
                .round(
                    transport,
                    &participants,
                    trained,
                    (t, round_seed),
                    (&params[..], cfg, &make_opt, &is_byz),
                    &mut update,
                )
                .and_then(|mut rec| {
                    // The record every rank gets carries the accuracy after the update.
                    let mut next = params.clone();
                    let finite = round::apply_update(&mut next, &update);
                    rec.accuracy = if finite { 1.0 - test.error_rate(&next)? } else { chance };
                    Ok(rec)
                });
            frame::begin(&mut buf, head(0, Kind::FedDown));
            match &outcome {
                Ok(rec) => {
                    buf.put_u8(0);
                    put_record(&mut buf, rec);
                    update.iter().for_each(|&x| buf.put_f64(x));
                }
                Err(e) => {
                    buf.put_u8(1);
                    frame::put_error(&mut buf, e);
                }
            }
            frame::seal(&mut buf);
            for r in 1..ranks {
                let sent = transport.send(r, tag::FED, &buf);
                if outcome.is_ok() {
                    sent?;
                }
            }
            let rec = outcome?;
            diverged = !round::apply_update(&mut params, &update);
            rec
        } else {
            frame::begin(&mut buf, head(rank, Kind::FedUp));
            buf.put_u32(trained.len() as u32);
            for (c, r) in &trained {
                buf.put_u32(*c as u32);
                match r {
                    Ok(u) if u.iter().all(|x| x.is_finite()) => {
                        buf.put_u8(0);
                        wire::encode(u, u.len(), &mut buf);
                    }
                    Ok(_) | Err(Error::NonFinite { .. }) => buf.put_u8(1),
                    Err(e) => {
                        buf.put_u8(2);
                        frame::put_error(&mut buf, e);
                    }
                }
            }
            frame::seal(&mut buf);
            transport.send(0, tag::FED, &buf)?;
            let bytes = transport.recv(0, tag::FED)?;
            let mut rd = Reader::open(&bytes, 0, Kind::FedDown, t as u64, round_seed)?;
            match rd.u8()? {
                0 => {
                    let rec = get_record(&mut rd)?;
                    for u in update.iter_mut() {
                        *u = rd.f64()?;
                    }
                    rd.finish()?;
                    diverged = !round::apply_update(&mut params, &update);
                    rec
                }
                1 => return Err(frame::get_error(&mut rd)?),
                s => return Err(rd.error(format!("status {s}"))),
            }
        };
        rounds.push(rec);
    }
    Ok(FedHistory { initial_accuracy, rounds, byzantine, params, diverged })
}

fn put_record(b: &mut Vec<u8>, r: &RoundRecord) {
    b.put_f64(r.accuracy);
    b.put_u64(r.byzantine as u64);
    b.put_u64(r.flagged.map_or(u64::MAX, |f| f as u64));
    b.put_u64(r.true_positives as u64);
    for flag in [r.clean_win, r.clean_group] {
        b.put_u8(match flag {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
    }
    b.put_u64(r.code_bits as u64);
    b.put_u64(r.full_bits as u64);
    b.put_u64(r.dropped as u64);
}

fn get_record(rd: &mut Reader<'_>) -> Result<RoundRecord> {
    let accuracy = rd.f64()?;
    let byzantine = rd.u64()? as usize;
    let flagged = match rd.u64()? {
        u64::MAX => None,
        f => Some(f as usize),
    };
    let true_positives = rd.u64()? as usize;
    let mut flag = || -> Result<Option<bool>> {
        Ok(match rd.u8()? {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        })
    };
    let clean_win = flag()?;
    let clean_group = flag()?;
    let (code_bits, full_bits, dropped) =
        (rd.u64()? as usize, rd.u64()? as usize, rd.u64()? as usize);
    Ok(RoundRecord {
        accuracy,
        byzantine,
        flagged,
        true_positives,
        clean_win,
        clean_group,
        code_bits,
        full_bits,
        dropped,
    })
}

/// Rank 0's state: the server's model and the defence.
struct Server {
    own: SoftmaxRegression<f64>,
    defense: Box<dyn DefenseRule>,
    dim: usize,
    clients: usize,
}

/// What a server round reads besides the transport.
type Ctx<'a, F> = (&'a [f64], &'a FedConfig, &'a F, &'a dyn Fn(usize) -> bool);

impl Server {
    fn new(part: &FedPart, cfg: &FedConfig, layout: &Layout, on: bool) -> Result<Option<Self>> {
        if !on {
            return Ok(None);
        }
        Ok(Some(Server {
            own: round::client_model(&part.server, false, cfg)?,
            defense: round::defense_rule(&cfg.defense, layout, part.clients, cfg.seed)?,
            dim: layout.len(),
            clients: part.clients,
        }))
    }

    /// Before round 0 (the LSH screen's first benchmark).
    fn start<O: Optimizer<f64>, F: Fn(Layout) -> Result<O>>(
        &mut self,
        params: &[f64],
        cfg: &FedConfig,
        make_opt: &F,
    ) -> Result<()> {
        let own = &mut self.own;
        self.defense.start(&mut |r| round::local_update(own, params, cfg, make_opt, r))
    }

    /// Gathers the participants' updates (own clients first, then each rank's in rank
    /// order: together, id order), then [`round::server_round`] as in the simulator.
    #[allow(clippy::too_many_arguments)]
    fn round<X: Transport, O: Optimizer<f64>, F: Fn(Layout) -> Result<O>>(
        &mut self,
        transport: &mut X,
        participants: &[usize],
        trained: Vec<(usize, Result<Vec<f64>>)>,
        (t, round_seed): (usize, u64),
        (params, cfg, make_opt, is_byz): Ctx<'_, F>,
        update: &mut [f64],
    ) -> Result<RoundRecord> {
        let dim = self.dim;
        let q = participants.len();
        let mut rows: Vec<f64> = Vec::with_capacity(q * dim);
        // The first error (in participant order) that is not a non-finite update.
        let mut failed: Option<Error> = None;
        let mut got = 0usize;
        let mut take = |c: usize, r: Result<Option<&[f64]>>, rows: &mut Vec<f64>| -> Result<()> {
            if participants.get(got) != Some(&c) {
                return Err(Error::corrupt(
                    "message from a rank",
                    format!(
                        "update of client {c} where participant {:?} was due",
                        participants.get(got)
                    ),
                ));
            }
            got += 1;
            match r {
                Ok(Some(u)) => rows.extend_from_slice(u),
                Ok(None) => rows.resize(rows.len() + dim, f64::NAN),
                Err(e) => {
                    failed.get_or_insert(e);
                    rows.resize(rows.len() + dim, f64::NAN);
                }
            }
            Ok(())
        };
        for (c, r) in trained {
            match r {
                Ok(u) => take(c, Ok(Some(u.as_slice())), &mut rows)?,
                Err(Error::NonFinite { .. }) => take(c, Ok(None), &mut rows)?,
                Err(e) => take(c, Err(e), &mut rows)?,
            }
        }
        let mut scratch = vec![0.0; dim];
        for r in 1..transport.ranks() {
            let bytes = transport.recv(r, tag::FED)?;
            let mut rd = Reader::open(&bytes, r, Kind::FedUp, t as u64, round_seed)?;
            let theirs = block(self.clients, transport.ranks(), r);
            let count = rd.u32()? as usize;
            for _ in 0..count {
                let c = rd.u32()? as usize;
                if !theirs.contains(&c) {
                    return Err(rd.error(format!("update of client {c}, not one of its clients")));
                }
                match rd.u8()? {
                    0 => {
                        let p = wire::decode(rd.rest(), &mut scratch)
                            .map_err(|e| rd.error(format!("client {c}: {e}")))?;
                        rd.skip(p.bytes)?;
                        take(c, Ok(Some(scratch.as_slice())), &mut rows)
                            .map_err(|e| rd.error(e))?;
                    }
                    1 => take(c, Ok(None), &mut rows).map_err(|e| rd.error(e))?,
                    2 => {
                        let e = frame::get_error(&mut rd)?;
                        take(c, Err(e), &mut rows).map_err(|e| rd.error(e))?;
                    }
                    s => return Err(rd.error(format!("client {c}: status {s}"))),
                }
            }
            rd.finish()?;
        }
        if got != q {
            return Err(peer_error(0, &format!("{got} of {q} participants' updates arrived")));
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let info = RoundInfo { t, seed: round_seed, participants, is_byz, cfg };
        let own = &mut self.own;
        let mut own = |r| round::local_update(own, params, cfg, make_opt, r);
        let (rec, vector) = round::server_round(rows, dim, &info, self.defense.as_mut(), &mut own)?;
        update.copy_from_slice(&vector);
        Ok(rec)
    }
}
