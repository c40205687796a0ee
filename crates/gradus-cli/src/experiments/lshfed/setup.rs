//! The stand-in of paper 05 §4: the synthetic federation, the attacks and the defences
//! compared, and the settings of one report run (formatted into its text).

use gradus_core::{Layout, Par, rng};
use gradus_dist::federated::Attack;
use gradus_dist::federated::aggregate::{Aggregator, Krum, Weiszfeld};
use gradus_dist::federated::data::{Dataset, split, synthetic};
use gradus_dist::federated::lshfed::{Grouping, ReputationScore};
use gradus_dist::federated::screening::HammingScreen;
use gradus_dist::federated::sim::{Benchmark, Defense, Federation};
use gradus_optim::{Agm, AgmConfig};

use crate::ctx::Ctx;
use crate::experiments::ExpResult;

/// Options of the experiment (`--set key=value`).
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "split",
        "dirichlet (default: Dirichlet(1) non-IID split) or iid (the official code's split: \
         a shuffled equal share per client)",
    ),
    ("seeds", "seeds per setting (quick 2, full 5)"),
    ("rounds", "communication rounds (quick 30, full 50)"),
];

/// Hyperplanes per layer (the official code's default).
pub const R: usize = 5;
/// Aggregator groups `P` (spec stand-in).
pub const GROUPS: usize = 5;
/// Data nodes, all elected as local trainers every round (spec stand-in: `Q` = 20 of 20).
pub const CLIENTS: usize = 20;
/// Clean points the server (verifier) holds for its own round-0 update.
pub const SERVER_POINTS: usize = 100;
/// Local SGD learning rate and minibatch.
pub const LR: f64 = 0.1;
/// Local minibatch size.
pub const BATCH: usize = 16;
/// Class-mean separation of the Gaussian mixture.
pub const SEPARATION: f64 = 0.35;
/// Dirichlet concentration of the non-IID split.
pub const DIRICHLET_ALPHA: f64 = 1.0;
/// Rounds averaged for the final accuracy.
pub const TAIL: usize = 3;

/// How the training data is split over clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitKind {
    /// Dirichlet(`DIRICHLET_ALPHA`) class proportions per client.
    Dirichlet,
    /// Shuffled equal shares (the official code).
    Iid,
}

impl SplitKind {
    /// Words for the report.
    pub fn describe(self) -> String {
        match self {
            SplitKind::Dirichlet => format!("a Dirichlet({DIRICHLET_ALPHA}) non-IID split"),
            SplitKind::Iid => "an IID split (shuffled equal shares, as the official code)".into(),
        }
    }
}

/// The settings of one report run.
pub struct Setup {
    /// Feature dimension.
    pub dim: usize,
    /// Classes.
    pub classes: usize,
    /// Communication rounds.
    pub rounds: usize,
    /// Average training points per client.
    pub per_client: usize,
    /// Malicious fractions tried.
    pub fractions: Vec<f64>,
    /// Seeds per setting.
    pub seeds: u64,
    /// Test points.
    pub n_test: usize,
    /// Data split.
    pub split: SplitKind,
    /// Local minibatch steps per round (about one epoch).
    pub local_steps: usize,
}

impl Setup {
    /// Settings from the mode and the options.
    pub fn from_ctx(ctx: &Ctx) -> ExpResult<Self> {
        let split = match ctx.opt("split", "dirichlet".to_string())?.as_str() {
            "dirichlet" => SplitKind::Dirichlet,
            "iid" => SplitKind::Iid,
            other => {
                return Err(format!("option `split`: `{other}` is not dirichlet or iid").into());
            }
        };
        let seeds: u64 = ctx.opt("seeds", ctx.pick(2, 5))?;
        let rounds: usize = ctx.opt("rounds", ctx.pick(30, 50))?;
        if seeds == 0 || rounds < TAIL {
            return Err(format!("need seeds >= 1 and rounds >= {TAIL}").into());
        }
        let per_client = ctx.pick(64, 150);
        Ok(Setup {
            dim: 50,
            classes: 10,
            rounds,
            per_client,
            fractions: ctx.pick(vec![0.2, 0.4, 0.5], vec![0.1, 0.2, 0.3, 0.4, 0.5]),
            seeds,
            n_test: ctx.pick(500, 2000),
            split,
            local_steps: per_client.div_ceil(BATCH),
        })
    }
}

/// The attacks run by every Byzantine participant (spec §4 plus the usual literature ones).
pub fn attacks() -> Vec<Attack> {
    vec![
        Attack::SignFlip { scale: 4.0 },
        Attack::Gaussian { sigma: 10.0, relative: true },
        Attack::Scaling { factor: 10.0 },
        Attack::SameValue { value: 1.0 },
        Attack::Alie { z: 1.0 },
        Attack::Ipm { epsilon: 0.5 },
        Attack::LabelFlip,
        Attack::Mimic { target: 0 },
        Attack::AdaptiveLsh { factor: 10.0 },
    ]
}

/// Krum's `f` and the trimmed mean's `b` for `nb` Byzantine clients: the true count (their
/// best case), capped by their preconditions (`n > 2f + 2`, `2b < n`).
pub fn caps(nb: usize) -> (usize, usize) {
    (nb.min((CLIENTS - 3) / 2), nb.min((CLIENTS - 1) / 2))
}

/// The defences compared for `nb` Byzantine clients.
pub fn defenses(nb: usize) -> Vec<Defense> {
    let (f, b) = caps(nb);
    vec![
        Defense::Aggregate(Aggregator::Mean),
        Defense::Aggregate(Aggregator::TrimmedMean { b }),
        Defense::Aggregate(Aggregator::GeometricMedian(Weiszfeld::default())),
        Defense::Aggregate(Aggregator::Krum(Krum::new(f))),
        Defense::LshScreen {
            r: R,
            benchmark: Benchmark::ServerUpdate,
            screen: HammingScreen::default(),
            then: Aggregator::Mean,
        },
        Defense::LshScreen {
            r: R,
            benchmark: Benchmark::PreviousAggregate,
            screen: HammingScreen::default(),
            then: Aggregator::Mean,
        },
        Defense::LshFed {
            r: R,
            groups: GROUPS,
            grouping: Grouping::RoundRobin,
            score: ReputationScore::Official,
        },
    ]
}

/// Method names without the parameters that change with the fraction.
pub fn method(d: &Defense) -> &'static str {
    match d {
        Defense::Aggregate(Aggregator::Mean) => "mean",
        Defense::Aggregate(Aggregator::TrimmedMean { .. }) => "trimmed mean",
        Defense::Aggregate(Aggregator::GeometricMedian(_)) => "geometric median",
        Defense::Aggregate(Aggregator::Krum(_)) => "krum",
        Defense::LshScreen { benchmark: Benchmark::ServerUpdate, .. } => "lsh screen",
        Defense::LshScreen { .. } => "lsh screen (aggregate benchmark)",
        Defense::LshFed { grouping: Grouping::RoundRobin, .. } => "lshfed",
        Defense::LshFed { .. } => "lshfed (contiguous groups)",
        Defense::Aggregate(_) => "other",
    }
}

/// The federation: a Gaussian mixture split over [`CLIENTS`] clients, the server's clean
/// points and a test set.
pub fn federation(setup: &Setup, seed: u64) -> ExpResult<Federation> {
    let mut r = rng::seeded(seed);
    let (n_train, n_test) = (CLIENTS * setup.per_client, setup.n_test);
    let all = synthetic::gaussian_mixture(
        n_train + SERVER_POINTS + n_test,
        setup.dim,
        setup.classes,
        SEPARATION,
        &mut r,
    )?;
    let range = |lo: usize, hi: usize| (lo..hi).collect::<Vec<_>>();
    let train = all.subset(&range(0, n_train))?;
    let server = all.subset(&range(n_train, n_train + SERVER_POINTS))?;
    let test = all.subset(&range(n_train + SERVER_POINTS, n_train + SERVER_POINTS + n_test))?;
    let parts = match setup.split {
        SplitKind::Dirichlet => {
            split::dirichlet(&train.y, setup.classes, CLIENTS, DIRICHLET_ALPHA, &mut r)?
        }
        SplitKind::Iid => split::iid(train.len(), CLIENTS, &mut r)?,
    };
    let clients =
        parts.iter().map(|p| train.subset(p)).collect::<gradus_core::Result<Vec<Dataset>>>()?;
    Ok(Federation::new(clients, server, test)?)
}

/// Each client's local optimizer: plain SGD.
pub fn sgd(l: Layout) -> gradus_core::Result<Agm<f64>> {
    Agm::new("sgd", AgmConfig::sgd(LR).with_par(Par::Seq), l)
}
