//! Accuracy of a covariance estimate (paper 07, section 3).

use gradus_core::validate::same_len;
use gradus_core::{Error, Result};
use num_complex::Complex64;

use super::dense;

/// Errors unless the estimate and the truth are non-empty first columns of one length.
fn check_pair(r_hat: &[Complex64], r: &[Complex64]) -> Result<()> {
    if r.is_empty() {
        return Err(Error::InvalidShape { what: "true first column", detail: "empty".into() });
    }
    same_len("estimated first column", r.len(), r_hat.len())
}

/// `KL(R_hat, R) = 1/2 [tr(R_hat^{-1} R) - log det(R_hat^{-1} R) - P]` (>= 0, zero iff equal).
/// Errors for empty or mismatched first columns, or a matrix that is not positive definite.
pub fn kl_divergence(r_hat: &[Complex64], r: &[Complex64]) -> Result<f64> {
    check_pair(r_hat, r)?;
    let p = r.len();
    let (inv_hat, logdet_hat) = dense::inverse_logdet(r_hat)?;
    let (_, logdet) = dense::inverse_logdet(r)?;
    let rm = dense::toeplitz(r);
    let prod = &inv_hat * &rm;
    let tr: f64 = (0..p).map(|i| prod[(i, i)].re).sum();
    Ok(0.5 * (tr - (logdet - logdet_hat) - p as f64))
}

/// `sum_j |R_hat_{0j} - R_{0j}|^2`: squared error of the first row (the code's "RMSE").
/// Errors for empty or mismatched first columns (a shorter estimate would otherwise be
/// compared on its prefix only).
pub fn first_row_squared_error(r_hat: &[Complex64], r: &[Complex64]) -> Result<f64> {
    check_pair(r_hat, r)?;
    Ok(r_hat.iter().zip(r).map(|(a, b)| (a - b).norm_sqr()).sum())
}

/// Relative Frobenius error `||R_hat - R||_F / ||R||_F` of Toeplitz matrices given by first
/// columns (lag `l` appears `2 (P - l)` times, `P` for `l = 0`). Errors for empty or
/// mismatched first columns, or a zero truth (the ratio is undefined).
pub fn relative_frobenius(r_hat: &[Complex64], r: &[Complex64]) -> Result<f64> {
    check_pair(r_hat, r)?;
    let p = r.len();
    let w = |l: usize| if l == 0 { p as f64 } else { 2.0 * (p - l) as f64 };
    let num: f64 = (0..p).map(|l| w(l) * (r_hat[l] - r[l]).norm_sqr()).sum();
    let den: f64 = (0..p).map(|l| w(l) * r[l].norm_sqr()).sum();
    if den == 0.0 {
        return Err(Error::InvalidShape { what: "true first column", detail: "all zero".into() });
    }
    Ok((num / den).sqrt())
}
