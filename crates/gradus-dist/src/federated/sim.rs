//! A federated-learning simulator: softmax-regression clients with local data, local steps
//! with any gradus optimizer, partial participation, Byzantine clients running an
//! [`Attack`], and a server defence (any [`Aggregator`], per-client LSH screening, or the
//! LSHFed protocol).
//!
//! Every random choice draws from a stream indexed by (purpose, round, client), and clients
//! are trained in parallel but collected in a fixed order, so a run is bit-identical for a
//! seed whatever the thread count.

use gradus_core::{Error, Layout, Objective, Par, Result, rng};
use gradus_models::{Dense, SoftmaxRegression};
use gradus_optim::Optimizer;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::aggregate::Aggregator;
use super::attack::Attack;
use super::data::Dataset;
use super::lsh::{LshCode, LshHasher, hamming};
use super::lshfed::{Grouping, ReputationScore, Verifier};
use super::screening::HammingScreen;
use super::{NonFinitePolicy, Updates};

/// How the server turns the round's client updates into the global update.
#[derive(Debug, Clone, PartialEq)]
pub enum Defense {
    /// Aggregate every update with a rule.
    Aggregate(Aggregator),
    /// Per-client LSH screening ([`HammingScreen`]) against a benchmark code, then a rule over
    /// the clients kept.
    LshScreen {
        /// Hyperplanes per layer.
        r: usize,
        /// Where the benchmark code comes from.
        benchmark: Benchmark,
        /// The gap rule.
        screen: HammingScreen,
        /// Rule applied to the clients kept.
        then: Aggregator,
    },
    /// The LSHFed protocol ([`crate::federated::lshfed`]): reputation election of the
    /// participants, `groups` aggregators, the verifier keeps the group nearest the
    /// benchmark.
    LshFed {
        /// Hyperplanes per layer.
        r: usize,
        /// Number of aggregator groups `P`.
        groups: usize,
        /// Assignment of trainers to groups.
        grouping: Grouping,
        /// How ranks of distance become reputation (official formula or the shifted one).
        score: ReputationScore,
    },
}

impl Defense {
    /// Short name for tables.
    pub fn name(&self) -> String {
        match self {
            Defense::Aggregate(a) => a.name(),
            Defense::LshScreen { then, benchmark, .. } => {
                let b = match benchmark {
                    Benchmark::PreviousAggregate => "aggregate",
                    Benchmark::ServerUpdate => "server",
                };
                format!("lsh-screen({b})+{}", then.name())
            }
            Defense::LshFed { groups, grouping: Grouping::RoundRobin, .. } => {
                format!("lshfed(P={groups})")
            }
            Defense::LshFed { groups, .. } => format!("lshfed-contiguous(P={groups})"),
        }
    }
}

/// The benchmark a per-client LSH screen compares client codes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Benchmark {
    /// The code of the last accepted global update (paper 05's verifier benchmark; round 0
    /// uses the server's own local update). A poisoned update, once accepted, becomes the
    /// reference.
    PreviousAggregate,
    /// The code of the server's own local update on its clean data, recomputed every round
    /// (a trusted root dataset as in FLTrust, Cao et al. 2021; not in paper 05).
    #[default]
    ServerUpdate,
}

/// Settings of one simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct FedConfig {
    /// Communication rounds.
    pub rounds: usize,
    /// Clients per round (partial participation when below the number of clients).
    pub participants: usize,
    /// Local optimizer steps per round.
    pub local_steps: usize,
    /// Local minibatch size (capped at a client's data size).
    pub batch: usize,
    /// L2 regularisation of the softmax model.
    pub l2: f64,
    /// Fraction of all clients that are Byzantine (`floor(fraction * clients)` of them,
    /// chosen by the seed).
    pub byzantine_fraction: f64,
    /// The attack every Byzantine participant runs.
    pub attack: Attack,
    /// The server's defence.
    pub defense: Defense,
    /// Non-finite client updates (including a client whose local training hits a non-finite
    /// value): rejected (the run errors, naming the client id) or dropped (the defence sees
    /// the other participants; under LSHFed a dropped client keeps its reputation). Applied
    /// once per round, before every defence.
    pub policy: NonFinitePolicy,
    /// Master seed.
    pub seed: u64,
    /// Parallelism for clients and aggregation.
    pub par: Par,
}

impl Default for FedConfig {
    fn default() -> Self {
        FedConfig {
            rounds: 30,
            participants: 20,
            local_steps: 5,
            batch: 16,
            l2: 1e-4,
            byzantine_fraction: 0.0,
            attack: Attack::Honest,
            defense: Defense::Aggregate(Aggregator::Mean),
            policy: NonFinitePolicy::Drop,
            seed: 0,
            par: Par::Rayon,
        }
    }
}

/// What happened in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundRecord {
    /// Test accuracy after the round.
    pub accuracy: f64,
    /// Byzantine clients among the participants.
    pub byzantine: usize,
    /// Participants the defence excluded (`None`: the rule makes no per-client decision).
    pub flagged: Option<usize>,
    /// Excluded participants that were Byzantine.
    pub true_positives: usize,
    /// LSHFed: whether the winning group had no Byzantine member.
    pub clean_win: Option<bool>,
    /// LSHFed: whether any group had no Byzantine member (a clean win was possible).
    pub clean_group: Option<bool>,
    /// Bits of LSH codes sent for verification this round (0 without LSH).
    pub code_bits: usize,
    /// Bits the same messages would take as float32 vectors.
    pub full_bits: usize,
    /// Participants left out because their update was not finite (local training hit a
    /// non-finite value, or the crafted vector is not finite; [`NonFinitePolicy::Drop`]),
    /// including those a distance-based rule drops because their squared norm overflows.
    /// They count as excluded in `flagged` for rules with per-client decisions.
    pub dropped: usize,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct FedHistory {
    /// Test accuracy of the initial (zero) model.
    pub initial_accuracy: f64,
    /// One record per round.
    pub rounds: Vec<RoundRecord>,
    /// The Byzantine clients.
    pub byzantine: Vec<usize>,
    /// Final global parameters.
    pub params: Vec<f64>,
    /// Whether the global model became non-finite (the run stops there; later accuracy
    /// counts as chance, `1 / classes`).
    pub diverged: bool,
}

impl FedHistory {
    /// Mean test accuracy over the last `k` rounds.
    pub fn final_accuracy(&self, k: usize) -> f64 {
        let tail = &self.rounds[self.rounds.len().saturating_sub(k.max(1))..];
        tail.iter().map(|r| r.accuracy).sum::<f64>() / tail.len().max(1) as f64
    }

    /// `(true positives, flagged, Byzantine participations)` summed over rounds, for rules
    /// with per-client decisions.
    pub fn detection_counts(&self) -> Option<(usize, usize, usize)> {
        let mut acc = (0, 0, 0);
        for r in &self.rounds {
            acc.0 += r.true_positives;
            acc.1 += r.flagged?;
            acc.2 += r.byzantine;
        }
        Some(acc)
    }

    /// Precision of exclusion as detection: Byzantine among excluded (micro-averaged over
    /// rounds); `None` without per-client decisions or when nothing was excluded.
    pub fn precision(&self) -> Option<f64> {
        let (tp, flagged, _) = self.detection_counts()?;
        (flagged > 0).then(|| tp as f64 / flagged as f64)
    }

    /// Recall: excluded among Byzantine participations; `None` without per-client decisions
    /// or without Byzantine participants.
    pub fn recall(&self) -> Option<f64> {
        let (tp, _, byz) = self.detection_counts()?;
        (byz > 0).then(|| tp as f64 / byz as f64)
    }

    /// LSHFed: fraction of rounds whose winning group had no Byzantine member.
    pub fn clean_win_rate(&self) -> Option<f64> {
        let wins: Vec<bool> = self.rounds.iter().filter_map(|r| r.clean_win).collect();
        (!wins.is_empty()).then(|| wins.iter().filter(|&&w| w).count() as f64 / wins.len() as f64)
    }

    /// LSHFed: fraction of rounds in which some group had no Byzantine member.
    pub fn clean_group_rate(&self) -> Option<f64> {
        let any: Vec<bool> = self.rounds.iter().filter_map(|r| r.clean_group).collect();
        (!any.is_empty()).then(|| any.iter().filter(|&&w| w).count() as f64 / any.len() as f64)
    }

    /// LSHFed: among the rounds in which a clean group existed, the fraction won by a clean
    /// group (how well the hash comparison picks when it can); `None` if no such round.
    pub fn clean_win_given_clean_group(&self) -> Option<f64> {
        let rounds: Vec<bool> = self
            .rounds
            .iter()
            .filter(|r| r.clean_group == Some(true))
            .map(|r| r.clean_win == Some(true))
            .collect();
        (!rounds.is_empty())
            .then(|| rounds.iter().filter(|&&w| w).count() as f64 / rounds.len() as f64)
    }
}

/// Clients' data, the server's (verifier's) own small clean set, and a test set.
#[derive(Debug, Clone)]
pub struct Federation {
    clients: Vec<Dataset>,
    server: Dataset,
    test: Dataset,
}

impl Federation {
    /// Errors unless there is at least one client, every set is valid
    /// ([`Dataset::validate`]: the fields are public, so a set may have been built by hand)
    /// and non-empty, all sets share the feature dimension and class count, and there are at
    /// least two classes.
    pub fn new(clients: Vec<Dataset>, server: Dataset, test: Dataset) -> Result<Self> {
        if clients.is_empty() {
            return Err(Error::InvalidShape { what: "federation", detail: "no clients".into() });
        }
        if test.classes < 2 {
            return Err(Error::hyper("classes", test.classes as f64, "need at least 2 classes"));
        }
        for (i, c) in clients.iter().chain([&server, &test]).enumerate() {
            c.validate()?;
            if c.is_empty() || c.dim != test.dim || c.classes != test.classes {
                return Err(Error::InvalidShape {
                    what: "federation",
                    detail: format!(
                        "set {i} (clients first, then server, then test) is empty or has \
                         another dimension or class count"
                    ),
                });
            }
        }
        Ok(Federation { clients, server, test })
    }

    /// Number of clients.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// The parameter layout of the softmax model: `W` (`classes x dim`) then `b`.
    pub fn layout(&self) -> Result<Layout> {
        Layout::new().matrix("W", self.test.classes, self.test.dim)?.vector("b", self.test.classes)
    }

    fn model(&self, data: &Dataset, flip: bool, cfg: &FedConfig) -> Result<SoftmaxRegression<f64>> {
        let k = data.classes;
        let y = if flip {
            // Labels are below `k` (checked by `Federation::new`); checked anyway.
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

    /// Runs `cfg.rounds` rounds from the zero model; `make_opt` builds each client's local
    /// optimizer for the model layout (fresh every round, as in FedAvg).
    pub fn run<O, F>(&self, cfg: &FedConfig, make_opt: F) -> Result<FedHistory>
    where
        O: Optimizer<f64>,
        F: Fn(Layout) -> Result<O> + Sync,
    {
        gradus_core::validate::unit_interval("byzantine_fraction", cfg.byzantine_fraction)?;
        cfg.attack.validate()?;
        let n = self.clients.len();
        if cfg.participants == 0 || cfg.participants > n {
            return Err(Error::hyper("participants", cfg.participants as f64, "need 1..=clients"));
        }
        let layout = self.layout()?;
        let dim = layout.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng::stream(cfg.seed, 1));
        let mut byzantine: Vec<usize> =
            order[..(cfg.byzantine_fraction * n as f64).floor() as usize].to_vec();
        byzantine.sort_unstable();
        let is_byz = |i: usize| byzantine.binary_search(&i).is_ok();
        let flip = cfg.attack.flips_labels();
        let mut models = (0..n)
            .map(|i| self.model(&self.clients[i], flip && is_byz(i), cfg))
            .collect::<Result<Vec<_>>>()?;
        let mut test = self.model(&self.test, false, cfg)?;
        let mut server = self.model(&self.server, false, cfg)?;
        let chance = 1.0 / self.test.classes as f64;

        let mut params = vec![0.0; dim];
        let initial_accuracy = 1.0 - test.error_rate(&params)?;
        let (mut verifier, mut hasher) = (None, None);
        match &cfg.defense {
            Defense::LshFed { r, score, .. } => {
                let h = LshHasher::new(&layout, *r, rng::derive_seed(cfg.seed, 7))?;
                verifier =
                    Some(Verifier::new(h, n, rng::derive_seed(cfg.seed, 8)).with_score(*score));
            }
            Defense::LshScreen { r, .. } => {
                hasher = Some(LshHasher::new(&layout, *r, rng::derive_seed(cfg.seed, 7))?);
            }
            Defense::Aggregate(_) => {}
        }
        // Round 0 benchmark: the verifier's own local update from the initial model.
        let mut benchmark: Option<LshCode> = None;
        if verifier.is_some() || hasher.is_some() {
            let own = local_update(&mut server, &params, cfg, &make_opt, rng::stream(cfg.seed, 2))?;
            if let Some(v) = verifier.as_mut() {
                v.set_benchmark(&own)?;
            }
            if let Some(h) = &hasher {
                benchmark = Some(h.hash(&own)?);
            }
        }

        // Not presized: `cfg.rounds` is caller-controlled.
        let mut rounds = Vec::new();
        let mut diverged = false;
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
            let participants: Vec<usize> = match &verifier {
                Some(v) => v.elect(t as u64, cfg.participants),
                None => {
                    let mut all: Vec<usize> = (0..n).collect();
                    all.shuffle(&mut rng::stream(rng::derive_seed(cfg.seed, 3), t as u64));
                    let mut p = all[..cfg.participants].to_vec();
                    p.sort_unstable();
                    p
                }
            };
            let round_seed = rng::derive_seed(cfg.seed, 1000 + t as u64);
            let mut chosen = vec![usize::MAX; n];
            participants.iter().enumerate().for_each(|(pos, &c)| chosen[c] = pos);
            let train = |(i, m): (usize, &mut SoftmaxRegression<f64>)| {
                let r = rng::stream(round_seed, i as u64);
                (chosen[i], local_update(m, &params, cfg, &make_opt, r))
            };
            let selected: Vec<(usize, &mut SoftmaxRegression<f64>)> =
                models.iter_mut().enumerate().filter(|(i, _)| chosen[*i] != usize::MAX).collect();
            // Every client's outcome is kept and scanned in participant order, so which error
            // is reported does not depend on the thread count.
            let mut trained: Vec<(usize, Result<Vec<f64>>)> = if cfg.par.is_parallel() {
                selected.into_par_iter().map(train).collect()
            } else {
                selected.into_iter().map(train).collect()
            };
            trained.sort_by_key(|(pos, _)| *pos);
            let q = participants.len();
            // A client whose local training hit a non-finite value sends a non-finite update;
            // the policy decides below, after the attack, like for any other such update.
            let mut rows: Vec<f64> = Vec::with_capacity(q * dim);
            for (_, r) in trained {
                match r {
                    Ok(u) => rows.extend_from_slice(&u),
                    Err(Error::NonFinite { .. }) => rows.resize(rows.len() + dim, f64::NAN),
                    Err(e) => return Err(e),
                }
            }
            let finite_row = |p: usize| rows[p * dim..(p + 1) * dim].iter().all(|x| x.is_finite());
            let byz_pos: Vec<usize> = (0..q).filter(|&p| is_byz(participants[p])).collect();
            if !byz_pos.is_empty() {
                // The adversary sees the honest updates that can be sent (finite ones).
                let honest_pos: Vec<usize> =
                    (0..q).filter(|&p| !is_byz(participants[p]) && finite_row(p)).collect();
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
            // The policy, once, before any defence: every defence then sees finite updates.
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
            // Participants (positions) left out of the update: dropped ones and those whose
            // row `k` of `u` is not in `used`.
            let excluded_stats = |used: &[usize], rec: &mut RoundRecord| {
                let left_out = |p: &usize| match kept.binary_search(p) {
                    Ok(k) => !used.contains(&k),
                    Err(_) => true,
                };
                let ex: Vec<usize> = (0..q).filter(left_out).collect();
                rec.flagged = Some(ex.len());
                rec.true_positives = ex.iter().filter(|&&p| is_byz(participants[p])).count();
            };
            let update = match &cfg.defense {
                Defense::Aggregate(agg) => {
                    let a = agg
                        .aggregate(u, cfg.policy, cfg.par)
                        .map_err(|e| name_client(e, &kept_ids))?;
                    rec.dropped += a.dropped.len();
                    if !a.selected.is_empty() {
                        excluded_stats(&a.selected, &mut rec);
                    }
                    a.vector
                }
                Defense::LshScreen { screen, then, benchmark: which, .. } => {
                    let h =
                        hasher.as_ref().ok_or_else(|| Error::Unsupported("no hasher".into()))?;
                    if *which == Benchmark::ServerUpdate && t > 0 {
                        let r = rng::stream(rng::derive_seed(cfg.seed, 4), t as u64);
                        let own = local_update(&mut server, &params, cfg, &make_opt, r)?;
                        benchmark = Some(h.hash(&own)?);
                    }
                    let b = benchmark
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
                    if *which == Benchmark::PreviousAggregate
                        && a.vector.iter().all(|x| x.is_finite())
                    {
                        benchmark = Some(h.hash(&a.vector)?);
                    }
                    a.vector
                }
                Defense::LshFed { groups, grouping, .. } => {
                    let v = verifier
                        .as_mut()
                        .ok_or_else(|| Error::Unsupported("no verifier".into()))?;
                    let vr = v
                        .round(&kept_ids, u, *groups, *grouping, cfg.par)
                        .map_err(|e| name_client(e, &kept_ids))?;
                    let winners = &vr.groups[vr.winner];
                    let used: Vec<usize> =
                        (0..u.n()).filter(|&k| winners.contains(&kept_ids[k])).collect();
                    excluded_stats(&used, &mut rec);
                    rec.clean_win = Some(winners.iter().all(|&c| !is_byz(c)));
                    let clean = |g: &Vec<usize>| g.iter().all(|&c| !is_byz(c));
                    rec.clean_group = Some(vr.groups.iter().any(clean));
                    rec.code_bits = vr.bits_to_verifier;
                    rec.full_bits = (u.n() + vr.groups.len()) * 32 * dim;
                    vr.update
                }
            };
            for (p, d) in params.iter_mut().zip(&update) {
                *p += d;
            }
            if params.iter().all(|x| x.is_finite()) {
                rec.accuracy = 1.0 - test.error_rate(&params)?;
            } else {
                diverged = true;
                rec.accuracy = chance;
            }
            rounds.push(rec);
        }
        Ok(FedHistory { initial_accuracy, rounds, byzantine, params, diverged })
    }
}

/// The `what` of the error naming a client whose update is not finite.
const CLIENT_UPDATE: &str = "client update (index is the client)";

/// A defence's per-client error names a row of the updates it saw (`what` ends in "(index
/// is the client)" or "(index is the row)"); `ids` maps rows to client ids.
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

/// `local_steps` optimizer steps on `model` from `global`; returns `params - global`.
fn local_update<O, F>(
    model: &mut SoftmaxRegression<f64>,
    global: &[f64],
    cfg: &FedConfig,
    make_opt: &F,
    mut r: gradus_core::Rng,
) -> Result<Vec<f64>>
where
    O: Optimizer<f64>,
    F: Fn(Layout) -> Result<O> + Sync,
{
    let mut opt = make_opt(model.layout())?;
    let mut p = global.to_vec();
    let mut g = vec![0.0; global.len()];
    for _ in 0..cfg.local_steps {
        model.loss_grad(&p, &mut g, &mut r)?;
        opt.step(&mut p, &g)?;
    }
    for (pi, gi) in p.iter_mut().zip(global) {
        *pi -= gi;
    }
    Ok(p)
}
