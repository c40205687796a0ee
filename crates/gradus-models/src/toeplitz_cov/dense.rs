//! The dense path: `R` as a matrix, its Cholesky factor, `E = R^{-1} - R^{-1} S R^{-1}` and
//! `gamma_l = sum_q E_{q, q+l}`, in about `2.5 P^3` complex multiply-adds from `S` (cheaper
//! than whitening the `N > P` snapshots). Hand-written, allocation-free loops: at the small
//! `P` where this path is chosen, a general library's per-call overhead would dominate.
//! It is also the oracle the structured path is tested against.

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use gradus_core::{Error, Result};
use num_complex::Complex64;

const ZERO: Complex64 = Complex64::new(0.0, 0.0);

/// Dense Hermitian Toeplitz matrix from its first column.
pub(crate) fn toeplitz(r: &[Complex64]) -> Mat<Complex64> {
    let p = r.len();
    Mat::from_fn(p, p, |i, j| if i >= j { r[i - j] } else { r[j - i].conj() })
}

/// `R^{-1}` and `log det R` by faer's Cholesky (for metrics and baselines).
pub(crate) fn inverse_logdet(r: &[Complex64]) -> Result<(Mat<Complex64>, f64)> {
    let p = r.len();
    let rm = toeplitz(r);
    let llt = rm
        .llt(Side::Lower)
        .map_err(|_| Error::NotPositiveDefinite { detail: "Cholesky of R failed".into() })?;
    let logdet = (0..p).map(|i| 2.0 * llt.L()[(i, i)].re.ln()).sum();
    let id = Mat::<Complex64>::from_fn(
        p,
        p,
        |i, j| if i == j { Complex64::new(1.0, 0.0) } else { ZERO },
    );
    Ok((llt.solve(&id), logdet))
}

/// Scratch for [`Dense::eval`], row-major `P x P` buffers.
pub(crate) struct Dense {
    p: usize,
    l: Vec<Complex64>,
    inv: Vec<Complex64>,
    t: Vec<Complex64>,
}

impl Dense {
    pub fn new(p: usize) -> Self {
        Dense { p, l: vec![ZERO; p * p], inv: vec![ZERO; p * p], t: vec![ZERO; p * p] }
    }

    /// Loss and lag gradient; `s` is the sample covariance (row-major). Hand-written loops for
    /// small `P`; faer's blocked kernels beyond, where cache blocking matters more than
    /// per-call overhead.
    pub fn eval(
        &mut self,
        r: &[Complex64],
        s: &[Complex64],
        gamma: &mut [Complex64],
    ) -> Result<f64> {
        if self.p > 48 {
            return eval_blocked(r, s, gamma);
        }
        let p = self.p;
        let (l, inv, t) = (&mut self.l, &mut self.inv, &mut self.t);
        // Cholesky R = L L^H (lower, row-major).
        let mut logdet = 0.0;
        for i in 0..p {
            for j in 0..=i {
                let rij = if i >= j { r[i - j] } else { r[j - i].conj() };
                let mut acc = rij;
                for k in 0..j {
                    acc -= l[i * p + k] * l[j * p + k].conj();
                }
                if i == j {
                    if !(acc.re > 0.0) || !acc.re.is_finite() {
                        return Err(Error::NotPositiveDefinite {
                            detail: format!("Cholesky pivot {i} is {:e}", acc.re),
                        });
                    }
                    let d = acc.re.sqrt();
                    l[i * p + i] = Complex64::new(d, 0.0);
                    logdet += 2.0 * d.ln();
                } else {
                    l[i * p + j] = acc / l[j * p + j].re;
                }
            }
        }
        // inv = L^{-1} (lower), then R^{-1} = L^{-H} L^{-1} into t, mirrored to inv.
        for j in 0..p {
            for i in 0..p {
                inv[i * p + j] = ZERO;
            }
            inv[j * p + j] = Complex64::new(1.0 / l[j * p + j].re, 0.0);
            for i in (j + 1)..p {
                let mut acc = ZERO;
                for k in j..i {
                    acc -= l[i * p + k] * inv[k * p + j];
                }
                inv[i * p + j] = acc / l[i * p + i].re;
            }
        }
        for i in 0..p {
            for j in 0..=i {
                // (L^{-H} L^{-1})_{ij} = sum_{k >= max(i, j)} conj(Linv_{ki}) Linv_{kj}
                let mut acc = ZERO;
                for k in i..p {
                    acc += inv[k * p + i].conj() * inv[k * p + j];
                }
                t[i * p + j] = acc;
                t[j * p + i] = acc.conj();
            }
        }
        std::mem::swap(inv, t);
        // t = R^{-1} S; trace term; then E = R^{-1} - t R^{-1} on the super-diagonals.
        let mut trace = 0.0;
        for i in 0..p {
            for j in 0..p {
                let mut acc = ZERO;
                for k in 0..p {
                    acc += inv[i * p + k] * s[k * p + j];
                }
                t[i * p + j] = acc;
            }
            trace += t[i * p + i].re;
        }
        for (lag, g) in gamma.iter_mut().enumerate() {
            let mut acc = ZERO;
            for q in 0..p - lag {
                let c = q + lag;
                let mut e = inv[q * p + c];
                for k in 0..p {
                    e -= t[q * p + k] * inv[k * p + c];
                }
                acc += e;
            }
            *g = acc;
        }
        Ok(logdet + trace)
    }
}

/// The dense evaluation through faer (Cholesky, solves and blocked products).
fn eval_blocked(r: &[Complex64], s: &[Complex64], gamma: &mut [Complex64]) -> Result<f64> {
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
