//! Matrix completion with label noise (spec: "Matrix factorisation: here the coordinate-wise
//! measure is not rotation-invariant, and Adam's bias can generalise worse than SGD's").

use gradus_core::rng::{derive_seed, seeded};
use gradus_models::MatrixFactorization;
use gradus_models::data::normal;
use gradus_report::{Claim, Claims, Plot, Report, Scale, Series, Table, fmt_num};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::runner::{self, Job, Method, Run, Setting};
use super::stats::paired;
use crate::ctx::Ctx;
use crate::experiments::ExpResult;

/// The completion problem.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    /// The target is `dim x dim`.
    pub dim: usize,
    /// Its rank.
    pub rank: usize,
    /// Inner dimension of the factorisation (over-parameterised when > rank).
    pub inner: usize,
    /// Fraction of observed entries.
    pub observed: f64,
    /// Standard deviation of the initial entries.
    pub init_scale: f64,
}

struct Drawn {
    model: MatrixFactorization,
    init: Vec<f64>,
    /// `(a, b, target)` of the unobserved entries.
    hidden: Vec<(usize, usize, f64)>,
}

fn draw(c: &Completion, seed: u64) -> ExpResult<Drawn> {
    let mut r = seeded(seed);
    let u: Vec<f64> = (0..c.dim * c.rank).map(|_| normal(&mut r)).collect();
    let target =
        |a: usize, b: usize| (0..c.rank).map(|q| u[a * c.rank + q] * u[b * c.rank + q]).sum();
    let mut cells: Vec<(usize, usize)> =
        (0..c.dim).flat_map(|a| (0..c.dim).map(move |b| (a, b))).collect();
    cells.shuffle(&mut r);
    let n_obs = (c.observed * (c.dim * c.dim) as f64).round() as usize;
    let obs = cells[..n_obs].iter().map(|&(a, b)| (a, b, target(a, b))).collect();
    let hidden = cells[n_obs..].iter().map(|&(a, b)| (a, b, target(a, b))).collect();
    let model = MatrixFactorization::new(c.dim, c.dim, c.inner, obs)?;
    let init = (0..model.layout().len()).map(|_| c.init_scale * normal(&mut r)).collect();
    Ok(Drawn { model, init, hidden })
}

/// Relative error on the unobserved entries.
fn completion_error(d: &Drawn) -> impl FnMut(&[f64]) -> [f64; 4] + Send + 'static {
    let (model, hidden) = (d.model.clone(), d.hidden.clone());
    let norm = hidden.iter().map(|h| h.2 * h.2).sum::<f64>().sqrt();
    move |theta| {
        // Hidden entries lie inside the matrix and the trainer hands over parameters of the
        // layout's length, so `entry` cannot fail; a failure would show as a NaN error.
        let err: f64 = hidden
            .iter()
            .map(|&(a, b, t)| (model.entry(theta, a, b).unwrap_or(f64::NAN) - t).powi(2))
            .sum::<f64>();
        [err.sqrt() / norm, 0.0, 0.0, 0.0]
    }
}

/// Runs SGD and Adam (`methods[0]`, `methods[1]`) on `seeds` completions and appends the
/// section with its verdict.
pub fn section(
    ctx: &Ctx,
    report: &mut Report,
    c: &Completion,
    methods: &[Method; 2],
    setting: &Setting,
    seeds: u64,
) -> ExpResult<Claims> {
    let drawn: Vec<Drawn> =
        (0..seeds).map(|k| draw(c, derive_seed(ctx.seed, 500 + k))).collect::<ExpResult<_>>()?;
    let bar = ctx.progress(2 * seeds, "matrix completion runs");
    let jobs: Vec<(usize, usize)> =
        (0..2).flat_map(|m| (0..seeds as usize).map(move |k| (m, k))).collect();
    let runs: Vec<Run> = jobs
        .par_iter()
        .map(|&(m, k)| {
            let d = &drawn[k];
            let layout = d.model.layout();
            let job = Job {
                model: &d.model,
                layout: &layout,
                init: &d.init,
                method: &methods[m],
                setting,
                noisy: true,
                fixed_steps: None,
                seed: derive_seed(ctx.seed, 900 + k as u64),
            };
            let r = runner::run(&job, completion_error(d));
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let (sgd, adam) = runs.split_at(seeds as usize);

    report.text(format!(
        "## Matrix completion with label noise\n\n\
         What this tests: a {dim} x {dim} target of rank {rank} (`U U^T`, Gaussian `U`) is observed \
         on {obs:.0}% of its entries and fitted by `U V^T` with inner dimension {inner} (so every \
         completion of the observed entries is a minimiser). Near the manifold of minimisers, \
         label-noise SGD drifts towards small `tr(H) = 1/n sum_(a,b) (|U_a|^2 + |V_b|^2)`, whose \
         minimum over balanced factorisations is a weighted nuclear norm (a low-rank bias that \
         completes the matrix); Adam drifts towards small `tr(Diag(H)^1/2)`, which is not \
         rotation-invariant. The paper's summaries state that here Adam's bias generalises worse; \
         the paper's own setting was not available, so this is our instance. Both runs use the \
         report's stopping rule (their own measure plateaus; cap {cap} time scales); the verdict compares the relative \
         error on the unobserved entries of converged runs, paired by seed. Initial entries \
         N(0, {init}^2), {seeds} seeds, learning rates SGD {lr_s}, Adam {lr_a}.",
        dim = c.dim,
        rank = c.rank,
        obs = 100.0 * c.observed,
        inner = c.inner,
        init = fmt_num(c.init_scale),
        lr_s = fmt_num(methods[0].lr()),
        lr_a = fmt_num(methods[1].lr()),
        cap = fmt_num(setting.cap),
    ));
    let mut table = Table::new(&[
        "optimizer",
        "lr",
        "runs converged",
        "train loss",
        "relative error on unobserved entries",
    ]);
    let mut plot = Plot::new(
        "Matrix completion with label noise: relative error on unobserved entries",
        "step",
        "relative test error",
    )
    .scales(Scale::Log, Scale::Log);
    for (m, rs) in methods.iter().zip([sgd, adam]) {
        let ends: Vec<f64> =
            super::diag::at_end(rs, |p| p.extra[0]).into_iter().flatten().collect();
        table.row([
            m.name.clone(),
            fmt_num(m.lr()),
            format!(
                "{}/{}{}",
                ends.len(),
                rs.len(),
                rs.iter()
                    .filter(|r| !r.end.converged())
                    .map(|r| format!("; {}", r.end.cell()))
                    .collect::<String>()
            ),
            super::diag::end_summary(rs, |p| p.loss).cell(),
            super::stats::Summary::of(&ends).cell(),
        ]);
        if let Some(r) = rs.first() {
            plot = plot.with(Series::line(
                format!("{} (seed 0)", m.name),
                r.points.iter().skip(1).map(|p| (p.step as f64, p.extra[0])).collect(),
            ));
        }
    }
    report.table("matrix-completion", table);
    report.plot("matfac-test-error", plot);

    let d = paired(
        &super::diag::at_end(adam, |p| p.extra[0]),
        &super::diag::at_end(sgd, |p| p.extra[0]),
    );
    let mut claims = Claims::new();
    claims.push(Claim::judge(
        "MF",
        "Matrix completion: Adam's solution has a larger error on the unobserved entries than SGD's",
        sgd.iter().chain(adam).map(|r| &r.end),
        d.clearly_positive(),
        format!(
            "error(Adam) - error(SGD) = {} over {} paired seeds (rule: mean - 2 se > 0)",
            d.cell(),
            d.n
        ),
    ));
    Ok(claims)
}
