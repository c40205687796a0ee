//! DRAG's convergence rates on Examples 1-3 (paper Fig. 1): rates fitted on the last decade
//! of iterations with a Student-t interval, next to the claimed ones, and a verdict per
//! (example, error) that says where the rate misses and why.

use gradus_ot::examples::Example;
use gradus_ot::semidiscrete::DragConfig;
use gradus_report::stats::{FitError, RateFit, fit_cell, fit_rate};
use gradus_report::{Claim, Claims, Plot, Report, RunEnd, Scale, Series, Table};

use super::runs::{CLAIMED, METRICS, Runs, run_reps};
use crate::ctx::Ctx;

/// Confidence level of the fitted rates.
pub const LEVEL: f64 = 0.95;
/// A rate "holds" when its interval reaches within this of the claimed exponent (or beyond).
pub const TOL: f64 = 0.1;

/// The fits of one error curve: over the last decade `[T/10, T]` and the one before.
pub struct RateFits {
    /// Fit on `[T/10, T]`.
    pub last: Result<RateFit, FitError>,
    /// Fit on `[T/100, T/10]`.
    pub previous: Result<RateFit, FitError>,
}

impl RateFits {
    /// Fits `err(t)` on the last two decades of `pts`.
    pub fn of(pts: &[(f64, f64)]) -> Self {
        let end = pts.last().map_or(1.0, |p| p.0);
        let window = |lo: f64, hi: f64| -> Vec<(f64, f64)> {
            // A small relative margin keeps the shared boundary checkpoint in both windows.
            pts.iter().copied().filter(|p| p.0 >= lo * 0.999 && p.0 <= hi * 1.001).collect()
        };
        RateFits {
            last: fit_rate(&window(end / 10.0, end), LEVEL),
            previous: fit_rate(&window(end / 100.0, end / 10.0), LEVEL),
        }
    }

    /// Whether the last decade is significantly steeper than the one before (the intervals
    /// do not overlap): the curve is still bending down, i.e. in its transient.
    pub fn steepening(&self) -> bool {
        matches!((&self.last, &self.previous), (Ok(l), Ok(p)) if l.hi < p.lo)
    }

    /// Whether the last decade is significantly flatter than the one before: the error is
    /// levelling off (a floor).
    pub fn flattening(&self) -> bool {
        matches!((&self.last, &self.previous), (Ok(l), Ok(p)) if l.lo > p.hi)
    }
}

/// How a fitted rate compares with a claimed exponent.
pub fn rate_holds(fit: &RateFit, claimed: f64) -> bool {
    fit.lo <= claimed + TOL
}

/// The run end a rate claim rests on: failed runs make it errored; a miss whose curve is
/// still steepening has not reached its asymptotic regime within `total` iterations.
pub fn rate_end(runs: &Runs, fits: &RateFits, claimed: f64, total: u64) -> RunEnd {
    if let Some(e) = runs.error() {
        return RunEnd::Failed(e.to_string());
    }
    match &fits.last {
        Err(e) => RunEnd::Failed(e.to_string()),
        Ok(f) if !rate_holds(f, claimed) && fits.steepening() => RunEnd::HitCap { cap: total },
        Ok(_) => RunEnd::Converged { steps: total },
    }
}

/// Plain words for a fitted rate against the claim, computed from the fits.
pub fn reading(fits: &RateFits, claimed: f64) -> String {
    let Ok(l) = &fits.last else {
        return "no fit".into();
    };
    let prev = match &fits.previous {
        Ok(p) => format!(" (previous decade {})", p.cell()),
        Err(_) => String::new(),
    };
    if rate_holds(l, claimed) {
        if l.hi < claimed - TOL {
            format!("faster than claimed{prev}")
        } else {
            format!("consistent with t^{claimed}{prev}")
        }
    } else if fits.steepening() {
        format!("slower than claimed, still steepening{prev}: transient not over")
    } else if fits.flattening() {
        format!("slower than claimed and flattening{prev}: the error levels off")
    } else {
        format!("slower than claimed at a steady slope{prev}")
    }
}

/// Runs DRAG on `examples` (with `cfgs[i]` for example `i`), appends the slope table and
/// plots, and returns one claim per (example, error).
pub fn section(
    ctx: &Ctx,
    report: &mut Report,
    examples: &[&Example],
    cfgs: &[DragConfig],
    total: u64,
    reps: u64,
) -> Claims {
    let bar = ctx.progress(examples.len() as u64, "DRAG on Examples 1-3");
    let mut table = Table::new(&[
        "example",
        "error",
        "final (mean)",
        "fitted slope, last decade [95% CI]",
        "previous decade",
        "claimed",
        "reading",
    ]);
    let mut claims = Claims::new();
    for (i, (ex, cfg)) in examples.iter().zip(cfgs).enumerate() {
        let runs = run_reps(ex, *cfg, total, reps, gradus_core::rng::derive_seed(ctx.seed, 10));
        let mut plot = Plot::new(format!("DRAG on {}", ex.name), "iteration t", "error")
            .scales(Scale::Log, Scale::Log);
        for (w, name) in METRICS.iter().enumerate() {
            let fits = RateFits::of(&runs.log_mean_curve(w));
            let words = reading(&fits, CLAIMED[w]);
            table.row([
                ex.name.clone(),
                name.to_string(),
                runs.cell(w),
                fit_cell(&fits.last),
                fit_cell(&fits.previous),
                format!("{}", CLAIMED[w]),
                words.clone(),
            ]);
            let end = rate_end(&runs, &fits, CLAIMED[w], total);
            let mechanism = if w == 2 { cost_vs_map(&runs) } else { String::new() };
            let holds = fits.last.as_ref().is_ok_and(|f| rate_holds(f, CLAIMED[w]));
            claims.push(Claim::judge(
                format!("rate {} / {}", i + 1, name.split(' ').next().unwrap_or(name)),
                format!("{name} on {} decays like t^{}", ex.name, CLAIMED[w]),
                [&end],
                holds,
                format!(
                    "fitted {} on [{}, {}] vs claimed {}: {words}{mechanism}",
                    fit_cell(&fits.last),
                    total / 10,
                    total,
                    CLAIMED[w]
                ),
            ));
            let (pts, band) = runs.mean_curve(w);
            plot = plot.with(Series { band, ..Series::line(*name, pts.clone()) });
            if w < 2 {
                plot =
                    plot.with(reference(&pts, CLAIMED[w], if w == 0 { "t^-1" } else { "t^-1/2" }));
            }
        }
        report.plot(format!("drag_example{}", i + 1), plot);
        bar.inc(1);
    }
    bar.finish_and_clear();
    report.text(format!(
        "## DRAG on Examples 1-3 (paper Fig. 1)\n\nSlopes are least-squares fits of `log10 err` \
         on `log10 t` over the last decade of iterations (`t` in [{}, {total}], {} checkpoints \
         per decade) of the geometric mean over {reps} seeds, with a {:.0}% Student-t interval; \
         the previous decade's fit shows whether the curve is still bending. A rate is \
         reproduced when its interval reaches the claimed exponent + {TOL} or steeper; a miss \
         whose last decade is significantly steeper than the previous one (disjoint intervals) \
         is in its transient and counts as *not converged*.",
        total / 10,
        super::runs::PER_DECADE,
        100.0 * LEVEL,
    ));
    report.table("drag_slopes", table);
    claims
}

/// The ratio cost error / map error at `T/10` and `T`. In the local quadratic regime the
/// cost error falls like the square of the power-cell boundary displacement while the map
/// error falls like the displacement itself, so the ratio shrinks; a steady ratio means the
/// cost still tracks the map error (boundaries displaced by about a cell or more).
fn cost_vs_map(runs: &Runs) -> String {
    let (cost, map) = (runs.log_mean_curve(2), runs.log_mean_curve(1));
    let at = |c: &[(f64, f64)], t: f64| c.iter().find(|p| p.0 >= t * 0.999).map(|p| p.1);
    let end = cost.last().map_or(0.0, |p| p.0);
    match (at(&cost, end / 10.0), at(&map, end / 10.0), at(&cost, end), at(&map, end)) {
        (Some(c0), Some(m0), Some(c1), Some(m1)) => {
            let (r0, r1) = (c0 / m0, c1 / m1);
            let steady = (r1 / r0 - 1.0).abs() < 0.25;
            format!(
                "; cost / map error {:.3} at t = {:.0} and {:.3} at t = {end:.0}{}",
                r0,
                end / 10.0,
                r1,
                if steady {
                    " (steady: the cost still falls like the map error, so the local quadratic \
                     regime of the cost is not reached)"
                } else {
                    ""
                }
            )
        }
        _ => String::new(),
    }
}

/// A dashed reference line `C t^p` through the first point of `pts`.
fn reference(pts: &[(f64, f64)], power: f64, label: &str) -> Series {
    let (t0, e0) = pts.first().copied().unwrap_or((1.0, 1.0));
    let line = pts.iter().map(|&(t, _)| (t, e0 * (t / t0).powf(power))).collect();
    Series { dashed: true, ..Series::line(label, line) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn power(p1: f64, p2: f64) -> Vec<(f64, f64)> {
        // Slope p1 on [100, 1e5] and p2 beyond, continuous at 1e5, 8 points per decade.
        (0..=32)
            .map(|k| {
                let t = 100.0 * 10f64.powf(k as f64 / 8.0);
                let e = if t <= 1e5 { t.powf(p1) } else { 1e5f64.powf(p1) * (t / 1e5).powf(p2) };
                // A tiny deterministic wiggle so that the intervals have a width.
                (t, e * (1.0 + 0.01 * ((k * 7 % 5) as f64 - 2.0)))
            })
            .collect()
    }

    #[test]
    fn readings_follow_the_fits() {
        let f = RateFits::of(&power(-1.0, -1.0));
        assert!(rate_holds(f.last.as_ref().unwrap(), -1.0));
        assert!(reading(&f, -1.0).starts_with("consistent"));
        let f = RateFits::of(&power(-0.3, -0.6));
        assert!(f.steepening() && !f.flattening());
        assert!(!rate_holds(f.last.as_ref().unwrap(), -1.0));
        assert!(reading(&f, -1.0).contains("transient"));
        let f = RateFits::of(&power(-1.0, -0.2));
        assert!(f.flattening());
        assert!(reading(&f, -1.0).contains("levels off"));
        let runs = Runs { ok: vec![], failed: vec![] };
        assert_eq!(rate_end(&runs, &f, -1.0, 1_000_000), RunEnd::Converged { steps: 1_000_000 });
        let steep = RateFits::of(&power(-0.3, -0.6));
        assert_eq!(rate_end(&runs, &steep, -1.0, 1_000_000), RunEnd::HitCap { cap: 1_000_000 });
        let bad = Runs { ok: vec![], failed: vec!["boom".into()] };
        assert_eq!(rate_end(&bad, &f, -1.0, 10), RunEnd::Failed("boom".into()));
    }
}
