//! The steps of a federated round, shared by the in-process simulator
//! ([`super::sim::Federation::run`]) and the rank version ([`crate::comm::fed::run`]), so
//! both compute the same history bit for bit:
//!
//! 1. `check_config` / `check_sets`: the run's settings and datasets;
//! 2. `byzantine_clients` (once), then per round the participants
//!    (`DefenseRule::participants`: uniform by default, reputation election under LSHFed);
//! 3. `local_update` of each participant from the global model on its own stream;
//! 4. `server_round`: the Byzantine attack (`attack`), the non-finite policy
//!    (`apply_policy`) and the defence (`DefenseRule::defend`), which give the round's
//!    [`RoundRecord`] and the global update;
//! 5. `apply_update`: the new global model, and whether it is still finite.
//!
//! The defences of [`Defense`] are per-defence types implementing `DefenseRule`:
//! `AggregateRule`, `LshScreenRule` and `LshFedRule`; `defense_rule` builds one.

use gradus_core::{Error, Layout, Objective, Result, Rng, rng};
use gradus_models::{Dense, SoftmaxRegression};
use gradus_optim::Optimizer;
use rand::seq::SliceRandom;

use super::aggregate::Aggregator;
use super::data::Dataset;
use super::lsh::{LshCode, LshHasher, hamming};
use super::lshfed::{Grouping, Verifier};
use super::screening::HammingScreen;
use super::sim::{Benchmark, Defense, FedConfig, RoundRecord};
use super::{NonFinitePolicy, Updates};

/// The seed streams of a run. Every random choice draws from a stream derived from the
/// master seed `cfg.seed` by a fixed purpose number, so a run is reproducible from its seed
/// and its parts do not share randomness; changing a number changes every result.
///
/// | purpose | generator |
/// |---|---|
/// | which clients are Byzantine | `rng::stream(seed, BYZANTINE)` |
/// | the server's own update before round 0 | `rng::stream(seed, SERVER_START)` |
/// | round `t`'s uniform participants | `rng::stream(derive_seed(seed, PARTICIPANTS), t)` |
/// | the server's own update in round `t > 0` | `rng::stream(derive_seed(seed, SERVER_ROUND), t)` |
/// | LSH hyperplanes | `derive_seed(seed, HYPERPLANES)` |
/// | LSHFed election pointer | `derive_seed(seed, VERIFIER)` |
/// | round `t`'s seed | `round_seed = derive_seed(seed, ROUND + t)` |
/// | client `c`'s local steps in round `t` | `rng::stream(round_seed, c)` |
/// | the attack in round `t` | `derive_seed(round_seed, ATTACK)` |
///
/// Purpose numbers below [`stream::ROUND`] are reserved for the one-off streams, so a
/// round's seed never equals one of them.
pub mod stream {
    /// Which clients are Byzantine: the first of a shuffle of all clients.
    pub const BYZANTINE: u64 = 1;
    /// The server's own local update from the initial model (round 0's LSH benchmark).
    pub const SERVER_START: u64 = 2;
    /// Uniform participants of each round (indexed by the round).
    pub const PARTICIPANTS: u64 = 3;
    /// The server's own local update in later rounds (indexed by the round).
    pub const SERVER_ROUND: u64 = 4;
    /// The LSH hyperplanes.
    pub const HYPERPLANES: u64 = 7;
    /// The LSHFed verifier's election pointer.
    pub const VERIFIER: u64 = 8;
    /// Offset of the per-round seeds: round `t` uses purpose `ROUND + t`.
    pub const ROUND: u64 = 1000;
    /// The attack's randomness, derived from the round's seed.
    pub const ATTACK: u64 = 99;
}

/// The `what` of the error naming a client whose update is not finite.
pub(crate) const CLIENT_UPDATE: &str = "client update (index is the client)";

/// The server's own local update from the current global model on a given generator
/// (the LSH defences' benchmark).
pub(crate) type OwnUpdate<'a> = dyn FnMut(Rng) -> Result<Vec<f64>> + 'a;

/// Errors unless the Byzantine fraction is in `[0, 1]`, the attack is valid and
/// `1 <= participants <= clients`.
pub(crate) fn check_config(cfg: &FedConfig, clients: usize) -> Result<()> {
    gradus_core::validate::unit_interval("byzantine_fraction", cfg.byzantine_fraction)?;
    cfg.attack.validate()?;
    if cfg.participants == 0 || cfg.participants > clients {
        return Err(Error::hyper("participants", cfg.participants as f64, "need 1..=clients"));
    }
    Ok(())
}

/// Errors unless `test` has at least two classes and every set of `sets` is valid
/// ([`Dataset::validate`]), non-empty and shares `test`'s dimension and class count;
/// `order` says in the error which sets are numbered how.
pub(crate) fn check_sets<'a>(
    sets: impl IntoIterator<Item = &'a Dataset>,
    test: &Dataset,
    order: &str,
) -> Result<()> {
    if test.classes < 2 {
        return Err(Error::hyper("classes", test.classes as f64, "need at least 2 classes"));
    }
    for (i, c) in sets.into_iter().enumerate() {
        c.validate()?;
        if c.is_empty() || c.dim != test.dim || c.classes != test.classes {
            return Err(Error::InvalidShape {
                what: "federation",
                detail: format!(
                    "set {i} ({order}) is empty or has another dimension or class count"
                ),
            });
        }
    }
    Ok(())
}

/// The parameter layout of the softmax model: `W` (`classes x dim`) then `b`.
pub(crate) fn layout(test: &Dataset) -> Result<Layout> {
    Layout::new().matrix("W", test.classes, test.dim)?.vector("b", test.classes)
}

/// The Byzantine clients, sorted: `floor(byzantine_fraction * clients)` of them, the first
/// of a shuffle drawn from [`stream::BYZANTINE`].
pub(crate) fn byzantine_clients(clients: usize, cfg: &FedConfig) -> Vec<usize> {
    let mut order: Vec<usize> = (0..clients).collect();
    order.shuffle(&mut rng::stream(cfg.seed, stream::BYZANTINE));
    let mut byzantine =
        order[..(cfg.byzantine_fraction * clients as f64).floor() as usize].to_vec();
    byzantine.sort_unstable();
    byzantine
}

/// Round `t`'s participants drawn uniformly without replacement, sorted.
pub(crate) fn uniform_participants(clients: usize, cfg: &FedConfig, t: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..clients).collect();
    let seed = rng::derive_seed(cfg.seed, stream::PARTICIPANTS);
    all.shuffle(&mut rng::stream(seed, t as u64));
    let mut p = all[..cfg.participants].to_vec();
    p.sort_unstable();
    p
}

/// Round `t`'s seed ([`stream::ROUND`]).
pub(crate) fn round_seed(cfg: &FedConfig, t: usize) -> u64 {
    rng::derive_seed(cfg.seed, stream::ROUND + t as u64)
}

/// The softmax model of one dataset; `flip` maps every label `c` to `classes - 1 - c` (the
/// label-flip attack's poisoned data).
pub(crate) fn client_model(
    data: &Dataset,
    flip: bool,
    cfg: &FedConfig,
) -> Result<SoftmaxRegression<f64>> {
    let k = data.classes;
    let y = if flip {
        // Labels are below `k` (checked by `check_sets`); checked anyway.
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

/// `local_steps` steps of a fresh optimizer from `make_opt` on `model` from `global`;
/// returns `params - global`.
pub(crate) fn local_update<O, F>(
    model: &mut SoftmaxRegression<f64>,
    global: &[f64],
    cfg: &FedConfig,
    make_opt: &F,
    mut r: Rng,
) -> Result<Vec<f64>>
where
    O: Optimizer<f64>,
    F: Fn(Layout) -> Result<O>,
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

/// Adds `update` to `params`; returns whether the new model is finite.
pub(crate) fn apply_update(params: &mut [f64], update: &[f64]) -> bool {
    params.iter_mut().zip(update).for_each(|(p, d)| *p += d);
    params.iter().all(|x| x.is_finite())
}

/// A defence's per-client error names a row of the updates it saw (`what` ends in "(index
/// is the client)" or "(index is the row)"); `ids` maps rows to client ids.
pub(crate) fn name_client(e: Error, ids: &[usize]) -> Error {
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

/// The rows of `rows` (each `dim` long) at positions `pos`, stacked.
fn gather(rows: &[f64], dim: usize, pos: &[usize]) -> Vec<f64> {
    let mut v = Vec::with_capacity(pos.len() * dim);
    pos.iter().for_each(|&p| v.extend_from_slice(&rows[p * dim..(p + 1) * dim]));
    v
}

/// What the server knows of a round besides the updates.
pub(crate) struct RoundInfo<'a> {
    /// The round.
    pub t: usize,
    /// Its seed ([`round_seed`]).
    pub seed: u64,
    /// The participants (client ids), in the order of the update rows.
    pub participants: &'a [usize],
    /// Whether a client is Byzantine.
    pub is_byz: &'a dyn Fn(usize) -> bool,
    /// The run's settings.
    pub cfg: &'a FedConfig,
}

/// Replaces the Byzantine participants' rows of `rows` (participant order, `dim` each) with
/// the attack's vectors; the adversary sees the honest updates that can be sent (the finite
/// ones). Returns the Byzantine positions.
pub(crate) fn attack(rows: &mut [f64], dim: usize, info: &RoundInfo<'_>) -> Result<Vec<usize>> {
    let (q, is_byz) = (info.participants.len(), info.is_byz);
    let byz_pos: Vec<usize> = (0..q).filter(|&p| is_byz(info.participants[p])).collect();
    if byz_pos.is_empty() {
        return Ok(byz_pos);
    }
    let finite_row = |p: usize| rows[p * dim..(p + 1) * dim].iter().all(|x| x.is_finite());
    let honest_pos: Vec<usize> =
        (0..q).filter(|&p| !is_byz(info.participants[p]) && finite_row(p)).collect();
    let (h, own) = (gather(rows, dim, &honest_pos), gather(rows, dim, &byz_pos));
    let honest =
        if honest_pos.is_empty() { None } else { Some(Updates::new(&h, honest_pos.len(), dim)?) };
    let crafted = info.cfg.attack.craft(
        honest,
        Updates::new(&own, byz_pos.len(), dim)?,
        rng::derive_seed(info.seed, stream::ATTACK),
        info.cfg.par,
    )?;
    for (k, &p) in byz_pos.iter().enumerate() {
        rows[p * dim..(p + 1) * dim].copy_from_slice(&crafted[k * dim..(k + 1) * dim]);
    }
    Ok(byz_pos)
}

/// The updates left after the non-finite policy.
pub(crate) struct Kept {
    /// The finite rows, stacked.
    pub rows: Vec<f64>,
    /// Their positions among the participants.
    pub positions: Vec<usize>,
    /// How many rows were dropped.
    pub dropped: usize,
}

/// The non-finite policy, once per round before any defence (so every defence sees finite
/// updates): [`NonFinitePolicy::Reject`] errors naming the first such client,
/// [`NonFinitePolicy::Drop`] leaves it out; errors if no update is left.
pub(crate) fn apply_policy(rows: Vec<f64>, dim: usize, info: &RoundInfo<'_>) -> Result<Kept> {
    let q = info.participants.len();
    let bad = Updates::new(&rows, q, dim)?.non_finite_rows(info.cfg.par);
    if let (NonFinitePolicy::Reject, Some(&p)) = (info.cfg.policy, bad.first()) {
        return Err(Error::NonFinite { what: CLIENT_UPDATE, index: info.participants[p] });
    }
    let positions: Vec<usize> = (0..q).filter(|p| bad.binary_search(p).is_err()).collect();
    if positions.is_empty() {
        return Err(Error::InvalidShape {
            what: "client updates",
            detail: format!("round {}: no finite client update left", info.t),
        });
    }
    let rows = if bad.is_empty() { rows } else { gather(&rows, dim, &positions) };
    Ok(Kept { rows, positions, dropped: bad.len() })
}

/// The updates a defence sees in one round.
pub(crate) struct DefenseInput<'a> {
    /// The round.
    pub t: usize,
    /// The finite updates, one row per client of `ids`.
    pub updates: Updates<'a>,
    /// The client id of each row.
    pub ids: &'a [usize],
    /// Whether a client is Byzantine (for the record only: no defence reads it to decide).
    pub is_byz: &'a dyn Fn(usize) -> bool,
    /// The run's settings.
    pub cfg: &'a FedConfig,
}

/// What a defence decided in one round.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Defended {
    /// The global update.
    pub vector: Vec<f64>,
    /// The rows whose client took part in the update (`None`: no per-client decision).
    pub used: Option<Vec<usize>>,
    /// Rows the rule dropped because they are not usable (e.g. a squared norm overflows).
    pub dropped: usize,
    /// LSHFed: whether the winning group had no Byzantine member.
    pub clean_win: Option<bool>,
    /// LSHFed: whether some group had no Byzantine member.
    pub clean_group: Option<bool>,
    /// Bits of LSH codes sent for verification.
    pub code_bits: usize,
    /// Bits the same messages take as float32 vectors.
    pub full_bits: usize,
}

/// A server defence: turns a round's finite client updates into the global update.
pub(crate) trait DefenseRule {
    /// Called once before round 0 with the server's own update.
    fn start(&mut self, _own: &mut OwnUpdate<'_>) -> Result<()> {
        Ok(())
    }

    /// Round `t`'s participants, sorted (default: [`uniform_participants`]).
    fn participants(&self, clients: usize, cfg: &FedConfig, t: usize) -> Vec<usize> {
        uniform_participants(clients, cfg, t)
    }

    /// The round's global update; `own` computes the server's own update from the current
    /// global model.
    fn defend(&mut self, input: &DefenseInput<'_>, own: &mut OwnUpdate<'_>) -> Result<Defended>;
}

/// [`Defense::Aggregate`]: a rule over every update.
pub(crate) struct AggregateRule(pub Aggregator);

impl DefenseRule for AggregateRule {
    fn defend(&mut self, input: &DefenseInput<'_>, _own: &mut OwnUpdate<'_>) -> Result<Defended> {
        let (cfg, ids) = (input.cfg, input.ids);
        let a = self
            .0
            .aggregate(input.updates, cfg.policy, cfg.par)
            .map_err(|e| name_client(e, ids))?;
        Ok(Defended {
            used: (!a.selected.is_empty()).then_some(a.selected),
            dropped: a.dropped.len(),
            vector: a.vector,
            ..Defended::default()
        })
    }
}

/// [`Defense::LshScreen`]: clients whose code is far from the benchmark code are left out,
/// then a rule over the others.
pub(crate) struct LshScreenRule {
    hasher: LshHasher,
    which: Benchmark,
    screen: HammingScreen,
    then: Aggregator,
    benchmark: Option<LshCode>,
    seed: u64,
}

impl LshScreenRule {
    fn new(
        layout: &Layout,
        r: usize,
        which: Benchmark,
        screen: HammingScreen,
        then: Aggregator,
        seed: u64,
    ) -> Result<Self> {
        let hasher = LshHasher::new(layout, r, rng::derive_seed(seed, stream::HYPERPLANES))?;
        Ok(LshScreenRule { hasher, which, screen, then, benchmark: None, seed })
    }
}

impl DefenseRule for LshScreenRule {
    fn start(&mut self, own: &mut OwnUpdate<'_>) -> Result<()> {
        let u = own(rng::stream(self.seed, stream::SERVER_START))?;
        self.benchmark = Some(self.hasher.hash(&u)?);
        Ok(())
    }

    fn defend(&mut self, input: &DefenseInput<'_>, own: &mut OwnUpdate<'_>) -> Result<Defended> {
        let (cfg, ids, u, h) = (input.cfg, input.ids, input.updates, &self.hasher);
        if self.which == Benchmark::ServerUpdate && input.t > 0 {
            let seed = rng::derive_seed(self.seed, stream::SERVER_ROUND);
            let own = own(rng::stream(seed, input.t as u64))?;
            self.benchmark = Some(h.hash(&own)?);
        }
        let b = self.benchmark.as_ref().ok_or_else(|| Error::Unsupported("no benchmark".into()))?;
        let codes = h.hash_rows(u, cfg.par).map_err(|e| name_client(e, ids))?;
        let dist = codes.iter().map(|c| hamming(c, b)).collect::<Result<Vec<_>>>()?;
        let flags = self.screen.flag(&dist, h.bits())?;
        let used: Vec<usize> = (0..u.n()).filter(|&k| !flags[k]).collect();
        let sub = gather(u.as_slice(), u.d(), &used);
        let used_ids: Vec<usize> = used.iter().map(|&k| ids[k]).collect();
        let a = self
            .then
            .aggregate(Updates::new(&sub, used.len(), u.d())?, cfg.policy, cfg.par)
            .map_err(|e| name_client(e, &used_ids))?;
        if self.which == Benchmark::PreviousAggregate && a.vector.iter().all(|x| x.is_finite()) {
            self.benchmark = Some(h.hash(&a.vector)?);
        }
        Ok(Defended {
            vector: a.vector,
            used: Some(used),
            dropped: a.dropped.len(),
            code_bits: u.n() * h.bits(),
            full_bits: u.n() * 32 * u.d(),
            ..Defended::default()
        })
    }
}

/// [`Defense::LshFed`]: the LSHFed protocol ([`crate::federated::lshfed`]).
pub(crate) struct LshFedRule {
    verifier: Verifier,
    groups: usize,
    grouping: Grouping,
    seed: u64,
}

impl DefenseRule for LshFedRule {
    fn start(&mut self, own: &mut OwnUpdate<'_>) -> Result<()> {
        self.verifier.set_benchmark(&own(rng::stream(self.seed, stream::SERVER_START))?)
    }

    /// The verifier's reputation election.
    fn participants(&self, _clients: usize, cfg: &FedConfig, t: usize) -> Vec<usize> {
        self.verifier.elect(t as u64, cfg.participants)
    }

    fn defend(&mut self, input: &DefenseInput<'_>, _own: &mut OwnUpdate<'_>) -> Result<Defended> {
        let (cfg, ids, u, is_byz) = (input.cfg, input.ids, input.updates, input.is_byz);
        let vr = self
            .verifier
            .round(ids, u, self.groups, self.grouping, cfg.par)
            .map_err(|e| name_client(e, ids))?;
        let winners = &vr.groups[vr.winner];
        let clean = |g: &Vec<usize>| g.iter().all(|&c| !is_byz(c));
        Ok(Defended {
            used: Some((0..u.n()).filter(|&k| winners.contains(&ids[k])).collect()),
            clean_win: Some(clean(winners)),
            clean_group: Some(vr.groups.iter().any(clean)),
            code_bits: vr.bits_to_verifier,
            full_bits: (u.n() + vr.groups.len()) * 32 * u.d(),
            vector: vr.update,
            dropped: 0,
        })
    }
}

/// The rule of `defense` for a run over `clients` clients with the model `layout`.
pub(crate) fn defense_rule(
    defense: &Defense,
    layout: &Layout,
    clients: usize,
    seed: u64,
) -> Result<Box<dyn DefenseRule>> {
    Ok(match defense {
        Defense::Aggregate(a) => Box::new(AggregateRule(a.clone())),
        Defense::LshScreen { r, benchmark, screen, then } => Box::new(LshScreenRule::new(
            layout,
            *r,
            *benchmark,
            screen.clone(),
            then.clone(),
            seed,
        )?),
        Defense::LshFed { r, groups, grouping, score } => {
            let h = LshHasher::new(layout, *r, rng::derive_seed(seed, stream::HYPERPLANES))?;
            let verifier = Verifier::new(h, clients, rng::derive_seed(seed, stream::VERIFIER))
                .with_score(*score);
            Box::new(LshFedRule { verifier, groups: *groups, grouping: *grouping, seed })
        }
    })
}

/// The server's part of a round on the participants' updates `rows` (participant order,
/// `dim` each; a client whose training hit a non-finite value has a non-finite row):
/// attack, policy, defence. Returns the round's record (accuracy left at 0) and the global
/// update.
pub(crate) fn server_round(
    mut rows: Vec<f64>,
    dim: usize,
    info: &RoundInfo<'_>,
    defense: &mut dyn DefenseRule,
    own: &mut OwnUpdate<'_>,
) -> Result<(RoundRecord, Vec<f64>)> {
    let byz_pos = attack(&mut rows, dim, info)?;
    let kept = apply_policy(rows, dim, info)?;
    let ids: Vec<usize> = kept.positions.iter().map(|&p| info.participants[p]).collect();
    let input = DefenseInput {
        t: info.t,
        updates: Updates::new(&kept.rows, ids.len(), dim)?,
        ids: &ids,
        is_byz: info.is_byz,
        cfg: info.cfg,
    };
    let d = defense.defend(&input, own)?;
    gradus_core::validate::same_len("global update", dim, d.vector.len())?;
    let mut rec = RoundRecord {
        accuracy: 0.0,
        byzantine: byz_pos.len(),
        flagged: None,
        true_positives: 0,
        clean_win: d.clean_win,
        clean_group: d.clean_group,
        code_bits: d.code_bits,
        full_bits: d.full_bits,
        dropped: kept.dropped + d.dropped,
    };
    if let Some(used) = &d.used {
        // Participants (positions) left out of the update: dropped ones and those whose
        // kept row is not in `used`.
        let left_out = |p: &usize| match kept.positions.binary_search(p) {
            Ok(k) => !used.contains(&k),
            Err(_) => true,
        };
        let ex: Vec<usize> = (0..info.participants.len()).filter(left_out).collect();
        rec.flagged = Some(ex.len());
        rec.true_positives = ex.iter().filter(|&&p| (info.is_byz)(info.participants[p])).count();
    }
    Ok((rec, d.vector))
}
