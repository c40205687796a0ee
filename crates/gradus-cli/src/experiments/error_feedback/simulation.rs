//! Section 3: the optimizers themselves run on quadratics at their tight rate.

use gradus_core::{Layout, rng};
use gradus_dist::compression::lyapunov::{v_ef, v_ef21};
use gradus_dist::compression::theory::{FunctionClass, eta_star_ef, rho_ef};
use gradus_dist::compression::worst_case::{Grid, spectral};
use gradus_dist::compression::{Compressor, Ef, Ef21, Ef21Init, Method, ScaledIdentity, TopK};
use gradus_models::data::normal;
use gradus_models::{Dense, Differentiable, Quadratic};
use gradus_optim::Optimizer;
use gradus_report::{Claim, Claims, Report, Table};

use crate::ctx::Ctx;
use crate::experiments::ExpResult;

use super::{ROUNDING, TOPK_DIM, exact};

/// A diagonal quadratic `diag(lambda) / 2` with minimiser 0.
fn diag_quadratic(lambda: &[f64]) -> ExpResult<Quadratic<f64>> {
    let d = lambda.len();
    let mut a = vec![0.0; d * d];
    for (i, l) in lambda.iter().enumerate() {
        a[i * d + i] = *l;
    }
    Ok(Quadratic::new(Dense::from_row_major(d, d, a)?, vec![0.0; d])?)
}

/// Runs EF or EF21 on `f` from `x0` and returns the Lyapunov values along the way.
fn lyapunov_trace<C: Compressor<f64> + Clone>(
    f: &mut Quadratic<f64>,
    comp: C,
    eps: f64,
    eta: f64,
    ef21: bool,
    x0: &[f64],
    steps: usize,
) -> ExpResult<Vec<f64>> {
    let d = x0.len();
    let xs = f.minimizer().to_vec();
    let layout = Layout::flat(d)?;
    let mut x = x0.to_vec();
    let mut g = vec![0.0; d];
    let mut out = Vec::with_capacity(steps);
    if ef21 {
        let mut opt = Ef21::new(layout, comp, eta, Ef21Init::Compressed, 1)?;
        for _ in 0..steps {
            f.full_loss_grad(&x, &mut g)?;
            opt.step(&mut x, &g)?;
            out.push(v_ef21(&g, opt.estimate(), eps)?);
        }
    } else {
        let mut opt = Ef::new(layout, comp, eta, 1)?;
        for _ in 0..steps {
            let z: Vec<f64> = x.iter().zip(&xs).map(|(a, b)| a - b).collect();
            out.push(v_ef(&z, opt.error(), eps)?);
            f.full_loss_grad(&x, &mut g)?;
            opt.step(&mut x, &g)?;
        }
    }
    Ok(out)
}

/// `(V_b / V_a)^(1/(b - a))` over the last half of a trace, stopping before `V` reaches the
/// rounding floor.
fn empirical_rate(trace: &[f64]) -> f64 {
    let v0 = trace[0];
    let end = trace.iter().position(|&v| v < 1e-24 * v0).unwrap_or(trace.len()).max(4);
    let (a, b) = (end / 2, end - 1);
    (trace[b] / trace[a]).powf(1.0 / (b - a) as f64)
}

pub(super) fn simulation_section(
    ctx: &Ctx,
    report: &mut Report,
    claims: &mut Claims,
) -> ExpResult<()> {
    report.text(format!(
        "## The optimizers on the worst-case and on typical instances\n\n\
         `Ef` and `Ef21` (the `Optimizer` implementations) on the 2-D quadratic diag(mu, L) \
         with the worst fixed compressor found above (C(v) = (1 - t*) v) and on a \
         {TOPK_DIM}-dimensional quadratic (eigenvalues log-spaced in [1/kappa, 1], Haar basis) with \
         top-k. The empirical rate is the geometric mean per-step factor of the Lyapunov \
         function over the second half of the run.",
    ));
    let steps = ctx.pick(400, 2000);
    let mut t = Table::new(&[
        "kappa",
        "eps",
        "instance",
        "method",
        "empirical rate",
        "theory rho",
        "empirical / theory",
    ]);
    let mut r = rng::seeded(rng::derive_seed(ctx.seed, 606));
    let (mut worst_dev, mut topk_lo, mut topk_hi) = (0.0f64, f64::INFINITY, 0.0f64);
    for kappa in [2.0, 10.0] {
        let fc = FunctionClass::with_kappa(kappa)?;
        for eps in [0.25, 0.75] {
            let (eta, rho) = (eta_star_ef(&fc, eps)?, rho_ef(&fc, eps)?);
            let w = spectral(Method::Ef, &fc, eps, eta, Grid::default())?;
            let mut f = diag_quadratic(&[fc.mu, fc.l])?;
            let x0 = [normal(&mut r), normal(&mut r)];
            for ef21 in [false, true] {
                let comp = ScaledIdentity::new(2, 1.0 - w.t.0)?;
                let trace = lyapunov_trace(&mut f, comp, eps, eta, ef21, &x0, steps)?;
                let e = empirical_rate(&trace);
                worst_dev = worst_dev.max((e / rho - 1.0).abs());
                t.row([
                    format!("{kappa}"),
                    format!("{eps}"),
                    format!("2-D, C(v) = {:.3} v", 1.0 - w.t.0),
                    if ef21 { "EF21" } else { "EF" }.into(),
                    format!("{e:.6}"),
                    format!("{rho:.6}"),
                    format!("{:.4}", e / rho),
                ]);
            }
            let d = TOPK_DIM;
            let k = ((1.0 - eps) * d as f64).round() as usize;
            let eps_k = 1.0 - k as f64 / d as f64;
            let (eta_k, rho_k) = (eta_star_ef(&fc, eps_k)?, rho_ef(&fc, eps_k)?);
            let mut f = Quadratic::ill_conditioned(d, kappa, rng::derive_seed(ctx.seed, 607))?;
            let x0: Vec<f64> = (0..d).map(|_| normal(&mut r)).collect();
            for ef21 in [false, true] {
                let trace =
                    lyapunov_trace(&mut f, TopK::new(d, k)?, eps_k, eta_k, ef21, &x0, steps)?;
                let e = empirical_rate(&trace);
                (topk_lo, topk_hi) = (topk_lo.min(e / rho_k), topk_hi.max(e / rho_k));
                t.row([
                    format!("{kappa}"),
                    format!("{eps_k}"),
                    format!("d = {d}, top-{k}"),
                    if ef21 { "EF21" } else { "EF" }.into(),
                    format!("{e:.6}"),
                    format!("{rho_k:.6}"),
                    format!("{:.4}", e / rho_k),
                ]);
            }
        }
    }
    report.table("simulated", t);
    report.text(format!(
        "On the worst-case instance the running optimizers' empirical rate deviates from the \
         tight rate by at most {worst_dev:.1e} (relative). With top-k on a random \
         {TOPK_DIM}-dimensional quadratic the empirical rate is {topk_lo:.3} to {topk_hi:.3} times \
         the bound.",
    ));
    claims.push(Claim::judge(
        "simulation",
        "EF and EF21 run at eta* reach the tight rate on the worst-case instance and stay \
         below it with top-k",
        exact(),
        worst_dev <= 1e-3 && topk_hi <= 1.0 + ROUNDING,
        format!(
            "worst-case instance: largest relative deviation {worst_dev:.1e}; top-k: empirical \
             / bound in [{topk_lo:.3}, {topk_hi:.3}] ({steps} steps)"
        ),
    ));
    Ok(())
}
