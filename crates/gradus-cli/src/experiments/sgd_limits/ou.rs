//! Section 4: fluctuations at a stable fixed point, on the sphere (`|x| = 1`, so `m` is the
//! only order parameter). Near `m*` the rescaled deviation `sqrt(N) (m - m*)` follows the
//! linearised SDE `du = -a u dtau + sqrt(b) dB`, an Ornstein-Uhlenbeck process with stationary
//! variance `b / (2a)`: `a = -d(drift)/dm` at `m*`, `b = kappa Var(one-sample increment /
//! delta)`. The simulation's stationary variance is compared with it, with a confidence
//! interval from independent seeds.

use gradus_models::teacher_student::{Activation, Init, OnlineSgd, SgdConfig, SingleIndexOde};
use gradus_report::{Claim, Claims, Report, RunEnd, Table, fmt_num};
use rayon::prelude::*;

use super::t975;
use crate::ctx::Ctx;
use crate::experiments::ExpResult;
use crate::experiments::common::mean_std;

const C: f64 = 1.0;
const NOISE: f64 = 0.5;
/// Burn-in and sampling interval in relaxation times `1/a`.
const BURN_IN: f64 = 5.0;
const SPACING: f64 = 0.25;

pub fn section(ctx: &Ctx, report: &mut Report) -> ExpResult<Claims> {
    let n = ctx.pick(1000, 2000);
    let seeds: u64 = ctx.pick(6, 16);
    let relaxations = ctx.pick(60.0, 200.0);
    let ode = SingleIndexOde::new(Activation::Erf, C, NOISE, 48)?;
    let m_star = ode.sphere_fixed_point(0.5, 100.0)?;
    let (a, b, var) = ode.sphere_ou(m_star)?;
    let burn = BURN_IN / a;
    let window = relaxations / a;
    let samples = (relaxations / SPACING).round() as usize;
    report.text(format!(
        "## 4. Ornstein-Uhlenbeck fluctuations at the fixed point\n\nSpherical model, erf \
         units, `c = {}`, `Delta = {}`: the critical ODE's stable fixed point is `m* = {}`, \
         mean-reversion rate `a = {}` (relaxation time {}), diffusion `b = {}`, so the \
         linearised SDE predicts `Var sqrt(N)(m - m*) = b / (2a) = {}`. Simulation: N = {}, {} \
         seeds started at `m*`, burn-in {} relaxation times, then {} samples of `sqrt(N)(m - m*)` \
         every {} relaxation times ({} relaxation times in all). Per-seed variances (about the \
         pooled mean) are independent; the interval is their mean +- t(0.975) s.e.",
        fmt_num(C),
        fmt_num(NOISE),
        fmt_num(m_star),
        fmt_num(a),
        fmt_num(1.0 / a),
        fmt_num(b),
        fmt_num(var),
        n,
        seeds,
        fmt_num(BURN_IN),
        samples + 1,
        fmt_num(SPACING),
        fmt_num(relaxations),
    ));
    let times: Vec<f64> =
        (0..=samples).map(|i| burn + window * i as f64 / samples as f64).collect();
    let cfg =
        SgdConfig { spherical: true, ..SgdConfig::single_index(n, Activation::Erf, C, NOISE) };
    let runs: Vec<(RunEnd, Vec<f64>)> = (0..seeds)
        .into_par_iter()
        .map(|s| {
            let seed = gradus_core::rng::derive_seed(ctx.seed, 4000 + s);
            let r = OnlineSgd::new(cfg, Init::Aligned { r0: m_star, q0: 1.0 }, seed).and_then(
                |mut sim| {
                    let rec = sim.record(&times)?;
                    Ok((sim.steps(), rec))
                },
            );
            match r {
                Ok((steps, rec)) => {
                    (RunEnd::Converged { steps }, rec.iter().map(|o| o.r[0]).collect())
                }
                Err(e) => (RunEnd::Failed(e.to_string()), Vec::new()),
            }
        })
        .collect();
    let sq = (n as f64).sqrt();
    let ok: Vec<&Vec<f64>> = runs.iter().filter(|r| r.0.converged()).map(|r| &r.1).collect();
    let ends: Vec<RunEnd> = runs.iter().map(|r| r.0.clone()).collect();
    let mut claims = Claims::new();
    let statement = "Near a stable fixed point sqrt(N)(m - m*) is Ornstein-Uhlenbeck with the linearised-SDE stationary variance b/(2a)";
    if ok.len() < 2 {
        claims.push(Claim::judge("4", statement, &ends, false, "fewer than two runs finished"));
        return Ok(claims);
    }
    let all: Vec<f64> = ok.iter().flat_map(|r| r.iter().copied()).collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let per_seed: Vec<f64> = ok
        .iter()
        .map(|r| r.iter().map(|x| (sq * (x - mean)).powi(2)).sum::<f64>() / r.len() as f64)
        .collect();
    let (est, sd) = mean_std(&per_seed);
    let half = t975(per_seed.len() - 1) * sd / (per_seed.len() as f64).sqrt();
    // Lag-one autocorrelation over one sampling interval against e^{-a dtau}.
    let lag = SPACING / a;
    let (mut num, mut den) = (0.0, 0.0);
    for r in &ok {
        for w in r.windows(2) {
            num += (w[0] - mean) * (w[1] - mean);
        }
        den += r.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
    }
    let rho = num / den;
    let mut t = Table::new(&["quantity", "simulated", "95% CI", "linearised SDE"]);
    t.row([
        "Var sqrt(N)(m - m*)".to_string(),
        fmt_num(est),
        format!("[{}, {}]", fmt_num(est - half), fmt_num(est + half)),
        fmt_num(var),
    ]);
    t.row([
        "mean sqrt(N)(m - m*)".to_string(),
        fmt_num(sq * (mean - m_star)),
        "".into(),
        "0 (+ O(N^-1/2))".into(),
    ]);
    t.row([
        format!("autocorrelation at lag tau = {}", fmt_num(lag)),
        fmt_num(rho),
        "".into(),
        fmt_num((-a * lag).exp()),
    ]);
    report.table("ou-variance", t);
    claims.push(Claim::judge(
        "4",
        statement,
        &ends,
        (est - var).abs() <= half,
        format!(
            "simulated {} +- {} (95%), predicted {}",
            fmt_num(est),
            fmt_num(half),
            fmt_num(var)
        ),
    ));
    Ok(claims)
}
