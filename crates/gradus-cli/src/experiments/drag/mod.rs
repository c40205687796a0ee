//! `drag`: DRAG for semi-discrete OT (paper 08) on the paper's three synthetic examples:
//! error of the potential, the map and the cost against iterations (log-log) with fitted
//! rates and intervals, DRAG against fixed regularisation, the unregularised baseline and
//! Adam, and the mini-batch and log-weighted averaging variants. Every verdict is computed
//! from the numbers in the report.

mod compare;
mod rates;
mod runs;
mod variants;

use gradus_core::rng;
use gradus_ot::examples::{example1, example2_min_weight, example3};
use gradus_ot::semidiscrete::{DragConfig, EpsilonSchedule, Projection};
use gradus_report::{Report, fmt_num};

use super::ExpResult;
use crate::ctx::Ctx;

/// The paper's smallest weight in Example 2 (`M = 30`).
const EXAMPLE2_MIN_WEIGHT: f64 = 1.1e-3;

pub fn run(ctx: &Ctx) -> ExpResult<Report> {
    let mut report = Report::new(
        "drag",
        "DRAG: decreasing entropic regularisation averaged gradient for semi-discrete OT (paper 08)",
    );
    let total: u64 = ctx.pick(100_000, 1_000_000);
    let reps: u64 = ctx.pick(3, 10);
    let variant_reps = reps.min(ctx.pick(2, 5));
    let variant_total: u64 = ctx.pick(20_000, 200_000);
    let seed = ctx.seed;
    let (n_weights, n_eval) = ctx.pick((2_000_000, 20_000), (10_000_000, 200_000));
    let adam = runs::AdamBaseline { lr: 1e-3, eps: 0.005 };

    let ex1 = example1(10, 1000)?;
    let (ex2, spread) = example2_min_weight(
        10,
        30,
        EXAMPLE2_MIN_WEIGHT,
        n_weights,
        n_eval,
        rng::derive_seed(seed, 2),
    )?;
    let w_min = ex2.problem.target().weights().iter().copied().fold(f64::INFINITY, f64::min);
    let mut ex3 = example3(1000, 0.5)?;
    // Appendix A.3's step for Example 3 (see the step-size table).
    let ex3_diameter = ex3.gamma1;
    ex3.gamma1 = (ex3.problem.len() as f64).sqrt();
    let examples = [&ex1, &ex2, &ex3];
    let cfgs: Vec<DragConfig> =
        examples.iter().map(|ex| DragConfig::paper(ex.gamma1, ex.radius)).collect();

    let p = cfgs[0];
    let (eps0, scale, decay) = match p.epsilon {
        EpsilonSchedule::Decreasing { initial, scale, decay } => (initial, scale, decay),
        EpsilonSchedule::Constant(e) => (e, e, 0.0),
    };
    let projection = match p.projection {
        Projection::Anchored { .. } => "`C_u` (g_1 = 0, |g_j| <= R |y_1 - y_j|)",
        Projection::Box { .. } => "`C_inf`",
        Projection::None => "none",
    };
    report.text(format!(
        "Paper 08 (Genans et al., NeurIPS 2025). DRAG iterates `g_k = Proj_C(g_(k-1) - gamma_1 \
         k^-b (chi^(eps_(k-1))(X_k, g_(k-1)) - w))` and returns the average of the projected \
         iterates; defaults as in the paper: `eps_k = {scale} k^-{decay}` (`eps_0 = {eps0}`), \
         `b = {:.4}`, projection on {projection}, `gamma_1` = diameter of the source support \
         ({} for the unit cube in R^10). {reps} seeds per curve (mean, band = min..max), {total} \
         iterations ({}). Errors: `|g - g*|^2` after centring, `||T(g) - T*||^2_L2(mu)` and \
         `|H_0(g) - H_0(g*)|`. Examples 1 and 3 are evaluated **exactly** (their power cells \
         are slabs in the first coordinate: a 1-D envelope computation, no Monte-Carlo noise); \
         Example 2 with {n_eval} common Monte-Carlo samples.\n\nExample 1: `mu = U([0,1]^10)`, \
         `M = {}` targets on a line, `g* = 0`. Example 2: `M = {}` random targets in \
         `[0,1]^10`, weights `mu(L_j(g*))` of a random `g*_j = s (u_j - u_1)`, `u` uniform in `[0, 1]^M`, `s \
         = {}` tuned so that the smallest weight is the paper's {EXAMPLE2_MIN_WEIGHT} (reached: \
         {}); the weights are counted on {n_weights} samples, so `g*` is optimal only up to \
         that Monte-Carlo error. Example 3: `mu = U([0.5, 1.5])`, `y_k = k/M`, `M = {}`, run with \
         Appendix A.3's `gamma_1 = sqrt(M) = {}`.",
        p.b,
        fmt_num(ex1.gamma1),
        if ctx.quick {
            "quick mode; the full run uses 1e6 iterations and 10 seeds"
        } else {
            "full mode"
        },
        ex1.problem.len(),
        ex2.problem.len(),
        fmt_num(spread),
        fmt_num(w_min),
        ex3.problem.len(),
        fmt_num(ex3.gamma1),
    ));

    let mut claims = rates::section(ctx, &mut report, &examples, &cfgs, total, reps);
    variants::example3_steps(ctx, &mut report, &ex3, ex3_diameter, variant_total, variant_reps);
    claims.items.extend(compare::section(ctx, &mut report, &ex1, total, reps, adam)?.items);
    claims.items.extend(
        variants::section(ctx, &mut report, &examples, &cfgs, variant_total, variant_reps).items,
    );
    report.text(
        "## Verdicts\n\nComputed from the tables above: *reproduced* / *honest miss* when the \
         runs finished, *not converged* when a rate is still steepening at the end of the run, \
         *errored* when a run failed.",
    );
    report.claims("verdicts", claims);
    Ok(report)
}
