//! Baselines: the sample covariance, its projection onto Toeplitz matrices, a
//! maximum-likelihood Toeplitz estimate by Fisher scoring on the lags (a different method from
//! the paper's gradient descent, in the spirit of Newton ML solvers such as `nml-toeplitz`),
//! and the Cramer-Rao bound on the first row (Slepian-Bangs).

use faer::Mat;
use faer::linalg::solvers::Solve;
use gradus_core::validate::same_len;
use gradus_core::{Error, Result};
use num_complex::Complex64;

use super::dense;
use super::likelihood::ToeplitzNll;
use super::model::DataKind;

const ZERO: Complex64 = Complex64::new(0.0, 0.0);

/// `S = (1/N) sum_m x_m x_m^H` (row-major `P x P`) from row-major snapshots.
///
/// Errors unless `n >= 1` (no snapshots: `1/N` is infinite), `p >= 1` and `x` holds `n x p`
/// values.
pub fn sample_covariance(x: &[Complex64], n: usize, p: usize) -> Result<Vec<Complex64>> {
    check_dim(p)?;
    if n == 0 {
        return Err(Error::InvalidShape {
            what: "snapshots",
            detail: "no snapshots (n = 0)".into(),
        });
    }
    let expected = n.checked_mul(p).ok_or_else(|| Error::InvalidShape {
        what: "snapshots",
        detail: format!("{n} x {p} overflows usize"),
    })?;
    same_len("snapshots (n x P)", expected, x.len())?;
    p.checked_mul(p).ok_or_else(|| Error::InvalidShape {
        what: "covariance",
        detail: format!("{p} x {p} overflows usize"),
    })?;
    let mut s = vec![ZERO; p * p];
    for m in 0..n {
        let xm = &x[m * p..(m + 1) * p];
        for i in 0..p {
            for j in 0..p {
                s[i * p + j] += xm[i] * xm[j].conj();
            }
        }
    }
    let inv = 1.0 / n as f64;
    s.iter_mut().for_each(|v| *v *= inv);
    Ok(s)
}

/// Errors for a zero dimension `P` (there is no lag-0 entry).
fn check_dim(p: usize) -> Result<()> {
    if p == 0 {
        return Err(Error::InvalidShape { what: "dimension P", detail: "P = 0".into() });
    }
    Ok(())
}

/// The Frobenius-nearest Toeplitz matrix to `S`: average each diagonal. Returns its first
/// column `r_l = mean_q S_{q+l, q}`. Errors unless `p >= 1` and `s` holds `p x p` values.
pub fn toeplitz_projection(s: &[Complex64], p: usize) -> Result<Vec<Complex64>> {
    check_dim(p)?;
    let expected = p.checked_mul(p).ok_or_else(|| Error::InvalidShape {
        what: "covariance",
        detail: format!("{p} x {p} overflows usize"),
    })?;
    same_len("covariance (P x P)", expected, s.len())?;
    let mut r: Vec<Complex64> = (0..p)
        .map(|l| (0..p - l).map(|q| s[(q + l) * p + q]).sum::<Complex64>() / (p - l) as f64)
        .collect();
    r[0].im = 0.0;
    Ok(r)
}

/// Real parametrisation of a Hermitian (or real symmetric) Toeplitz first column:
/// `[Re r_0, Re r_1, Im r_1, ..., Re r_{P-1}, Im r_{P-1}]` (complex) or `[r_0, ..., r_{P-1}]`.
fn n_params(p: usize, kind: DataKind) -> usize {
    match kind {
        DataKind::Complex => 2 * p - 1,
        DataKind::Real => p,
    }
}

/// The basis matrix `dR / d phi_i` acting on columns: returns the (row, col, value) entries.
fn basis(i: usize, p: usize, kind: DataKind) -> Vec<(usize, usize, Complex64)> {
    let one = Complex64::new(1.0, 0.0);
    let (lag, imag) = match kind {
        DataKind::Real => (i, false),
        DataKind::Complex if i == 0 => (0, false),
        DataKind::Complex => (i.div_ceil(2), i % 2 == 0),
    };
    if lag == 0 {
        return (0..p).map(|q| (q, q, one)).collect();
    }
    let (lo, hi) =
        if imag { (Complex64::new(0.0, 1.0), Complex64::new(0.0, -1.0)) } else { (one, one) };
    (0..p - lag).flat_map(|q| [(q + lag, q, lo), (q, q + lag, hi)]).collect()
}

/// Fisher information per snapshot, `F_ij = Re tr(R^{-1} B_i R^{-1} B_j)`, in the real
/// parametrisation (times 1/2 for real data). Errors for an empty `r` or an `R` that is not
/// positive definite.
pub fn fisher_information(r: &[Complex64], kind: DataKind) -> Result<Mat<f64>> {
    let p = r.len();
    check_dim(p)?;
    let (ri, _) = dense::inverse_logdet(r)?;
    let np = n_params(p, kind);
    // C_i = R^{-1} B_i, dense.
    let cs: Vec<Mat<Complex64>> = (0..np)
        .map(|i| {
            let mut c = Mat::<Complex64>::zeros(p, p);
            for (row, col, v) in basis(i, p, kind) {
                for a in 0..p {
                    c[(a, col)] += ri[(a, row)] * v;
                }
            }
            c
        })
        .collect();
    let half = if kind == DataKind::Real { 0.5 } else { 1.0 };
    let mut f = Mat::<f64>::zeros(np, np);
    for i in 0..np {
        for j in i..np {
            let mut t = ZERO;
            for a in 0..p {
                for b in 0..p {
                    t += cs[i][(a, b)] * cs[j][(b, a)];
                }
            }
            f[(i, j)] = half * t.re;
            f[(j, i)] = half * t.re;
        }
    }
    Ok(f)
}

fn to_params(r: &[Complex64], kind: DataKind) -> Vec<f64> {
    match kind {
        DataKind::Real => r.iter().map(|z| z.re).collect(),
        DataKind::Complex => {
            std::iter::once(r[0].re).chain(r[1..].iter().flat_map(|z| [z.re, z.im])).collect()
        }
    }
}

fn from_params(phi: &[f64], p: usize, kind: DataKind) -> Vec<Complex64> {
    match kind {
        DataKind::Real => phi.iter().map(|&x| Complex64::new(x, 0.0)).collect(),
        DataKind::Complex => std::iter::once(Complex64::new(phi[0], 0.0))
            .chain((1..p).map(|l| Complex64::new(phi[2 * l - 1], phi[2 * l])))
            .collect(),
    }
}

/// `dL/dphi` from the lag gradient `gamma`.
fn param_grad(gamma: &[Complex64], kind: DataKind) -> Vec<f64> {
    match kind {
        DataKind::Real => {
            std::iter::once(gamma[0].re).chain(gamma[1..].iter().map(|g| 2.0 * g.re)).collect()
        }
        DataKind::Complex => std::iter::once(gamma[0].re)
            .chain(gamma[1..].iter().flat_map(|g| [2.0 * g.re, -2.0 * g.im]))
            .collect(),
    }
}

/// Outcome of [`fisher_scoring_ml`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlResult {
    /// First column of the estimate.
    pub r: Vec<Complex64>,
    /// Its negative log-likelihood.
    pub loss: f64,
    /// Iterations taken.
    pub iterations: usize,
    /// Final gradient norm (in the real parametrisation).
    pub grad_norm: f64,
}

/// Maximum-likelihood Toeplitz covariance by Fisher scoring on the lags: `phi += t F^{-1}
/// (-grad)`, `t` halved until `R` stays positive definite and the loss decreases (Armijo
/// 1e-4). Stops when the gradient norm is at most `tol`, when the scoring decrement
/// `g^T F^{-1} g` falls below the f64 resolution of the loss (`64 eps |L|`), or after
/// `max_iter` iterations. Starts from the Toeplitz projection of `S` (with a ridge if it is not positive
/// definite). `O(P^4)` per iteration: meant for the moderate `P` of the experiments.
pub fn fisher_scoring_ml(nll: &mut ToeplitzNll, tol: f64, max_iter: usize) -> Result<MlResult> {
    let p = nll.model().p;
    let kind = nll.model().kind;
    let mut r = toeplitz_projection(nll.sample_covariance(), p)?;
    if kind == DataKind::Real {
        r.iter_mut().for_each(|z| z.im = 0.0);
    }
    let mut gamma = vec![ZERO; p];
    let mut loss = f64::NAN;
    for ridge in [0.0, 1e-6, 1e-3, 1e-1, 1.0] {
        let mut rr = r.clone();
        rr[0].re += ridge * r[0].re.abs().max(1e-12);
        if let Ok(l) = nll.loss_grad_lags(&rr, &mut gamma) {
            r = rr;
            loss = l;
            break;
        }
    }
    if !loss.is_finite() {
        return Err(Error::NotPositiveDefinite {
            detail: "no positive-definite starting point for Fisher scoring".into(),
        });
    }
    let mut phi = to_params(&r, kind);
    let mut grad = param_grad(&gamma, kind);
    for it in 0..max_iter {
        let gnorm = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
        if gnorm <= tol {
            return Ok(MlResult { r, loss, iterations: it, grad_norm: gnorm });
        }
        let f = fisher_information(&r, kind)?;
        let rhs = Mat::<f64>::from_fn(grad.len(), 1, |i, _| -grad[i]);
        let dir = f.partial_piv_lu().solve(&rhs);
        let slope: f64 = (0..grad.len()).map(|i| grad[i] * dir[(i, 0)]).sum();
        // -slope = g^T F^{-1} g is twice the decrease a full scoring step predicts. The gradient
        // norm can stall above `tol` at a floor set by the conditioning of R (seen at 2e-6
        // with the loss constant to 13 digits): once the predicted decrease is below what the
        // loss can resolve in f64, further steps only churn.
        if -slope <= 64.0 * f64::EPSILON * loss.abs().max(1.0) {
            return Ok(MlResult { r, loss, iterations: it, grad_norm: gnorm });
        }
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..40 {
            let cand: Vec<f64> = phi.iter().enumerate().map(|(i, x)| x + t * dir[(i, 0)]).collect();
            let rc = from_params(&cand, p, kind);
            if let Ok(l) = nll.loss_grad_lags(&rc, &mut gamma) {
                if l <= loss + 1e-4 * t * slope {
                    (phi, r, loss, grad) = (cand, rc, l, param_grad(&gamma, kind));
                    moved = true;
                    break;
                }
            }
            t *= 0.5;
        }
        if !moved {
            return Ok(MlResult { r, loss, iterations: it, grad_norm: gnorm });
        }
    }
    let grad_norm = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
    Ok(MlResult { r, loss, iterations: max_iter, grad_norm })
}

/// Cramer-Rao bound on `E sum_l |r_hat_l - r_l|^2` (the first row) for `n` snapshots: the
/// trace of the inverse Slepian-Bangs Fisher information `n F` at the true `R`. Errors for
/// `n = 0` (the bound is infinite), an empty `r`, or an `R` that is not positive definite.
pub fn crb_first_row(r: &[Complex64], n: usize, kind: DataKind) -> Result<f64> {
    if n == 0 {
        return Err(Error::hyper("n", 0.0, "need at least one snapshot (the bound is infinite)"));
    }
    let f = fisher_information(r, kind)?;
    let np = f.nrows();
    let id = Mat::<f64>::from_fn(np, np, |i, j| if i == j { 1.0 } else { 0.0 });
    let inv = f.partial_piv_lu().solve(&id);
    let bound = (0..np).map(|i| inv[(i, i)]).sum::<f64>() / n as f64;
    if !bound.is_finite() {
        return Err(Error::Singular { detail: "Fisher information of the first row".into() });
    }
    Ok(bound)
}
