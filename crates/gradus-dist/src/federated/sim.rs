//! A federated-learning simulator: softmax-regression clients with local data, local steps
//! with any gradus optimizer, partial participation, Byzantine clients running an
//! [`Attack`], and a server defence (any [`Aggregator`], per-client LSH screening, or the
//! LSHFed protocol).
//!
//! Every random choice draws from a stream indexed by (purpose, round, client) (the list is
//! in [`super::round::stream`]), and clients are trained in parallel but collected in a
//! fixed order, so a run is bit-identical for a seed whatever the thread count. The steps of
//! a round are in [`super::round`], shared with the rank version [`crate::comm::fed`]; each
//! [`Defense`] is a type implementing the `DefenseRule` trait there.

use gradus_core::{Error, Layout, Par, Result, rng};
use gradus_models::SoftmaxRegression;
use gradus_optim::Optimizer;
use rayon::prelude::*;

use super::NonFinitePolicy;
use super::aggregate::Aggregator;
use super::attack::Attack;
use super::data::Dataset;
use super::lshfed::{Grouping, ReputationScore};
use super::round::{self, RoundInfo};
use super::screening::HammingScreen;

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
        let sets = clients.iter().chain([&server, &test]);
        round::check_sets(sets, &test, "clients first, then server, then test")?;
        Ok(Federation { clients, server, test })
    }

    /// Number of clients.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// The parameter layout of the softmax model: `W` (`classes x dim`) then `b`.
    pub fn layout(&self) -> Result<Layout> {
        round::layout(&self.test)
    }

    /// Runs `cfg.rounds` rounds from the zero model; `make_opt` builds each client's local
    /// optimizer for the model layout (fresh every round, as in FedAvg).
    ///
    /// Each round: participants (uniform, or elected by the LSHFed verifier), their local
    /// updates in parallel, then the server's attack simulation, non-finite policy and
    /// defence, and the test accuracy of the new global model (the steps are in
    /// [`round`]). The seed streams are listed in [`round::stream`].
    pub fn run<O, F>(&self, cfg: &FedConfig, make_opt: F) -> Result<FedHistory>
    where
        O: Optimizer<f64>,
        F: Fn(Layout) -> Result<O> + Sync,
    {
        let n = self.clients.len();
        round::check_config(cfg, n)?;
        let layout = self.layout()?;
        let dim = layout.len();
        let byzantine = round::byzantine_clients(n, cfg);
        let is_byz = |i: usize| byzantine.binary_search(&i).is_ok();
        let flip = cfg.attack.flips_labels();
        let mut models = (0..n)
            .map(|i| round::client_model(&self.clients[i], flip && is_byz(i), cfg))
            .collect::<Result<Vec<_>>>()?;
        let mut test = round::client_model(&self.test, false, cfg)?;
        let mut server = round::client_model(&self.server, false, cfg)?;
        let chance = 1.0 / self.test.classes as f64;

        let mut params = vec![0.0; dim];
        let initial_accuracy = 1.0 - test.error_rate(&params)?;
        let mut defense = round::defense_rule(&cfg.defense, &layout, n, cfg.seed)?;
        defense.start(&mut |r| round::local_update(&mut server, &params, cfg, &make_opt, r))?;

        // Not presized: `cfg.rounds` is caller-controlled.
        let mut rounds = Vec::new();
        let mut diverged = false;
        for t in 0..cfg.rounds {
            if diverged {
                rounds.push(RoundRecord::after_divergence(chance));
                continue;
            }
            let participants = defense.participants(n, cfg, t);
            let seed = round::round_seed(cfg, t);
            let rows = train(&mut models, &participants, &params, seed, cfg, &make_opt)?;
            let info = RoundInfo { t, seed, participants: &participants, is_byz: &is_byz, cfg };
            let mut own = |r| round::local_update(&mut server, &params, cfg, &make_opt, r);
            let (mut rec, update) =
                round::server_round(rows, dim, &info, defense.as_mut(), &mut own)?;
            diverged = !round::apply_update(&mut params, &update);
            rec.accuracy = if diverged { chance } else { 1.0 - test.error_rate(&params)? };
            rounds.push(rec);
        }
        Ok(FedHistory { initial_accuracy, rounds, byzantine, params, diverged })
    }
}

impl RoundRecord {
    /// The record of a round after the global model became non-finite: chance accuracy,
    /// nothing else happened.
    pub(crate) fn after_divergence(chance: f64) -> Self {
        RoundRecord {
            accuracy: chance,
            byzantine: 0,
            flagged: None,
            true_positives: 0,
            clean_win: None,
            clean_group: None,
            code_bits: 0,
            full_bits: 0,
            dropped: 0,
        }
    }
}

/// The participants' local updates from `params`, client `c` on `rng::stream(seed, c)`, in
/// parallel under `cfg.par` and stacked in participant order (one row of `params.len()`
/// each). A client whose training hit a non-finite value gets a non-finite row (the policy
/// decides, after the attack, like for any other such update); any other error is returned,
/// the first in participant order, so which one does not depend on the thread count.
fn train<O, F>(
    models: &mut [SoftmaxRegression<f64>],
    participants: &[usize],
    params: &[f64],
    seed: u64,
    cfg: &FedConfig,
    make_opt: &F,
) -> Result<Vec<f64>>
where
    O: Optimizer<f64>,
    F: Fn(Layout) -> Result<O> + Sync,
{
    let dim = params.len();
    let mut chosen = vec![usize::MAX; models.len()];
    participants.iter().enumerate().for_each(|(pos, &c)| chosen[c] = pos);
    let work = |(i, m): (usize, &mut SoftmaxRegression<f64>)| {
        let r = rng::stream(seed, i as u64);
        (chosen[i], round::local_update(m, params, cfg, make_opt, r))
    };
    let selected: Vec<(usize, &mut SoftmaxRegression<f64>)> =
        models.iter_mut().enumerate().filter(|(i, _)| chosen[*i] != usize::MAX).collect();
    let mut trained: Vec<(usize, Result<Vec<f64>>)> = if cfg.par.is_parallel() {
        selected.into_par_iter().map(work).collect()
    } else {
        selected.into_iter().map(work).collect()
    };
    trained.sort_by_key(|(pos, _)| *pos);
    let mut rows: Vec<f64> = Vec::with_capacity(participants.len() * dim);
    for (_, r) in trained {
        match r {
            Ok(u) => rows.extend_from_slice(&u),
            Err(Error::NonFinite { .. }) => rows.resize(rows.len() + dim, f64::NAN),
            Err(e) => return Err(e),
        }
    }
    Ok(rows)
}
