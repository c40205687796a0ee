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
    // faer's Cholesky does not check: a NaN would come back as a NaN factor, not an error.
    if let Some(index) = r.iter().position(|z| !(z.re.is_finite() && z.im.is_finite())) {
        return Err(Error::NonFinite { what: "first column", index });
    }
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

/// Scratch for [`Dense::eval`], row-major `P x P` buffers, and a factor `S = C C^H` for
/// [`Dense::loss`].
pub(crate) struct Dense {
    p: usize,
    l: Vec<Complex64>,
    inv: Vec<Complex64>,
    t: Vec<Complex64>,
    /// `C`, row-major `P x q`: the Cholesky factor of `S` (`q = P`, lower triangular) when `S`
    /// is positive definite, else the scaled snapshots `X^T / sqrt(N)` (`q = N`).
    c: Vec<Complex64>,
    q: usize,
    c_lower: bool,
}

impl Dense {
    /// Scratch for dimension `p` with the factor of `s` (row-major `P x P`), from the `n`
    /// snapshots `x` (row-major `n x P`) when `s` is singular.
    pub fn new(p: usize, s: &[Complex64], x: &[Complex64], n: usize) -> Self {
        let mut d = Dense {
            p,
            l: vec![ZERO; p * p],
            inv: vec![ZERO; p * p],
            t: vec![ZERO; p * p],
            c: Vec::new(),
            q: 0,
            c_lower: false,
        };
        if n >= p && d.cholesky(|i, j| s[i * p + j]).is_ok() {
            d.c = d.l.clone();
            (d.q, d.c_lower) = (p, true);
        } else {
            let scale = 1.0 / (n as f64).sqrt();
            d.c = (0..p).flat_map(|i| (0..n).map(move |m| x[m * p + i] * scale)).collect();
            (d.q, d.c_lower) = (n, false);
        }
        d
    }

    /// `L L^H = A` for the Hermitian `A` given entrywise (lower triangle read) into `self.l`;
    /// returns `log det A`.
    fn cholesky(&mut self, a: impl Fn(usize, usize) -> Complex64) -> Result<f64> {
        let (p, l) = (self.p, &mut self.l);
        let mut logdet = 0.0;
        for i in 0..p {
            for j in 0..=i {
                let mut acc = a(i, j);
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
        Ok(logdet)
    }

    /// The loss alone, `log det R + |L^{-1} C|_F^2` (`tr(R^{-1} S) = tr(L^{-1} C C^H L^{-H})`):
    /// a Cholesky factorisation and one triangular solve, about `P^3 / 3` multiply-adds against
    /// `2.5 P^3` for [`Dense::eval`]. Line searches use it for their trial points.
    pub fn loss(&mut self, r: &[Complex64]) -> Result<f64> {
        if self.p > 48 {
            let mut gamma = vec![ZERO; self.p];
            let s = self.sample_covariance();
            return eval_blocked(r, &s, &mut gamma);
        }
        let logdet = self.cholesky(|i, j| if i >= j { r[i - j] } else { r[j - i].conj() })?;
        let (p, q) = (self.p, self.q);
        // Z = L^{-1} C by forward substitution, column by column (in t, row-major p x q).
        let z = &mut self.t;
        z.resize(p * q.max(p), ZERO);
        let mut trace = 0.0;
        for col in 0..q {
            let start = if self.c_lower { col } else { 0 };
            for i in start..p {
                let mut acc = self.c[i * q + col];
                for k in start..i {
                    acc -= self.l[i * p + k] * z[k * q + col];
                }
                let v = acc / self.l[i * p + i].re;
                z[i * q + col] = v;
                trace += v.norm_sqr();
            }
        }
        Ok(logdet + trace)
    }

    /// `C C^H` (only for the large-`P` fallback of [`Dense::loss`]).
    fn sample_covariance(&self) -> Vec<Complex64> {
        let (p, q) = (self.p, self.q);
        let mut s = vec![ZERO; p * p];
        for i in 0..p {
            for j in 0..p {
                s[i * p + j] = (0..q).map(|k| self.c[i * q + k] * self.c[j * q + k].conj()).sum();
            }
        }
        s
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
        let logdet = self.cholesky(|i, j| if i >= j { r[i - j] } else { r[j - i].conj() })?;
        let (l, inv, t) = (&self.l, &mut self.inv, &mut self.t);
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
