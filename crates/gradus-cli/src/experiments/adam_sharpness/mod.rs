//! `adam-sharpness`: paper 01's claims on a diagonal linear network for sparse regression with
//! label noise (SGD reduces `tr(H)` near zero loss, Adam reduces `tr(Diag(H)^{1/2})`, so they
//! select different minimisers; block methods and AdamE interpolate; no drift without label
//! noise), and the matrix-completion case where Adam's bias should generalise worse. Every run
//! stops when its own measure plateaus on the manifold of minimisers, or at a cap (then it is
//! "not converged" and no verdict depends on it).

mod diag;
mod matfac;
mod runner;
mod stats;

use gradus_core::Par;
use gradus_core::rng::derive_seed;
use gradus_optim::{AgmConfig, EpsPlacement, Partition, Statistic};
use gradus_report::{Claim, Claims, Report, RunEnd, fmt_num};
use rayon::prelude::*;

use self::diag::{Instance, Problem, SUPPORT, TEST};
use self::runner::{Blocks, Job, Method, Run, Setting};
use self::stats::{Summary, paired};
use super::ExpResult;
use crate::ctx::Ctx;

/// The options `--set` accepts.
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "label-noise",
        "batch1 (default: one sample per step, its label perturbed) or full-batch (every sample, \
         each with its own noise; the drift is n times slower)",
    ),
    ("seeds", "seeds per method at the main learning rates (quick 2, full 5)"),
];

/// Step cap of matrix completion, in drift time scales: its measures drift more slowly than
/// the diagonal network's relative to `1 / (lr^2 sigma^2)` (runs need up to ~300).
const COMPLETION_CAP: f64 = 1000.0;

/// Everything that defines a run of this experiment.
struct Config {
    /// Initialisation `u = v = alpha`.
    alpha: f64,
    setting: Setting,
    seeds: u64,
    sgd_lr: f64,
    adaptive_lr: f64,
    /// The spec's smaller learning rates `(SGD, Adam)` and their seeds (full mode).
    small: Option<(f64, f64, u64)>,
    /// RMSProp and AdamE too (full mode).
    full_suite: bool,
    completion: matfac::Completion,
    completion_lrs: (f64, f64),
    completion_seeds: u64,
}

fn config(ctx: &Ctx) -> ExpResult<Config> {
    let noise: String = ctx.opt("label-noise", "batch1".to_string())?;
    let batch1 = match noise.as_str() {
        "batch1" => true,
        "full-batch" => false,
        other => {
            return Err(format!("option label-noise: `{other}` is not batch1 or full-batch").into());
        }
    };
    let seeds: u64 = ctx.opt("seeds", ctx.pick(2, 5))?;
    if seeds == 0 {
        return Err("option seeds: need at least one seed".into());
    }
    Ok(Config {
        // The spec's SUGGESTED alpha and sigma.
        alpha: 0.1,
        setting: Setting {
            sigma: 0.5,
            // Resolved per instance: 1, or n for the full batch.
            batch: if batch1 { 1 } else { 0 },
            gate_rel: 1e-2,
            rel_tol: 1e-2,
            window: 0.25,
            cap: 40.0,
            per_window: 25,
        },
        seeds,
        sgd_lr: 3e-3,
        // Quick mode uses a larger adaptive rate than the spec's {1e-4, 3e-4} so that Adam's
        // drift (time scale 1/lr^2 steps) completes within a minute.
        adaptive_lr: ctx.pick(1e-3, 3e-4),
        small: (!ctx.quick).then_some((1e-3, 1e-4, 3)),
        full_suite: !ctx.quick,
        completion: matfac::Completion {
            dim: 20,
            rank: 2,
            inner: 20,
            observed: 0.3,
            init_scale: 0.3,
        },
        completion_lrs: (0.05, ctx.pick(5e-3, 2e-3)),
        completion_seeds: ctx.pick(2, 4),
    })
}

fn seq(cfg: AgmConfig) -> AgmConfig {
    cfg.with_par(Par::Seq)
}

fn sgd(lr: f64) -> Method {
    Method {
        name: "SGD".into(),
        cfg: seq(AgmConfig::sgd(lr)),
        exponent: 0.0,
        blocks: Blocks::Coordinates,
    }
}

fn adam(lr: f64) -> Method {
    Method {
        name: "Adam".into(),
        cfg: seq(AgmConfig::adam(lr)),
        exponent: 0.5,
        blocks: Blocks::Coordinates,
    }
}

/// The comparison at the main learning rates.
fn methods(c: &Config) -> Vec<Method> {
    let lr = c.adaptive_lr;
    let blocked = |name: &str, blocks| Method {
        name: name.into(),
        cfg: seq(AgmConfig::adam(lr).with_partition(Partition::LayoutBlocks)),
        exponent: 0.5,
        blocks,
    };
    let mut m = vec![
        sgd(c.sgd_lr),
        adam(lr),
        blocked("Adam-mini (blocks of 10)", Blocks::Size(10)),
        blocked("Adalayer (u, v layers)", Blocks::Layers),
    ];
    if c.full_suite {
        m.push(Method {
            name: "RMSProp".into(),
            cfg: seq(AgmConfig::rmsprop(lr).with_bias_correction(true).with_statistic(
                Statistic::Ema { beta2: 0.999, partition: Partition::Coordinates },
            )),
            exponent: 0.5,
            blocks: Blocks::Coordinates,
        });
        for e in [0.25, 0.75] {
            m.push(Method {
                name: format!("AdamE E={e}"),
                cfg: seq(AgmConfig::adam(lr)
                    .with_exponent(e)
                    .with_eps_placement(EpsPlacement::Inside)),
                exponent: e,
                blocks: Blocks::Coordinates,
            });
        }
    }
    m
}

/// The runs of one instance: `main[m][k]` for method `m`, seed `k`; the spec's smaller learning
/// rates; the noise-free controls of SGD and Adam (same length as their noisy runs).
struct InstanceRuns {
    methods: Vec<Method>,
    main: Vec<Vec<Run>>,
    small: Vec<(Method, Vec<Run>)>,
    controls: [Vec<Run>; 2],
    problems: Vec<Problem>,
}

fn run_instance(ctx: &Ctx, c: &Config, inst: Instance, label: u64) -> ExpResult<InstanceRuns> {
    let seeds = c.seeds.max(c.small.map_or(0, |s| s.2));
    let problems: Vec<Problem> = (0..seeds)
        .map(|k| diag::problem(inst, derive_seed(ctx.seed, label + k)))
        .collect::<ExpResult<_>>()?;
    let mut setting = c.setting;
    if setting.batch == 0 {
        setting.batch = inst.n;
    }
    let methods = methods(c);
    let small: Vec<Method> = c.small.map_or(Vec::new(), |(s, a, _)| vec![sgd(s), adam(a)]);
    let small_seeds = c.small.map_or(0, |s| s.2);
    // (method, seed, noisy, fixed steps)
    let mut jobs: Vec<(&Method, usize)> = Vec::new();
    for m in &methods {
        jobs.extend((0..c.seeds as usize).map(|k| (m, k)));
    }
    for m in &small {
        jobs.extend((0..small_seeds as usize).map(|k| (m, k)));
    }
    let init = vec![c.alpha; 2 * inst.d];
    let one = |m: &Method, k: usize, noisy: bool, fixed: Option<u64>| {
        let p = &problems[k];
        let layout = p.net.layout();
        let job = Job {
            model: &p.net,
            layout: &layout,
            init: &init,
            method: m,
            setting: &setting,
            noisy,
            fixed_steps: fixed,
            seed: derive_seed(ctx.seed, 100 + k as u64),
        };
        runner::run(&job, diag::metrics(p))
    };
    let bar =
        ctx.progress((jobs.len() + 2 * c.seeds as usize) as u64, &format!("runs {}", inst.key));
    // Longest runs first (their drift time scale sets their length; at the spec's small rates
    // they are ~10x the others): started last, they ran alone on one core at the end of each
    // instance of a full run. Results go back to their place in `jobs`.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| setting.time_scale(jobs[b].0).total_cmp(&setting.time_scale(jobs[a].0)));
    let mut ran: Vec<(usize, Run)> = order
        .par_iter()
        .with_max_len(1)
        .map(|&i| {
            let (m, k) = jobs[i];
            let r = one(m, k, true, None);
            bar.inc(1);
            (i, r)
        })
        .collect();
    ran.sort_by_key(|&(i, _)| i);
    let mut done: Vec<Run> = ran.into_iter().map(|(_, r)| r).collect();
    let small_runs = done.split_off(methods.len() * c.seeds as usize);
    let mut main: Vec<Vec<Run>> = Vec::with_capacity(methods.len());
    let mut rest = done.into_iter();
    for _ in &methods {
        main.push(rest.by_ref().take(c.seeds as usize).collect());
    }
    let controls: Vec<Run> = (0..2)
        .flat_map(|m| (0..c.seeds as usize).map(move |k| (m, k)))
        .collect::<Vec<_>>()
        .par_iter()
        .map(|&(m, k)| {
            let noisy = &main[m][k];
            let r = match (&noisy.end, noisy.last()) {
                (RunEnd::Failed(_), _) | (_, None) => Run {
                    end: RunEnd::Failed("its label-noise run failed".into()),
                    entered: None,
                    points: Vec::new(),
                    params: Vec::new(),
                },
                (_, Some(p)) => one(&methods[m], k, false, Some(p.step)),
            };
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let (sgd_c, adam_c) = controls.split_at(c.seeds as usize);
    let mut small_by = small_runs.into_iter();
    let small = small
        .into_iter()
        .map(|m| (m, small_by.by_ref().take(small_seeds as usize).collect()))
        .collect();
    Ok(InstanceRuns { methods, main, small, controls: [sgd_c.to_vec(), adam_c.to_vec()], problems })
}

/// Relative decrease `(f(entry) - f(end)) / f(entry)` of each converged run.
fn drop_of(runs: &[Run], f: fn(&runner::Point) -> f64) -> Summary {
    Summary::of(
        &runs
            .iter()
            .filter(|r| r.end.converged())
            .filter_map(|r| {
                let (a, b) = (f(r.at_entry()?), f(r.last()?));
                Some((a - b) / a)
            })
            .collect::<Vec<_>>(),
    )
}

fn pct(s: &Summary) -> String {
    format!("{:.1}% +- {:.1}%", 100.0 * s.mean, 100.0 * s.sd)
}

/// Which minimiser each run selected: the balanced measures of its solution.
fn solutions(problems: &[Problem], runs: &[Run]) -> Vec<Option<(f64, f64)>> {
    runs.iter()
        .zip(problems)
        .map(|(r, p)| r.end.converged().then(|| diag::solution_measures(p, r)).flatten())
        .collect()
}

/// How each run ended.
fn ends(runs: &[Run]) -> Vec<&RunEnd> {
    runs.iter().map(|r| &r.end).collect()
}

/// The verdicts on one instance, each from the numbers in its table.
fn judge(inst: Instance, c: &Config, ir: &InstanceRuns) -> Claims {
    let tag = |id: &str| format!("{id} ({})", inst.key);
    let (sgd, adam) = (&ir.main[0], &ir.main[1]);
    let mut claims = Claims::new();

    let d = drop_of(sgd, |p| p.trace);
    claims.push(Claim::judge(
        tag("1"),
        "Under label noise, SGD reduces tr(H) while the training loss stays near 0",
        ends(sgd),
        d.clearly_positive(),
        format!(
            "tr(H) fell by {} from manifold entry to convergence ({} seeds); final loss {}",
            pct(&d),
            d.n,
            diag::end_summary(sgd, |p| p.loss).cell()
        ),
    ));
    let d = drop_of(adam, |p| p.sqrt_diag);
    claims.push(Claim::judge(
        tag("2a"),
        "Adam reduces tr(Diag(H)^1/2) on the manifold",
        ends(adam),
        d.clearly_positive(),
        format!("tr(Diag(H)^1/2) fell by {} ({} seeds)", pct(&d), d.n),
    ));

    let (sol_sgd, sol_adam) = (solutions(&ir.problems, sgd), solutions(&ir.problems, adam));
    let first = |v: &[Option<(f64, f64)>]| v.iter().map(|s| s.map(|s| s.0)).collect::<Vec<_>>();
    let second = |v: &[Option<(f64, f64)>]| v.iter().map(|s| s.map(|s| s.1)).collect::<Vec<_>>();
    let select = |id: &str,
                  sgd: &[Run],
                  adam: &[Run],
                  s_sgd: &[Option<(f64, f64)>],
                  s_adam: &[Option<(f64, f64)>]| {
        let l1 = paired(&first(s_sgd), &first(s_adam));
        let half = paired(&second(s_adam), &second(s_sgd));
        Claim::judge(
            tag(id),
            "SGD and Adam select different minimisers: SGD's has the smaller l1 measure 4 sum c|w|, Adam's the smaller l1/2 measure 2 sum sqrt(c|w|)",
            ends(sgd).into_iter().chain(ends(adam)),
            l1.clearly_negative() && half.clearly_negative(),
            format!(
                "l1(SGD) - l1(Adam) = {}, l1/2(Adam) - l1/2(SGD) = {} ({} paired seeds)",
                l1.cell(),
                half.cell(),
                l1.n
            ),
        )
    };
    let sparser = |id: &str, sgd: &[Run], adam: &[Run]| {
        let supp = paired(
            &diag::at_end(adam, |p| p.extra[SUPPORT]),
            &diag::at_end(sgd, |p| p.extra[SUPPORT]),
        );
        let test =
            paired(&diag::at_end(adam, |p| p.extra[TEST]), &diag::at_end(sgd, |p| p.extra[TEST]));
        Claim::judge(
            tag(id),
            "Adam's solution is at least as sparse as SGD's and has the lower test error",
            ends(sgd).into_iter().chain(ends(adam)),
            !supp.clearly_positive() && test.clearly_negative(),
            format!(
                "support(Adam) - support(SGD) = {}, test error(Adam) - test error(SGD) = {} ({} paired seeds)",
                supp.cell(),
                test.cell(),
                test.n
            ),
        )
    };
    claims.push(select("2b", sgd, adam, &sol_sgd, &sol_adam));
    claims.push(sparser("3", sgd, adam));

    // Controls: the same optimizers, full batch without label noise, over the noisy run's
    // length. The change is measured from one minimum window after entering the manifold, when
    // the fast phase is over, to the end, for the control and its noisy run alike. A control
    // that stopped earlier at the f64 loss floor no longer moves: its last point stands for the
    // rest of the time.
    let change = |runs: &[Run], m: &Method| {
        let window = c.setting.steps(m).0;
        Summary::of(
            &runs
                .iter()
                .filter(|r| r.end.converged())
                .filter_map(|r| {
                    let a = r.at(r.entered? + window).or(r.last())?.monitored;
                    Some(((a - r.last()?.monitored) / a).abs())
                })
                .collect::<Vec<_>>(),
        )
    };
    let (cs, ca) =
        (change(&ir.controls[0], &ir.methods[0]), change(&ir.controls[1], &ir.methods[1]));
    let (ns, na) = (change(sgd, &ir.methods[0]), change(adam, &ir.methods[1]));
    let tol = c.setting.rel_tol;
    let still = |s: &Summary| s.n > 0 && s.mean + 2.0 * s.se() < tol;
    claims.push(Claim::judge(
        tag("4"),
        "Without label noise (full-batch GD and Adam) neither measure drifts on the slow time scale (control)",
        ends(&ir.controls[0])
            .into_iter()
            .chain(ends(&ir.controls[1]))
            .chain(ends(sgd))
            .chain(ends(adam)),
        still(&cs) && still(&ca),
        format!(
            "|relative change| of the monitored measure from one window after manifold entry to the end: \
             GD {} (label noise: {}), full-batch Adam {} (label noise: {}); rule: mean + 2 se below {}",
            pct(&cs),
            pct(&ns),
            pct(&ca),
            pct(&na),
            fmt_num(tol)
        ),
    ));

    // Interpolation: mean l1 measure of the selected solutions along a chain of methods.
    let by = |name: &str| ir.methods.iter().position(|m| m.name.starts_with(name));
    let chain_claim = |id: &str, statement: &str, chain: &[usize]| {
        let means: Vec<Summary> = chain
            .iter()
            .map(|&m| {
                Summary::of(
                    &first(&solutions(&ir.problems, &ir.main[m]))
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let ordered = means.windows(2).all(|w| w[0].mean <= w[1].mean);
        Claim::judge(
            tag(id),
            statement,
            chain.iter().flat_map(|&m| ends(&ir.main[m])),
            ordered,
            chain
                .iter()
                .zip(&means)
                .map(|(&m, s)| format!("{} {}", ir.methods[m].name, s.cell()))
                .collect::<Vec<_>>()
                .join(" <= ? "),
        )
    };
    if let (Some(layer), Some(mini)) = (by("Adalayer"), by("Adam-mini")) {
        claims.push(chain_claim(
            "5",
            "Block methods interpolate: the coarser the blocks, the closer the selected solution's l1 measure to SGD's (SGD <= Adalayer <= Adam-mini <= Adam)",
            &[0, layer, mini, 1],
        ));
    }
    if let (Some(e25), Some(e75)) = (by("AdamE E=0.25"), by("AdamE E=0.75")) {
        claims.push(chain_claim(
            "6",
            "AdamE (the spec's hypothesis P = (V + eps)^-E): the l1 measure of the selected solution grows with E (SGD <= E = 0.25 <= Adam <= E = 0.75)",
            &[0, e25, 1, e75],
        ));
    }
    if let [(ms, rs), (ma, ra)] = &ir.small[..] {
        let (ss, sa) = (solutions(&ir.problems, rs), solutions(&ir.problems, ra));
        let mut c2 = select("2b-small", rs, ra, &ss, &sa);
        let mut c3 = sparser("3-small", rs, ra);
        for c in [&mut c2, &mut c3] {
            c.statement = format!(
                "{} (SGD lr {}, Adam lr {})",
                c.statement,
                fmt_num(ms.lr()),
                fmt_num(ma.lr())
            );
        }
        claims.push(c2);
        claims.push(c3);
    }
    claims
}

pub fn run(ctx: &Ctx) -> ExpResult<Report> {
    let c = config(ctx)?;
    let mut report = Report::new(
        "adam-sharpness",
        "Adam's implicit sharpness on a diagonal linear network and matrix completion (paper 01)",
    );
    let s = &c.setting;
    let probe = methods(&c);
    let steps_of = |m: &Method| s.steps(m);
    report.text(format!(
        "Sparse regression with a diagonal linear network `w = u*u - v*v`, `x ~ N(0, I)`, `s`-sparse \
         `w*` with entries +-1, on two instances: {easy} (the spec's SUGGESTED set-up, where l1 \
         minimisation already recovers `w*`) and {hard} (near the l1 recovery threshold, where the l1 \
         and l1/2 biases can select different solutions). Initialisation `u = v = {alpha}`, label noise \
         +-{sigma} (the spec's alpha and sigma), {noise}, f64, {seeds} seeds (data and noise vary \
         with the seed; every method sees the same data and noise stream per seed).\n\n\
         **Stopping rule.** A run enters the manifold of minimisers when its noise-free training \
         loss falls below {gate} x its initial loss. It has converged when the measure it is \
         predicted to reduce (SGD: tr(H); Adam, RMSProp, Adam-mini, Adalayer: the sqrt measure over \
         their blocks; AdamE: sum_B |B|^E tr(H_BB)^(1-E)) changed by less than {tol} (relative, \
         mean of the last 8 observations) over the second half of its time on the manifold, after \
         at least {window} drift time scales `1/(lr^2 sigma^(2(1-2E)))`. A run that reaches {cap} \
         time scales first is *not converged*: no verdict uses it. For example SGD at lr {sgd_lr}: \
         window {sgd_w} steps, cap {sgd_cap}; Adam at lr {ada_lr}: window {ada_w}, cap {ada_cap}.\n\n\
         Learning rates: SGD {sgd_lr}, every adaptive method {ada_lr}{ada_note} (beta1 = 0.9, \
         beta2 = 0.999, eps = 1e-8){small}. Adam-mini uses statistic blocks of 10 coordinates, \
         Adalayer one per layer (u and v). tr(H) and tr(Diag(H)^1/2) are of the Gauss-Newton Hessian \
         (the Hessian on the manifold). The last two columns are the balanced measures of the \
         solution `w` a run found, `min over (u, v) with u*u - v*v = w` (spec (f)): they say which \
         minimiser it selected. Test error is `|w - w*|^2`, the expected squared error on fresh \
         `x`.\n\n**Verdicts** compare converged runs paired by seed: a difference counts when its \
         mean is beyond two standard errors.",
        easy = Instance::EASY.label(),
        hard = Instance::HARD.label(),
        alpha = fmt_num(c.alpha),
        sigma = fmt_num(s.sigma),
        noise = if s.batch == 1 {
            "one sample per step (batch 1) with a fresh noisy label".to_string()
        } else {
            "full batch with independent noise per sample (the drift is n times slower than batch 1)".into()
        },
        seeds = c.seeds,
        gate = fmt_num(s.gate_rel),
        tol = fmt_num(s.rel_tol),
        window = fmt_num(s.window),
        cap = fmt_num(s.cap),
        sgd_lr = fmt_num(c.sgd_lr),
        ada_lr = fmt_num(c.adaptive_lr),
        sgd_w = fmt_num(steps_of(&probe[0]).0 as f64),
        sgd_cap = fmt_num(steps_of(&probe[0]).2 as f64),
        ada_w = fmt_num(steps_of(&probe[1]).0 as f64),
        ada_cap = fmt_num(steps_of(&probe[1]).2 as f64),
        ada_note = if ctx.quick { " (quick mode: above the spec's {1e-4, 3e-4} to fit in a minute)" } else { "" },
        small = c.small.map_or(String::new(), |(a, b, k)| format!(
            "; the spec's smaller rates SGD {} and Adam {} on {k} seeds", fmt_num(a), fmt_num(b)
        )),
    ));
    let mut all = Claims::new();
    for (inst, label) in [(Instance::EASY, 10), (Instance::HARD, 40)] {
        let ir = run_instance(ctx, &c, inst, label)?;
        report.text(format!("## Diagonal network, {}", inst.label()));
        let mut rows: Vec<(String, &Method, &[Run])> =
            ir.methods.iter().zip(&ir.main).map(|(m, r)| (m.name.clone(), m, &r[..])).collect();
        rows.extend(ir.small.iter().map(|(m, r)| (m.name.clone(), m, &r[..])));
        for (m, r) in ir.methods.iter().zip(&ir.controls) {
            rows.push((format!("{} full batch without label noise (control)", m.name), m, &r[..]));
        }
        let table = diag::table(&rows, &ir.problems);
        report.table(format!("diagonal-net-{}", inst.key), table);
        let plot_rows: Vec<(&Method, &[Run])> =
            ir.methods.iter().zip(&ir.main).map(|(m, r)| (m, &r[..])).collect();
        for (file, plot) in diag::plots(&inst.label(), &plot_rows) {
            report.plot(format!("diag-{}-{file}", inst.key), plot);
        }
        all.items.extend(judge(inst, &c, &ir).items);
    }
    let (ls, la) = c.completion_lrs;
    let mf = [sgd(ls), adam(la)];
    let mc = matfac::section(
        ctx,
        &mut report,
        &c.completion,
        &mf,
        &Setting { cap: COMPLETION_CAP, ..c.setting },
        c.completion_seeds,
    )?;
    all.items.extend(mc.items);
    report.text("## Verdicts\n\nEach verdict is computed from the numbers above (runs that hit their cap make a claim *not converged*; failed runs make it *errored*).");
    report.claims("verdicts", all);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_scale_follows_the_preconditioned_noise() {
        let s = Setting {
            sigma: 0.5,
            batch: 1,
            gate_rel: 1e-2,
            rel_tol: 1e-2,
            window: 0.25,
            cap: 40.0,
            per_window: 25,
        };
        // SGD: 1/(lr^2 sigma^2); Adam: 1/lr^2 (its update is normalised).
        assert!((s.time_scale(&sgd(1e-2)) - 4e4).abs() < 1e-6);
        assert!((s.time_scale(&adam(1e-2)) - 1e4).abs() < 1e-6);
        let (w, every, cap) = s.steps(&adam(1e-2));
        assert_eq!((w, every), (2500, 100));
        assert_eq!(cap % every, 0);
        assert!(cap >= 400_000);
    }
}
