//! Accuracy of a covariance estimate (paper 07, section 3).

use gradus_core::Result;
use num_complex::Complex64;

use super::dense;

/// `KL(R_hat, R) = 1/2 [tr(R_hat^{-1} R) - log det(R_hat^{-1} R) - P]` (>= 0, zero iff equal).
pub fn kl_divergence(r_hat: &[Complex64], r: &[Complex64]) -> Result<f64> {
    let p = r.len();
    let (inv_hat, logdet_hat) = dense::inverse_logdet(r_hat)?;
    let (_, logdet) = dense::inverse_logdet(r)?;
    let rm = dense::toeplitz(r);
    let prod = &inv_hat * &rm;
    let tr: f64 = (0..p).map(|i| prod[(i, i)].re).sum();
    Ok(0.5 * (tr - (logdet - logdet_hat) - p as f64))
}

/// `sum_j |R_hat_{0j} - R_{0j}|^2`: squared error of the first row (the code's "RMSE").
pub fn first_row_squared_error(r_hat: &[Complex64], r: &[Complex64]) -> f64 {
    r_hat.iter().zip(r).map(|(a, b)| (a - b).norm_sqr()).sum()
}

/// Relative Frobenius error `||R_hat - R||_F / ||R||_F` of Toeplitz matrices given by first
/// columns (lag `l` appears `2 (P - l)` times, `P` for `l = 0`).
pub fn relative_frobenius(r_hat: &[Complex64], r: &[Complex64]) -> f64 {
    let p = r.len();
    let w = |l: usize| if l == 0 { p as f64 } else { 2.0 * (p - l) as f64 };
    let num: f64 = (0..p).map(|l| w(l) * (r_hat[l] - r[l]).norm_sqr()).sum();
    let den: f64 = (0..p).map(|l| w(l) * r[l].norm_sqr()).sum();
    (num / den).sqrt()
}
