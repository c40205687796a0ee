//! `(A + eps I)^{-1/p} = U diag(max(w + eps, floor)^{-1/p}) U^T`, formed as `B B^T` with
//! `B = U diag(lambda^{-1/(2p)})`: the product is symmetric, so only its lower triangle is
//! computed (half the flops of a general product) and mirrored, which also makes the result
//! exactly symmetric.

use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::{Accum, MatRef};
use gradus_core::Result;

use super::{RootInfo, RootParams, RootWorkspace};
use crate::LinalgScalar;

pub(super) fn compute<T: LinalgScalar>(
    a: MatRef<'_, T>,
    params: &RootParams,
    ws: &mut RootWorkspace<T>,
) -> Result<RootInfo> {
    let n = a.nrows();
    crate::eigh::eigh_into(a, &mut ws.w, ws.u.as_mut(), &mut ws.eigh)?;
    let eps = params.eps;
    let mut info = RootInfo {
        residual: f64::NAN,
        min_eig: f64::INFINITY,
        max_eig: f64::NEG_INFINITY,
        floored: 0,
        iterations: 0,
    };
    let expo = -0.5 / params.p as f64;
    for j in 0..n {
        let lam = ws.w[j].to_f64() + eps;
        info.min_eig = info.min_eig.min(lam);
        info.max_eig = info.max_eig.max(lam);
        let lam = if lam < params.floor {
            info.floored += 1;
            params.floor
        } else {
            lam
        };
        // Scale column j of U by lambda_j^{-1/(2p)} into t1 (computed in f64: the power of a
        // tiny eigenvalue is where f32 would lose the most).
        let f = T::from_f64(lam.powf(expo));
        for i in 0..n {
            ws.t1[(i, j)] = ws.u[(i, j)] * f;
        }
    }
    matmul(
        ws.x.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        ws.t1.as_ref(),
        BlockStructure::Rectangular,
        ws.t1.as_ref().transpose(),
        BlockStructure::Rectangular,
        T::ONE,
        crate::eigh::faer_par(ws.par),
    );
    for j in 0..n {
        for i in (j + 1)..n {
            ws.x[(j, i)] = ws.x[(i, j)];
        }
    }
    Ok(info)
}
