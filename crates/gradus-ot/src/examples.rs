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

/// Example 2: `mu = U([0,1]^d)`, `M` random targets in the cube, a random potential `g*`
/// (`g*_1 = 0`, others uniform in `[0, spread]`), and weights `w_j = mu(L_j(g*))` estimated
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
    check_size("example 2 dimension", d, 1)?;
    check_size("example 2 targets", m, 2)?;
    check_size("example 2 weight samples", n_weights, m)?;
    check_size("example 2 evaluation samples", n_eval, 1)?;
    gradus_core::validate::non_negative("spread", spread)?;
    let mut r = rng::seeded(rng::derive_seed(seed, 1));
    let pts: Vec<f64> = (0..m * d).map(|_| r.random::<f64>()).collect();
    let mut g_star: Vec<f64> = (0..m).map(|_| spread * r.random::<f64>()).collect();
    g_star[0] = 0.0;
    let source = UniformBox::cube(d, 0.0, 1.0)?;
    let provisional = SemiDiscrete::new(source.clone(), DiscreteMeasure::uniform(d, pts.clone())?)?;
    // Counted in blocks so that 1e7 draws never sit in memory at once.
    let mut w = vec![0.0; m];
    let block = 100_000;
    for (b, start) in (0..n_weights).step_by(block).enumerate() {
        let len = block.min(n_weights - start);
        let draws = SampleSet::draw(&source, len, rng::derive_seed(seed, 1000 + b as u64));
        let masses = provisional.cell_masses(&g_star, &draws, Par::Rayon)?;
        for (acc, v) in w.iter_mut().zip(masses) {
            *acc += v * len as f64 / n_weights as f64;
        }
    }
    if let Some(j) = w.iter().position(|&v| v == 0.0) {
        return Err(Error::InvalidShape {
            what: "example 2 weights",
            detail: format!("cell {j} of the drawn potential is empty; lower `spread`"),
        });
    }
    let problem = SemiDiscrete::new(source.clone(), DiscreteMeasure::new(d, pts, w)?)?;
    let eval = SampleSet::draw(&source, n_eval, rng::derive_seed(seed, 3));
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
