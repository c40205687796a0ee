//! The synthetic problems of paper 08 (Sec. 3) with their ground truths, and their error
//! measures: potential error modulo constants, `L^2(mu)` map error, semi-dual (cost) error.
//!
//! Examples 1 and 3 have closed-form optimal potentials and costs (spec, "derived"), and their
//! power cells depend on one coordinate only, so all three errors are computed exactly with a
//! [`LineProblem`]. Example 2 builds its weights from a random potential by Monte Carlo, so
//! that potential is optimal by construction; its errors are Monte-Carlo estimates with
//! common random numbers.

use gradus_core::{Error, Par, Result, rng};
use rand::Rng as _;

use crate::measure::DiscreteMeasure;
use crate::semidiscrete::{LineProblem, SemiDiscrete, potential_error};
use crate::source::{SampleSet, Source, UniformBox};

/// Errors of a potential against an example's ground truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Errors {
    /// `|g - g*|^2` after centring both.
    pub potential: f64,
    /// `||T(g) - T*||^2_{L^2(mu)}`.
    pub map: f64,
    /// `|H_0(g) - H_0(g*)|`, the error of the OT-cost estimate `-H_0(g)`.
    pub cost: f64,
}

/// One synthetic problem with its optimal potential and OT cost.
pub struct Example {
    /// Short name.
    pub name: String,
    /// The semi-discrete problem.
    pub problem: SemiDiscrete<UniformBox>,
    /// An optimal potential `g*` (with `g*_1 = 0`).
    pub g_star: Vec<f64>,
    /// `OT_0(mu, nu)` (closed form for Examples 1 and 3, Monte Carlo for Example 2).
    pub cost: f64,
    /// The paper's step `gamma_1`: the diameter of the source support.
    pub gamma1: f64,
    /// A radius `R` bounding both supports (for the `C_u` projection).
    pub radius: f64,
    /// Exact evaluation along the first coordinate, with the constant added to `H_0` by the
    /// other coordinates.
    line: Option<(LineProblem, f64)>,
    /// Samples for Monte-Carlo errors when there is no exact evaluation, with the power
    /// cells and the semi-dual of `g*` on them (computed once).
    eval: Option<(SampleSet, Vec<usize>, f64)>,
}

impl Example {
    /// `H_0(g)`: exact when available, otherwise a Monte-Carlo estimate.
    pub fn semi_dual(&self, g: &[f64]) -> Result<f64> {
        match (&self.line, &self.eval) {
            (Some((line, offset)), _) => Ok(line.semi_dual(g)? + offset),
            (None, Some((s, _, _))) => self.problem.semi_dual(g, 0.0, s, Par::Rayon),
            (None, None) => Err(Error::Unsupported("example without an evaluator".into())),
        }
    }

    /// Whether [`Example::errors`] is exact (no Monte-Carlo noise).
    pub fn exact(&self) -> bool {
        self.line.is_some()
    }

    /// The three errors of `g` against `g*`.
    pub fn errors(&self, g: &[f64]) -> Result<Errors> {
        let potential = potential_error(g, &self.g_star);
        match (&self.line, &self.eval) {
            (Some((line, _)), _) => Ok(Errors {
                potential,
                map: line.map_distance(g, &self.g_star)?,
                cost: (line.semi_dual(g)? - line.semi_dual(&self.g_star)?).abs(),
            }),
            (None, Some((s, star_cells, h_star))) => {
                let cells = self.problem.assign(g, s, Par::Rayon)?;
                let map = self.problem.assignment_distance(&cells, star_cells);
                // Common random numbers: the difference has far less noise than either term.
                let h = self.problem.semi_dual(g, 0.0, s, Par::Rayon)?;
                Ok(Errors { potential, map, cost: (h - h_star).abs() })
            }
            (None, None) => Err(Error::Unsupported("example without an evaluator".into())),
        }
    }
}

fn check_size(what: &'static str, v: usize, min: usize) -> Result<()> {
    if v < min {
        return Err(Error::InvalidShape { what, detail: format!("{v} < {min}") });
    }
    Ok(())
}

/// Example 1: `mu = U([0,1]^d)`, `y_j = ((j - 1/2)/M, 1/2, ..., 1/2)`, uniform weights. The
/// Voronoi cells are slabs of mass `1/M`, so `g* = 0`; `T*(x) = y_{ceil(M x_1)}`;
/// `OT = (d-1)/24 + 1/(24 M^2)`.
pub fn example1(d: usize, m: usize) -> Result<Example> {
    check_size("example 1 dimension", d, 1)?;
    check_size("example 1 targets", m, 1)?;
    let mut pts = vec![0.5; m * d];
    let first: Vec<f64> = (0..m).map(|j| (j as f64 + 0.5) / m as f64).collect();
    for (j, v) in first.iter().enumerate() {
        pts[j * d] = *v;
    }
    let target = DiscreteMeasure::uniform(d, pts)?;
    let offset = -((d - 1) as f64) / 24.0;
    let line = LineProblem::new(0.0, 1.0, first, vec![1.0; m])?;
    let source = UniformBox::cube(d, 0.0, 1.0)?;
    let gamma1 = source.diameter().unwrap_or(1.0);
    let radius = source.radius().unwrap_or(1.0);
    Ok(Example {
        name: format!("Example 1 (d = {d}, M = {m})"),
        problem: SemiDiscrete::new(source, target)?,
        g_star: vec![0.0; m],
        cost: (d - 1) as f64 / 24.0 + 1.0 / (24.0 * (m * m) as f64),
        gamma1,
        radius,
        line: Some((line, offset)),
        eval: None,
    })
}

/// Example 3: `mu = U([delta, 1 + delta])`, `y_k = k/M`, uniform weights. Cell `k` is
/// `[delta + (k-1)/M, delta + k/M)`, `g*_k = -(k-1)(delta - 1/(2M))/M`,
/// `OT = ((delta - 1/(2M))^2 + 1/(12 M^2)) / 2`.
pub fn example3(m: usize, delta: f64) -> Result<Example> {
    check_size("example 3 targets", m, 1)?;
    gradus_core::validate::non_negative("delta", delta)?;
    let mf = m as f64;
    let y: Vec<f64> = (1..=m).map(|k| k as f64 / mf).collect();
    let shift = delta - 0.5 / mf;
    let g_star: Vec<f64> = (0..m).map(|k| -(k as f64) * shift / mf).collect();
    let target = DiscreteMeasure::uniform(1, y.clone())?;
    let source = UniformBox::new(vec![delta], vec![1.0 + delta])?;
    let line = LineProblem::new(delta, 1.0 + delta, y, vec![1.0; m])?;
    Ok(Example {
        name: format!("Example 3 (M = {m}, delta = {delta})"),
        problem: SemiDiscrete::new(source, target)?,
        g_star,
        cost: 0.5 * (shift * shift + 1.0 / (12.0 * mf * mf)),
        gamma1: 1.0,
        radius: 1.0 + delta,
        line: Some((line, 0.0)),
        eval: None,
    })
}

/// Example 2: `mu = U([0,1]^d)`, `M` random targets in the cube, a random potential `g*_j =
/// spread (u_j - u_1)` with `u` uniform in `[0, 1]^M` (so `g*_1 = 0` for the `C_u` projection
/// while cell 1 is a typical cell, not the one with the smallest potential), and weights `w_j = mu(L_j(g*))` estimated
/// from `n_weights` samples, so that `g*` is optimal up to that Monte-Carlo error. Errors are
/// estimated on `n_eval` further samples.
pub fn example2(
    d: usize,
    m: usize,
    spread: f64,
    n_weights: usize,
    n_eval: usize,
    seed: u64,
) -> Result<Example> {
    gradus_core::validate::non_negative("spread", spread)?;
    let draw = Example2Draw::new(d, m, n_weights, n_eval, seed)?;
    draw.build(spread, n_weights, n_eval)
}

/// Example 2 with the spread of `g*` tuned so that the smallest weight is close to `w_min`
/// (the paper reports `w_min` about 1.1e-3 for `M = 30`): bisection on the spread, on
/// weights counted from `min(n_weights, 200000)` common samples (the smallest cell mass
/// falls as the spread grows), then the example is built with `n_weights` samples. Returns
/// the example and the spread found. Errors if `w_min` is not in `(0, 1/M)`.
pub fn example2_min_weight(
    d: usize,
    m: usize,
    w_min: f64,
    n_weights: usize,
    n_eval: usize,
    seed: u64,
) -> Result<(Example, f64)> {
    let draw = Example2Draw::new(d, m, n_weights, n_eval, seed)?;
    if !(w_min > 0.0 && w_min < 1.0 / m as f64) {
        return Err(Error::hyper("w_min", w_min, "must be in (0, 1/M)"));
    }
    let n_search = n_weights.min(200_000);
    let smallest = |spread: f64| -> Result<f64> {
        let w = draw.weights(spread, n_search)?;
        Ok(w.iter().copied().fold(f64::INFINITY, f64::min))
    };
    let mut hi = 0.05;
    while smallest(hi)? > w_min {
        hi *= 2.0;
        if hi > 1e3 {
            return Err(Error::hyper("w_min", w_min, "no spread reaches this smallest weight"));
        }
    }
    let mut lo = 0.0;
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        if smallest(mid)? > w_min { lo = mid } else { hi = mid }
    }
    // `lo` keeps every cell non-empty on the search samples.
    Ok((draw.build(lo, n_weights, n_eval)?, lo))
}

/// The random part of Example 2: targets and the unit draws scaled into `g*`.
struct Example2Draw {
    d: usize,
    pts: Vec<f64>,
    unit: Vec<f64>,
    source: UniformBox,
    seed: u64,
}

impl Example2Draw {
    fn new(d: usize, m: usize, n_weights: usize, n_eval: usize, seed: u64) -> Result<Self> {
        check_size("example 2 dimension", d, 1)?;
        check_size("example 2 targets", m, 2)?;
        check_size("example 2 weight samples", n_weights, m)?;
        check_size("example 2 evaluation samples", n_eval, 1)?;
        let mut r = rng::seeded(rng::derive_seed(seed, 1));
        let pts: Vec<f64> = (0..m * d).map(|_| r.random::<f64>()).collect();
        // Shifted so that g*_1 = 0. Pinning at the smallest draw instead would make cell 1
        // (the coordinate C_u holds fixed) systematically the smallest cell, whose tiny
        // weight then governs how fast every other potential can shift against it.
        let mut unit: Vec<f64> = (0..m).map(|_| r.random::<f64>()).collect();
        let u1 = unit[0];
        unit.iter_mut().for_each(|u| *u -= u1);
        Ok(Example2Draw { d, pts, unit, source: UniformBox::cube(d, 0.0, 1.0)?, seed })
    }

    fn g_star(&self, spread: f64) -> Vec<f64> {
        self.unit.iter().map(|u| spread * u).collect()
    }

    /// `mu(L_j(g*))` estimated from `n` samples (the first `n` of one fixed stream, so
    /// calls with different spreads use common random numbers).
    fn weights(&self, spread: f64, n: usize) -> Result<Vec<f64>> {
        let m = self.unit.len();
        let target = DiscreteMeasure::uniform(self.d, self.pts.clone())?;
        let provisional = SemiDiscrete::new(self.source.clone(), target)?;
        let g_star = self.g_star(spread);
        // Counted in blocks so that 1e7 draws never sit in memory at once.
        let mut w = vec![0.0; m];
        let block = 100_000;
        for (b, start) in (0..n).step_by(block).enumerate() {
            let len = block.min(n - start);
            let draws =
                SampleSet::draw(&self.source, len, rng::derive_seed(self.seed, 1000 + b as u64));
            let masses = provisional.cell_masses(&g_star, &draws, Par::Rayon)?;
            for (acc, v) in w.iter_mut().zip(masses) {
                *acc += v * len as f64 / n as f64;
            }
        }
        Ok(w)
    }

    fn build(&self, spread: f64, n_weights: usize, n_eval: usize) -> Result<Example> {
        let (d, m) = (self.d, self.unit.len());
        let w = self.weights(spread, n_weights)?;
        if let Some(j) = w.iter().position(|&v| v == 0.0) {
            return Err(Error::InvalidShape {
                what: "example 2 weights",
                detail: format!("cell {j} of the drawn potential is empty; lower `spread`"),
            });
        }
        let source = self.source.clone();
        let problem =
            SemiDiscrete::new(source.clone(), DiscreteMeasure::new(d, self.pts.clone(), w)?)?;
        let g_star = self.g_star(spread);
        let eval = SampleSet::draw(&source, n_eval, rng::derive_seed(self.seed, 3));
        let cost = problem.ot_cost(&g_star, &eval, Par::Rayon)?;
        let star_cells = problem.assign(&g_star, &eval, Par::Rayon)?;
        Ok(Example {
            name: format!("Example 2 (d = {d}, M = {m})"),
            problem,
            g_star,
            cost,
            gamma1: source.diameter().unwrap_or(1.0),
            radius: source.radius().unwrap_or(1.0),
            line: None,
            eval: Some((eval, star_cells, -cost)),
        })
    }
}
