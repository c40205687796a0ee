//! `toeplitz-cov`: Toeplitz covariance estimation by over-parameterised gradient descent
//! (paper 07) on the spec's data generators, with the official iteration cap and stagnation
//! test: accuracy against snapshots (beside the Toeplitz projection, Fisher-scoring ML and
//! the Cramer-Rao bound), and how often each K reaches the global optimum.

mod accuracy;
mod landscape;
mod runs;

use gradus_models::toeplitz_cov::ArmijoParams;
use gradus_models::toeplitz_cov::data::{ar3, atom, random_caratheodory};
use gradus_report::Report;

use super::ExpResult;
use crate::ctx::Ctx;

pub fn run(ctx: &Ctx) -> ExpResult<Report> {
    // The official code's settings: 45000 iterations, patience 12, tolerance 1e-6.
    let params = ArmijoParams::default();
    let mut report = Report::new(
        "toeplitz-cov",
        "Toeplitz covariance estimation by over-parameterised gradient descent (paper 07)",
    );
    let all = vec![
        ("random Caratheodory", random_caratheodory(runs::P, 1)?),
        ("ATOM on-grid", atom(false)),
        ("ATOM off-grid", atom(true)),
        ("AR(3)", ar3(runs::P)?),
    ];
    let sweep = accuracy::Sweep {
        ms: ctx.pick(vec![20, 80], vec![10, 20, 40, 80]),
        trials: ctx.pick(1, 10),
        ks: ctx.pick(vec![2 * runs::P], vec![2 * runs::P, 4 * runs::P]),
        params,
    };
    let mut claims = accuracy::section(ctx, &mut report, &sweep, &all)?;
    let study = landscape::Study {
        m: 80,
        trials: ctx.pick(3, 20),
        inits: ctx.pick(1, 2),
        rel_tol: 1e-6,
        params,
    };
    let hard: Vec<_> = all
        .into_iter()
        .filter(|(n, _)| *n == "random Caratheodory" || *n == "ATOM off-grid")
        .collect();
    claims.items.extend(landscape::section(ctx, &mut report, &study, &hard)?.items);
    report.text("## Verdicts\n\nComputed from the tables above. A claim whose runs hit the iteration cap is *not converged* unless the capped runs, counted either way, could not change it.");
    report.claims("verdicts", claims);
    Ok(report)
}
