//! The paper's data generators (paper 07, section 3) and Gaussian sampling.

use faer::{Mat, Side};
use gradus_core::{Error, Result, rng};
use num_complex::Complex64;
use rand::Rng as _;

use super::model::DataKind;
use crate::data::normal;

/// First column of `sum_k p_k v(w_k) v(w_k)^H + noise I`. Errors for `p = 0`, one power
/// per frequency missing, or a non-finite frequency, power or noise.
pub fn sinusoid_column(
    p: usize,
    freqs: &[f64],
    powers: &[f64],
    noise: f64,
) -> Result<Vec<Complex64>> {
    if p == 0 {
        return Err(Error::InvalidShape { what: "dimension P", detail: "P = 0".into() });
    }
    gradus_core::validate::same_len("powers", freqs.len(), powers.len())?;
    gradus_core::validate::all_finite("frequencies", freqs)?;
    gradus_core::validate::all_finite("powers", powers)?;
    gradus_core::validate::all_finite("noise", &[noise])?;
    Ok(column(p, freqs, powers, noise))
}

/// [`sinusoid_column`] for arguments already checked.
fn column(p: usize, freqs: &[f64], powers: &[f64], noise: f64) -> Vec<Complex64> {
    let mut r: Vec<Complex64> = (0..p)
        .map(|l| {
            freqs.iter().zip(powers).map(|(w, pw)| Complex64::from_polar(*pw, w * l as f64)).sum()
        })
        .collect();
    r[0] = Complex64::new(r[0].re + noise, 0.0);
    r
}

/// Random Caratheodory: `p` frequencies sorted uniform on `[0, 2 pi)`, amplitudes sorted
/// uniform on `[0, 2.5)` (powers are their squares), white noise of standard deviation 0.17.
/// Errors for `p = 0`.
pub fn random_caratheodory(p: usize, seed: u64) -> Result<Vec<Complex64>> {
    let mut r = rng::seeded(seed);
    let mut w: Vec<f64> = (0..p).map(|_| r.random_range(0.0..std::f64::consts::TAU)).collect();
    let mut a: Vec<f64> = (0..p).map(|_| r.random_range(0.0..2.5)).collect();
    w.sort_by(f64::total_cmp);
    a.sort_by(f64::total_cmp);
    let powers: Vec<f64> = a.iter().map(|x| x * x).collect();
    sinusoid_column(p, &w, &powers, 0.17 * 0.17)
}

/// The ATOM on-grid case (P = 15): the code's frequencies, powers 1..15, no noise. With
/// `off_grid`, frequencies 3, 7, 12, 14 (0-based) move to 1.25, 3.01, 5.20, 5.8.
pub fn atom(off_grid: bool) -> Vec<Complex64> {
    let mut w = [
        0.2167, 0.6500, 1.0833, 1.3, 1.5166, 1.9500, 2.3833, 2.8166, 3.2499, 3.6832, 4.1166,
        4.5499, 4.9832, 5.4165, 5.8499,
    ];
    if off_grid {
        (w[3], w[7], w[12], w[14]) = (1.25, 3.01, 5.20, 5.8);
    }
    let powers: Vec<f64> = (1..=15).map(|k| k as f64).collect();
    column(15, &w, &powers, 0.0)
}

/// AR(3) with coefficients `[0.5, 0.2, 0.05]` and innovation standard deviation 0.8: the
/// covariance is the inverse of the Gohberg-Semencul precision matrix built from the AR
/// polynomial `u = [1, -0.5, -0.2, -0.05]`: `Q = (L(u) L(u)^T - L(v) L(v)^T) / sigma^2`.
pub fn ar3(p: usize) -> Result<Vec<Complex64>> {
    let coef = [0.5, 0.2, 0.05];
    let sigma2 = 0.8f64 * 0.8;
    if p <= coef.len() {
        return Err(Error::InvalidShape {
            what: "AR(3) covariance",
            detail: format!("P = {p} must exceed the order 3"),
        });
    }
    let mut u = vec![0.0; p];
    u[0] = 1.0;
    for (k, c) in coef.iter().enumerate() {
        u[k + 1] = -c;
    }
    let mut v = vec![0.0; p];
    for k in 1..p {
        v[k] = u[p - k];
    }
    let q = Mat::<f64>::from_fn(p, p, |i, j| {
        (0..=i.min(j)).map(|k| u[i - k] * u[j - k] - v[i - k] * v[j - k]).sum::<f64>() / sigma2
    });
    let id = Mat::<f64>::from_fn(p, p, |i, j| if i == j { 1.0 } else { 0.0 });
    use faer::linalg::solvers::Solve;
    let rmat = q
        .llt(Side::Lower)
        .map_err(|_| Error::NotPositiveDefinite { detail: "AR(3) precision".into() })?
        .solve(&id);
    Ok((0..p).map(|l| Complex64::new(rmat[(l, 0)], 0.0)).collect())
}

/// `n` snapshots `x = C z` with `C C^H = R` (Cholesky), `z` standard complex normal
/// (`CN(0, I)`) or real normal; row-major `n x P`. Errors for an empty or non-finite `r`, an
/// `R` that is not positive definite, or `n x P` overflowing.
pub fn sample(r: &[Complex64], n: usize, kind: DataKind, seed: u64) -> Result<Vec<Complex64>> {
    let p = r.len();
    if p == 0 {
        return Err(Error::InvalidShape { what: "true covariance", detail: "P = 0".into() });
    }
    if let Some(index) = r.iter().position(|z| !(z.re.is_finite() && z.im.is_finite())) {
        return Err(Error::NonFinite { what: "true covariance", index });
    }
    let total = n.checked_mul(p).ok_or_else(|| Error::InvalidShape {
        what: "snapshots",
        detail: format!("{n} x {p} overflows usize"),
    })?;
    let rm = super::dense::toeplitz(r);
    let llt = rm
        .llt(Side::Lower)
        .map_err(|_| Error::NotPositiveDefinite { detail: "true covariance".into() })?;
    let l = llt.L();
    let mut g = rng::seeded(seed);
    let mut out = vec![Complex64::new(0.0, 0.0); total];
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let mut z = vec![Complex64::new(0.0, 0.0); p];
    for m in 0..n {
        for zi in z.iter_mut() {
            *zi = match kind {
                DataKind::Complex => Complex64::new(s * normal(&mut g), s * normal(&mut g)),
                DataKind::Real => Complex64::new(normal(&mut g), 0.0),
            };
        }
        for i in 0..p {
            out[m * p + i] = (0..=i).map(|j| l[(i, j)] * z[j]).sum();
        }
    }
    Ok(out)
}
