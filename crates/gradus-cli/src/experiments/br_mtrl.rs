//! `br-mtrl`: paper 09 (Le and Moothedath 2025), Byzantine-resilient federated multi-task
//! representation learning. Two synthetic stand-ins (spec §3): the linear multi-task model
//! `y = theta_i^T B^T x` (metric: principal-angle distance to the true subspace) and a small
//! tanh network on non-IID label subsets of a Gaussian mixture (metric: personalised test
//! accuracy). Curves over rounds for the mean without attack and the mean, the geometric
//! median and Krum under attack; the attack suite's final metrics; and transfer of the
//! learned representation to new clients with few samples against training from scratch.

use gradus_core::{Par, Result as CoreResult, rng};
use gradus_dist::federated::aggregate::{Aggregator, Krum, Weiszfeld};
use gradus_dist::federated::data::synthetic::GaussianMixture;
use gradus_dist::federated::mtrl::data::{label_subset_tasks, linear_tasks, random_basis};
use gradus_dist::federated::mtrl::{
    Activation, Federation, Head, HeadFit, LinearRep, LinearTasks, LocalSgd, LocalUpdate, Mlp,
    Mtrl, MtrlConfig, RegressionHead, Representation, SoftmaxHead, Task, subspace_distance,
};
use gradus_dist::federated::{Attack, NonFinitePolicy};
use gradus_report::{Claim, Claims, Plot, Report, RunEnd, Scale, Series, Table, fmt_num};
use rayon::prelude::*;

use super::ExpResult;
use super::common::mean_std;
use crate::ctx::Ctx;

/// Absolute tolerance of the plateau test (distance or accuracy).
const PLATEAU_TOL: f64 = 0.01;
/// Evaluations averaged for a run's final value and compared for its plateau test.
const TAIL: usize = 5;
/// A robust rule "stays close" to the attack-free run when its final subspace distance is
/// within this much of it (linear model)...
const LIN_CLOSE: f64 = 0.05;
/// ...and the mean "collapses" when its final distance exceeds this (a random 3-subspace of
/// R^20 is at about 1.6, the maximum is sqrt(3) = 1.73).
const LIN_COLLAPSE: f64 = 0.5;
/// Accuracy points within which a robust rule stays close to the attack-free run (MLP)...
const MLP_CLOSE: f64 = 0.05;
/// ...and the accuracy the mean must lose to count as collapsed.
const MLP_COLLAPSE: f64 = 0.15;

/// The server rules compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Mean,
    Gm,
    Krum,
}

impl Rule {
    const ALL: [Rule; 3] = [Rule::Mean, Rule::Gm, Rule::Krum];

    fn name(self) -> &'static str {
        match self {
            Rule::Mean => "mean",
            Rule::Gm => "geometric median",
            Rule::Krum => "krum",
        }
    }

    /// Legend label.
    fn short(self) -> &'static str {
        match self {
            Rule::Mean => "mean",
            Rule::Gm => "GM",
            Rule::Krum => "Krum",
        }
    }

    /// Krum is told the largest `f` its precondition allows for `q` uploads: the number of
    /// Byzantine participants varies from round to round.
    fn aggregator(self, q: usize) -> Aggregator {
        match self {
            Rule::Mean => Aggregator::Mean,
            Rule::Gm => Aggregator::GeometricMedian(Weiszfeld::default()),
            Rule::Krum => Aggregator::Krum(Krum::new(q.saturating_sub(3) / 2)),
        }
    }
}

/// The attacks of the table; the first two also get curves over rounds.
fn attacks() -> Vec<Attack> {
    vec![
        Attack::Gaussian { sigma: 1.0, relative: false },
        Attack::SignFlip { scale: 10.0 },
        Attack::Gaussian { sigma: 10.0, relative: false },
        Attack::SignFlip { scale: 1.0 },
        Attack::Alie { z: 1.0 },
        Attack::Ipm { epsilon: 10.0 },
        Attack::Scaling { factor: -5.0 },
        Attack::SameValue { value: 1.0 },
        Attack::Mimic { target: 0 },
    ]
}

/// Settings shared by both models.
#[derive(Debug, Clone)]
struct Common {
    clients: usize,
    participants: usize,
    byzantine: f64,
    rounds: usize,
    every: usize,
    seeds: u64,
}

#[derive(Debug, Clone)]
struct LinearSetup {
    c: Common,
    d: usize,
    k: usize,
    train: usize,
    test: usize,
    noise: f64,
    lr: f64,
    ridge: f64,
    new_clients: usize,
    new_test: usize,
    shots: Vec<usize>,
}

#[derive(Debug, Clone)]
struct MlpSetup {
    c: Common,
    dim: usize,
    classes: usize,
    separation: f64,
    per_client: usize,
    widths: Vec<usize>,
    activation: Activation,
    train: usize,
    test: usize,
    head: LocalSgd,
    rep: LocalSgd,
    new_clients: usize,
    new_test: usize,
    shots: Vec<usize>,
    transfer: LocalSgd,
}

/// One federated run: its curve, final value (mean of the last `TAIL` evaluations), how it
/// ended, and its final representation.
struct RunOut {
    curve: Vec<(f64, f64)>,
    last: f64,
    end: RunEnd,
    diverged: bool,
    personal: f64,
    rep: Vec<f64>,
    /// Rounds in which at least half of the participants were Byzantine.
    majority: usize,
}

/// How a run is identified (`attack: None` is the rule's attack-free run).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key {
    attack: Option<usize>,
    rule: Rule,
    seed: u64,
}

/// Whether a curve has settled: the mean of its last quarter of evaluations (at least
/// `TAIL`) is within `max(tol, 3 standard errors)` of the quarter before. Three rather than
/// two standard errors because successive evaluations of one run are correlated.
fn plateaued(values: &[f64], tol: f64) -> bool {
    let w = (values.len() / 4).max(TAIL);
    if values.len() < 2 * w {
        return false;
    }
    let n = values.len();
    let (a, sa) = mean_std(&values[n - 2 * w..n - w]);
    let (b, sb) = mean_std(&values[n - w..]);
    let se = ((sa * sa + sb * sb) / w as f64).sqrt();
    (a - b).abs() <= tol.max(3.0 * se)
}

/// Runs `rounds` rounds, scoring with `metric` every `every` rounds; a diverged run scores
/// `worst` from then on.
fn drive<R: Representation, H: Head>(
    fed: &Federation<R, H>,
    cfg: MtrlConfig,
    c: &Common,
    metric: &(dyn Fn(&Mtrl<'_, R, H>) -> CoreResult<f64> + Sync),
    worst: f64,
    tol: f64,
) -> CoreResult<RunOut> {
    let mut m = Mtrl::new(fed, cfg, None)?;
    let mut curve = vec![(0.0, metric(&m)?)];
    let mut majority = 0;
    for t in 1..=c.rounds {
        let r = m.round()?;
        majority += usize::from(2 * r.byzantine >= c.participants);
        if t % c.every == 0 {
            curve.push((t as f64, if m.diverged() { worst } else { metric(&m)? }));
        }
    }
    let values: Vec<f64> = curve.iter().map(|p| p.1).collect();
    let last = mean_std(&values[values.len().saturating_sub(TAIL)..]).0;
    let personal = if m.diverged() { worst } else { m.evaluate()?.mean };
    let end = if m.diverged() || plateaued(&values, tol) {
        RunEnd::Converged { steps: m.rounds_done() as u64 }
    } else {
        RunEnd::HitCap { cap: c.rounds as u64 }
    };
    let rep = m.representation().to_vec();
    Ok(RunOut { curve, last, end, diverged: m.diverged(), personal, rep, majority })
}

fn config(c: &Common, local: LocalUpdate, eval_fit: HeadFit, key: Key, seed: u64) -> MtrlConfig {
    let (attack, fraction) = match key.attack {
        Some(a) => (attacks()[a], c.byzantine),
        None => (Attack::Honest, 0.0),
    };
    MtrlConfig {
        participants: c.participants,
        local,
        eval_fit,
        byzantine_fraction: fraction,
        attack,
        aggregator: key.rule.aggregator(c.participants),
        policy: NonFinitePolicy::Drop,
        seed: rng::derive_seed(seed, 100 + key.seed),
        par: Par::Seq,
    }
}

/// The runs of one model: the attack-free mean and every (attack, rule), per seed.
fn keys(c: &Common, attacks: usize) -> Vec<Key> {
    let mut out = Vec::new();
    for seed in 0..c.seeds {
        for rule in Rule::ALL {
            out.push(Key { attack: None, rule, seed });
        }
        for a in 0..attacks {
            for rule in Rule::ALL {
                out.push(Key { attack: Some(a), rule, seed });
            }
        }
    }
    out
}

/// Results of one model's runs, with lookups by attack and rule.
struct Runs {
    keys: Vec<Key>,
    outs: Vec<Result<RunOut, String>>,
    rounds: usize,
}

impl Runs {
    fn get(&self, attack: Option<usize>, rule: Rule) -> Vec<&Result<RunOut, String>> {
        self.keys
            .iter()
            .zip(&self.outs)
            .filter(|(k, _)| k.attack == attack && k.rule == rule)
            .map(|(_, o)| o)
            .collect()
    }

    /// How the seed-averaged run of (attack, rule) ended: the claims compare seed means, so
    /// the plateau test applies to the seed-averaged curve (a failed seed fails it).
    fn end(&self, attack: Option<usize>, rule: Rule) -> RunEnd {
        if let Some(Err(e)) = self.get(attack, rule).into_iter().find(|o| o.is_err()) {
            return RunEnd::Failed(e.clone());
        }
        let values: Vec<f64> = self.curve(attack, rule).iter().map(|p| p.1).collect();
        if plateaued(&values, PLATEAU_TOL) {
            RunEnd::Converged { steps: self.rounds as u64 }
        } else {
            RunEnd::HitCap { cap: self.rounds as u64 }
        }
    }

    /// `settled / seeds`: seeds whose own curve passed the plateau test.
    fn settled(&self, attack: Option<usize>, rule: Rule) -> String {
        let all = self.get(attack, rule);
        let ok = all.iter().filter(|o| matches!(o, Ok(r) if r.end.converged())).count();
        format!("{ok} / {}", all.len())
    }

    /// Mean over seeds of `f`, or the first error.
    fn mean(
        &self,
        attack: Option<usize>,
        rule: Rule,
        f: fn(&RunOut) -> f64,
    ) -> Result<f64, String> {
        let mut v = Vec::new();
        for o in self.get(attack, rule) {
            v.push(f(o.as_ref().map_err(Clone::clone)?));
        }
        Ok(mean_std(&v).0)
    }

    /// `mean ± sd` over seeds (with "(diverged)" when a seed diverged), or `error: ...`.
    fn cell(&self, attack: Option<usize>, rule: Rule, f: fn(&RunOut) -> f64) -> String {
        let mut v = Vec::new();
        let mut diverged = false;
        for o in self.get(attack, rule) {
            match o {
                Ok(r) => {
                    v.push(f(r));
                    diverged |= r.diverged;
                }
                Err(e) => return format!("error: {e}"),
            }
        }
        let (m, s) = mean_std(&v);
        let tag = if diverged { " (diverged)" } else { "" };
        if v.len() > 1 {
            format!("{} ± {}{tag}", fmt_num(m), fmt_num(s))
        } else {
            format!("{}{tag}", fmt_num(m))
        }
    }

    /// The seed-averaged curve (rounds where every seed has a value).
    fn curve(&self, attack: Option<usize>, rule: Rule) -> Vec<(f64, f64)> {
        let runs: Vec<&RunOut> =
            self.get(attack, rule).into_iter().filter_map(|o| o.as_ref().ok()).collect();
        let Some(first) = runs.first() else { return Vec::new() };
        (0..first.curve.len())
            .map(|i| {
                let v: Vec<f64> = runs.iter().map(|r| r.curve[i].1).collect();
                (first.curve[i].0, mean_std(&v).0)
            })
            .collect()
    }

    /// The final representation of seed `seed`'s run.
    fn rep(&self, attack: Option<usize>, rule: Rule, seed: u64) -> Option<&[f64]> {
        self.keys
            .iter()
            .zip(&self.outs)
            .find(|(k, _)| k.attack == attack && k.rule == rule && k.seed == seed)
            .and_then(|(_, o)| o.as_ref().ok())
            .map(|r| r.rep.as_slice())
    }
}

fn run_all<F>(ctx: &Ctx, what: &str, rounds: usize, keys: Vec<Key>, f: F) -> Runs
where
    F: Fn(Key) -> CoreResult<RunOut> + Sync,
{
    let bar = ctx.progress(keys.len() as u64, what);
    let outs = keys
        .par_iter()
        .map(|&k| {
            let r = f(k).map_err(|e| e.to_string());
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    Runs { keys, outs, rounds }
}

pub fn run(ctx: &Ctx) -> ExpResult<Report> {
    let mut report = Report::new(
        "br-mtrl",
        "BR-MTRL: Byzantine-resilient multi-task representation learning, linear and MLP \
         stand-ins (paper 09)",
    );
    let start = std::time::Instant::now();
    // Federation size, participation and Byzantine fraction are shared by both models.
    let common = |rounds, every, seeds| Common {
        clients: 50,
        participants: 10,
        byzantine: 0.2,
        rounds,
        every,
        seeds,
    };
    let lin = LinearSetup {
        c: common(ctx.pick(400, 600), 10, ctx.pick(3, 10)),
        d: 20,
        k: 3,
        train: 30,
        test: 50,
        noise: 0.01,
        lr: 0.5,
        ridge: 1e-4,
        new_clients: ctx.pick(10, 20),
        new_test: 200,
        shots: vec![2, 3, 5, 10, 20, 40],
    };
    let sgd = |epochs, lr| LocalSgd { epochs, lr, momentum: 0.9, batch: 10 };
    let mlp = MlpSetup {
        c: common(ctx.pick(60, 150), 5, ctx.pick(2, 5)),
        dim: 64,
        classes: 10,
        separation: 0.35,
        per_client: 3,
        widths: vec![16],
        activation: Activation::Tanh,
        train: 50,
        test: 100,
        head: sgd(10, 0.1),
        rep: sgd(1, 0.5),
        new_clients: ctx.pick(10, 20),
        new_test: 200,
        shots: vec![3, 6, 12, 24, 48],
        transfer: LocalSgd { epochs: 100, lr: 0.05, momentum: 0.9, batch: 8 },
    };
    intro(&mut report, &lin, &mlp);
    let mut claims = Claims::new();
    linear_section(ctx, &mut report, &mut claims, &lin)?;
    mlp_section(ctx, &mut report, &mut claims, &mlp)?;
    report.claims("verdicts", claims);
    report.text(format!(
        "This run ({} mode) took {:.0} s on this machine (rayon over runs; each run \
         sequential).",
        if ctx.quick { "quick" } else { "full" },
        start.elapsed().as_secs_f64()
    ));
    Ok(report)
}

fn intro(report: &mut Report, lin: &LinearSetup, mlp: &MlpSetup) {
    let names: Vec<String> = attacks().iter().map(|a| a.name()).collect();
    let gm = Weiszfeld::default();
    let f = match Rule::Krum.aggregator(lin.c.participants) {
        Aggregator::Krum(k) => k.f,
        _ => 0,
    };
    report.text(format!(
        "Paper 09 trains a shared representation phi (all layers but the last) and a personal \
         head per client; per round, sampled clients fit their head with phi frozen, then run \
         representation epochs with the head frozen and upload the change of phi; the server \
         aggregates the uploads with the geometric median (GM) or Krum; Byzantine clients \
         upload attacked vectors. The paper's CIFAR-10 / FEMNIST experiments on AlexNet-style \
         networks (100-1000 clients on AWS) are replaced by the spec's synthetic stand-ins: \
         the datasets are not on this machine and are not downloaded, and one shared core \
         cannot train convolutional networks for hundreds of clients. The class-based non-IID \
         split (each client holds a few classes) is kept: the MLP clients hold {pc} of \
         {cl} classes of a Gaussian mixture.\n\n\
         Common settings: {n} clients, {q} sampled per round (participation {part}), \
         {byz:.0}% Byzantine clients (a fixed set drawn from the seed; each round's sample \
         holds a random number of them). Clients upload the change `phi_i - phi^t`; for the \
         mean, the GM and Krum this equals aggregating the estimates `phi_i` (all three are \
         translation equivariant), and the attacks act on the update as the attack suite \
         defines them: Gaussian noise `phi_i + sigma N(0, I)` is the paper's attack (its \
         sigma is not given; two values are run), a sign flip of the update at scale 1 only \
         slows the mean down, so a larger scale is run too. GM: smoothed Weiszfeld (nu = \
         {nu}, relative tolerance {gtol}, at most {gmax} iterations). Krum: f = {f} (the \
         largest with {q} > 2f + 2; the number of attackers per round varies). Attacks: \
         {atk}. The data-side label flip is left out: with personal heads a permuted label \
         set is just another task. Curves are averaged \
         over seeds; a run's final value is the mean of its last {TAIL} evaluations \
         (averaged over seeds in the tables), and a seed-averaged curve counts as converged \
         when the mean of its last quarter of evaluations is within max({tol}, 3 standard \
         errors) of the quarter before (in distance or accuracy), otherwise it is reported as \
         not converged; the tables also count the seeds whose own curve passes that test. \
         The claims compare each rule under attack with the attack-free mean (FedAvg-style), \
         the paper's reference.",
        pc = mlp.per_client,
        cl = mlp.classes,
        n = lin.c.clients,
        q = lin.c.participants,
        part = fmt_num(lin.c.participants as f64 / lin.c.clients as f64),
        byz = 100.0 * lin.c.byzantine,
        nu = fmt_num(gm.nu),
        gtol = fmt_num(gm.tol),
        gmax = gm.max_iter,
        atk = names.join(", "),
        tol = fmt_num(PLATEAU_TOL),
    ));
}

/// The linear model: setup, runs, curves, table, transfer and claims.
fn linear_section(
    ctx: &Ctx,
    report: &mut Report,
    claims: &mut Claims,
    s: &LinearSetup,
) -> ExpResult<()> {
    let (d, k) = (s.d, s.k);
    let tasks_cfg = LinearTasks { train: s.train, test: s.test, noise: s.noise, whiten: false };
    let exact = HeadFit::Exact { ridge: s.ridge };
    let local = LocalUpdate {
        head: exact,
        rep: LocalSgd { epochs: 1, lr: s.lr, momentum: 0.0, batch: s.train },
    };
    // One federation (true subspace and clients) per seed.
    let feds: Vec<(Vec<f64>, Federation<LinearRep, RegressionHead>)> = (0..s.c.seeds)
        .map(|seed| -> CoreResult<_> {
            let base = rng::derive_seed(ctx.seed, 9000 + seed);
            let b_star = random_basis(d, k, base)?;
            let tasks = linear_tasks(&b_star, d, k, s.c.clients, tasks_cfg, base + 1)?;
            let fed = Federation::new(LinearRep::new(d, k, true)?, RegressionHead::new(k)?, tasks)?;
            Ok((b_star, fed))
        })
        .collect::<CoreResult<_>>()?;
    let worst = (k as f64).sqrt();
    let runs = run_all(ctx, "linear runs", s.c.rounds, keys(&s.c, attacks().len()), |key| {
        let (b_star, fed) = &feds[key.seed as usize];
        let metric = |m: &Mtrl<'_, LinearRep, RegressionHead>| {
            subspace_distance(b_star, m.representation(), d, k)
        };
        let cfg = config(&s.c, local, exact, key, ctx.seed);
        drive(fed, cfg, &s.c, &metric, worst, PLATEAU_TOL)
    });

    report.text(format!(
        "## Linear multi-task model\n\n`y = x^T B* w_i + {noise} N(0, 1)` with `B*` a random \
         orthonormal {d} x {k} basis, heads `w_i ~ N(0, I_{k})`, `x ~ N(0, I_{d})`, {train} \
         training and {test} test rows per client. Local update: the head by ridge least \
         squares (ridge {ridge}) with B frozen, then {ep} full-batch gradient step(s) on B \
         (lr {lr}, spec: `tau_phi = 1`); the server re-orthonormalises B by QR after every \
         aggregation. {rounds} rounds, evaluated every {every}, {seeds} seeds. Metric: the \
         principal-angle distance `|(I - B* B*^T) Q(B)|_F` (0 = the true subspace, sqrt({k}) = \
         orthogonal; a uniformly random subspace sits near sqrt(k (d - k) / d) = {rand}).",
        noise = fmt_num(s.noise),
        train = s.train,
        test = s.test,
        ridge = fmt_num(s.ridge),
        lr = fmt_num(s.lr),
        ep = local.rep.epochs,
        rand = fmt_num((k as f64 * (d - k) as f64 / d as f64).sqrt()),
        rounds = s.c.rounds,
        every = s.c.every,
        seeds = s.c.seeds,
    ));
    curves_and_table(
        report,
        &runs,
        "linear",
        "subspace distance",
        Scale::Log,
        "test MSE (personal heads)",
    );

    let th = Thresholds { close: LIN_CLOSE, collapse: LIN_COLLAPSE, higher_is_better: false };
    attack_claims(report, claims, &runs, "linear", "subspace distance", &th);

    // Transfer: new clients fit only a head on the learned B, against ridge on raw x.
    let mut t = Table::new(&[
        "samples",
        "B from GM under attack",
        "B from mean under attack",
        "B from attack-free mean",
        "ridge on raw x (scratch)",
    ]);
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let sources: [(&str, Option<usize>, Rule); 3] = [
        ("B from GM under attack", Some(0), Rule::Gm),
        ("B from mean under attack", Some(0), Rule::Mean),
        ("B from attack-free mean", None, Rule::Mean),
    ];
    let mut rows: Vec<Vec<Result<f64, String>>> = vec![Vec::new(); s.shots.len()];
    for (name, attack, rule) in sources {
        let mut pts = Vec::new();
        for (i, &m) in s.shots.iter().enumerate() {
            let v = linear_transfer(
                ctx,
                s,
                &feds,
                |seed| runs.rep(attack, rule, seed).map(<[f64]>::to_vec),
                m,
            );
            if let Ok(x) = &v {
                pts.push((m as f64, *x));
            }
            rows[i].push(v);
        }
        curves.push((name.to_string(), pts));
    }
    let mut pts = Vec::new();
    for (i, &m) in s.shots.iter().enumerate() {
        let v = linear_raw(ctx, s, &feds, m);
        if let Ok(x) = &v {
            pts.push((m as f64, *x));
        }
        rows[i].push(v);
    }
    curves.push(("ridge on raw x (scratch)".into(), pts));
    for (i, &m) in s.shots.iter().enumerate() {
        let mut row = vec![m.to_string()];
        row.extend(rows[i].iter().map(gradus_report::cell));
        t.row(row);
    }
    report.text(format!(
        "### Transfer to new clients\n\n{} new clients per seed with the same B* fit only a \
         head (ridge {}) on m samples with B frozen; the scratch baseline is ridge regression \
         on the raw {d}-dimensional x with the same ridge (the single-task estimator). Test MSE \
         on {} rows each (the noise floor is {}).",
        s.new_clients,
        fmt_num(s.ridge),
        s.new_test,
        fmt_num(s.noise * s.noise),
    ));
    report.table("linear_transfer", t);
    let mut plot = Plot::new(
        "Linear model: new clients, test MSE vs samples",
        "samples per new client",
        "test MSE",
    )
    .scales(Scale::Log, Scale::Log);
    for (name, pts) in curves {
        let short = name.replace("B from ", "B: ").replace(" under attack", ", attacked");
        plot = plot.with(Series { markers: true, ..Series::line(short, pts) });
    }
    report.plot("linear_transfer", plot);
    let few: Vec<usize> = s.shots.iter().copied().filter(|&m| m < d / 2).collect();
    let (mut holds, mut ev) = (true, Vec::new());
    for &m in &few {
        let i = s.shots.iter().position(|&x| x == m).unwrap_or(0);
        match (&rows[i][0], &rows[i][3]) {
            (Ok(a), Ok(b)) => {
                holds &= a < b;
                ev.push(format!("m = {m}: {} vs {}", fmt_num(*a), fmt_num(*b)));
            }
            _ => holds = false,
        }
    }
    let ends = [runs.end(Some(0), Rule::Gm)];
    claims.push(Claim::judge(
        "linear-transfer",
        format!(
            "Linear model: a head on the B learned by GM under attack beats ridge on raw x \
             for new clients with fewer than {} samples",
            d / 2
        ),
        &ends,
        holds,
        format!("test MSE, learned B vs ridge: {}", ev.join("; ")),
    ));
    Ok(())
}

/// New linear clients (same `B*` as seed `seed`'s federation), first `m` training rows.
fn linear_new_clients(
    ctx: &Ctx,
    s: &LinearSetup,
    b_star: &[f64],
    seed: u64,
    m: usize,
) -> CoreResult<Vec<Task<f64>>> {
    let cfg = LinearTasks {
        train: *s.shots.iter().max().unwrap_or(&m),
        test: s.new_test,
        noise: s.noise,
        whiten: false,
    };
    let base = rng::derive_seed(ctx.seed, 9500 + seed);
    let tasks = linear_tasks(b_star, s.d, s.k, s.new_clients, cfg, base)?;
    Ok(tasks.into_iter().map(|t| Task { train: t.train.head_rows(m), test: t.test }).collect())
}

/// Mean test MSE over seeds and new clients of heads on the representation `rep(seed)`.
fn linear_transfer(
    ctx: &Ctx,
    s: &LinearSetup,
    feds: &[(Vec<f64>, Federation<LinearRep, RegressionHead>)],
    rep: impl Fn(u64) -> Option<Vec<f64>>,
    m: usize,
) -> Result<f64, String> {
    let mut all = Vec::new();
    for (seed, (b_star, _)) in feds.iter().enumerate() {
        let b = rep(seed as u64).ok_or("the source run failed")?;
        let tasks =
            linear_new_clients(ctx, s, b_star, seed as u64, m).map_err(|e| e.to_string())?;
        let fed = Federation::new(
            LinearRep::new(s.d, s.k, true).map_err(|e| e.to_string())?,
            RegressionHead::new(s.k).map_err(|e| e.to_string())?,
            tasks,
        )
        .map_err(|e| e.to_string())?;
        all.extend(
            fed.transfer(&b, &HeadFit::Exact { ridge: s.ridge }, 0, Par::Seq)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(mean_std(&all).0)
}

/// Ridge on raw x: a regression head on the identity representation.
fn linear_raw(
    ctx: &Ctx,
    s: &LinearSetup,
    feds: &[(Vec<f64>, Federation<LinearRep, RegressionHead>)],
    m: usize,
) -> Result<f64, String> {
    let d = s.d;
    let identity: Vec<f64> = (0..d * d).map(|i| if i / d == i % d { 1.0 } else { 0.0 }).collect();
    let mut all = Vec::new();
    for (seed, (b_star, _)) in feds.iter().enumerate() {
        let tasks =
            linear_new_clients(ctx, s, b_star, seed as u64, m).map_err(|e| e.to_string())?;
        let fed = Federation::new(
            LinearRep::new(d, d, false).map_err(|e| e.to_string())?,
            RegressionHead::new(d).map_err(|e| e.to_string())?,
            tasks,
        )
        .map_err(|e| e.to_string())?;
        all.extend(
            fed.transfer(&identity, &HeadFit::Exact { ridge: s.ridge }, 0, Par::Seq)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(mean_std(&all).0)
}

/// What "close to the attack-free run" and "collapsed" mean for a metric.
struct Thresholds {
    close: f64,
    collapse: f64,
    higher_is_better: bool,
}

/// Per headline attack: the mean collapses, GM stays close, Krum stays close (each against
/// the attack-free mean, the paper's reference); plus a reading of the whole attack table.
fn attack_claims(
    report: &mut Report,
    claims: &mut Claims,
    runs: &Runs,
    tag: &str,
    metric: &str,
    th: &Thresholds,
) {
    let last = |r: &RunOut| r.last;
    let clean = runs.mean(None, Rule::Mean, last);
    let c = |v: &Result<f64, String>| gradus_report::cell(v);
    for (a, attack) in attacks().iter().enumerate().take(2) {
        let name = attack.name();
        let mean = runs.mean(Some(a), Rule::Mean, last);
        let collapsed = match (&clean, &mean) {
            (Ok(cl), Ok(m)) if th.higher_is_better => *m < cl - th.collapse,
            (Ok(_), Ok(m)) => *m > th.collapse,
            _ => false,
        };
        let ends = [runs.end(None, Rule::Mean), runs.end(Some(a), Rule::Mean)];
        let statement = if th.higher_is_better {
            format!("{tag}, {name}: the mean loses more than {} {metric}", fmt_num(th.collapse))
        } else {
            format!("{tag}, {name}: the mean ends with {metric} above {}", fmt_num(th.collapse))
        };
        claims.push(Claim::judge(
            format!("{tag}-mean-{}", a + 1),
            statement,
            &ends,
            collapsed,
            format!("attack-free {}, mean under attack {}", c(&clean), c(&mean)),
        ));
        for (rule, id) in [(Rule::Gm, "gm"), (Rule::Krum, "krum")] {
            let v = runs.mean(Some(a), rule, last);
            let own = runs.mean(None, rule, last);
            let close = match (&clean, &v) {
                (Ok(cl), Ok(x)) if th.higher_is_better => *x >= cl - th.close,
                (Ok(cl), Ok(x)) => *x <= cl + th.close,
                _ => false,
            };
            let ends = [runs.end(None, Rule::Mean), runs.end(Some(a), rule)];
            claims.push(Claim::judge(
                format!("{tag}-{id}-{}", a + 1),
                format!(
                    "{tag}, {name}: {} under attack stays within {} of the attack-free \
                     mean's {metric}",
                    rule.name(),
                    fmt_num(th.close)
                ),
                &ends,
                close,
                format!(
                    "attack-free mean {}, {} under attack {} ({} without attack {})",
                    c(&clean),
                    rule.name(),
                    c(&v),
                    rule.name(),
                    c(&own)
                ),
            ));
        }
    }
    // Which attacks push each rule beyond the "close" margin of its own attack-free run.
    let mut lines = Vec::new();
    for rule in Rule::ALL {
        let Ok(own) = runs.mean(None, rule, last) else { continue };
        let broken: Vec<String> = attacks()
            .iter()
            .enumerate()
            .filter_map(|(a, attack)| {
                let v = runs.mean(Some(a), rule, last).ok()?;
                let off = if th.higher_is_better { own - v } else { v - own };
                (off > th.close).then(|| format!("{} ({})", attack.name(), fmt_num(v)))
            })
            .collect();
        let list = if broken.is_empty() { "none".to_string() } else { broken.join(", ") };
        lines.push(format!(
            "- {} (attack-free {}): attacks moving it by more than {}: {list}",
            rule.name(),
            fmt_num(own),
            fmt_num(th.close)
        ));
    }
    if let (Ok(cl), Ok(kr), Ok(kra)) =
        (&clean, runs.mean(None, Rule::Krum, last), runs.mean(Some(0), Rule::Krum, last))
    {
        lines.push(format!(
            "- Krum against the attack-free mean: {} without attack vs {} for the mean, and {} \
             under {}. Krum keeps one client's update per round, so each round moves the \
             representation by one non-IID client's step; the geometric median and the mean \
             combine all of them. Where Krum's own attack-free run differs from the mean's, the \
             gap is this selection, not the attack.",
            fmt_num(kr),
            fmt_num(*cl),
            fmt_num(kra),
            attacks()[0].name()
        ));
    }
    report.text(format!("Reading the {tag} table (computed from it):\n\n{}", lines.join("\n")));
}

/// Curves for the first two attacks and the table of final values for all attacks.
fn curves_and_table(
    report: &mut Report,
    runs: &Runs,
    tag: &str,
    metric: &str,
    y: Scale,
    personal: &str,
) {
    for (a, attack) in attacks().iter().enumerate().take(2) {
        let mut plot =
            Plot::new(format!("{tag}: {metric} per round, {}", attack.name()), "round", metric)
                .scales(Scale::Linear, y);
        plot = plot.with(Series {
            dashed: true,
            ..Series::line("mean, no attack", runs.curve(None, Rule::Mean))
        });
        for rule in Rule::ALL {
            plot = plot.with(Series::line(
                format!("{}, attacked", rule.short()),
                runs.curve(Some(a), rule),
            ));
        }
        report.plot(format!("{tag}_{}", attack.name().split('(').next().unwrap_or("attack")), plot);
    }
    let mut header = vec!["attack".to_string()];
    header.extend(Rule::ALL.iter().map(|r| r.name().to_string()));
    let mut t = Table::new(&header);
    let mut t2 = Table::new(&header);
    let rows = std::iter::once(None).chain((0..attacks().len()).map(Some));
    let names = std::iter::once("none".to_string()).chain(attacks().into_iter().map(|a| a.name()));
    for (a, name) in rows.zip(names) {
        let mut row = vec![name.clone()];
        let mut row2 = vec![name];
        for rule in Rule::ALL {
            row.push(runs.cell(a, rule, |r| r.last));
            row2.push(runs.cell(a, rule, |r| r.personal));
        }
        t.row(row);
        t2.row(row2);
    }
    let majority = runs.mean(Some(0), Rule::Mean, |r| r.majority as f64);
    report.text(format!(
        "### Final {metric} (mean of the last {TAIL} evaluations, ± sd over seeds)\n\nThe \
         participants of a round are a random sample, so some rounds hold at least half \
         Byzantine participants, where no rule can be robust: {} rounds per run on average.",
        gradus_report::cell(&majority)
    ));
    report.table(format!("{tag}_final"), t);
    report.text(format!("### Final {personal}"));
    report.table(format!("{tag}_personal"), t2);
    let mut ends =
        Table::new(&["attack", "rule", "seed-averaged run", "seeds settled on their own"]);
    let rows = std::iter::once(None).chain((0..attacks().len()).map(Some));
    let names = std::iter::once("none".to_string()).chain(attacks().into_iter().map(|a| a.name()));
    for (a, name) in rows.zip(names) {
        for rule in Rule::ALL {
            ends.row([
                name.clone(),
                rule.name().into(),
                runs.end(a, rule).cell(),
                runs.settled(a, rule),
            ]);
        }
    }
    report.table(format!("{tag}_run_ends"), ends);
}

/// The MLP on label subsets: setup, runs, curves, table, transfer and claims.
fn mlp_section(ctx: &Ctx, report: &mut Report, claims: &mut Claims, s: &MlpSetup) -> ExpResult<()> {
    let local = LocalUpdate { head: HeadFit::Sgd(s.head), rep: s.rep };
    let build = |seed: u64,
                 clients: usize,
                 train: usize,
                 test: usize,
                 label: u64|
     -> CoreResult<Federation<Mlp, SoftmaxHead>> {
        let base = rng::derive_seed(ctx.seed, 7000 + seed);
        let mix = GaussianMixture::new(s.dim, s.classes, s.separation, &mut rng::seeded(base))?;
        let tasks = label_subset_tasks(
            &mix,
            clients,
            s.per_client,
            train,
            test,
            rng::derive_seed(base, label),
        )?;
        let net = Mlp::new(s.dim, &s.widths, s.activation)?;
        let k = net.output_dim();
        Federation::new(net, SoftmaxHead::new(k, s.classes)?, tasks)
    };
    let feds: Vec<Federation<Mlp, SoftmaxHead>> = (0..s.c.seeds)
        .map(|seed| build(seed, s.c.clients, s.train, s.test, 1))
        .collect::<CoreResult<_>>()?;
    let chance = 1.0 / s.per_client as f64;
    let runs = run_all(ctx, "mlp runs", s.c.rounds, keys(&s.c, attacks().len()), |key| {
        let fed = &feds[key.seed as usize];
        let metric = |m: &Mtrl<'_, Mlp, SoftmaxHead>| m.evaluate().map(|e| e.mean);
        let cfg = config(&s.c, local, HeadFit::Sgd(s.head), key, ctx.seed);
        drive(fed, cfg, &s.c, &metric, chance, PLATEAU_TOL)
    });
    let params = feds[0].rep().num_params();
    report.text(format!(
        "## MLP representation on label subsets\n\n{classes}-class Gaussian mixture in R^{dim} \
         (class means with entries N(0, {sep}^2), unit noise); each client holds {pc} random \
         classes with {train} training and {test} test rows. phi = {act:?} layers {widths:?} \
         ({params} shared parameters; tanh rather than the spec's ReLU because ReLU layers of \
         the same widths learned a clearly worse representation in tuning runs), heads = \
         softmax over all {classes} classes (a client only sees its own). Local update (spec \
         §2): {he} head epochs of SGD (lr {hl}, momentum {hm}, batch {hb}) with phi frozen, \
         then {re} representation epoch(s) (lr {rl}, momentum {rm}, batch {rb}) with the head \
         frozen; momentum restarts every phase. \
         Learning rates were chosen on the attack-free run (the paper's lr 0.01 is for its \
         CNN). {rounds} rounds, evaluated every {every}: every honest client refits its head \
         on the current phi (the same head epochs, from its current head) and is scored on its \
         test rows; the metric is the mean over honest clients. {seeds} seeds.",
        classes = s.classes,
        dim = s.dim,
        sep = fmt_num(s.separation),
        pc = s.per_client,
        train = s.train,
        test = s.test,
        widths = s.widths,
        act = s.activation,
        he = s.head.epochs,
        hl = fmt_num(s.head.lr),
        hm = fmt_num(s.head.momentum),
        hb = s.head.batch,
        re = s.rep.epochs,
        rl = fmt_num(s.rep.lr),
        rm = fmt_num(s.rep.momentum),
        rb = s.rep.batch,
        rounds = s.c.rounds,
        every = s.c.every,
        seeds = s.c.seeds,
    ));
    curves_and_table(
        report,
        &runs,
        "mlp",
        "accuracy",
        Scale::Linear,
        "accuracy after the final head refit",
    );

    let th = Thresholds { close: MLP_CLOSE, collapse: MLP_COLLAPSE, higher_is_better: true };
    attack_claims(report, claims, &runs, "mlp", "accuracy", &th);
    let gm = runs.mean(Some(0), Rule::Gm, |r| r.last);
    let krum = runs.mean(Some(0), Rule::Krum, |r| r.last);
    let holds = matches!((&gm, &krum), (Ok(g), Ok(kr)) if kr >= g);
    let ends = [runs.end(Some(0), Rule::Gm), runs.end(Some(0), Rule::Krum)];
    claims.push(Claim::judge(
        "mlp-krum-vs-gm",
        format!(
            "MLP, {}: Krum at least as accurate as GM (paper: Krum slightly better on CIFAR-10)",
            attacks()[0].name()
        ),
        &ends,
        holds,
        format!("GM {}, Krum {}", gradus_report::cell(&gm), gradus_report::cell(&krum)),
    ));

    // Transfer to new clients.
    let max_shot = *s.shots.iter().max().unwrap_or(&1);
    let new_feds: Vec<Federation<Mlp, SoftmaxHead>> = (0..s.c.seeds)
        .map(|seed| build(seed, s.new_clients, max_shot, s.new_test, 2))
        .collect::<CoreResult<_>>()?;
    let names = [
        "phi from GM under attack",
        "phi from mean under attack",
        "phi from attack-free mean",
        "MLP from scratch",
        "softmax on raw x",
    ];
    let mut t = Table::new(&std::iter::once("samples").chain(names).collect::<Vec<_>>());
    let mut pts: Vec<Vec<(f64, f64)>> = vec![Vec::new(); names.len()];
    let mut vals: Vec<Vec<Result<f64, String>>> = Vec::new();
    let fit = HeadFit::Sgd(s.transfer);
    for &m in &s.shots {
        let mut row_vals = Vec::new();
        for (j, (attack, rule)) in
            [(Some(0), Rule::Gm), (Some(0), Rule::Mean), (None, Rule::Mean)].iter().enumerate()
        {
            let v = mlp_eval(&new_feds, m, |seed, fed| {
                let rep = runs.rep(*attack, *rule, seed).ok_or("the source run failed")?;
                fed.transfer(rep, &fit, seed, Par::Seq).map_err(|e| e.to_string())
            });
            if let Ok(x) = &v {
                pts[j].push((m as f64, *x));
            }
            row_vals.push(v);
        }
        let v = mlp_eval(&new_feds, m, |seed, fed| {
            fed.from_scratch(&s.transfer, seed, Par::Seq).map_err(|e| e.to_string())
        });
        if let Ok(x) = &v {
            pts[3].push((m as f64, *x));
        }
        row_vals.push(v);
        let v = mlp_eval(&new_feds, m, |seed, fed| {
            let d = s.dim;
            let raw = Federation::new(
                LinearRep::new(d, d, false).map_err(|e| e.to_string())?,
                SoftmaxHead::new(d, s.classes).map_err(|e| e.to_string())?,
                fed.clients().to_vec(),
            )
            .map_err(|e| e.to_string())?;
            let identity: Vec<f64> =
                (0..d * d).map(|i| if i / d == i % d { 1.0 } else { 0.0 }).collect();
            raw.transfer(&identity, &fit, seed, Par::Seq).map_err(|e| e.to_string())
        });
        if let Ok(x) = &v {
            pts[4].push((m as f64, *x));
        }
        row_vals.push(v);
        let mut row = vec![m.to_string()];
        row.extend(row_vals.iter().map(gradus_report::cell));
        t.row(row);
        vals.push(row_vals);
    }
    report.text(format!(
        "### Transfer to new clients\n\n{n} new clients per seed (the same mixture, their own \
         {pc}-class subsets, {nt} test rows) with m training rows. A head is fitted from zero \
         with phi frozen ({e} epochs of SGD, lr {lr}, momentum {mo}, batch {b}); the scratch \
         baselines train the same network from a random initialisation with the same budget, \
         or a softmax regression on raw x (a head on the identity representation).",
        n = s.new_clients,
        pc = s.per_client,
        nt = s.new_test,
        e = s.transfer.epochs,
        lr = fmt_num(s.transfer.lr),
        mo = fmt_num(s.transfer.momentum),
        b = s.transfer.batch,
    ));
    report.table("mlp_transfer", t);
    let mut plot =
        Plot::new("MLP: new-client accuracy vs samples", "samples per new client", "test accuracy")
            .scales(Scale::Log, Scale::Linear);
    for (name, p) in names.iter().zip(pts) {
        let short = name.replace("phi from ", "phi: ").replace(" under attack", ", attacked");
        plot = plot.with(Series { markers: true, ..Series::line(short, p) });
    }
    report.plot("mlp_transfer", plot);
    let few = &s.shots[..2.min(s.shots.len())];
    let (mut holds, mut ev) = (true, Vec::new());
    for (i, &m) in few.iter().enumerate() {
        match (&vals[i][0], &vals[i][3], &vals[i][4]) {
            (Ok(a), Ok(b), Ok(c)) => {
                holds &= a > b && a > c;
                ev.push(format!(
                    "m = {m}: {} vs scratch {} / raw {}",
                    fmt_num(*a),
                    fmt_num(*b),
                    fmt_num(*c)
                ));
            }
            _ => holds = false,
        }
    }
    let ends = [runs.end(Some(0), Rule::Gm)];
    claims.push(Claim::judge(
        "mlp-transfer",
        format!(
            "MLP: with {} samples or fewer, a head on the phi learned by GM under attack beats \
             the network from scratch and softmax on raw x",
            few.last().copied().unwrap_or(0)
        ),
        &ends,
        holds,
        format!("accuracy: {}", ev.join("; ")),
    ));
    Ok(())
}

/// Mean over seeds and clients of `f(seed, new clients with m training rows)`.
fn mlp_eval<F>(new_feds: &[Federation<Mlp, SoftmaxHead>], m: usize, f: F) -> Result<f64, String>
where
    F: Fn(u64, &Federation<Mlp, SoftmaxHead>) -> Result<Vec<f64>, String>,
{
    let mut all = Vec::new();
    for (seed, fed) in new_feds.iter().enumerate() {
        let tasks: Vec<Task<usize>> = fed
            .clients()
            .iter()
            .map(|t| Task { train: t.train.head_rows(m), test: t.test.clone() })
            .collect();
        let few = Federation::new(fed.rep().clone(), fed.head().clone(), tasks)
            .map_err(|e| e.to_string())?;
        all.extend(f(seed as u64, &few)?);
    }
    Ok(mean_std(&all).0)
}
