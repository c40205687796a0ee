//! `learning-rules`: paper 10 (Vastola, Gershman, Rajan 2025), learning rules as optimal
//! control. The three figures of the official notebooks (double well, discount rate,
//! geometry and controllability), the reductions of the general solution to GD, natural
//! gradient, momentum and the square-root-of-curvature rule, weight decay as the response to
//! task uncertainty, and the ballistic Adam-like rule against SGD, RMSProp and Adam on a
//! generated classification task (in place of MNIST).

mod classification;
mod figures;
mod reductions;
mod switching;

use gradus_core::Result as GResult;
use gradus_report::{Claims, Report, RunEnd};

use super::ExpResult;
use crate::ctx::Ctx;

pub fn run(ctx: &Ctx) -> ExpResult<Report> {
    let mut report = Report::new(
        "learning-rules",
        "Learning rules as optimal control (paper 10): double well, discount, geometry, \
         controllability, derived rules",
    );
    report.text(
        "Paper 10 treats the parameters as a controlled system and a learning rule as the \
         policy that minimises the discounted action J = ∫ e^{-γt} [(1/(2η)) |θ̇ - f(θ)|²_G + \
         k L(θ)] dt. This report reproduces the three figures of the official notebooks with \
         their settings, checks each reduction of the general solution to a known rule \
         numerically, and runs the rules that fall out (`gradus_optim::control::ControlRule`) \
         as optimizers. Closed forms, the Riccati solver (matrix sign function for an \
         infinite horizon; the backward recursion for the discretised finite-horizon action) \
         and the path minimiser (the notebooks' gradient descent, and Newton with the exact \
         block-tridiagonal Hessian) are independent routes to the same optima; the tables \
         quote their disagreement.",
    );
    let mut claims = Claims::new();
    figures::double_well(ctx, &mut report, &mut claims)?;
    figures::discount(ctx, &mut report, &mut claims)?;
    figures::geometry(ctx, &mut report, &mut claims)?;
    reductions::run(ctx, &mut report, &mut claims)?;
    switching::run(ctx, &mut report, &mut claims)?;
    classification::run(ctx, &mut report, &mut claims)?;
    report.text(closing_note(&claims));
    report.claims("verdicts", claims);
    Ok(report)
}

/// The summary quoted at the end: the converged double-well action and every reduction's
/// measurement against its tolerance, taken from the judged claims (so from this run).
fn closing_note(claims: &Claims) -> String {
    let evidence =
        |id: &str| {
            claims.items.iter().find(|c| c.id == id).map_or("(not run)".to_string(), |c| {
                format!("{} ({})", c.evidence, c.verdict.label())
            })
        };
    let reductions: Vec<String> = claims
        .items
        .iter()
        .filter(|c| c.id.starts_with('R'))
        .map(|c| format!("- {}: {} — {}", c.id, c.evidence, c.verdict.label()))
        .collect();
    format!(
        "## Closing note\n\nConverged double-well action (notebook settings, mean over \
         intervals): {}.\n\nReductions, measured against their tolerances:\n\n{}",
        evidence("1-action"),
        reductions.join("\n")
    )
}

/// How a solve that either worked (in `steps` iterations) or failed ended.
fn end_of<T>(r: &GResult<T>, steps: impl Fn(&T) -> u64) -> RunEnd {
    match r {
        Ok(v) => RunEnd::Converged { steps: steps(v) },
        Err(e) => RunEnd::Failed(e.to_string()),
    }
}
