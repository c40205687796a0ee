//! The dense oracle: `R` as a matrix, a Cholesky factorisation, `E = R^{-1} - R^{-1} S R^{-1}`
//! and `gamma_l = sum_q E_{q, q+l}`. `O(P^3 + N P^2)`; the reference the structured path is
//! tested against, and the faster path for small `P`.

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use gradus_core::{Error, Result};
use num_complex::Complex64;

/// Dense Hermitian Toeplitz matrix from its first column.
pub(crate) fn toeplitz(r: &[Complex64]) -> Mat<Complex64> {
    let p = r.len();
    Mat::from_fn(p, p, |i, j| if i >= j { r[i - j] } else { r[j - i].conj() })
}

/// `R^{-1}` and `log det R` by Cholesky; errors if `R` is not positive definite.
pub(crate) fn inverse_logdet(r: &[Complex64]) -> Result<(Mat<Complex64>, f64)> {
    let p = r.len();
    let rm = toeplitz(r);
    let llt = rm.llt(Side::Lower).map_err(|_| Error::NotPositiveDefinite { detail: "Cholesky of R failed".into() })?;
    let logdet = (0..p).map(|i| 2.0 * llt.L()[(i, i)].re.ln()).sum();
    let id = Mat::<Complex64>::from_fn(p, p, |i, j| if i == j { Complex64::new(1.0, 0.0) } else { Complex64::new(0.0, 0.0) });
    Ok((llt.solve(&id), logdet))
}

/// Loss and lag gradient, densely. `s` is the sample covariance (row-major `P x P`).
pub(crate) fn eval(r: &[Complex64], s: &[Complex64], gamma: &mut [Complex64]) -> Result<f64> {
    let p = r.len();
    let (ri, logdet) = inverse_logdet(r)?;
    let sm = Mat::<Complex64>::from_fn(p, p, |i, j| s[i * p + j]);
    let ris = &ri * &sm;
    let trace: f64 = (0..p).map(|i| ris[(i, i)].re).sum();
    let e = &ri - &ris * &ri;
    for (l, g) in gamma.iter_mut().enumerate() {
        *g = (0..p - l).map(|q| e[(q, q + l)]).sum();
    }
    Ok(logdet + trace)
}
