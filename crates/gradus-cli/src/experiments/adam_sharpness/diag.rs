//! The diagonal linear network `w = u*u - v*v` for sparse regression (spec: "Diagonal linear
//! network for sparse regression"): instances, per-run metrics, and the report's table and
//! plots.

use gradus_core::rng::seeded;
use gradus_models::data::{gaussian_matrix, normal};
use gradus_models::{DiagParam, DiagonalNet};
use gradus_report::{Plot, Scale, Series, Table, fmt_num};
use rand::seq::SliceRandom;

use super::runner::{Method, Point, Run};
use super::stats::Summary;
use crate::experiments::ExpResult;

/// A sparse-regression instance: `n` samples in dimension `d`, `s`-sparse `w*` with entries
/// `+-1`, `x ~ N(0, I)`.
#[derive(Debug, Clone, Copy)]
pub struct Instance {
    /// Short name used in file names.
    pub key: &'static str,
    /// Dimension.
    pub d: usize,
    /// Samples.
    pub n: usize,
    /// Non-zeros of `w*`.
    pub s: usize,
}

impl Instance {
    /// `d = 100, n = 40, s = 5` (the spec's SUGGESTED set-up).
    pub const EASY: Instance = Instance { key: "n40-s5", d: 100, n: 40, s: 5 };
    /// `n = 25, s = 9`: near the l1 recovery threshold, where the l1 and l_{1/2} biases can
    /// select different solutions.
    pub const HARD: Instance = Instance { key: "n25-s9", d: 100, n: 25, s: 9 };

    /// `d = .., n = .., s = ..`.
    pub fn label(&self) -> String {
        format!("d = {}, n = {}, s = {}", self.d, self.n, self.s)
    }
}

/// A drawn instance.
pub struct Problem {
    /// The model with noise-free targets.
    pub net: DiagonalNet,
    /// The planted weights.
    pub w_star: Vec<f64>,
}

/// Draws `inst` from `seed`.
pub fn problem(inst: Instance, seed: u64) -> ExpResult<Problem> {
    let mut r = seeded(seed);
    let x = gaussian_matrix::<f64>(inst.n, inst.d, &mut r);
    let mut idx: Vec<usize> = (0..inst.d).collect();
    idx.shuffle(&mut r);
    let mut w_star = vec![0.0; inst.d];
    for &i in &idx[..inst.s] {
        w_star[i] = if normal(&mut r) > 0.0 { 1.0 } else { -1.0 };
    }
    let y = x
        .as_slice()
        .chunks_exact(x.cols().max(1))
        .map(|row| row.iter().zip(&w_star).map(|(a, b)| a * b).sum())
        .collect();
    Ok(Problem { net: DiagonalNet::new(x, y, DiagParam::SquareDifference)?, w_star })
}

/// Entries with `|w_i|` above this count as support (the spec's threshold).
pub const SUPPORT_THRESHOLD: f64 = 1e-2;

/// Index of each extra metric in [`Point::extra`].
pub const TEST: usize = 0;
/// Support count.
pub const SUPPORT: usize = 1;
/// Participation ratio `(sum |w|)^2 / sum w^2`.
pub const RATIO: usize = 2;

/// The per-observation metrics of a run on `p`: test error `|w - w*|^2` (the expected squared
/// error on fresh `x ~ N(0, I)`), support count and participation ratio.
pub fn metrics(p: &Problem) -> impl FnMut(&[f64]) -> [f64; 4] + Send + 'static {
    let (net, w_star) = (p.net.clone(), p.w_star.clone());
    let mut w = vec![0.0; w_star.len()];
    move |theta| {
        // The trainer hands over parameters of the layout's length, so this cannot fail; a
        // failure would show as NaN metrics rather than stop the run.
        if net.weights(theta, &mut w).is_err() {
            return [f64::NAN; 4];
        }
        let test: f64 = w.iter().zip(&w_star).map(|(a, b)| (a - b).powi(2)).sum();
        let support = w.iter().filter(|v| v.abs() > SUPPORT_THRESHOLD).count() as f64;
        let l1: f64 = w.iter().map(|v| v.abs()).sum();
        let l2: f64 = w.iter().map(|v| v * v).sum();
        [test, support, if l2 > 0.0 { l1 * l1 / l2 } else { 0.0 }, 0.0]
    }
}

/// The balanced measures of the solution a run found: `(4 sum c_i |w_i|, 2 sum sqrt(c_i |w_i|))`,
/// the minima of `tr(H)` and `tr(Diag(H)^{1/2})` over the `(u, v)` giving its `w` (spec (f)):
/// which minimiser a method selected, without its distance from balance.
pub fn solution_measures(p: &Problem, run: &Run) -> Option<(f64, f64)> {
    if matches!(run.end, gradus_report::RunEnd::Failed(_)) || run.params.is_empty() {
        return None;
    }
    let mut w = vec![0.0; p.w_star.len()];
    p.net.weights(&run.params, &mut w).ok()?;
    p.net.measures_minimum(&w).ok()
}

/// Per-seed values of `f` at the end of the converged runs (`None` elsewhere).
pub fn at_end(runs: &[Run], f: impl Fn(&Point) -> f64) -> Vec<Option<f64>> {
    runs.iter().map(|r| r.end.converged().then(|| r.last().map(&f)).flatten()).collect()
}

/// Summary over the converged runs of `f` at the end.
pub fn end_summary(runs: &[Run], f: impl Fn(&Point) -> f64) -> Summary {
    Summary::of(&at_end(runs, f).into_iter().flatten().collect::<Vec<_>>())
}

/// The results table of one instance: one row per `(label, method, runs)`, run `k` on
/// `problems[k]`.
pub fn table(rows: &[(String, &Method, &[Run])], problems: &[Problem]) -> Table {
    let mut t = Table::new(&[
        "optimizer",
        "lr",
        "runs converged",
        "median steps",
        "train loss",
        "test error |w-w*|^2",
        "support (|w_i| > 1e-2)",
        "participation ratio",
        "tr(H) entry -> end",
        "tr(Diag(H)^1/2) entry -> end",
        "4 sum c|w| (l1 measure)",
        "2 sum sqrt(c|w|) (l1/2 measure)",
    ]);
    for (label, m, runs) in rows {
        let sol: Vec<Option<(f64, f64)>> =
            runs.iter().zip(problems).map(|(r, p)| solution_measures(p, r)).collect();
        let ok: Vec<&Run> = runs.iter().filter(|r| r.end.converged()).collect();
        let failed: Vec<String> = runs
            .iter()
            .filter_map(|r| match &r.end {
                gradus_report::RunEnd::Failed(_) => Some(r.end.cell()),
                _ => None,
            })
            .collect();
        let mut steps: Vec<f64> =
            ok.iter().filter_map(|r| r.last().map(|p| p.step as f64)).collect();
        steps.sort_by(f64::total_cmp);
        let entry = |f: fn(&Point) -> f64| {
            Summary::of(&ok.iter().filter_map(|r| r.at_entry().map(f)).collect::<Vec<_>>())
        };
        let sols = |k: usize| {
            Summary::of(
                &sol.iter()
                    .zip(runs.iter())
                    .filter(|(_, r)| r.end.converged())
                    .filter_map(|(s, _)| s.map(|s| if k == 0 { s.0 } else { s.1 }))
                    .collect::<Vec<_>>(),
            )
        };
        t.row([
            label.clone(),
            fmt_num(m.lr()),
            if failed.is_empty() {
                format!("{}/{}", ok.len(), runs.len())
            } else {
                format!("{}/{} ({})", ok.len(), runs.len(), failed.join("; "))
            },
            steps.get(steps.len() / 2).map_or("-".into(), |s| fmt_num(*s)),
            end_summary(runs, |p| p.loss).cell(),
            end_summary(runs, |p| p.extra[TEST]).cell(),
            end_summary(runs, |p| p.extra[SUPPORT]).cell(),
            end_summary(runs, |p| p.extra[RATIO]).cell(),
            format!(
                "{} -> {}",
                fmt_num(entry(|p| p.trace).mean),
                fmt_num(end_summary(runs, |p| p.trace).mean)
            ),
            format!(
                "{} -> {}",
                fmt_num(entry(|p| p.sqrt_diag).mean),
                fmt_num(end_summary(runs, |p| p.sqrt_diag).mean)
            ),
            sols(0).cell(),
            sols(1).cell(),
        ]);
    }
    t
}

/// The median over seeds of `get` at each observation that at least half of the runs reached.
fn median_curve(runs: &[Run], get: fn(&Point) -> f64) -> Vec<(f64, f64)> {
    let len = runs.iter().map(|r| r.points.len()).max().unwrap_or(0);
    (1..len)
        .filter_map(|k| {
            let mut v: Vec<f64> = runs.iter().filter_map(|r| r.points.get(k).map(get)).collect();
            if 2 * v.len() < runs.len() || v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            let step = runs.iter().find_map(|r| r.points.get(k))?.step as f64;
            Some((step, v[v.len() / 2]))
        })
        .collect()
}

/// The four panels of one instance (median over seeds, log step axis).
pub fn plots(label: &str, rows: &[(&Method, &[Run])]) -> Vec<(&'static str, Plot)> {
    type Getter = fn(&Point) -> f64;
    let panels: [(&str, &str, Getter, Scale); 4] = [
        ("trace-h", "tr(H)", |p| p.trace, Scale::Linear),
        ("trace-sqrt-diag", "tr(Diag(H)^1/2)", |p| p.sqrt_diag, Scale::Linear),
        ("support", "support |w_i| > 1e-2", |p| p.extra[SUPPORT], Scale::Linear),
        ("test-error", "test error |w - w*|^2", |p| p.extra[TEST], Scale::Log),
    ];
    panels
        .into_iter()
        .map(|(file, name, get, yscale)| {
            let mut plot =
                Plot::new(format!("Diagonal net ({label}) with label noise: {name}"), "step", name)
                    .scales(Scale::Log, yscale);
            for (m, runs) in rows {
                plot = plot.with(Series::line(
                    format!("{} (lr {})", m.name, fmt_num(m.lr())),
                    median_curve(runs, get),
                ));
            }
            (file, plot)
        })
        .collect()
}
