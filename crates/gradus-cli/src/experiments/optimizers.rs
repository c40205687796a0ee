//! `optimizers`: every optimizer of `gradus-optim` on two problems, learning rates tuned per
//! optimizer on a grid, loss curves over seeds.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use gradus_core::{Layout, Objective, Par, rng};
use gradus_models::data::classification;
use gradus_models::{Differentiable, Quadratic, SoftmaxRegression};
use gradus_optim::{
    Agm, AgmConfig, Momentum, Optimizer, Shampoo, ShampooConfig, StatePrecision, Trainer,
    WeightDecay,
};
use gradus_report::{Plot, Report, Scale, Series, Table, fmt_num};

use super::ExpResult;
use super::common::{FullLoss, Shared, mean_std};
use crate::ctx::Ctx;

/// An optimizer of the comparison: a name and how to build it for a learning rate.
/// Builds an optimizer for a learning rate and layout.
type Build = fn(f64, Layout) -> gradus_core::Result<Box<dyn Optimizer<f32> + Send>>;

struct Spec {
    name: &'static str,
    build: Build,
}

fn cfg(name: &str, c: AgmConfig, l: Layout) -> gradus_core::Result<Box<dyn Optimizer<f32> + Send>> {
    Ok(Box::new(Agm::new(name, c.with_par(Par::Seq), l)?))
}

fn specs() -> Vec<Spec> {
    vec![
        Spec { name: "sgd", build: |lr, l| cfg("sgd", AgmConfig::sgd(lr), l) },
        Spec {
            name: "momentum",
            build: |lr, l| {
                cfg(
                    "momentum",
                    AgmConfig::sgd(lr).with_momentum(Momentum::HeavyBall {
                        mu: 0.9,
                        dampening: 0.0,
                        nesterov: false,
                    }),
                    l,
                )
            },
        },
        Spec {
            name: "nesterov",
            build: |lr, l| {
                cfg(
                    "nesterov",
                    AgmConfig::sgd(lr).with_momentum(Momentum::HeavyBall {
                        mu: 0.9,
                        dampening: 0.0,
                        nesterov: true,
                    }),
                    l,
                )
            },
        },
        Spec { name: "adam", build: |lr, l| cfg("adam", AgmConfig::adam(lr), l) },
        Spec {
            name: "adamw",
            build: |lr, l| {
                cfg(
                    "adamw",
                    AgmConfig::adam(lr)
                        .with_weight_decay(WeightDecay { coefficient: 1e-2, decoupled: true }),
                    l,
                )
            },
        },
        Spec {
            name: "amsgrad",
            build: |lr, l| cfg("amsgrad", AgmConfig::adam(lr).with_amsgrad(true), l),
        },
        Spec {
            name: "adam (bf16 state)",
            build: |lr, l| {
                cfg("adam-bf16", AgmConfig::adam(lr).with_precision(StatePrecision::Bf16), l)
            },
        },
        Spec { name: "rmsprop", build: |lr, l| cfg("rmsprop", AgmConfig::rmsprop(lr), l) },
        Spec {
            name: "rmsprop (centered)",
            build: |lr, l| cfg("rmsprop-c", AgmConfig::rmsprop(lr).with_centered(true), l),
        },
        Spec { name: "adagrad", build: |lr, l| cfg("adagrad", AgmConfig::adagrad(lr), l) },
        Spec {
            name: "adam-mini",
            build: |lr, l| {
                cfg(
                    "adam-mini",
                    AgmConfig::adam(lr).with_partition(gradus_optim::Partition::LayoutBlocks),
                    l,
                )
            },
        },
        Spec {
            name: "adalayer",
            build: |lr, l| {
                let last = l
                    .blocks()
                    .iter()
                    .rev()
                    .find(|b| matches!(b.shape, gradus_core::Shape::Matrix { .. }))
                    .map(|b| b.name.clone());
                let p = match last {
                    Some(n) => {
                        gradus_optim::Partition::LayoutBlocksWithRows { row_blocks: vec![n] }
                    }
                    None => gradus_optim::Partition::LayoutBlocks,
                };
                cfg("adalayer", AgmConfig::adam(lr).with_partition(p), l)
            },
        },
        Spec {
            name: "shampoo (adam graft)",
            build: |lr, l| {
                let c = ShampooConfig::new(lr).with_par(Par::Seq).with_precondition_frequency(10);
                Ok(Box::new(Shampoo::<f32>::new(c, l)?))
            },
        },
        Spec {
            name: "adam-e (E=0.25)",
            build: |lr, l| {
                cfg(
                    "adam-e",
                    AgmConfig::adam(lr)
                        .with_exponent(0.25)
                        .with_eps_placement(gradus_optim::EpsPlacement::Inside),
                    l,
                )
            },
        },
    ]
}

/// A loss curve `(step, full loss)`, seconds per step, and whether the run diverged.
type RunOutcome = (Vec<(u64, f64)>, f64, bool);

/// One training run: full-loss curve (step 0 included) and seconds per step. A run whose loss
/// or gradient becomes non-finite is cut there (it counts as diverged).
fn train<M>(
    model: M,
    layout: &Layout,
    opt: Box<dyn Optimizer<f32> + Send>,
    steps: u64,
    every: u64,
    seed: u64,
) -> ExpResult<RunOutcome>
where
    M: Objective<f32> + Differentiable<f32> + Clone + Send + 'static,
{
    let mut eval = model.clone();
    let x0 = vec![0.0f32; layout.len()];
    let mut g = vec![0.0f32; layout.len()];
    let f0 = eval.full_loss_grad(&x0, &mut g)? as f64;
    let obs = Arc::new(Mutex::new(FullLoss::new(eval, every, (steps / every) as usize + 2)));
    let mut trainer = Trainer::new(model, opt, x0, seed)?.observe(Shared(obs.clone()));
    let start = Instant::now();
    let outcome = trainer.run(steps);
    let secs = start.elapsed().as_secs_f64() / steps as f64;
    let mut curve = vec![(0, f0)];
    curve.extend(crate::experiments::common::locked(&obs).records.iter().copied());
    let diverged = outcome.is_err() || curve.iter().any(|(_, f)| !f.is_finite());
    Ok((curve, secs, diverged))
}

/// Mean of the last few recorded losses: the tuning criterion (infinite when diverged).
fn final_loss(curve: &[(u64, f64)], diverged: bool) -> f64 {
    if diverged {
        return f64::INFINITY;
    }
    let tail = &curve[curve.len().saturating_sub(3)..];
    tail.iter().map(|c| c.1).sum::<f64>() / tail.len() as f64
}

struct Outcome {
    name: &'static str,
    lr: f64,
    finals: Vec<f64>,
    curves: Vec<Vec<(u64, f64)>>,
    us_per_step: f64,
}

fn section<M>(
    ctx: &Ctx,
    title: &str,
    file: &str,
    model: M,
    layout: Layout,
    steps: u64,
    report: &mut Report,
) -> ExpResult<()>
where
    M: Objective<f32> + Differentiable<f32> + Clone + Send + 'static,
{
    let grid: Vec<f64> = ctx.pick(
        vec![1e-3, 1e-2, 1e-1, 1.0],
        vec![1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0],
    );
    let seeds = ctx.pick(2u64, 3);
    let every = (steps / 60).max(1);
    let specs = specs();
    let bar = ctx.progress((specs.len() * (grid.len() + seeds as usize)) as u64, title);
    let mut outcomes = Vec::new();
    for spec in &specs {
        // Tune on seed 0, then rerun the best rate on every seed.
        let mut best = (f64::INFINITY, grid[0]);
        for &lr in &grid {
            let opt = (spec.build)(lr, layout.clone())?;
            let (curve, _, div) =
                train(model.clone(), &layout, opt, steps, every, rng::derive_seed(ctx.seed, 0))?;
            let f = final_loss(&curve, div);
            if f < best.0 {
                best = (f, lr);
            }
            bar.inc(1);
        }
        let lr = best.1;
        let mut o =
            Outcome { name: spec.name, lr, finals: vec![], curves: vec![], us_per_step: 0.0 };
        for s in 0..seeds {
            let opt = (spec.build)(lr, layout.clone())?;
            let (curve, secs, div) =
                train(model.clone(), &layout, opt, steps, every, rng::derive_seed(ctx.seed, s))?;
            o.finals.push(final_loss(&curve, div));
            o.curves.push(curve);
            o.us_per_step += 1e6 * secs / seeds as f64;
            bar.inc(1);
        }
        outcomes.push(o);
    }
    bar.finish_and_clear();

    let f0 = outcomes[0].curves[0][0].1;
    let best_final = outcomes.iter().map(|o| mean_std(&o.finals).0).fold(f64::INFINITY, f64::min);
    let target = best_final + 0.01 * (f0 - best_final);
    let mut table = Table::new(&[
        "optimizer",
        "tuned lr",
        "final loss (mean)",
        "std over seeds",
        "steps to 99% of best decrease",
        "us/step",
    ]);
    let mut plot = Plot::new(format!("{title}: full training loss"), "step", "loss")
        .scales(Scale::Linear, Scale::Log);
    for o in &outcomes {
        let (m, s) = mean_std(&o.finals);
        let reach: Vec<f64> = o
            .curves
            .iter()
            .filter_map(|c| c.iter().find(|(_, f)| *f <= target).map(|(t, _)| *t as f64))
            .collect();
        let reach = if reach.len() == o.curves.len() {
            format!("{:.0}", mean_std(&reach).0)
        } else {
            "not reached".into()
        };
        table.row([
            o.name.to_string(),
            fmt_num(o.lr),
            fmt_num(m),
            fmt_num(s),
            reach,
            format!("{:.1}", o.us_per_step),
        ]);
        let len = o.curves.iter().map(|c| c.len()).min().unwrap_or(0);
        let at = |k: usize| o.curves.iter().map(|c| c[k].1).collect::<Vec<_>>();
        let points = (0..len).map(|k| (o.curves[0][k].0 as f64, mean_std(&at(k)).0)).collect();
        let band = (0..len)
            .map(|k| {
                let v = at(k);
                (
                    o.curves[0][k].0 as f64,
                    v.iter().copied().fold(f64::INFINITY, f64::min),
                    v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                )
            })
            .collect();
        plot = plot.with(Series { band, ..Series::line(o.name, points) });
    }
    report.text(format!(
        "## {title}\n\nInitial loss {}; best final loss {} (target for the steps column: {}).",
        fmt_num(f0),
        fmt_num(best_final),
        fmt_num(target)
    ));
    report.table(file, table);
    report.plot(file, plot);
    let winner = outcomes
        .iter()
        .min_by(|a, b| mean_std(&a.finals).0.total_cmp(&mean_std(&b.finals).0))
        .map(|o| o.name)
        .unwrap_or("-");
    report.text(format!("Lowest final loss on this problem: **{winner}**."));
    Ok(())
}

pub fn run(ctx: &Ctx) -> ExpResult<gradus_report::Report> {
    let mut report = Report::new(
        "optimizers",
        "Every optimizer on an ill-conditioned quadratic and softmax regression",
    );
    let (d, steps_q) = ctx.pick((50, 600), (100, 3000));
    report.text(format!(
        "Each optimizer's learning rate is tuned on a log grid (lowest mean of the last three \
         full-loss evaluations on seed 0), then run with that rate on every seed; curves show \
         the mean with the min-max band over seeds. Parameters are f32 (the fused SIMD kernels), \
         all runs start at zero. Adam-family defaults: beta1 = 0.9, beta2 = 0.999, eps = 1e-8; \
         AdamW uses decoupled decay 1e-2; AdamE uses E = 0.25 with eps inside the power \
         (paper 01); Shampoo refreshes its 4th roots every 10 steps with Adam grafting (vector \
         blocks take the graft step). Quadratic: d = {d}, condition number 1e3, Haar-random eigenbasis, gradient \
         noise sd 0.01, layout of 4 equal blocks (the Adam-mini / Adalayer partition)."
    ));
    let quad = Quadratic::<f32>::ill_conditioned(d, 1e3, rng::derive_seed(ctx.seed, 101))?
        .with_noise(0.01)?;
    let b = d / 4;
    let qlayout =
        Layout::new().vector("b0", b)?.vector("b1", b)?.vector("b2", b)?.vector("b3", d - 3 * b)?;
    section(ctx, "Ill-conditioned quadratic", "quadratic", quad, qlayout, steps_q, &mut report)?;

    let (n, dim, k, steps_s) = ctx.pick((600, 30, 5, 600), (2000, 50, 10, 3000));
    let mut r = rng::seeded(rng::derive_seed(ctx.seed, 202));
    let (x, labels) = classification::<f32>(n, dim, k, 1.0, 30.0, &mut r)?;
    let soft = SoftmaxRegression::new(x, labels, k, 1e-4, 64)?;
    let slayout = soft.layout();
    report.text(format!(
        "Softmax regression: n = {n} points, d = {dim} features scaled over a 30x range, \
         k = {k} classes, L2 1e-4, minibatches of 64. Layout `W` ({k} x {dim}) and `b`; Adalayer \
         gives each row of `W` its own statistic."
    ));
    section(ctx, "Softmax regression", "softmax", soft, slayout, steps_s, &mut report)?;
    Ok(report)
}
