//! Paper 03, Sec. 6.3 on the spec's synthetic stand-in: multinomial logistic regression on a
//! 10-class Gaussian mixture in `R^32`, trained by ERM and by GFS-DRO with WRM, WGF, WFR and
//! SVGD inner samplers (optionally the Sinkhorn dual and RGO), each until its own objective
//! on a held-out validation split stops improving (early stopping, [`EarlyStopping`]) or its
//! epoch cap; the best-validation checkpoint is then attacked with `l_2` PGD over a grid of
//! radii `Delta * mean |x|`.

use std::time::Instant;

use gradus_core::{Layout, Objective, Par, Result as GResult, Rng, rng};
use gradus_models::EarlyStopping;
use gradus_optim::{Agm, AgmConfig, Optimizer, WeightDecay};
use gradus_ot::dro::data::{GaussianMixture, mean_norm};
use gradus_ot::dro::{
    Dataset, DualSamples, Erm, GfsConfig, GfsDro, InnerSampler, MultinomialLogistic, SinkhornDro,
    SinkhornDroConfig, pgd_l2_accuracy,
};
use gradus_ot::flows::{BirthDeath, Donor, Reaction};
use gradus_report::{Claim, Claims, Plot, Report, RunEnd, Series, Table, fmt_num};

use crate::ctx::Ctx;
use crate::experiments::ExpResult;
use crate::experiments::common::mean_std;

/// Every setting of the section; the report text is formatted from these values.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub classes: usize,
    pub dim: usize,
    pub mean_scale: f64,
    /// Training points, validation split included.
    pub n_train: usize,
    /// Fraction of the training points held out for validation (seeded split).
    pub val_fraction: f64,
    pub n_test: usize,
    pub lambda: f64,
    pub epsilons: Vec<f64>,
    pub particles: usize,
    pub k_min: usize,
    pub k_max: usize,
    /// Epochs over which `K` ramps up to `k_max` (the code's 10).
    pub k_ramp: usize,
    pub step: f64,
    pub weight_step: f64,
    /// Birth-death threshold relative to `1/m`.
    pub bd_threshold: f64,
    pub svgd_init: f64,
    pub svgd_rmsprop: f64,
    pub batch: usize,
    pub lr: f64,
    pub erm_lr: f64,
    pub weight_decay: f64,
    pub max_epochs: usize,
    /// ERM's cap (its epochs cost ~1/(K m) of a sampler's, and its lr is 5x smaller).
    pub erm_max_epochs: usize,
    /// Early stopping: a validation value counts as an improvement when it is more than
    /// this fraction below the value at the last improvement.
    pub es_rel_tol: f64,
    /// Early stopping: epochs without an improvement before the run has converged.
    pub es_patience: u64,
    /// The validation metric early stopping watches.
    pub val_metric: ValMetric,
    pub deltas: Vec<f64>,
    /// The largest `Delta` of the spec's grid (larger ones are our extension).
    pub spec_delta_max: f64,
    pub attack_iters: usize,
    /// PGD step = radius / this.
    pub attack_step_div: f64,
    pub seeds: u64,
    pub dual: bool,
    pub dual_level: u32,
    /// RGO with this smoothness bound `L` (off when `None`).
    pub rgo: Option<f64>,
    pub rgo_ascent: usize,
}

impl Settings {
    /// The spec's stand-in (full mode) with a generous epoch cap.
    fn spec() -> Self {
        let mut deltas: Vec<f64> = (0..=10).map(|k| 0.008 * k as f64).collect();
        deltas.extend([0.12, 0.16, 0.24]);
        Settings {
            classes: 10,
            dim: 32,
            mean_scale: 3.0,
            n_train: 2000,
            val_fraction: 0.2,
            n_test: 1000,
            lambda: 10.0,
            epsilons: vec![0.2, 0.02],
            particles: 8,
            k_min: 5,
            k_max: 20,
            k_ramp: 10,
            step: 0.01,
            weight_step: 0.08,
            bd_threshold: 8e-4,
            svgd_init: 0.1,
            svgd_rmsprop: 0.9,
            batch: 128,
            lr: 5e-3,
            erm_lr: 1e-3,
            weight_decay: 1e-4,
            max_epochs: 150,
            erm_max_epochs: 600,
            es_rel_tol: 0.002,
            es_patience: 15,
            val_metric: ValMetric::Own,
            deltas,
            spec_delta_max: 0.08,
            attack_iters: 10,
            attack_step_div: 8.0,
            seeds: 5,
            dual: false,
            dual_level: 5,
            rgo: None,
            rgo_ascent: 5,
        }
    }

    /// The spec's stand-in; quick mode shrinks the data, the batch (more steps per unit of
    /// sampler work), `K` and its ramp, the cap and the seeds (the report lists each change).
    pub fn new(ctx: &Ctx) -> ExpResult<Self> {
        let mut s = Self::spec();
        if ctx.quick {
            s.n_train = 1000;
            s.n_test = 500;
            s.batch = 32;
            s.k_max = 10;
            s.k_ramp = 5;
            s.max_epochs = 50;
            s.erm_max_epochs = 300;
            s.es_patience = 10;
            s.seeds = 2;
        }
        s.max_epochs = ctx.opt("max-epochs", s.max_epochs)?;
        s.seeds = ctx.opt("seeds", s.seeds)?;
        s.es_patience = ctx.opt("patience", s.es_patience)?;
        s.es_rel_tol = ctx.opt("rel-tol", s.es_rel_tol)?;
        let metric: String = ctx.opt("val-metric", "own".to_string())?;
        s.val_metric = match metric.as_str() {
            "own" => ValMetric::Own,
            "clean" => ValMetric::Clean,
            other => {
                return Err(format!("option `val-metric`: `{other}` is not own or clean").into());
            }
        };
        s.dual = ctx.opt("dual", false)?;
        let rgo: f64 = ctx.opt("rgo-smoothness", 0.0)?;
        s.rgo = (rgo > 0.0).then_some(rgo);
        Ok(s)
    }

    /// The settings that differ from the spec's stand-in, as a sentence fragment.
    fn deviations(&self) -> String {
        let spec = Self::spec();
        let mut d = Vec::new();
        let mut note = |what: &str, ours: usize, theirs: usize| {
            if ours != theirs {
                d.push(format!("{what} {ours} instead of {theirs}"));
            }
        };
        note("training points", self.n_train, spec.n_train);
        note("test points", self.n_test, spec.n_test);
        note("batch", self.batch, spec.batch);
        note("K <=", self.k_max, spec.k_max);
        note("K ramp (epochs)", self.k_ramp, spec.k_ramp);
        note("particles", self.particles, spec.particles);
        if d.is_empty() {
            String::new()
        } else {
            format!(" (changed from the spec's stand-in: {})", d.join(", "))
        }
    }

    /// Inner steps in epoch `e` (0-based): `max(k_min, floor(k_max (e + 1) / k_ramp))`,
    /// capped at `k_max` (the code's `max(5, floor(200 (e + 1) / 10))` scaled to `K <= 20`).
    fn inner_steps(&self, e: usize) -> usize {
        (self.k_max * (e + 1) / self.k_ramp).clamp(self.k_min, self.k_max)
    }
}

/// What early stopping watches on the validation split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValMetric {
    /// Each method's own objective (ERM: cross-entropy; DRO: its robust loss).
    Own,
    /// The clean cross-entropy for every method (ERM's objective).
    Clean,
}

/// A training method.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Erm,
    Wrm,
    Wgf,
    Wfr,
    Svgd,
    Dual,
    Rgo(f64),
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Erm => "ERM",
            Kind::Wrm => "WRM",
            Kind::Wgf => "WGF",
            Kind::Wfr => "WFR",
            Kind::Svgd => "SVGD",
            Kind::Dual => "Dual",
            Kind::Rgo(_) => "RGO",
        }
    }
}

/// The objective of one run (concrete types, so the epoch schedule can change `K`).
enum Obj<'a> {
    Erm(Erm<'a, MultinomialLogistic>),
    Gfs(GfsDro<'a, MultinomialLogistic>),
    Dual(SinkhornDro<'a, MultinomialLogistic>),
}

impl Objective<f64> for Obj<'_> {
    fn dim(&self) -> usize {
        match self {
            Obj::Erm(o) => o.dim(),
            Obj::Gfs(o) => o.dim(),
            Obj::Dual(o) => o.dim(),
        }
    }
    fn loss_grad(&mut self, p: &[f64], g: &mut [f64], r: &mut Rng) -> GResult<f64> {
        match self {
            Obj::Erm(o) => o.loss_grad(p, g, r),
            Obj::Gfs(o) => o.loss_grad(p, g, r),
            Obj::Dual(o) => o.loss_grad(p, g, r),
        }
    }
}

/// The objective of `kind` over `data` with minibatches of `batch` (`0`: every point, in
/// order) and `inner_steps` sampler steps.
fn objective<'a>(
    s: &Settings,
    kind: Kind,
    eps: f64,
    model: &'a MultinomialLogistic,
    data: &'a Dataset,
    batch: usize,
    inner_steps: usize,
) -> GResult<Obj<'a>> {
    let sampler = match kind {
        Kind::Erm => return Ok(Obj::Erm(Erm::new(model, data, batch)?)),
        Kind::Dual => {
            return Ok(Obj::Dual(SinkhornDro::new(
                model,
                data,
                SinkhornDroConfig {
                    lambda: s.lambda,
                    epsilon: eps,
                    reference_variance: None,
                    samples: DualSamples::RandomLevel { max_level: s.dual_level },
                    batch,
                    par: Par::Rayon,
                },
            )?));
        }
        Kind::Wrm => InnerSampler::Wrm,
        Kind::Wgf => InnerSampler::Wgf,
        Kind::Wfr => InnerSampler::Wfr {
            weight_step: s.weight_step,
            reaction: Reaction::PointMass,
            birth_death: Some(BirthDeath { threshold: s.bd_threshold, donor: Donor::Heaviest }),
        },
        Kind::Svgd => InnerSampler::Svgd { init_noise: s.svgd_init, rmsprop: Some(s.svgd_rmsprop) },
        Kind::Rgo(l) => {
            InnerSampler::Rgo { smoothness: l, ascent_steps: s.rgo_ascent, max_trials: 100 }
        }
    };
    Ok(Obj::Gfs(GfsDro::new(
        model,
        data,
        GfsConfig {
            lambda: s.lambda,
            epsilon: eps,
            particles: s.particles,
            inner_steps,
            step: s.step,
            sampler,
            clip: None,
            batch,
            par: Par::Rayon,
        },
    )?))
}

/// One finished run.
#[derive(Debug, Clone)]
struct RunOut {
    /// Robust accuracy per `Delta`.
    acc: Vec<f64>,
    end: RunEnd,
    /// Epochs trained (the early-stopping epoch, or the cap).
    epochs: usize,
    /// Epoch of the best-validation checkpoint (the model that was attacked).
    best_epoch: usize,
    secs: f64,
}

struct Problem {
    model: MultinomialLogistic,
    /// The training points the optimiser sees (validation split removed).
    train: Dataset,
    /// The held-out validation split.
    val: Dataset,
    test: Dataset,
    /// `mean |x|` over the test set: the unit of the attack radii.
    unit: f64,
}

impl Problem {
    /// The mixture, its training points split into fit and validation parts, and test points.
    fn new(s: &Settings, seed: u64) -> GResult<Self> {
        let gm = GaussianMixture::new(s.classes, s.dim, s.mean_scale, rng::derive_seed(seed, 630))?;
        let all_train = gm.sample(s.n_train, rng::derive_seed(seed, 631))?;
        let (train, val) = all_train.split(s.val_fraction, rng::derive_seed(seed, 633))?;
        let test = gm.sample(s.n_test, rng::derive_seed(seed, 632))?;
        let unit = mean_norm(&test);
        Ok(Problem { model: MultinomialLogistic::new(s.dim, s.classes)?, train, val, test, unit })
    }
}

/// Trains one method from the seed's initialisation until early stopping on its validation
/// objective (or its cap), then attacks the best-validation checkpoint.
///
/// The validation objective is the method's own objective over every validation point with
/// the final `K = k_max`, its sampler noise drawn from the same seed at every epoch (common
/// random numbers: epoch-to-epoch changes come from `theta`, not from fresh noise).
fn run_one(s: &Settings, p: &Problem, kind: Kind, eps: f64, seed: u64) -> GResult<RunOut> {
    let start = Instant::now();
    let mut theta = p.model.init(&mut rng::seeded(rng::derive_seed(seed, 1)));
    let mut r = rng::seeded(rng::derive_seed(seed, 2));
    let val_seed = rng::derive_seed(seed, 3);
    let mut obj = objective(s, kind, eps, &p.model, &p.train, s.batch, s.inner_steps(0))?;
    let val_kind = if s.val_metric == ValMetric::Clean { Kind::Erm } else { kind };
    let mut val_obj = objective(s, val_kind, eps, &p.model, &p.val, 0, s.k_max)?;
    let lr = if kind == Kind::Erm { s.erm_lr } else { s.lr };
    let cfg = AgmConfig::adam(lr)
        .with_weight_decay(WeightDecay { coefficient: s.weight_decay, decoupled: false })
        .with_par(Par::Seq);
    let mut opt = Agm::<f64>::new("adam", cfg, Layout::flat(theta.len())?)?;
    let mut stop = EarlyStopping::new(s.es_rel_tol, s.es_patience, theta.len())?;
    let per_epoch = p.train.len().div_ceil(s.batch);
    let cap = if kind == Kind::Erm { s.erm_max_epochs } else { s.max_epochs };
    let (converged, epochs) = Par::Rayon.on_pool(|| -> GResult<(bool, usize)> {
        let mut grad = vec![0.0; theta.len()];
        for e in 0..cap {
            if let Obj::Gfs(g) = &mut obj {
                g.set_inner_steps(s.inner_steps(e));
            }
            for _ in 0..per_epoch {
                obj.loss_grad(&theta, &mut grad, &mut r)?;
                opt.step(&mut theta, &grad)?;
            }
            let val = val_obj.loss_grad(&theta, &mut grad, &mut rng::seeded(val_seed))?;
            if stop.observe(val, &theta)?.converged {
                return Ok((true, e + 1));
            }
        }
        Ok((false, cap))
    })?;
    let best_epoch = stop.best_at().unwrap_or(0) as usize;
    if let Some(best) = stop.best_params() {
        theta.copy_from_slice(best);
    }
    let mut acc = Vec::with_capacity(s.deltas.len());
    for &d in &s.deltas {
        let radius = d * p.unit;
        acc.push(pgd_l2_accuracy(
            &p.model,
            &theta,
            &p.test,
            radius,
            radius / s.attack_step_div,
            s.attack_iters,
        )?);
    }
    Ok(RunOut {
        acc,
        end: RunEnd::from_stop(converged, epochs as u64, cap as u64),
        epochs,
        best_epoch,
        secs: start.elapsed().as_secs_f64(),
    })
}

type Runs = Vec<Result<RunOut, String>>;

fn ends(runs: &Runs) -> Vec<RunEnd> {
    runs.iter()
        .map(|r| match r {
            Ok(o) => o.end.clone(),
            Err(e) => RunEnd::Failed(e.clone()),
        })
        .collect()
}

/// Per-seed values of `f` over the successful runs (paired by seed index).
fn per_seed(runs: &Runs, f: impl Fn(&RunOut) -> f64) -> Vec<Option<f64>> {
    runs.iter().map(|r| r.as_ref().ok().map(&f)).collect()
}

/// Mean and standard error of the paired differences `a - b` over seeds where both ran.
fn paired(a: &[Option<f64>], b: &[Option<f64>]) -> (f64, f64, usize) {
    let d: Vec<f64> = a.iter().zip(b).filter_map(|(x, y)| Some((*x)? - (*y)?)).collect();
    let (m, sd) = mean_std(&d);
    (m, sd / (d.len().max(1) as f64).sqrt(), d.len())
}

fn pct(x: f64) -> String {
    format!("{:+.2} pp", 100.0 * x)
}

/// Runs the section and appends its text, tables, plots; returns its claims.
pub(super) fn section(ctx: &Ctx, report: &mut Report) -> ExpResult<Claims> {
    let s = Settings::new(ctx)?;
    let p = Problem::new(&s, ctx.seed)?;
    let mut dro_kinds = vec![Kind::Wrm, Kind::Wgf, Kind::Wfr, Kind::Svgd];
    if s.dual {
        dro_kinds.push(Kind::Dual);
    }
    if let Some(l) = s.rgo {
        dro_kinds.push(Kind::Rgo(l));
    }
    let total = s.seeds * (1 + (dro_kinds.len() * s.epsilons.len()) as u64);
    let bar = ctx.progress(total, "Sec. 6.3 stand-in");
    let seed_of = |k: u64| rng::derive_seed(ctx.seed, 640 + k);
    let run_all = |kind: Kind, eps: f64| -> Runs {
        (0..s.seeds)
            .map(|k| {
                let out = run_one(&s, &p, kind, eps, seed_of(k)).map_err(|e| e.to_string());
                bar.inc(1);
                out
            })
            .collect()
    };
    let erm = run_all(Kind::Erm, 0.0);
    let dro: Vec<Vec<Runs>> = s
        .epsilons
        .iter()
        .map(|&eps| dro_kinds.iter().map(|&k| run_all(k, eps)).collect())
        .collect();
    bar.finish_and_clear();

    let spec_idx: Vec<usize> = (0..s.deltas.len())
        .filter(|&i| s.deltas[i] > 0.0 && s.deltas[i] <= s.spec_delta_max + 1e-12)
        .collect();
    let all_spec: Vec<usize> =
        (0..s.deltas.len()).filter(|&i| s.deltas[i] <= s.spec_delta_max + 1e-12).collect();
    let avg_over = |idx: &[usize]| {
        let idx = idx.to_vec();
        move |o: &RunOut| idx.iter().map(|&i| o.acc[i]).sum::<f64>() / idx.len().max(1) as f64
    };

    report.text(intro(&s, &p, &dro_kinds));

    // The table: one row per (eps, method), ERM once.
    let mut header = vec!["eps".to_string(), "method".into(), "converged".into()];
    header.push("median epochs".into());
    header.push("median best epoch".into());
    header.push("median seconds".into());
    header.extend(s.deltas.iter().map(|d| format!("Delta = {}", fmt_num(*d))));
    let mut table = Table::new(&header);
    let row = |eps: &str, name: &str, runs: &Runs| -> Vec<String> {
        let ok: Vec<&RunOut> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
        let conv = ok.iter().filter(|o| o.end.converged()).count();
        let mut epochs: Vec<f64> = ok.iter().map(|o| o.epochs as f64).collect();
        let mut best: Vec<f64> = ok.iter().map(|o| o.best_epoch as f64).collect();
        let mut secs: Vec<f64> = ok.iter().map(|o| o.secs).collect();
        // Epochs are whole numbers; seconds keep significant digits (ERM takes under 1 s).
        let med_by = |v: &mut Vec<f64>, show: fn(f64) -> String| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).map_or("-".into(), |&x| show(x))
        };
        let med = |v: &mut Vec<f64>| med_by(v, |x| format!("{x:.0}"));
        let mut cells = vec![
            eps.to_string(),
            name.to_string(),
            format!(
                "{conv}/{} (cap {} epochs)",
                runs.len(),
                if name == "ERM" { s.erm_max_epochs } else { s.max_epochs }
            ),
            med(&mut epochs),
            med(&mut best),
            med_by(&mut secs, fmt_num),
        ];
        let err = runs.iter().find_map(|r| r.as_ref().err());
        for i in 0..s.deltas.len() {
            cells.push(match err {
                Some(e) => format!("error: {e}"),
                None => {
                    let v: Vec<f64> = ok.iter().map(|o| o.acc[i]).collect();
                    let (m, sd) = mean_std(&v);
                    format!("{m:.3} ± {sd:.3}")
                }
            });
        }
        cells
    };
    table.row(row("-", "ERM", &erm));
    for (ei, eps) in s.epsilons.iter().enumerate() {
        for (ki, k) in dro_kinds.iter().enumerate() {
            table.row(row(&fmt_num(*eps), k.name(), &dro[ei][ki]));
        }
    }
    report.text(format!(
        "Robust test accuracy under l2 PGD, mean ± sd over {} seeds (data fixed; seeds change \
         the initialisation, the minibatches and the sampler noise), each at its \
         best-validation checkpoint. `converged` counts runs whose early-stopping rule fired \
         before the cap; the others are *not converged*.",
        s.seeds
    ));
    report.table("dro_features", table);
    for (ei, eps) in s.epsilons.iter().enumerate() {
        let mut plot = Plot::new(
            format!("Sec. 6.3 stand-in, eps = {}: robust accuracy under l2 PGD", fmt_num(*eps)),
            "Delta (radius / mean |x|)",
            "test accuracy",
        );
        let mut add = |name: &str, runs: &Runs| {
            let ok: Vec<&RunOut> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
            if ok.is_empty() {
                return;
            }
            let mut pts = Vec::new();
            let mut band = Vec::new();
            for (i, &d) in s.deltas.iter().enumerate() {
                let (m, sd) = mean_std(&ok.iter().map(|o| o.acc[i]).collect::<Vec<_>>());
                pts.push((d, m));
                band.push((d, m - sd, m + sd));
            }
            plot.series.push(Series { band, markers: true, ..Series::line(name, pts) });
        };
        add("ERM", &erm);
        for (ki, k) in dro_kinds.iter().enumerate() {
            add(k.name(), &dro[ei][ki]);
        }
        report.plot(format!("dro_features_eps{}", fmt_num(*eps)), plot);
    }

    // Claims, computed from the runs above.
    let mut claims = Claims::new();
    let robust = avg_over(&spec_idx);
    let whole = avg_over(&all_spec);
    let clean = |o: &RunOut| o.acc[0];
    let erm_rob = per_seed(&erm, &robust);
    let erm_clean = per_seed(&erm, clean);
    let name_at = |ki: usize| dro_kinds[ki].name();
    let find = |k: Kind| dro_kinds.iter().position(|x| *x == k);
    for (ei, eps) in s.epsilons.iter().enumerate() {
        let e = fmt_num(*eps);
        // (a) Every DRO method at least as robust as ERM for Delta > 0.
        let mut runs: Vec<RunEnd> = ends(&erm);
        let mut parts = Vec::new();
        let mut holds = true;
        for ki in 0..dro_kinds.len() {
            runs.extend(ends(&dro[ei][ki]));
            let (m, se, n) = paired(&per_seed(&dro[ei][ki], &robust), &erm_rob);
            holds &= n > 0 && m >= -2.0 * se;
            parts.push(format!(
                "{} − ERM {} ± {}",
                name_at(ki),
                pct(m),
                pct(se).trim_start_matches('+')
            ));
        }
        claims.push(Claim::judge(
            format!("6.3a eps={e}"),
            "DRO variants are at least as robust as ERM for Delta > 0 (spec's stand-in expectation)",
            &runs,
            holds,
            format!(
                "robust accuracy averaged over Delta in (0, {}], paired by seed (mean ± se); \
                 holds when no method is more than 2 se below ERM: {}",
                fmt_num(s.spec_delta_max),
                parts.join("; ")
            ),
        ));
        // (b) WGF and WFR at least competitive with WRM across Delta.
        if let (Some(wrm), Some(wgf), Some(wfr)) =
            (find(Kind::Wrm), find(Kind::Wgf), find(Kind::Wfr))
        {
            let base = per_seed(&dro[ei][wrm], &whole);
            let mut runs = ends(&dro[ei][wrm]);
            let mut parts = Vec::new();
            let mut holds = true;
            for ki in [wgf, wfr] {
                runs.extend(ends(&dro[ei][ki]));
                let (m, se, n) = paired(&per_seed(&dro[ei][ki], &whole), &base);
                holds &= n > 0 && m >= -2.0 * se;
                parts.push(format!(
                    "{} − WRM {} ± {}",
                    name_at(ki),
                    pct(m),
                    pct(se).trim_start_matches('+')
                ));
            }
            // Where WRM is ahead of WGF or WFR (the audit found such points).
            let ahead: Vec<String> = (0..s.deltas.len())
                .filter(|&i| {
                    let mean = |ki: usize| {
                        let v: Vec<f64> = dro[ei][ki]
                            .iter()
                            .filter_map(|r| r.as_ref().ok())
                            .map(|o| o.acc[i])
                            .collect();
                        mean_std(&v).0
                    };
                    mean(wrm) > mean(wgf).min(mean(wfr))
                })
                .map(|i| fmt_num(s.deltas[i]))
                .collect();
            claims.push(Claim::judge(
                format!("6.3b eps={e}"),
                "WGF and WFR keep their accuracy across Delta and are at least competitive with WRM",
                &runs,
                holds,
                format!(
                    "accuracy averaged over Delta in [0, {}], paired by seed (mean ± se); holds \
                     when neither is more than 2 se below WRM: {}. WRM's mean is above WGF's or \
                     WFR's at Delta in {{{}}} (no strict dominance is claimed)",
                    fmt_num(s.spec_delta_max),
                    parts.join("; "),
                    ahead.join(", ")
                ),
            ));
        }
        // (c) ERM best or tied on clean data.
        let mut runs: Vec<RunEnd> = ends(&erm);
        let mut parts = Vec::new();
        let mut holds = true;
        for ki in 0..dro_kinds.len() {
            runs.extend(ends(&dro[ei][ki]));
            let (m, se, n) = paired(&erm_clean, &per_seed(&dro[ei][ki], clean));
            holds &= n > 0 && m >= -2.0 * se;
            parts.push(format!(
                "ERM − {} {} ± {}",
                name_at(ki),
                pct(m),
                pct(se).trim_start_matches('+')
            ));
        }
        claims.push(Claim::judge(
            format!("6.3c eps={e}"),
            "ERM (SAA) is best or tied at Delta = 0",
            &runs,
            holds,
            format!("clean accuracy, paired by seed (mean ± se); holds when ERM is not more than 2 se below any method: {}", parts.join("; ")),
        ));
    }
    // (d) The dual at eps = 0.2.
    let dual_claim = "The Sinkhorn dual is comparably robust at eps = 0.2";
    match (find(Kind::Dual), s.epsilons.iter().position(|e| (*e - 0.2).abs() < 1e-12)) {
        (Some(dk), Some(ei)) => {
            let dual = per_seed(&dro[ei][dk], &robust);
            let mut runs = ends(&dro[ei][dk]);
            let mut parts = Vec::new();
            let mut holds = true;
            for k in [Kind::Wgf, Kind::Wfr] {
                if let Some(ki) = find(k) {
                    runs.extend(ends(&dro[ei][ki]));
                    let (m, se, n) = paired(&dual, &per_seed(&dro[ei][ki], &robust));
                    holds &= n > 0 && m >= -2.0 * se;
                    parts.push(format!(
                        "Dual − {} {} ± {}",
                        k.name(),
                        pct(m),
                        pct(se).trim_start_matches('+')
                    ));
                }
            }
            claims.push(Claim::judge(
                "6.3d",
                dual_claim,
                &runs,
                holds,
                format!("robust accuracy averaged over Delta in (0, {}], paired by seed; holds when the dual is not more than 2 se below WGF and WFR: {}", fmt_num(s.spec_delta_max), parts.join("; ")),
            ));
        }
        _ => claims.push(Claim::untestable(
            "6.3d",
            dual_claim,
            "the dual baseline was not run (`--set dual=true` adds it)",
        )),
    }
    claims.push(Claim::untestable(
        "6.3e",
        "The same holds at eps = 0.002 and on CIFAR-10 ResNet-50 features",
        "the spec's stand-in uses eps in {0.2, 0.02} and synthetic features; CIFAR-10 is not downloaded",
    ));
    Ok(claims)
}

fn intro(s: &Settings, p: &Problem, kinds: &[Kind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    let eps: Vec<String> = s.epsilons.iter().map(|e| fmt_num(*e)).collect();
    let spec_grid = s.deltas.iter().filter(|d| **d <= s.spec_delta_max + 1e-12).count();
    format!(
        "## Adversarial multiclass logistic regression (Sec. 6.3, synthetic stand-in)\n\n\
         The spec's stand-in for the CIFAR-10 ResNet-50 features: {classes} classes in R^{dim}, \
         class means {scale} N(0, I)/sqrt({dim}) and unit covariance, {ntr} training and {nte} \
         test points{quick}; a seeded {vpct}% of the training points ({nval}) is held out for \
         validation, so the optimisers see {nfit}; multinomial logistic regression ({dim} -> \
         {classes}), cross-entropy. \
         Methods: ERM and GFS-DRO with {names} at lambda = {lambda} (tau = {tau}), eps in \
         {{{eps}}}, {m} particles per point, inner step h = {h}, inner steps K = max({kmin}, \
         floor({kmax} (e + 1) / {ramp})) capped at {kmax} in epoch e (the code's growing \
         schedule scaled to K <= {kmax}); WFR: weight step {hw}, the code's point-mass reaction, \
         birth-death below {bd} / m onto the heaviest particle; SVGD: median bandwidth, start at \
         x + {init} N(0, I), RMSprop step scaling (decay {rms}); WRM: K steps of noise-free \
         gradient ascent with one particle. Outer optimiser Adam (lr {lr}, L2 weight decay {wd}; \
         ERM lr {elr}), minibatches of {batch}. Stopping rule, the same for every method \
         (early stopping): after each epoch the run evaluates {metric} on the validation \
         split, over every validation point, with any sampler noise drawn from the same seed at \
         every epoch; the run has converged once \
         {patience} epochs in a row bring no value more than {tol}% below the value at the last \
         such improvement, and the model kept is the best-validation checkpoint (not the last \
         iterate). Cap {cap} epochs ({ecap} for ERM, whose epochs are ~{cheap}x cheaper); a run \
         still improving at its cap is *not converged*. Why each method's own objective by \
         default (`--set val-metric=clean` stops every method on the clean cross-entropy \
         instead): convergence is a property of the run (has it stopped improving what it \
         minimises, on data it does not fit?); stopping DRO on the clean loss applies ERM's goal \
         to it and may cut its robustness short, and stopping on robust accuracy would select on \
         the quantity the claims test. ERM's own objective *is* the clean validation loss, which \
         also ends its overfitting (its training loss keeps falling). The paper trains a fixed \
         10 epochs without validation; the rule is ours. Where a run stops changes which model \
         is attacked, so a small DRO-ERM gap should be checked under `val-metric=clean` too. \
         Attack: l2 PGD from x, {iters} steps of radius/{div} along the normalised gradient, \
         projected onto the ball of radius Delta * mean |x| (mean |x| = {unit} on the test set); \
         the spec's grid is Delta in {{0, 0.008, ..., {dmax}}} ({nspec} values); larger Delta are \
         our extension.",
        classes = s.classes,
        dim = s.dim,
        scale = fmt_num(s.mean_scale),
        ntr = s.n_train,
        nte = s.n_test,
        vpct = fmt_num(100.0 * s.val_fraction),
        nval = p.val.len(),
        nfit = p.train.len(),
        patience = s.es_patience,
        metric = match s.val_metric {
            ValMetric::Own => {
                format!(
                    "its own objective (ERM: mean cross-entropy; GFS-DRO: the particle-weighted \
                     robust loss with K = {}; the dual: its dual value)",
                    s.k_max
                )
            }
            ValMetric::Clean => "the clean mean cross-entropy (every method alike)".to_string(),
        },
        tol = fmt_num(100.0 * s.es_rel_tol),
        cheap = s.k_max * s.particles,
        quick = s.deviations(),
        names = names.join(", "),
        lambda = fmt_num(s.lambda),
        tau = fmt_num(0.5 / s.lambda),
        eps = eps.join(", "),
        m = s.particles,
        h = fmt_num(s.step),
        kmin = s.k_min,
        kmax = s.k_max,
        ramp = s.k_ramp,
        hw = fmt_num(s.weight_step),
        bd = fmt_num(s.bd_threshold),
        init = fmt_num(s.svgd_init),
        rms = fmt_num(s.svgd_rmsprop),
        lr = fmt_num(s.lr),
        wd = fmt_num(s.weight_decay),
        elr = fmt_num(s.erm_lr),
        batch = s.batch,
        cap = s.max_epochs,
        ecap = s.erm_max_epochs,
        iters = s.attack_iters,
        div = fmt_num(s.attack_step_div),
        unit = fmt_num(p.unit),
        dmax = fmt_num(s.spec_delta_max),
        nspec = spec_grid,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_pairing_and_deviations() {
        let s = Settings::spec();
        // max(5, floor(20 (e + 1) / 10)), capped at 20.
        let ks: Vec<usize> =
            [0, 1, 2, 3, 4, 8, 9, 10, 100].iter().map(|&e| s.inner_steps(e)).collect();
        assert_eq!(ks, [5, 5, 6, 8, 10, 18, 20, 20, 20]);
        // Paired differences skip seeds where either run failed.
        let (m, se, n) = paired(&[Some(0.5), None, Some(0.7)], &[Some(0.4), Some(0.1), Some(0.4)]);
        assert_eq!(n, 2);
        assert!((m - 0.2).abs() < 1e-12);
        assert!((se - (0.02f64).sqrt() / 2f64.sqrt()).abs() < 1e-12, "{se}");
        assert_eq!(s.deviations(), "");
        let quick = Settings { batch: 32, k_max: 10, ..Settings::spec() };
        assert_eq!(quick.val_metric, ValMetric::Own);
        assert_eq!(
            quick.deviations(),
            " (changed from the spec's stand-in: batch 32 instead of 128, K <= 10 instead of 20)"
        );
    }

    /// A small problem: ERM runs to its early stop (converged, best epoch before the stop,
    /// attacked at the checkpoint), the same run with a cap shorter than its patience is not
    /// converged, and a sampler run is deterministic by seed.
    #[test]
    fn early_stopping_runs_end_as_their_rule_says() {
        let s = Settings {
            n_train: 200,
            n_test: 100,
            batch: 32,
            k_max: 4,
            k_ramp: 2,
            k_min: 2,
            erm_lr: 1e-2,
            lr: 1e-2,
            es_patience: 4,
            es_rel_tol: 0.002,
            erm_max_epochs: 400,
            max_epochs: 3,
            deltas: vec![0.0, 0.08],
            ..Settings::spec()
        };
        let p = Problem::new(&s, 5).unwrap();
        assert_eq!((p.train.len(), p.val.len()), (160, 40));
        let erm = run_one(&s, &p, Kind::Erm, 0.0, 9).unwrap();
        assert!(erm.end.converged(), "{:?}", erm.end);
        assert!(erm.best_epoch >= 1 && erm.best_epoch + s.es_patience as usize <= erm.epochs + 1);
        assert!(erm.epochs < s.erm_max_epochs);
        assert!(erm.acc.iter().all(|a| (0.0..=1.0).contains(a)) && erm.acc[0] >= erm.acc[1]);
        // The checkpoint, not the last iterate: re-running to the best epoch only gives the
        // same clean accuracy.
        let short = Settings { erm_max_epochs: erm.best_epoch, es_patience: 1000, ..s.clone() };
        let again = run_one(&short, &p, Kind::Erm, 0.0, 9).unwrap();
        assert_eq!(again.end, RunEnd::HitCap { cap: erm.best_epoch as u64 });
        assert_eq!(again.acc, erm.acc);
        // A cap shorter than the patience cannot converge.
        let wgf = run_one(&s, &p, Kind::Wgf, 0.2, 9).unwrap();
        assert_eq!(wgf.end, RunEnd::HitCap { cap: 3 });
        assert_eq!(wgf.epochs, 3);
        assert_eq!(run_one(&s, &p, Kind::Wgf, 0.2, 9).unwrap().acc, wgf.acc);
    }
}
