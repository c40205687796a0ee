//! The federated simulator's rounds over a [`Transport`]: each rank holds a block of the
//! clients ([`super::block`]) and trains those that participate; rank 0 is the server and
//! runs the attack simulation, the non-finite policy and the defence (a robust
//! [`crate::federated::Aggregator`] such as Krum, the geometric median or the trimmed mean,
//! or the per-client LSH screen), then sends every rank the global update and the round's
//! record.
//!
//! [`run`] follows [`Federation::run`] step for step (participants, per-client generator
//! streams, local updates, Byzantine choice and attacks, policy, defence, accuracy), so for
//! the same configuration every rank returns the history `Federation::run` returns, bit for
//! bit, whatever the number of ranks. The LSHFed protocol (reputation election) is not
//! distributed: it is an [`Error::Unsupported`].
//!
//! Client updates travel as exact [`super::wire`] packets; a client whose local training hit
//! a non-finite value is sent as such (the server sees a non-finite row, as in process).

use gradus_core::{Error, Layout, Objective, Result, rng};
use gradus_models::{Dense, SoftmaxRegression};
use gradus_optim::Optimizer;
use rand::seq::SliceRandom;

use super::frame::{self, Head, Kind, Put, Reader};
use super::{Transport, block, peer_error, tag, wire};
use crate::federated::data::Dataset;
use crate::federated::lsh::{LshCode, LshHasher, hamming};
use crate::federated::sim::{Benchmark, Defense, FedConfig, FedHistory, RoundRecord};
use crate::federated::{NonFinitePolicy, Updates};

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

/// The `what` of a non-finite client update (as in the simulator).
const CLIENT_UPDATE: &str = "client update (index is the client)";

fn model(data: &Dataset, flip: bool, cfg: &FedConfig) -> Result<SoftmaxRegression<f64>> {
    let k = data.classes;
    let y = if flip {
        let flipped = data.y.iter().map(|&c| (k - 1).checked_sub(c));
        flipped.collect::<Option<Vec<usize>>>().ok_or_else(|| Error::InvalidShape {
            what: "labels",
            detail: format!("a label is not below {k}"),
        })?
    } else {
        data.y.clone()
    };
    let x = Dense::from_row_major(data.len(), data.dim, data.x.clone())?;
    SoftmaxRegression::new(x, y, k, cfg.l2, cfg.batch.clamp(1, data.len()))
}

fn local_update<O, F>(
    m: &mut SoftmaxRegression<f64>,
    global: &[f64],
    cfg: &FedConfig,
    make_opt: &F,
    mut r: gradus_core::Rng,
) -> Result<Vec<f64>>
where
    O: Optimizer<f64>,
    F: Fn(Layout) -> Result<O>,
{
    let mut opt = make_opt(m.layout())?;
    let mut p = global.to_vec();
    let mut g = vec![0.0; global.len()];
    for _ in 0..cfg.local_steps {
        m.loss_grad(&p, &mut g, &mut r)?;
        opt.step(&mut p, &g)?;
    }
    p.iter_mut().zip(global).for_each(|(p, g)| *p -= g);
    Ok(p)
}

/// Maps a defence's per-row error to the client id (as the simulator does).
fn name_client(e: Error, ids: &[usize]) -> Error {
    match e {
        Error::NonFinite { what, index } => match ids.get(index) {
            Some(&id) if what.ends_with("(index is the client)") => {
                Error::NonFinite { what, index: id }
            }
            Some(&id) if what.ends_with("(index is the row)") => {
                Error::NonFinite { what: CLIENT_UPDATE, index: id }
            }
            _ => Error::NonFinite { what, index },
        },
        e => e,
    }
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
    gradus_core::validate::unit_interval("byzantine_fraction", cfg.byzantine_fraction)?;
    cfg.attack.validate()?;
    let n = part.clients;
    if n < ranks {
        return Err(Error::InvalidShape {
            what: "federation",
            detail: format!("{n} clients for {ranks} ranks: every rank needs one"),
        });
    }
    let mine = block(n, ranks, rank);
    gradus_core::validate::same_len("clients on this rank", mine.len(), part.local.len())?;
    if cfg.participants == 0 || cfg.participants > n {
        return Err(Error::hyper("participants", cfg.participants as f64, "need 1..=clients"));
    }
    let test_set = &part.test;
    if test_set.classes < 2 {
        return Err(Error::hyper("classes", test_set.classes as f64, "need at least 2 classes"));
    }
    for (i, c) in part.local.iter().chain([&part.server, test_set]).enumerate() {
        c.validate()?;
        if c.is_empty() || c.dim != test_set.dim || c.classes != test_set.classes {
            return Err(Error::InvalidShape {
                what: "federation",
                detail: format!(
                    "set {i} (this rank's clients, then server, then test) is empty or has \
                     another dimension or class count"
                ),
            });
        }
    }
    let layout =
        Layout::new().matrix("W", test_set.classes, test_set.dim)?.vector("b", test_set.classes)?;
    let dim = layout.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng::stream(cfg.seed, 1));
    let mut byzantine: Vec<usize> =
        order[..(cfg.byzantine_fraction * n as f64).floor() as usize].to_vec();
    byzantine.sort_unstable();
    let is_byz = |i: usize| byzantine.binary_search(&i).is_ok();
    let flip = cfg.attack.flips_labels();
    let mut models = mine
        .clone()
        .zip(&part.local)
        .map(|(i, d)| model(d, flip && is_byz(i), cfg))
        .collect::<Result<Vec<_>>>()?;
    let mut server = Server::new(part, cfg, &layout, rank == 0)?;
    let mut test = model(test_set, false, cfg)?;
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
            rounds.push(RoundRecord {
                accuracy: chance,
                byzantine: 0,
                flagged: None,
                true_positives: 0,
                clean_win: None,
                clean_group: None,
                code_bits: 0,
                full_bits: 0,
                dropped: 0,
            });
            continue;
        }
        let mut all: Vec<usize> = (0..n).collect();
        all.shuffle(&mut rng::stream(rng::derive_seed(cfg.seed, 3), t as u64));
        let mut participants = all[..cfg.participants].to_vec();
        participants.sort_unstable();
        let round_seed = rng::derive_seed(cfg.seed, 1000 + t as u64);
        // This rank's participants, in id order.
        let trained: Vec<(usize, Result<Vec<f64>>)> = participants
            .iter()
            .filter(|&&c| mine.contains(&c))
            .map(|&c| {
                let m = &mut models[c - mine.start];
                (c, local_update(m, &params, cfg, &make_opt, rng::stream(round_seed, c as u64)))
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
                    let mut div = false;
                    apply(&mut next, &update, &mut div);
                    rec.accuracy = if div { chance } else { 1.0 - test.error_rate(&next)? };
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
            apply(&mut params, &update, &mut diverged);
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
            let bytes = super::recv_reply(transport, tag::FED)?;
            let mut rd = Reader::open(&bytes, 0, Kind::FedDown, t as u64, round_seed)?;
            match rd.u8()? {
                0 => {
                    let rec = get_record(&mut rd)?;
                    for u in update.iter_mut() {
                        *u = rd.f64()?;
                    }
                    rd.finish()?;
                    apply(&mut params, &update, &mut diverged);
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

fn apply(params: &mut [f64], update: &[f64], diverged: &mut bool) {
    params.iter_mut().zip(update).for_each(|(p, d)| *p += d);
    *diverged = !params.iter().all(|x| x.is_finite());
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

/// Rank 0's state: the server's model, the LSH hasher and benchmark.
struct Server {
    own: SoftmaxRegression<f64>,
    hasher: Option<LshHasher>,
    benchmark: Option<LshCode>,
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
        let hasher = match &cfg.defense {
            Defense::LshScreen { r, .. } => {
                Some(LshHasher::new(layout, *r, rng::derive_seed(cfg.seed, 7))?)
            }
            _ => None,
        };
        Ok(Some(Server {
            own: model(&part.server, false, cfg)?,
            hasher,
            benchmark: None,
            dim: layout.len(),
            clients: part.clients,
        }))
    }

    /// Round 0's benchmark: the server's own update from the initial model.
    fn start<O: Optimizer<f64>, F: Fn(Layout) -> Result<O>>(
        &mut self,
        params: &[f64],
        cfg: &FedConfig,
        make_opt: &F,
    ) -> Result<()> {
        if let Some(h) = &self.hasher {
            let own = local_update(&mut self.own, params, cfg, make_opt, rng::stream(cfg.seed, 2))?;
            self.benchmark = Some(h.hash(&own)?);
        }
        Ok(())
    }

    /// Gathers the participants' updates (own clients first, then each rank's in rank
    /// order: together, id order), then attack, policy and defence as in the simulator.
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
        let finite_row =
            |rows: &[f64], p: usize| rows[p * dim..(p + 1) * dim].iter().all(|x| x.is_finite());
        let byz_pos: Vec<usize> = (0..q).filter(|&p| is_byz(participants[p])).collect();
        if !byz_pos.is_empty() {
            let honest_pos: Vec<usize> =
                (0..q).filter(|&p| !is_byz(participants[p]) && finite_row(&rows, p)).collect();
            let gather = |pos: &[usize]| {
                let mut v = Vec::with_capacity(pos.len() * dim);
                pos.iter().for_each(|&p| v.extend_from_slice(&rows[p * dim..(p + 1) * dim]));
                v
            };
            let (h, own) = (gather(&honest_pos), gather(&byz_pos));
            let honest = if honest_pos.is_empty() {
                None
            } else {
                Some(Updates::new(&h, honest_pos.len(), dim)?)
            };
            let crafted = cfg.attack.craft(
                honest,
                Updates::new(&own, byz_pos.len(), dim)?,
                rng::derive_seed(round_seed, 99),
                cfg.par,
            )?;
            for (k, &p) in byz_pos.iter().enumerate() {
                rows[p * dim..(p + 1) * dim].copy_from_slice(&crafted[k * dim..(k + 1) * dim]);
            }
        }
        let bad = Updates::new(&rows, q, dim)?.non_finite_rows(cfg.par);
        if let (NonFinitePolicy::Reject, Some(&p)) = (cfg.policy, bad.first()) {
            return Err(Error::NonFinite { what: CLIENT_UPDATE, index: participants[p] });
        }
        let kept: Vec<usize> = (0..q).filter(|p| bad.binary_search(p).is_err()).collect();
        if kept.is_empty() {
            return Err(Error::InvalidShape {
                what: "client updates",
                detail: format!("round {t}: no finite client update left"),
            });
        }
        if !bad.is_empty() {
            let mut sub = Vec::with_capacity(kept.len() * dim);
            kept.iter().for_each(|&p| sub.extend_from_slice(&rows[p * dim..(p + 1) * dim]));
            rows = sub;
        }
        let u = Updates::new(&rows, kept.len(), dim)?;
        let kept_ids: Vec<usize> = kept.iter().map(|&p| participants[p]).collect();
        let mut rec = RoundRecord {
            accuracy: 0.0,
            byzantine: byz_pos.len(),
            flagged: None,
            true_positives: 0,
            clean_win: None,
            clean_group: None,
            code_bits: 0,
            full_bits: 0,
            dropped: bad.len(),
        };
        let excluded_stats = |used: &[usize], rec: &mut RoundRecord| {
            let left_out = |p: &usize| match kept.binary_search(p) {
                Ok(k) => !used.contains(&k),
                Err(_) => true,
            };
            let ex: Vec<usize> = (0..q).filter(left_out).collect();
            rec.flagged = Some(ex.len());
            rec.true_positives = ex.iter().filter(|&&p| is_byz(participants[p])).count();
        };
        let vector = match &cfg.defense {
            Defense::Aggregate(agg) => {
                let a =
                    agg.aggregate(u, cfg.policy, cfg.par).map_err(|e| name_client(e, &kept_ids))?;
                rec.dropped += a.dropped.len();
                if !a.selected.is_empty() {
                    excluded_stats(&a.selected, &mut rec);
                }
                a.vector
            }
            Defense::LshScreen { screen, then, benchmark: which, .. } => {
                let h =
                    self.hasher.as_ref().ok_or_else(|| Error::Unsupported("no hasher".into()))?;
                if *which == Benchmark::ServerUpdate && t > 0 {
                    let r = rng::stream(rng::derive_seed(cfg.seed, 4), t as u64);
                    let own = local_update(&mut self.own, params, cfg, make_opt, r)?;
                    self.benchmark = Some(h.hash(&own)?);
                }
                let b = self
                    .benchmark
                    .as_ref()
                    .ok_or_else(|| Error::Unsupported("no benchmark".into()))?;
                let codes = h.hash_rows(u, cfg.par).map_err(|e| name_client(e, &kept_ids))?;
                let dist = codes.iter().map(|c| hamming(c, b)).collect::<Result<Vec<_>>>()?;
                let flags = screen.flag(&dist, h.bits())?;
                let used: Vec<usize> = (0..u.n()).filter(|&k| !flags[k]).collect();
                excluded_stats(&used, &mut rec);
                let mut sub = Vec::with_capacity(used.len() * dim);
                used.iter().for_each(|&k| sub.extend_from_slice(u.row(k)));
                let used_ids: Vec<usize> = used.iter().map(|&k| kept_ids[k]).collect();
                let a = then
                    .aggregate(Updates::new(&sub, used.len(), dim)?, cfg.policy, cfg.par)
                    .map_err(|e| name_client(e, &used_ids))?;
                rec.dropped += a.dropped.len();
                rec.code_bits = u.n() * h.bits();
                rec.full_bits = u.n() * 32 * dim;
                if *which == Benchmark::PreviousAggregate && a.vector.iter().all(|x| x.is_finite())
                {
                    self.benchmark = Some(h.hash(&a.vector)?);
                }
                a.vector
            }
            Defense::LshFed { .. } => {
                return Err(Error::Unsupported("the LSHFed protocol over ranks".into()));
            }
        };
        gradus_core::validate::same_len("global update", dim, vector.len())?;
        update.copy_from_slice(&vector);
        Ok(rec)
    }
}
