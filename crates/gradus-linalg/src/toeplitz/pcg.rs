//! Preconditioned conjugate gradients for SPD Toeplitz systems with a circulant
//! preconditioner `C ~ T`, applied through the FFT (`C` is diagonalised by the DFT).
//!
//! - Strang (1986): copy the central diagonals, `c_k = t_k` for `k <= n/2`, `t_{n-k}` beyond.
//! - T. Chan (1988): the Frobenius-optimal circulant, `c_k = ((n - k) t_k + k t_{n-k}) / n`,
//!   positive definite whenever `T` is.
//!
//! For well-behaved generating functions PCG then converges in a number of iterations nearly
//! independent of `n`.

use gradus_core::numeric::dot;
use gradus_core::{Error, Result, validate::same_len};

use crate::cg::{CgStop, CgWork, no_preconditioner, pcg};

use super::RealToeplitzOp;
use super::circulant::RealSpectral;

/// Which circulant approximation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preconditioner {
    /// No preconditioning.
    None,
    /// Strang's circulant.
    Strang,
    /// T. Chan's optimal circulant.
    Chan,
}

/// A circulant preconditioner `C^{-1} r = IFFT(FFT(r) / lambda)`.
pub struct CirculantPreconditioner {
    inv_lambda: Vec<f64>,
    fft: RealSpectral,
}

impl CirculantPreconditioner {
    /// Builds the preconditioner of kind `kind` (not `None`) for the symmetric Toeplitz matrix
    /// with first column `t`. Errors if a circulant eigenvalue is not positive (Strang's can
    /// be indefinite for an ill-conditioned `T`).
    pub fn new(kind: Preconditioner, t: &[f64]) -> Result<Self> {
        let n = t.len();
        if n == 0 {
            return Err(Error::InvalidShape { what: "preconditioner", detail: "empty".into() });
        }
        let c: Vec<f64> = (0..n)
            .map(|k| match kind {
                Preconditioner::Strang => {
                    if k <= n / 2 {
                        t[k]
                    } else {
                        t[n - k]
                    }
                }
                Preconditioner::Chan => {
                    if k == 0 {
                        t[0]
                    } else {
                        ((n - k) as f64 * t[k] + k as f64 * t[n - k]) / n as f64
                    }
                }
                Preconditioner::None => 0.0,
            })
            .collect();
        if kind == Preconditioner::None {
            return Err(Error::Unsupported("Preconditioner::None has no circulant".into()));
        }
        let mut fft = RealSpectral::new(n);
        fft.buf.copy_from_slice(&c);
        let freq = fft.transform()?;
        let mut inv_lambda = Vec::with_capacity(freq.len());
        for (k, l) in freq.iter().enumerate() {
            if !(l.re > 0.0) {
                return Err(Error::NotPositiveDefinite {
                    detail: format!("{kind:?} circulant eigenvalue {k} is {:e}", l.re),
                });
            }
            inv_lambda.push(1.0 / (l.re * n as f64));
        }
        Ok(CirculantPreconditioner { inv_lambda, fft })
    }

    /// `z = C^{-1} r`.
    pub fn apply(&mut self, r: &[f64], z: &mut [f64]) -> Result<()> {
        same_len("residual", self.fft.buf.len(), r.len())?;
        self.fft.buf.copy_from_slice(r);
        self.fft.multiply(&self.inv_lambda)?;
        z.copy_from_slice(&self.fft.buf);
        Ok(())
    }
}

/// Outcome of a PCG solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PcgInfo {
    /// Iterations taken.
    pub iterations: usize,
    /// Final relative residual `||b - T x|| / ||b||`.
    pub relative_residual: f64,
}

/// A PCG solver for one symmetric positive-definite Toeplitz matrix, built once (FFT plans,
/// circulant preconditioner, work vectors) and reused for any number of right-hand sides
/// without allocating.
pub struct ToeplitzPcg {
    op: RealToeplitzOp,
    pre: Option<CirculantPreconditioner>,
    work: CgWork,
}

impl ToeplitzPcg {
    /// The solver for the matrix with first column `t` and preconditioner `kind`.
    pub fn new(t: &[f64], kind: Preconditioner) -> Result<Self> {
        let op = RealToeplitzOp::symmetric(t)?;
        let pre = match kind {
            Preconditioner::None => None,
            k => Some(CirculantPreconditioner::new(k, t)?),
        };
        Ok(ToeplitzPcg { op, pre, work: CgWork::new(t.len()) })
    }

    /// Solves `T x = b` into `x` from `x = 0`, stopping at relative residual `tol` or after
    /// `max_iter` iterations ([`Error::NoConvergence`]).
    pub fn solve(
        &mut self,
        b: &[f64],
        x: &mut [f64],
        tol: f64,
        max_iter: usize,
    ) -> Result<PcgInfo> {
        let n = self.work.len();
        same_len("right-hand side", n, b.len())?;
        same_len("solution", n, x.len())?;
        gradus_core::validate::positive("tol", tol)?;
        // A non-finite `b` makes `bnorm` NaN and is reported by `pcg`, which checks it.
        let bnorm = dot(b, b).sqrt();
        if bnorm == 0.0 {
            x.iter_mut().for_each(|v| *v = 0.0);
            return Ok(PcgInfo { iterations: 0, relative_residual: 0.0 });
        }
        let ToeplitzPcg { op, pre, work } = self;
        let precond = |r: &[f64], z: &mut [f64]| match pre {
            Some(p) => p.apply(r, z),
            None => no_preconditioner(r, z),
        };
        let stop = CgStop { residual: tol * bnorm, max_iter };
        let out = pcg(|v, o| op.apply(v, o), precond, b, x, work, stop)?;
        let rel = out.residual / bnorm;
        if out.converged {
            return Ok(PcgInfo { iterations: out.iterations, relative_residual: rel });
        }
        Err(Error::NoConvergence {
            method: "preconditioned conjugate gradients",
            iterations: max_iter,
            residual: rel,
        })
    }
}

/// Solves `T x = b` for symmetric positive-definite Toeplitz `T` (first column `t`) by PCG from
/// `x = 0`, stopping at relative residual `tol` or after `max_iter` iterations
/// ([`Error::NoConvergence`]). Builds a [`ToeplitzPcg`] for one solve.
pub fn pcg_solve(
    t: &[f64],
    b: &[f64],
    kind: Preconditioner,
    tol: f64,
    max_iter: usize,
) -> Result<(Vec<f64>, PcgInfo)> {
    same_len("right-hand side", t.len(), b.len())?;
    let mut x = vec![0.0; t.len()];
    let info = ToeplitzPcg::new(t, kind)?.solve(b, &mut x, tol, max_iter)?;
    Ok((x, info))
}
