//! The coupled inverse Newton iteration for `(A + eps I)^{-1/p}` (Guo & Higham 2006, the
//! variant used by distributed Shampoo):
//! ```text
//! z = (p + 1) / (2 ||A + eps I||_F),  X_0 = z^{1/p} I,  M_0 = z (A + eps I)
//! T_k = ((p + 1) I - M_k) / p,  X_{k+1} = X_k T_k,  M_{k+1} = T_k^p M_k
//! ```
//! `M_k -> I` and `X_k -> (A + eps I)^{-1/p}` quadratically for SPD `A`; the Frobenius norm
//! bounds the spectral norm, so the scaling keeps every eigenvalue of `M_0` in `(0, (p+1)/2]`.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatRef};
use gradus_core::{Error, Result};

use super::{RootInfo, RootParams, RootWorkspace};
use crate::LinalgScalar;

pub(super) fn compute<T: LinalgScalar>(
    a: MatRef<'_, T>,
    params: &RootParams,
    ws: &mut RootWorkspace<T>,
) -> Result<RootInfo> {
    let n = a.nrows();
    let par = crate::eigh::faer_par(ws.par);
    let p = params.p as f64;
    let eps = T::from_f64(params.eps);
    // M = A + eps I (in u), and its Frobenius norm.
    ws.u.as_mut().copy_from(a);
    for i in 0..n {
        ws.u[(i, i)] += eps;
    }
    let mut fro = 0.0f64;
    for j in 0..n {
        for i in 0..n {
            fro += ws.u[(i, j)].to_f64().powi(2);
        }
    }
    let fro = fro.sqrt();
    if fro == 0.0 {
        return Err(Error::Singular { detail: "inverse root of the zero matrix".into() });
    }
    let z = (p + 1.0) / (2.0 * fro);
    let zt = T::from_f64(z);
    for j in 0..n {
        for i in 0..n {
            ws.u[(i, j)] *= zt;
            ws.x[(i, j)] = if i == j { T::from_f64(z.powf(1.0 / p)) } else { T::ZERO };
        }
    }
    let mut err = max_dev_from_identity(&ws.u);
    let mut iterations = 0;
    while err > params.newton_tol && iterations < params.newton_max_iter {
        // t1 = T_k = ((p + 1) I - M) / p
        let inv_p = T::from_f64(1.0 / p);
        for j in 0..n {
            for i in 0..n {
                let id = if i == j { T::from_f64(p + 1.0) } else { T::ZERO };
                ws.t1[(i, j)] = (id - ws.u[(i, j)]) * inv_p;
            }
        }
        // X <- X T
        matmul(ws.t2.as_mut(), Accum::Replace, ws.x.as_ref(), ws.t1.as_ref(), T::ONE, par);
        std::mem::swap(&mut ws.x, &mut ws.t2);
        // M <- T^p M, one factor at a time (p is small in practice).
        for _ in 0..params.p {
            matmul(ws.t2.as_mut(), Accum::Replace, ws.t1.as_ref(), ws.u.as_ref(), T::ONE, par);
            std::mem::swap(&mut ws.u, &mut ws.t2);
        }
        iterations += 1;
        let new_err = max_dev_from_identity(&ws.u);
        if !new_err.is_finite() || new_err > 2.0 * err.max(1.0) {
            return Err(Error::NoConvergence {
                method: "coupled inverse Newton",
                iterations,
                residual: new_err,
            });
        }
        err = new_err;
    }
    if err > params.newton_tol {
        return Err(Error::NoConvergence {
            method: "coupled inverse Newton",
            iterations,
            residual: err,
        });
    }
    Ok(RootInfo {
        residual: f64::NAN,
        min_eig: f64::NAN,
        max_eig: f64::NAN,
        floored: 0,
        iterations,
    })
}

fn max_dev_from_identity<T: LinalgScalar>(m: &faer::Mat<T>) -> f64 {
    let mut e = 0.0f64;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let id = if i == j { 1.0 } else { 0.0 };
            e = e.max((m[(i, j)].to_f64() - id).abs());
        }
    }
    e
}
