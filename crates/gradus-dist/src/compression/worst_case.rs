//! Worst cases of CGD, EF and EF21 over quadratics, computed exactly or by exhaustive search,
//! to set beside the tight rates of [`super::theory`] (paper 06, "Simulation experiments a
//! Rust engine can run").
//!
//! Quadratics are a subset of `F_{mu,L}`, so every number here is a lower bound on the
//! worst case over the class; at the optimal steps it meets the closed forms.
//!
//! - [`one_step_lyapunov`]: the largest one-step ratio `V_{k+1} / V_k` of EF's or EF21's
//!   Lyapunov function over quadratics with eigenvalues in `[mu, L]`, all states, and all
//!   compressors in the ball. Both `V`s after the step depend on the compressor error `w`
//!   only through `||w||^2` (for EF `x_{k+1} - e_{k+1} = x_k - v_k`; for EF21
//!   `grad f(x_{k+1}) - d_{k+1} = w`), so the adversary takes `||w||^2 = eps ||v||^2`; the
//!   ratio then splits over the eigen-directions of the Hessian into 2x2 generalised
//!   eigenvalue problems, solved in closed form.
//! - [`spectral`]: the asymptotic rate (spectral radius of the linear iteration, squared to
//!   compare with rates of squared quantities) on one-dimensional quadratics `lambda x^2/2`
//!   with the linear compressor `C(v) = (1 - t) v`, `|t| <= s`, fixed or alternating with
//!   period 2 (a worst-case 2-cycle). It needs no Lyapunov function.
//! - [`cgd_one_step_2d`]: CGD's one-step ratio `(f(x_{k+1}) - f*) / (f(x_k) - f*)` on the
//!   quadratic `diag(mu, L)`, maximised over the direction of `x - x*` and of the compressor
//!   error (on the boundary of the ball) by grid search.

use gradus_core::numeric::linspace;
use gradus_core::{Error, Result};

use super::method::Method;
use super::theory::{FunctionClass, sqrt_eps};

/// A worst case found by one of the searches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorstCase {
    /// The rate (per-step factor of a squared quantity).
    pub rate: f64,
    /// The curvature `lambda` in `[mu, L]` attaining it.
    pub lambda: f64,
    /// The compressor parameters `(t_1, t_2)` (equal for a fixed compressor; unused by
    /// [`one_step_lyapunov`], where only `||w||` matters).
    pub t: (f64, f64),
    /// 1 for a fixed compressor, 2 when an alternating compressor is worse.
    pub period: u8,
}

/// Search resolution for [`spectral`] and [`one_step_lyapunov`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Points of `lambda` in `[mu, L]`, both ends included (at least 2).
    pub lambdas: usize,
    /// Points of a fixed `t` in `[-s, s]` (at least 2).
    pub ts: usize,
    /// Points per `t_i` of the alternating pairs (0: no 2-cycles searched).
    pub alternating: usize,
}

impl Default for Grid {
    fn default() -> Self {
        Grid { lambdas: 101, ts: 41, alternating: 9 }
    }
}

fn check_grid(n: usize, field: &'static str) -> Result<()> {
    if n < 2 {
        return Err(Error::hyper(field, n as f64, "needs at least 2 points"));
    }
    Ok(())
}

/// Largest `t` with `det(A - t B) = 0` for symmetric 2x2 `A` and symmetric positive
/// definite `B`: the maximum of `u^T A u / u^T B u`.
fn generalized_max(a: [[f64; 2]; 2], b: [[f64; 2]; 2]) -> f64 {
    let det_a = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let det_b = b[0][0] * b[1][1] - b[0][1] * b[1][0];
    let p = a[0][0] * b[1][1] + a[1][1] * b[0][0] - 2.0 * a[0][1] * b[0][1];
    let disc = (p * p - 4.0 * det_a * det_b).max(0.0);
    (p + disc.sqrt()) / (2.0 * det_b)
}

/// Spectral radius of a real 2x2 matrix.
fn spectral_radius(m: [[f64; 2]; 2]) -> f64 {
    let tr = m[0][0] + m[1][1];
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let disc = tr * tr - 4.0 * det;
    if disc >= 0.0 { (tr.abs() + disc.sqrt()) / 2.0 } else { det.abs().sqrt() }
}

fn mul(a: [[f64; 2]; 2], b: [[f64; 2]; 2]) -> [[f64; 2]; 2] {
    [
        [a[0][0] * b[0][0] + a[0][1] * b[1][0], a[0][0] * b[0][1] + a[0][1] * b[1][1]],
        [a[1][0] * b[0][0] + a[1][1] * b[1][0], a[1][0] * b[0][1] + a[1][1] * b[1][1]],
    ]
}

/// The iteration matrix of one step of `method` on `lambda x^2 / 2` with `C(v) = (1 - t) v`.
/// CGD's scalar iteration sits in the top-left entry.
pub fn iteration_matrix(method: Method, eta: f64, lambda: f64, t: f64) -> [[f64; 2]; 2] {
    let h = eta * lambda;
    match method {
        Method::Cgd => [[1.0 - (1.0 - t) * h, 0.0], [0.0, 0.0]],
        // State (x - x*, e): v = e + h z, z' = z - (1 - t) v, e' = t v.
        Method::Ef => [[1.0 - (1.0 - t) * h, -(1.0 - t)], [t * h, t]],
        // State (x - x*, d): z' = z - eta d, d' = d + (1 - t)(lambda z' - d).
        Method::Ef21 => [[1.0, -eta], [(1.0 - t) * lambda, t - (1.0 - t) * h]],
    }
}

/// The asymptotic worst case of `method` with step `eta` over 1-D quadratics and linear
/// compressors in the ball (see the module documentation). EF and EF21 have the same
/// iteration trace and determinant for every `(lambda, t)`, hence the same value.
pub fn spectral(
    method: Method,
    fc: &FunctionClass,
    eps: f64,
    eta: f64,
    grid: Grid,
) -> Result<WorstCase> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    gradus_core::validate::positive("eta", eta)?;
    check_grid(grid.lambdas, "lambdas")?;
    check_grid(grid.ts, "ts")?;
    let mut best = WorstCase { rate: -1.0, lambda: fc.mu, t: (0.0, 0.0), period: 1 };
    for lambda in linspace(fc.mu, fc.l, grid.lambdas) {
        for t in linspace(-s, s, grid.ts) {
            let r = spectral_radius(iteration_matrix(method, eta, lambda, t)).powi(2);
            if r > best.rate {
                best = WorstCase { rate: r, lambda, t: (t, t), period: 1 };
            }
        }
        if grid.alternating >= 2 {
            for t1 in linspace(-s, s, grid.alternating) {
                let m1 = iteration_matrix(method, eta, lambda, t1);
                for t2 in linspace(-s, s, grid.alternating) {
                    let m2 = iteration_matrix(method, eta, lambda, t2);
                    let r = spectral_radius(mul(m2, m1));
                    // A 2-cycle counts only when it beats every fixed compressor clearly.
                    if r > best.rate * (1.0 + 1e-9) {
                        best = WorstCase { rate: r, lambda, t: (t1, t2), period: 2 };
                    }
                }
            }
        }
    }
    Ok(best)
}

/// The largest one-step ratio of the optimal Lyapunov function of EF ([`super::lyapunov::v_ef`])
/// or EF21 ([`super::lyapunov::v_ef21`]) over quadratics with spectrum in `[mu, L]`
/// (`lambdas` grid points, ends included), all states and all compressors in the ball,
/// for any step `eta`. At `eta*` it equals the tight rate. Errors for CGD (use
/// [`cgd_one_step_2d`]) and for `eps = 0`.
pub fn one_step_lyapunov(
    method: Method,
    fc: &FunctionClass,
    eps: f64,
    eta: f64,
    lambdas: usize,
) -> Result<WorstCase> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    gradus_core::validate::positive("eta", eta)?;
    check_grid(lambdas, "lambdas")?;
    if s == 0.0 {
        return Err(Error::hyper("eps", eps, "must be > 0"));
    }
    let mut best = WorstCase { rate: -1.0, lambda: fc.mu, t: (s, s), period: 1 };
    for lambda in linspace(fc.mu, fc.l, lambdas) {
        let h = eta * lambda;
        let (a, b) = match method {
            Method::Ef => {
                // V' = (a z - e)^2 + s (e + h z)^2 with a = 1 - h, since ||w||^2 / s = s ||v||^2.
                let a1 = 1.0 - h;
                let off = -a1 + s * h;
                ([[a1 * a1 + s * h * h, off], [off, 1.0 + s]], [[1.0, -1.0], [-1.0, 1.0 + 1.0 / s]])
            }
            Method::Ef21 => {
                // g' = g - h d, V' = eps (g' - d)^2 + s g'^2.
                let off = -eps * (1.0 + h) - s * h;
                (
                    [[eps + s, off], [off, eps * (1.0 + h).powi(2) + s * h * h]],
                    [[1.0 + s, -1.0], [-1.0, 1.0]],
                )
            }
            Method::Cgd => {
                return Err(Error::Unsupported(
                    "one_step_lyapunov covers EF and EF21; use cgd_one_step_2d for CGD".into(),
                ));
            }
        };
        let r = generalized_max(a, b);
        if r > best.rate {
            best = WorstCase { rate: r, lambda, t: (s, s), period: 1 };
        }
    }
    Ok(best)
}

/// CGD's largest one-step ratio of `f - f*` on `f(x) = (mu x_1^2 + L x_2^2)/2` with a
/// compressor error of norm `s ||g||`, over `n` directions of `x - x*` (in `[0, pi)`) and
/// `2n` directions of the error. Returns the rate (`lambda` and `t` are unused).
pub fn cgd_one_step_2d(fc: &FunctionClass, eps: f64, eta: f64, n: usize) -> Result<WorstCase> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    gradus_core::validate::positive("eta", eta)?;
    check_grid(n, "directions")?;
    let h = [fc.mu, fc.l];
    let mut best = WorstCase { rate: -1.0, lambda: fc.mu, t: (s, s), period: 1 };
    for i in 0..n {
        let phi = std::f64::consts::PI * i as f64 / n as f64;
        let z = [phi.cos(), phi.sin()];
        let g = [h[0] * z[0], h[1] * z[1]];
        let f0 = 0.5 * (h[0] * z[0] * z[0] + h[1] * z[1] * z[1]);
        let r = s * (g[0] * g[0] + g[1] * g[1]).sqrt();
        for j in 0..2 * n {
            let theta = std::f64::consts::PI * j as f64 / n as f64;
            let w = [r * theta.cos(), r * theta.sin()];
            let zp = [z[0] - eta * (g[0] - w[0]), z[1] - eta * (g[1] - w[1])];
            let f1 = 0.5 * (h[0] * zp[0] * zp[0] + h[1] * zp[1] * zp[1]);
            if f1 / f0 > best.rate {
                best.rate = f1 / f0;
                best.lambda = if z[0].abs() >= z[1].abs() { fc.mu } else { fc.l };
            }
        }
    }
    Ok(best)
}

/// How the worst case of [`spectral`] loses stability just above a [`stability_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instability {
    /// No loss of stability: the rate stays below 1 for every step up to `100 / mu`.
    None,
    /// A 2-cycle of an alternating compressor is the first unstable case.
    AlternatingCycle,
    /// A complex pair of eigenvalues of the iteration crosses the unit circle.
    ComplexPair,
    /// An eigenvalue crosses -1 (a 2-cycle of the iteration).
    MinusOne,
    /// An eigenvalue crosses +1.
    PlusOne,
}

impl Instability {
    /// A phrase for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Instability::None => "stable on the whole range",
            Instability::AlternatingCycle => "2-cycle of an alternating compressor",
            Instability::ComplexPair => "complex pair on the unit circle",
            Instability::MinusOne => "eigenvalue -1: a 2-cycle",
            Instability::PlusOne => "eigenvalue +1",
        }
    }
}

/// The largest step below which the [`spectral`] worst rate of `method` stays under 1, and
/// how the worst case loses stability just above it. The search starts from a step
/// `stable` whose rate is below 1, grows it by factors of 1.25 until the rate reaches 1
/// (giving up at `100 / mu`: the limit is then infinite), then bisects 50 times; the
/// returned step is the stable end of the final bracket.
///
/// Errors on the inputs [`spectral`] rejects, or if `stable` is not a stable step.
pub fn stability_limit(
    method: Method,
    fc: &FunctionClass,
    eps: f64,
    stable: f64,
    grid: Grid,
) -> Result<(f64, Instability)> {
    let rate = |eta: f64| spectral(method, fc, eps, eta, grid).map(|w| w.rate);
    if !(rate(stable)? < 1.0) {
        return Err(Error::hyper("stable", stable, "the worst rate at this step is not below 1"));
    }
    let (mut lo, mut hi) = (stable, stable * 1.25);
    while rate(hi)? < 1.0 {
        lo = hi;
        hi *= 1.25;
        if hi > 100.0 / fc.mu {
            return Ok((f64::INFINITY, Instability::None));
        }
    }
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if rate(mid)? < 1.0 { lo = mid } else { hi = mid }
    }
    let w = spectral(method, fc, eps, hi * (1.0 + 1e-6), grid)?;
    if w.period == 2 {
        return Ok((lo, Instability::AlternatingCycle));
    }
    let m = iteration_matrix(method, hi, w.lambda, w.t.0);
    let (tr, det) = (m[0][0] + m[1][1], m[0][0] * m[1][1] - m[0][1] * m[1][0]);
    let kind = if tr * tr - 4.0 * det < 0.0 {
        Instability::ComplexPair
    } else if tr < 0.0 {
        Instability::MinusOne
    } else {
        Instability::PlusOne
    };
    Ok((lo, kind))
}
