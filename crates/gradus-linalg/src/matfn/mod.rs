//! Matrix functions of SPD matrices: the inverse `p`-th root `A^{-1/p}` (Shampoo's
//! preconditioners `L^{-1/4}`, `R^{-1/4}`), by eigendecomposition or by the coupled inverse
//! Newton iteration, with the residual `||X^p (A + eps I) - I||_F / sqrt(n)` reported.

mod batch;
mod eigh_root;
mod newton_root;
mod workspace;

pub use batch::{RootJob, inverse_root_batch};
pub use workspace::RootWorkspace;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef};
use gradus_core::{Error, Par, Result};

use crate::LinalgScalar;

/// How to compute the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum RootMethod {
    /// `U diag((w + eps)^{-1/p}) U^T` from a symmetric eigendecomposition, eigenvalues floored.
    #[default]
    Eigh,
    /// The coupled inverse Newton iteration (Guo & Higham 2006): matrix products only.
    Newton,
}

/// Parameters of an inverse root computation.
///
/// Non-exhaustive, so that adding a field is not a breaking change: start from
/// [`RootParams::default`] (or [`RootParams::new`]) and change fields with the `with_*`
/// setters, e.g. `RootParams::new(2).with_method(RootMethod::Newton)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RootParams {
    /// Root order `p >= 1`: computes `(A + eps I)^{-1/p}`.
    pub p: u32,
    /// Added to the diagonal before the root (regularisation), `>= 0`.
    pub eps: f64,
    /// Eigenvalues of `A + eps I` below this are raised to it (eigh method), `> 0`.
    pub floor: f64,
    /// Method.
    pub method: RootMethod,
    /// Newton: stop when `max |M - I| <= tol`.
    pub newton_tol: f64,
    /// Newton: iteration cap.
    pub newton_max_iter: usize,
    /// Compute the residual diagnostic (costs `ceil(log2 p) + 1` extra matrix products).
    pub residual: bool,
}

impl Default for RootParams {
    fn default() -> Self {
        RootParams {
            p: 4,
            eps: 1e-12,
            floor: 1e-12,
            method: RootMethod::Eigh,
            newton_tol: 1e-6,
            newton_max_iter: 100,
            residual: true,
        }
    }
}

impl RootParams {
    /// The defaults with root order `p` (computes `(A + eps I)^{-1/p}`).
    pub fn new(p: u32) -> Self {
        RootParams { p, ..RootParams::default() }
    }

    /// Checks the parameters; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        if self.p == 0 {
            return Err(Error::hyper("p", 0.0, "root order must be >= 1"));
        }
        gradus_core::validate::non_negative("eps", self.eps)?;
        gradus_core::validate::positive("floor", self.floor)?;
        gradus_core::validate::positive("newton_tol", self.newton_tol)?;
        Ok(())
    }
}

impl RootParams {
    /// Sets `p` (root order).
    #[must_use]
    pub fn with_p(mut self, p: u32) -> Self {
        self.p = p;
        self
    }

    /// Sets `eps` (diagonal regularisation).
    #[must_use]
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets `floor` (eigenvalue floor).
    #[must_use]
    pub fn with_floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// Sets `method` (root algorithm).
    #[must_use]
    pub fn with_method(mut self, method: RootMethod) -> Self {
        self.method = method;
        self
    }

    /// Sets `newton_tol` (Newton tolerance).
    #[must_use]
    pub fn with_newton_tol(mut self, newton_tol: f64) -> Self {
        self.newton_tol = newton_tol;
        self
    }

    /// Sets `newton_max_iter` (Newton iteration cap).
    #[must_use]
    pub fn with_newton_max_iter(mut self, newton_max_iter: usize) -> Self {
        self.newton_max_iter = newton_max_iter;
        self
    }

    /// Sets `residual` (residual diagnostic).
    #[must_use]
    pub fn with_residual(mut self, residual: bool) -> Self {
        self.residual = residual;
        self
    }
}

/// Diagnostics of a root computation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RootInfo {
    /// `||X^p (A + eps I) - I||_F / sqrt(n)` (NaN when not computed).
    pub residual: f64,
    /// Smallest eigenvalue of `A + eps I` before flooring (eigh method; NaN for Newton).
    pub min_eig: f64,
    /// Largest eigenvalue of `A + eps I` (eigh method; NaN for Newton).
    pub max_eig: f64,
    /// Eigenvalues raised to the floor (eigh method).
    pub floored: usize,
    /// Newton iterations taken (0 for eigh).
    pub iterations: usize,
}

/// `out = (A + eps I)^{-1/p}` for symmetric positive semi-definite `a`, allocation-free after
/// the workspace is built.
///
/// Errors (leaving `out` unchanged) for invalid parameters, a non-square, non-finite or
/// non-symmetric `a`, a workspace of another size, or Newton non-convergence.
pub fn inverse_root<T: LinalgScalar>(
    a: MatRef<'_, T>,
    out: MatMut<'_, T>,
    params: &RootParams,
    ws: &mut RootWorkspace<T>,
) -> Result<RootInfo> {
    params.validate()?;
    let n = crate::eigh::validate_symmetric(a)?;
    gradus_core::validate::same_len("root workspace dimension", ws.dim(), n)?;
    if out.nrows() != n || out.ncols() != n {
        return Err(Error::InvalidShape {
            what: "root output",
            detail: format!("{} x {} for n = {n}", out.nrows(), out.ncols()),
        });
    }
    let mut info = match params.method {
        RootMethod::Eigh => eigh_root::compute(a, params, ws)?,
        RootMethod::Newton => newton_root::compute(a, params, ws)?,
    };
    if !ws.x.as_ref().is_all_finite() {
        return Err(Error::NoConvergence {
            method: "inverse root",
            iterations: info.iterations,
            residual: f64::NAN,
        });
    }
    if params.residual {
        info.residual = residual(a, params, ws);
    }
    let mut out = out;
    out.copy_from(ws.x.as_ref());
    Ok(info)
}

/// Convenience: allocates a workspace and returns the root.
pub fn inverse_root_owned<T: LinalgScalar>(
    a: MatRef<'_, T>,
    params: &RootParams,
    par: Par,
) -> Result<(Mat<T>, RootInfo)> {
    let n = crate::check::square("matrix", a)?;
    let mut ws = RootWorkspace::new(n, par);
    let mut out = Mat::zeros(n, n);
    let info = inverse_root(a, out.as_mut(), params, &mut ws)?;
    Ok((out, info))
}

/// `||X^p (A + eps I) - I||_F / sqrt(n)` with `X = ws.x`, by repeated squaring.
fn residual<T: LinalgScalar>(
    a: MatRef<'_, T>,
    params: &RootParams,
    ws: &mut RootWorkspace<T>,
) -> f64 {
    let n = a.nrows();
    let par = crate::eigh::faer_par(ws.par);
    // t1 = X^p by binary powering: acc (t1) and base (t2).
    ws.t1.as_mut().fill(T::ZERO);
    for i in 0..n {
        ws.t1[(i, i)] = T::ONE;
    }
    ws.t2.as_mut().copy_from(ws.x.as_ref());
    let mut e = params.p;
    while e > 0 {
        if e & 1 == 1 {
            matmul(ws.t3.as_mut(), Accum::Replace, ws.t1.as_ref(), ws.t2.as_ref(), T::ONE, par);
            std::mem::swap(&mut ws.t1, &mut ws.t3);
        }
        e >>= 1;
        if e > 0 {
            matmul(ws.t3.as_mut(), Accum::Replace, ws.t2.as_ref(), ws.t2.as_ref(), T::ONE, par);
            std::mem::swap(&mut ws.t2, &mut ws.t3);
        }
    }
    // t3 = X^p A + eps X^p - I.
    matmul(ws.t3.as_mut(), Accum::Replace, ws.t1.as_ref(), a, T::ONE, par);
    let eps = T::from_f64(params.eps);
    let mut ss = 0.0f64;
    for j in 0..n {
        for i in 0..n {
            let mut v = ws.t3[(i, j)] + eps * ws.t1[(i, j)];
            if i == j {
                v -= T::ONE;
            }
            ss += v.to_f64() * v.to_f64();
        }
    }
    (ss / n.max(1) as f64).sqrt()
}
