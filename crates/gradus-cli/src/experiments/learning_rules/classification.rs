//! The ballistic rule against SGD, RMSProp and Adam on a generated classification task, in
//! place of the notebook's MNIST MLP (no data set is downloaded here): softmax regression on
//! an ill-conditioned Gaussian mixture, the notebook's optimizer settings, batch size and
//! global gradient clipping.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use gradus_core::{Layout, Par, Result as GResult, rng};
use gradus_models::data::classification;
use gradus_models::{Dense, Differentiable, SoftmaxRegression};
use gradus_optim::control::{ControlRule, ControlRuleConfig};
use gradus_optim::{Agm, AgmConfig, Control, Observer, Optimizer, StepRecord, Trainer};
use gradus_report::{Claim, Claims, Plot, Report, RunEnd, Scale, Series, Table, fmt_num};

use super::super::common::{Shared, locked};
use crate::ctx::Ctx;
use crate::experiments::ExpResult;

/// The notebook's MNIST settings (`fig2-momentum.ipynb`).
const SGD_LR: f64 = 0.1;
const ADAM_LR: f64 = 1e-3;
const BALLISTIC_LR: f64 = 5e-4;
const BALLISTIC_BETA2: f64 = 0.999;
const BALLISTIC_EPS: f64 = 1e-8;
const CLIP: f64 = 5.0;
const BATCH: usize = 128;
/// Ours: RMSProp is not in the notebook; it gets Adam's learning rate.
const RMSPROP_LR: f64 = 1e-3;
/// The target: this fraction of the achievable decrease of the training loss.
const TARGET_FRACTION: f64 = 0.9;

type Boxed = Box<dyn Optimizer<f32> + Send>;

struct Spec {
    name: &'static str,
    settings: String,
    build: Box<dyn Fn(Layout) -> GResult<Boxed>>,
}

fn agm(name: &str, cfg: AgmConfig, layout: Layout) -> GResult<Boxed> {
    Ok(Box::new(Agm::new(name, cfg.with_par(Par::Seq).with_max_grad_norm(Some(CLIP)), layout)?))
}

fn specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "SGD",
            settings: format!("lr {SGD_LR}"),
            build: Box::new(|l| agm("sgd", AgmConfig::sgd(SGD_LR), l)),
        },
        Spec {
            name: "Adam",
            settings: format!("lr {ADAM_LR}, betas (0.9, 0.999), eps 1e-8"),
            build: Box::new(|l| agm("adam", AgmConfig::adam(ADAM_LR), l)),
        },
        Spec {
            name: "RMSProp",
            settings: format!("lr {RMSPROP_LR}, alpha 0.99, eps 1e-8"),
            build: Box::new(|l| agm("rmsprop", AgmConfig::rmsprop(RMSPROP_LR), l)),
        },
        Spec {
            name: "ballistic (derived)",
            settings: format!("lr {BALLISTIC_LR}, beta2 {BALLISTIC_BETA2}, eps {BALLISTIC_EPS}"),
            build: Box::new(|l| {
                let cfg = ControlRuleConfig {
                    par: Par::Seq,
                    ..ControlRuleConfig::ballistic(BALLISTIC_LR, BALLISTIC_BETA2, BALLISTIC_EPS)
                        .with_clipping(CLIP)
                };
                Ok(Box::new(ControlRule::new("ballistic", cfg, l)?))
            }),
        },
    ]
}

/// Full training loss and test accuracy every `every` steps; stops the run at the target.
struct EpochEval {
    train: SoftmaxRegression<f32>,
    test: SoftmaxRegression<f32>,
    grad: Vec<f32>,
    every: u64,
    target: f64,
    /// `(step, training loss, test accuracy %)`.
    records: Vec<(u64, f64, f64)>,
    reached: Option<u64>,
}

impl Observer<f32> for EpochEval {
    fn every(&self) -> u64 {
        self.every
    }
    fn observe(&mut self, r: &StepRecord<'_, f32>) -> gradus_core::Result<Control> {
        let loss = self.train.full_loss_grad(r.params, &mut self.grad)? as f64;
        let acc = 100.0 * (1.0 - self.test.error_rate(r.params)?);
        self.records.push((r.step, loss, acc));
        if loss <= self.target && self.reached.is_none() {
            self.reached = Some(r.step);
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }
}

struct Outcome {
    end: RunEnd,
    records: Vec<(u64, f64, f64)>,
    us_per_step: f64,
}

pub fn run(ctx: &Ctx, report: &mut Report, claims: &mut Claims) -> ExpResult<()> {
    report.text(format!(
        "## Fig 2e: the ballistic rule against SGD, RMSProp and Adam\n\nThis replaces the \
         notebook's MNIST MLP: no data set is downloaded, so the task is softmax regression \
         on a generated Gaussian mixture, once with mildly and once with strongly scaled \
         features (the scaling is what adaptive methods correct). Settings from the notebook: \
         batch {BATCH}, global gradient clipping at {CLIP} on every step, and the optimizers' \
         learning rates in the table. A run converges when its full training loss reaches \
         {:.0}% of the decrease from the initial loss to the best loss of a long full-batch \
         Adam run; a run at its epoch cap is not converged. The ballistic rule is the \
         official code's optimizer; reading its statistic v as an online curvature estimate \
         (so that g / sqrt(v) is the square-root-of-curvature rule) is the spec's \
         reconstruction of the paper's argument, which was not available.",
        100.0 * TARGET_FRACTION
    ));
    let mut fastest = Vec::new();
    let mut ballistic_beats_sgd = Vec::new();
    for (tag, condition) in [("mild", 10.0), ("strong", 100.0)] {
        let steps = task(ctx, report, claims, tag, condition)?;
        let best = steps
            .iter()
            .filter_map(|(n, s)| s.map(|s| (*n, s)))
            .min_by_key(|(_, s)| *s)
            .map_or("none converged".to_string(), |(n, s)| format!("{n} ({s} steps)"));
        fastest.push(format!("x{condition}: {best}"));
        let of = |name: &str| steps.iter().find(|(n, _)| *n == name).and_then(|(_, s)| *s);
        ballistic_beats_sgd.push(match (of("ballistic (derived)"), of("SGD")) {
            (Some(b), Some(g)) => Some(b < g),
            _ => None,
        });
    }
    let ranking = if ballistic_beats_sgd.iter().all(|b| *b == Some(true)) {
        "the paper's ranking (ballistic before SGD) holds on this convex stand-in too"
    } else if ballistic_beats_sgd.iter().all(|b| *b == Some(false)) {
        "the paper's ranking (ballistic before SGD) is a property of its deep-network \
         settings that this convex stand-in does not share: SGD's step is large and stable here"
    } else {
        "the ranking of the ballistic rule and SGD depends on the feature scales here"
    };
    let first = BALLISTIC_LR / (1.0 - BALLISTIC_BETA2).sqrt();
    report.text(format!(
        "Reading the comparison. The learning rates are the notebook's, chosen for an MLP on \
         MNIST, not tuned here. Without bias correction the ballistic rule's first steps are \
         lr / sqrt(1 - β₂) = {first:.4} per coordinate (v starts at 0), {:.1}x Adam's lr \
         {ADAM_LR}, shrinking toward lr {BALLISTIC_LR} per unit-RMS gradient as v fills in; \
         an early boost Adam (bias-corrected, lr {ADAM_LR}) does not get. Fastest to the \
         target: {}. SGD runs with lr {SGD_LR}; {ranking}.",
        first / ADAM_LR,
        fastest.join("; ")
    ));
    Ok(())
}

/// Steps to the target per optimizer (`None`: not reached).
type StepsToTarget = Vec<(&'static str, Option<u64>)>;

fn task(
    ctx: &Ctx,
    report: &mut Report,
    claims: &mut Claims,
    tag: &str,
    condition: f64,
) -> ExpResult<StepsToTarget> {
    let (n_train, n_test, dim, classes) = (ctx.pick(4000, 10000), ctx.pick(1000, 2500), 50, 10);
    let (separation, l2) = (1.0, 1e-4);
    let cap_epochs: u64 = ctx.pick(40, 60);
    let reference_steps: u64 = ctx.pick(1000, 1500);
    let mut data_rng = rng::stream(ctx.seed, 0xC1A55);
    let (x, labels) = classification::<f32>(
        n_train + n_test,
        dim,
        classes,
        separation,
        condition,
        &mut data_rng,
    )?;
    let split = n_train * dim;
    let x_train = Dense::from_row_major(n_train, dim, x.as_slice()[..split].to_vec())?;
    let x_test = Dense::from_row_major(n_test, dim, x.as_slice()[split..].to_vec())?;
    let (y_train, y_test) = (labels[..n_train].to_vec(), labels[n_train..].to_vec());
    let model = SoftmaxRegression::new(x_train.clone(), y_train.clone(), classes, l2, BATCH)?;
    let layout = model.layout();
    let full = SoftmaxRegression::new(x_train, y_train, classes, l2, n_train)?;
    let test = SoftmaxRegression::new(x_test, y_test, classes, 0.0, n_test)?;
    let steps_per_epoch = n_train.div_ceil(BATCH) as u64;
    // Eight evaluations per epoch: runs that take one or two epochs are still told apart.
    let eval_every = (steps_per_epoch / 8).max(1);

    // The achievable loss: full-batch Adam with a decaying step, run long.
    let x0 = vec![0.0f32; layout.len()];
    let mut g = vec![0.0f32; layout.len()];
    let f0 = full.clone().full_loss_grad(&x0, &mut g)? as f64;
    let reference = {
        let mut eval = full.clone();
        let mut opt =
            Agm::<f32>::new("ref", AgmConfig::adam(1e-2).with_par(Par::Seq), layout.clone())?;
        let mut p = x0.clone();
        let mut best = f0;
        for s in 0..reference_steps {
            let f = eval.full_loss_grad(&p, &mut g)? as f64;
            best = best.min(f);
            opt.set_lr(1e-2 * (1.0 - s as f64 / reference_steps as f64).max(1e-3))?;
            opt.step(&mut p, &g)?;
        }
        best
    };
    let target = reference + (1.0 - TARGET_FRACTION) * (f0 - reference);
    report.text(format!(
        "### Feature scales spanning a factor {condition}\n\n{classes} classes, {n_train} \
         training and {n_test} test points, {dim} features, class-mean spread {separation}, \
         L2 {l2}. Target training loss {target:.5} (from {f0:.4}; best full-batch loss \
         {reference:.5} after {reference_steps} Adam steps); cap {cap_epochs} epochs."
    ));
    let mut outcomes = Vec::new();
    for spec in specs() {
        let out = (|| -> ExpResult<Outcome> {
            let opt = (spec.build)(layout.clone())?;
            let obs = Arc::new(Mutex::new(EpochEval {
                train: full.clone(),
                test: test.clone(),
                grad: vec![0.0; layout.len()],
                every: eval_every,
                target,
                records: Vec::with_capacity(cap_epochs as usize + 1),
                reached: None,
            }));
            let mut trainer = Trainer::new(model.clone(), opt, x0.clone(), ctx.seed ^ 0xBA11)?
                .with_par(Par::Seq)
                .observe(Shared(obs.clone()));
            let started = Instant::now();
            let summary = trainer.run(cap_epochs * steps_per_epoch)?;
            let us = started.elapsed().as_secs_f64() * 1e6 / summary.steps.max(1) as f64;
            let o = locked(&obs);
            let end = match o.reached {
                Some(s) => RunEnd::Converged { steps: s },
                None => RunEnd::HitCap { cap: cap_epochs * steps_per_epoch },
            };
            Ok(Outcome { end, records: o.records.clone(), us_per_step: us })
        })();
        outcomes.push((spec, out));
    }
    let mut t = Table::new(&[
        "optimizer",
        "settings",
        "run (steps)",
        "epochs to target",
        "final training loss",
        "final test accuracy %",
        "ms per epoch (incl. evaluation)",
    ]);
    let mut loss_plot = Plot::new(
        format!("Training loss (feature scales x{condition})"),
        "epoch",
        "full training loss",
    )
    .scales(Scale::Linear, Scale::Log);
    let mut acc_plot = Plot::new(
        format!("Test accuracy (feature scales x{condition})"),
        "epoch",
        "test accuracy %",
    );
    for (spec, out) in &outcomes {
        match out {
            Ok(o) => {
                let last = o.records.last().copied().unwrap_or((0, f64::NAN, f64::NAN));
                let to_target = match o.end {
                    RunEnd::Converged { steps } => {
                        format!("{:.3}", steps as f64 / steps_per_epoch as f64)
                    }
                    _ => "-".into(),
                };
                t.row([
                    spec.name.to_string(),
                    spec.settings.clone(),
                    o.end.cell(),
                    to_target,
                    format!("{:.5}", last.1),
                    format!("{:.2}", last.2),
                    fmt_num(o.us_per_step * steps_per_epoch as f64 / 1e3),
                ]);
                let mut pts = vec![(0.0, f0)];
                let epoch = |step: u64| step as f64 / steps_per_epoch as f64;
                pts.extend(o.records.iter().map(|r| (epoch(r.0), r.1)));
                loss_plot = loss_plot.with(Series::line(spec.name, pts));
                acc_plot = acc_plot.with(Series::line(
                    spec.name,
                    o.records.iter().map(|r| (epoch(r.0), r.2)).collect(),
                ));
            }
            Err(e) => t.row([
                spec.name.to_string(),
                spec.settings.clone(),
                format!("error: {e}"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]),
        }
    }
    loss_plot = loss_plot.with(Series {
        dashed: true,
        ..Series::line("target", vec![(0.0, target), (cap_epochs as f64, target)])
    });
    report.table(format!("classification_{tag}"), t);
    report.plot(format!("classification_{tag}_loss"), loss_plot);
    report.plot(format!("classification_{tag}_accuracy"), acc_plot);

    let run_of = |name: &str| {
        outcomes
            .iter()
            .find(|(s, _)| s.name == name)
            .map(|(_, o)| match o {
                Ok(o) => o.end.clone(),
                Err(e) => RunEnd::Failed(e.to_string()),
            })
            .unwrap_or(RunEnd::Failed("missing".into()))
    };
    let steps_of = |e: &RunEnd| match e {
        RunEnd::Converged { steps } => *steps as f64,
        _ => f64::NAN,
    };
    let (ball, sgd, adam) = (run_of("ballistic (derived)"), run_of("SGD"), run_of("Adam"));
    let (eb, es, ea) = (steps_of(&ball), steps_of(&sgd), steps_of(&adam));
    claims.push(Claim::judge(
        format!("2e-sgd-{tag}"),
        format!(
            "The ballistic (Adam-like) rule trains faster than SGD (features scaled x{condition})"
        ),
        [&ball, &sgd],
        eb < es,
        format!("steps to the target: ballistic {}, SGD {}", ball.cell(), sgd.cell()),
    ));
    claims.push(Claim::judge(
        format!("2e-adam-{tag}"),
        format!("The ballistic rule is similar to or worse than Adam: not clearly faster, at least 3/4 of Adam's steps (features scaled x{condition})"),
        [&ball, &adam],
        eb >= 0.75 * ea,
        format!("steps to the target: ballistic {}, Adam {}", ball.cell(), adam.cell()),
    ));
    Ok(outcomes
        .iter()
        .map(|(spec, o)| {
            let steps = match o {
                Ok(Outcome { end: RunEnd::Converged { steps }, .. }) => Some(*steps),
                _ => None,
            };
            (spec.name, steps)
        })
        .collect())
}
