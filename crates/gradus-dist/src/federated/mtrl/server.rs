//! The round driver of BR-MTRL (paper 09 §2): sample clients, run their alternating local
//! updates in parallel, let the Byzantine participants replace their uploads by an
//! [`Attack`], aggregate the representation changes with any [`Aggregator`] and broadcast.
//! Heads never leave the clients.
//!
//! Choices where the paper is silent (spec §6), documented here once:
//! - clients upload the *change* `phi_i - phi^t` and the server adds the aggregate to
//!   `phi^t`. For the translation-equivariant rules (mean, geometric median, Krum, median,
//!   trimmed mean) this is the same as aggregating the estimates `phi_i` the paper
//!   describes; the attacks then act on updates, as the attack suite defines them
//!   (`Gaussian` is `phi_i + sigma N(0, I)` either way; a sign flip negates the update);
//! - the Byzantine clients are a fixed set of `floor(fraction * n)` clients drawn from the
//!   seed; each round's sample of participants contains however many of them it draws;
//! - Byzantine participants also compute their honest update first (attacks such as the
//!   sign flip and Gaussian noise start from it); the adversary sees the honest participants'
//!   finite updates of the round (white box, colluding);
//! - a non-finite upload is handled by the [`NonFinitePolicy`] of the aggregator; a client
//!   whose upload was dropped keeps its previous head;
//! - a non-finite aggregate marks the run as diverged: the representation stays at its last
//!   finite value and later rounds do nothing.
//!
//! Determinism: participants, Byzantine set, each client's mini-batch order and each
//! attacker's noise come from `rng::stream`s indexed by (purpose, round, client), clients
//! write into fixed rows of one upload buffer, and the aggregators reduce in a fixed order:
//! a run is bit-identical for a seed whatever the number of threads.

use gradus_core::{Error, Par, Result, rng, validate};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::client::{ClientWorkspace, HeadFit, LocalUpdate, client_update, fit_head, score};
use super::data::Task;
use super::head::Head;
use super::representation::Representation;
use crate::federated::aggregate::Aggregator;
use crate::federated::attack::Attack;
use crate::federated::{NonFinitePolicy, Updates};

/// Labels of the seed streams (purpose of the random draws).
const BYZANTINE: u64 = 1;
const SAMPLING: u64 = 2;
const INIT: u64 = 3;
const EVALUATION: u64 = 4;
const ROUND: u64 = 1000;

/// The clients of a multi-task federation and the model they share.
#[derive(Debug, Clone)]
pub struct Federation<R, H: Head> {
    rep: R,
    head: H,
    clients: Vec<Task<H::Target>>,
    max_rows: usize,
}

impl<R: Representation, H: Head> Federation<R, H> {
    /// Checks that there is a client, that the head takes the representation's output, and
    /// every client's train and test rows (dimension, finite features, targets the head
    /// accepts).
    pub fn new(rep: R, head: H, clients: Vec<Task<H::Target>>) -> Result<Self> {
        if clients.is_empty() {
            return Err(Error::InvalidShape { what: "federation", detail: "no clients".into() });
        }
        validate::same_len(
            "head input (representation output)",
            rep.output_dim(),
            head.input_dim(),
        )?;
        for t in &clients {
            for s in [&t.train, &t.test] {
                s.validate()?;
                validate::same_len("client feature dimension", rep.input_dim(), s.dim)?;
                head.check_targets(&s.y)?;
            }
        }
        let max_rows = clients.iter().map(|t| t.train.len().max(t.test.len())).max().unwrap_or(0);
        Ok(Federation { rep, head, clients, max_rows })
    }

    /// The shared representation model.
    pub fn rep(&self) -> &R {
        &self.rep
    }

    /// The head model.
    pub fn head(&self) -> &H {
        &self.head
    }

    /// The clients' tasks.
    pub fn clients(&self) -> &[Task<H::Target>] {
        &self.clients
    }

    /// The largest train or test set of a client.
    pub fn max_rows(&self) -> usize {
        self.max_rows
    }
}

/// Settings of a BR-MTRL run.
#[derive(Debug, Clone, PartialEq)]
pub struct MtrlConfig {
    /// Clients sampled per round (spec: a fraction 0.2 of the clients).
    pub participants: usize,
    /// The local update of a sampled client.
    pub local: LocalUpdate,
    /// How [`Mtrl::evaluate`] refits each client's head on the current representation
    /// before scoring it (warm start from the client's head).
    pub eval_fit: HeadFit,
    /// Fraction of all clients that are Byzantine, in `[0, 1]`.
    pub byzantine_fraction: f64,
    /// What Byzantine participants send.
    pub attack: Attack,
    /// The server's rule over the representation changes.
    pub aggregator: Aggregator,
    /// Non-finite uploads: rejected (the round errors) or dropped.
    pub policy: NonFinitePolicy,
    /// Master seed.
    pub seed: u64,
    /// Parallelism across clients (each client runs sequentially).
    pub par: Par,
}

/// What happened in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundRecord {
    /// Round index (0-based).
    pub round: usize,
    /// Byzantine clients among the participants.
    pub byzantine: usize,
    /// Uploads the aggregator left out as non-finite.
    pub dropped: usize,
    /// Clients a selection rule (Krum) built the aggregate from.
    pub selected: Vec<usize>,
    /// `|aggregate|`, the norm of the server's step.
    pub step_norm: f64,
    /// Whether the aggregate was not finite (the run is frozen from here on).
    pub diverged: bool,
}

/// Per-client evaluation of the current representation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean over the honest clients of their test metric.
    pub mean: f64,
    /// Each honest client's test metric, in client order.
    pub per_client: Vec<f64>,
}

/// Per-participant state of a round: its workspace and a copy of its head.
#[derive(Debug)]
struct Slot<Y> {
    ws: ClientWorkspace<Y>,
    head: Vec<f64>,
    result: Result<()>,
    /// Whether the honest upload is finite (checked by the client while it is in cache).
    finite: bool,
}

/// A BR-MTRL run: the global representation, every client's head, and the buffers of a
/// round (allocated once: the client phase of a round allocates nothing; the aggregator
/// and the attack return fresh vectors).
#[derive(Debug)]
pub struct Mtrl<'a, R, H: Head> {
    fed: &'a Federation<R, H>,
    cfg: MtrlConfig,
    rep: Vec<f64>,
    heads: Vec<f64>,
    byzantine: Vec<bool>,
    round: usize,
    diverged: bool,
    order: Vec<usize>,
    participants: Vec<usize>,
    uploads: Vec<f64>,
    slots: Vec<Slot<H::Target>>,
    honest_rows: Vec<f64>,
    own_rows: Vec<f64>,
}

impl<'a, R: Representation, H: Head> Mtrl<'a, R, H> {
    /// Validates `cfg` and starts a run: representation from `R::init` with the seed (or
    /// `init`, checked for length and finiteness), heads at zero, Byzantine clients drawn.
    ///
    /// Errors: participants not in `1..=clients`, a fraction outside `[0, 1]`, invalid
    /// local-update, attack or aggregator parameters, an aggregator whose client-count
    /// precondition fails for `participants` uploads (Krum's `n > 2f + 2`, ...), the
    /// data-side label-flip attack (heads are personal: a permuted label space is just
    /// another task), or a bad `init`.
    pub fn new(fed: &'a Federation<R, H>, cfg: MtrlConfig, init: Option<&[f64]>) -> Result<Self> {
        let n = fed.clients.len();
        if cfg.participants == 0 || cfg.participants > n {
            return Err(Error::hyper(
                "participants",
                cfg.participants as f64,
                "need 1 <= participants <= clients",
            ));
        }
        validate::unit_interval("byzantine_fraction", cfg.byzantine_fraction)?;
        cfg.local.validate()?;
        cfg.eval_fit.validate()?;
        cfg.attack.validate()?;
        if cfg.attack.flips_labels() {
            return Err(Error::Unsupported(
                "label flipping: with personal heads a permuted label space is another task, \
                 not an attack on the representation"
                    .into(),
            ));
        }
        let (rep_model, head) = (&fed.rep, &fed.head);
        let p = rep_model.num_params();
        // The rule's parameter and count checks on `participants` uploads, before any work
        // (one coordinate suffices, except for a clipping center, which must have length p).
        let d_probe = match &cfg.aggregator {
            Aggregator::CenteredClipping(c) if c.center.is_some() => p,
            _ => 1,
        };
        let probe = vec![0.0; cfg.participants * d_probe];
        let probe = Updates::new(&probe, cfg.participants, d_probe)?;
        cfg.aggregator.aggregate(probe, cfg.policy, Par::Seq)?;
        let mut rep = vec![0.0; p];
        match init {
            Some(v) => {
                validate::same_len("initial representation", p, v.len())?;
                validate::all_finite("initial representation", v)?;
                rep.copy_from_slice(v);
            }
            None => rep_model.init(&mut rng::stream(cfg.seed, INIT), &mut rep)?,
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng::stream(cfg.seed, BYZANTINE));
        let mut byzantine = vec![false; n];
        let nb = (cfg.byzantine_fraction * n as f64).floor() as usize;
        order[..nb].iter().for_each(|&c| byzantine[c] = true);

        let q = cfg.participants;
        let slots = (0..q)
            .map(|_| Slot {
                ws: ClientWorkspace::for_update(rep_model, head, fed.max_rows, &cfg.local),
                head: vec![0.0; head.num_params()],
                result: Ok(()),
                finite: true,
            })
            .collect();
        Ok(Mtrl {
            fed,
            rep,
            heads: vec![0.0; n * head.num_params()],
            byzantine,
            round: 0,
            diverged: false,
            order,
            participants: Vec::with_capacity(q),
            uploads: vec![0.0; q * p],
            slots,
            honest_rows: Vec::with_capacity(q * p),
            own_rows: Vec::with_capacity(q * p),
            cfg,
        })
    }

    /// The current global representation.
    pub fn representation(&self) -> &[f64] {
        &self.rep
    }

    /// Client `c`'s current head (`None` if `c` is not a client).
    pub fn client_head(&self, c: usize) -> Option<&[f64]> {
        let h = self.fed.head.num_params();
        self.heads.get(c * h..(c + 1) * h)
    }

    /// Whether client `c` is Byzantine.
    pub fn is_byzantine(&self, c: usize) -> bool {
        self.byzantine.get(c).copied().unwrap_or(false)
    }

    /// Rounds run so far.
    pub fn rounds_done(&self) -> usize {
        self.round
    }

    /// Whether an aggregate became non-finite (the run is frozen).
    pub fn diverged(&self) -> bool {
        self.diverged
    }

    /// The settings of the run.
    pub fn config(&self) -> &MtrlConfig {
        &self.cfg
    }

    /// Runs one communication round.
    ///
    /// Errors (a client's fit failing, the aggregator's precondition on the clients kept,
    /// a non-finite upload under [`NonFinitePolicy::Reject`]) leave the representation, the
    /// heads and the round counter untouched.
    pub fn round(&mut self) -> Result<RoundRecord> {
        let t = self.round;
        if self.diverged {
            self.round += 1;
            return Ok(RoundRecord {
                round: t,
                byzantine: 0,
                dropped: 0,
                selected: Vec::new(),
                step_norm: f64::NAN,
                diverged: true,
            });
        }
        let (fed, cfg) = (self.fed, &self.cfg);
        let (rep_model, head) = (&fed.rep, &fed.head);
        let (n, q, p, hp) =
            (fed.clients.len(), cfg.participants, rep_model.num_params(), head.num_params());

        // Participants: a fresh shuffle of 0..n from the round's sampling stream.
        self.order.clear();
        self.order.extend(0..n);
        self.order.shuffle(&mut rng::stream(rng::derive_seed(cfg.seed, SAMPLING), t as u64));
        self.participants.clear();
        self.participants.extend_from_slice(&self.order[..q]);
        self.participants.sort_unstable();

        let round_seed = rng::derive_seed(cfg.seed, ROUND + t as u64);
        let (rep, heads, participants) = (&self.rep, &self.heads, &self.participants);
        let work = |(s, (upload, slot)): (usize, (&mut [f64], &mut Slot<H::Target>))| {
            let c = participants[s];
            slot.head.copy_from_slice(&heads[c * hp..(c + 1) * hp]);
            let mut r = rng::stream(round_seed, c as u64);
            let task = &fed.clients[c].train;
            slot.result = client_update(
                rep_model,
                head,
                rep,
                task,
                &cfg.local,
                &mut slot.head,
                upload,
                &mut slot.ws,
                &mut r,
            );
            slot.finite = gradus_kernels::grad_stats(Par::Seq, upload).all_finite;
        };
        if cfg.par.is_parallel() {
            self.uploads
                .par_chunks_mut(p)
                .zip(self.slots.par_iter_mut())
                .enumerate()
                .for_each(work);
        } else {
            self.uploads.chunks_mut(p).zip(self.slots.iter_mut()).enumerate().for_each(work);
        }
        for slot in &mut self.slots {
            std::mem::replace(&mut slot.result, Ok(()))?;
        }

        // Uploads that were already non-finite before any attack (their heads are not kept).
        let unfit: Vec<usize> = (0..q).filter(|&s| !self.slots[s].finite).collect();
        let byz: Vec<usize> = (0..q).filter(|&s| self.byzantine[self.participants[s]]).collect();
        if !byz.is_empty() {
            let honest: Vec<usize> = (0..q)
                .filter(|&s| {
                    !self.byzantine[self.participants[s]] && unfit.binary_search(&s).is_err()
                })
                .collect();
            let gather = |buf: &mut Vec<f64>, rows: &[usize], uploads: &[f64]| {
                buf.clear();
                rows.iter().for_each(|&s| buf.extend_from_slice(&uploads[s * p..(s + 1) * p]));
            };
            gather(&mut self.honest_rows, &honest, &self.uploads);
            gather(&mut self.own_rows, &byz, &self.uploads);
            let honest_u = if honest.is_empty() {
                None
            } else {
                Some(Updates::new(&self.honest_rows, honest.len(), p)?)
            };
            let crafted = cfg.attack.craft(
                honest_u,
                Updates::new(&self.own_rows, byz.len(), p)?,
                rng::derive_seed(round_seed, 99),
                cfg.par,
            )?;
            for (b, &s) in byz.iter().enumerate() {
                self.uploads[s * p..(s + 1) * p].copy_from_slice(&crafted[b * p..(b + 1) * p]);
            }
        }

        let agg =
            cfg.aggregator.aggregate(Updates::new(&self.uploads, q, p)?, cfg.policy, cfg.par)?;
        let step_norm = agg.vector.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut next = agg.vector;
        next.iter_mut().zip(&self.rep).for_each(|(v, r)| *v += r);
        let finite = next.iter().all(|v| v.is_finite());
        let normalized = if finite { rep_model.normalize(&mut next) } else { Ok(()) };
        let record = RoundRecord {
            round: t,
            byzantine: byz.len(),
            dropped: agg.dropped.len(),
            selected: agg.selected.iter().map(|&s| self.participants[s]).collect(),
            step_norm,
            diverged: !finite,
        };
        // A normalisation failure (a rank-deficient aggregate) is an error of the round.
        normalized?;

        // Commit.
        self.round += 1;
        if !finite {
            self.diverged = true;
            return Ok(record);
        }
        self.rep = next;
        for (s, slot) in self.slots.iter().enumerate() {
            if unfit.binary_search(&s).is_err() {
                let c = self.participants[s];
                self.heads[c * hp..(c + 1) * hp].copy_from_slice(&slot.head);
            }
        }
        Ok(record)
    }

    /// Scores the current representation: every honest client refits its head with
    /// [`MtrlConfig::eval_fit`] (from its current head, on its training rows, with a stream
    /// of the seed, the round and the client) and is scored on its test rows. The heads of
    /// the run are not changed.
    pub fn evaluate(&self) -> Result<Evaluation> {
        let (fed, cfg) = (self.fed, &self.cfg);
        let (rep_model, head) = (&fed.rep, &fed.head);
        let hp = head.num_params();
        let seed = rng::derive_seed(rng::derive_seed(cfg.seed, EVALUATION), self.round as u64);
        let honest: Vec<usize> = (0..fed.clients.len()).filter(|&c| !self.byzantine[c]).collect();
        if honest.is_empty() {
            return Err(Error::InvalidShape {
                what: "evaluation",
                detail: "every client is Byzantine; no honest client to score".into(),
            });
        }
        let batch = match cfg.eval_fit {
            HeadFit::Sgd(s) => s.batch,
            HeadFit::Exact { .. } => 1,
        };
        let new_ws = || (ClientWorkspace::new(rep_model, head, fed.max_rows, batch), vec![0.0; hp]);
        let one = |(ws, h): &mut (ClientWorkspace<H::Target>, Vec<f64>), c: usize| -> Result<f64> {
            h.copy_from_slice(&self.heads[c * hp..(c + 1) * hp]);
            let task = &fed.clients[c];
            let mut r = rng::stream(seed, c as u64);
            fit_head(rep_model, head, &self.rep, &task.train, &cfg.eval_fit, h, ws, &mut r)?;
            score(rep_model, head, &self.rep, h, &task.test, ws)
        };
        let per_client: Vec<f64> = if cfg.par.is_parallel() {
            honest.par_iter().map_init(new_ws, |w, &c| one(w, c)).collect::<Result<_>>()?
        } else {
            let mut w = new_ws();
            honest.iter().map(|&c| one(&mut w, c)).collect::<Result<_>>()?
        };
        let mean = per_client.iter().sum::<f64>() / per_client.len() as f64;
        Ok(Evaluation { mean, per_client })
    }
}
