//! DRAG's variants (paper Appendix A): mini-batches (Fig. 6), log-weighted averaging with the
//! spec's mini-batch (Fig. 7), and the step size on Example 3 (Appendix A.3).

use gradus_ot::examples::Example;
use gradus_ot::semidiscrete::{Averaging, DragConfig};
use gradus_report::{Claim, Claims, Report, Table};

use super::compare::budget_end;
use super::runs::run_reps;
use crate::ctx::Ctx;

/// The mini-batch size of the paper's Appendix A.1-A.2.
pub const BATCH: usize = 16;
/// The weighting exponent of Fig. 7.
pub const OMEGA: f64 = 2.0;

fn ratio_text(r: Option<f64>) -> String {
    r.map_or("error".into(), |x| format!("{x:.2}"))
}

/// Mini-batch and weighted averaging on each example (`cfgs[i]` the base configuration of
/// `examples[i]`), `total` iterations each; returns the claims.
pub fn section(
    ctx: &Ctx,
    report: &mut Report,
    examples: &[&Example],
    cfgs: &[DragConfig],
    total: u64,
    reps: u64,
) -> Claims {
    let seed = gradus_core::rng::derive_seed(ctx.seed, 10);
    let bar = ctx.progress(4 * examples.len() as u64, "variants");
    let mut table = Table::new(&[
        "example",
        "variant",
        "potential",
        "map",
        "cost",
        "potential: base / variant",
    ]);
    let mut claims = Claims::new();
    for (i, (ex, base)) in examples.iter().zip(cfgs).enumerate() {
        let batch = DragConfig { batch: BATCH, ..*base };
        let weighted = Averaging::LogWeighted { omega: OMEGA };
        let rows = [
            ("single sample, uniform averaging".to_string(), *base),
            (
                format!(
                    "mini-batch {BATCH} (gamma_1 x {}), uniform averaging",
                    (BATCH as f64).sqrt()
                ),
                batch,
            ),
            (
                format!("mini-batch {BATCH}, log-weighted averaging omega = {OMEGA}"),
                DragConfig { averaging: weighted, ..batch },
            ),
            (
                format!("single sample, log-weighted averaging omega = {OMEGA}"),
                DragConfig { averaging: weighted, ..*base },
            ),
        ];
        let mut runs = Vec::new();
        for (name, cfg) in rows {
            let r = run_reps(ex, cfg, total, reps, seed);
            bar.inc(1);
            runs.push((name, r));
        }
        let gain = |a: usize, b: usize| Some(runs[a].1.final_mean(0)? / runs[b].1.final_mean(0)?);
        let gains = [None, gain(0, 1), gain(1, 2), gain(0, 3)];
        for ((name, r), g) in runs.iter().zip(gains) {
            table.row([
                ex.name.clone(),
                name.clone(),
                r.cell(0),
                r.cell(1),
                r.cell(2),
                g.map_or(String::new(), |x| format!("{x:.2}")),
            ]);
        }
        let ends: Vec<_> = runs.iter().map(|(_, r)| budget_end(r, total)).collect();
        let mb = gain(0, 1);
        claims.push(Claim::judge(
            format!("mini-batch {}", i + 1),
            format!(
                "on {}, mini-batches of {BATCH} cut the potential error by about an order of \
                 magnitude at equal iterations (by at least sqrt(10) = 3.16)",
                ex.name
            ),
            &ends[..2],
            mb.is_some_and(|x| x >= 10f64.sqrt()),
            format!("uniform / mini-batch = {}", ratio_text(mb)),
        ));
        let w = gain(1, 2);
        // Fig. 7: better everywhere, by orders of magnitude on Examples 2-3.
        let needed = if i == 0 { 1.0 } else { 10.0 };
        claims.push(Claim::judge(
            format!("weighting {}", i + 1),
            format!(
                "on {}, log-weighted averaging (omega = {OMEGA}, mini-batch {BATCH}) beats uniform \
                 averaging{}",
                ex.name,
                if i == 0 { "" } else { " by at least an order of magnitude" }
            ),
            &ends[1..3],
            w.is_some_and(|x| x >= needed),
            format!(
                "uniform / weighted (mini-batch {BATCH}) = {}; with single samples {}",
                ratio_text(w),
                ratio_text(gain(0, 3))
            ),
        ));
    }
    bar.finish_and_clear();
    report.text(format!(
        "## Variants (paper Appendix A, Fig. 6-7)\n\n{total} iterations each, {reps} seeds; a \
         mini-batch iteration uses {BATCH} samples and multiplies `gamma_1` by sqrt({BATCH}) (the \
         paper's rule). Fig. 7's weighted averaging is run with the same mini-batch, as in the \
         paper's Appendix A.1-A.2; the single-sample weighted row is shown for comparison."
    ));
    report.table("drag_variants", table);
    claims
}

/// Final errors on Example 3 for several `gamma_1` (Appendix A.3 uses `sqrt(M)`).
pub fn example3_steps(
    ctx: &Ctx,
    report: &mut Report,
    ex3: &Example,
    diameter: f64,
    total: u64,
    reps: u64,
) {
    let m = ex3.problem.len() as f64;
    let bar = ctx.progress(3, "Example 3 step sizes");
    let mut steps = Table::new(&["gamma_1", "potential", "map", "cost"]);
    for (label, g1) in [
        (format!("{diameter} (diameter of the source support)"), diameter),
        (format!("sqrt(M) = {:.1}", m.sqrt()), m.sqrt()),
        (format!("M = {m}"), m),
    ] {
        let cfg = DragConfig::paper(g1, ex3.radius);
        let runs = run_reps(ex3, cfg, total, reps, gradus_core::rng::derive_seed(ctx.seed, 10));
        steps.row([label, runs.cell(0), runs.cell(1), runs.cell(2)]);
        bar.inc(1);
    }
    bar.finish_and_clear();
    report.text(format!(
        "### Step size on Example 3 ({total} iterations, {reps} seeds)\n\nWith `gamma_1` = the \
         diameter the {m} potentials move by at most about `3 t^(1/3) / M` in total, so DRAG \
         stays in its transient; Appendix A.3's `sqrt(M)` is used for Example 3 above."
    ));
    report.table("drag_example3_steps", steps);
}
