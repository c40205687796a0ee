//! The LAPACK backend (feature `openblas-system`): `?syevd` through ndarray-linalg.

use faer::{Mat, MatRef};
use gradus_core::{Error, Result};
use ndarray::Array2;
use ndarray_linalg::{Eigh as _, UPLO};

use crate::LinalgScalar;
use crate::eigh::Eigh;

fn run<S: ndarray_linalg::Lapack<Real = S> + Copy>(a: Array2<S>) -> Result<(Vec<S>, Array2<S>)> {
    // LAPACK reports failure only as non-convergence of the tridiagonal QR (info > 0).
    let (w, u) = a.eigh(UPLO::Lower).map_err(|_| Error::NoConvergence {
        method: "LAPACK syevd",
        iterations: 0,
        residual: f64::NAN,
    })?;
    Ok((w.to_vec(), u))
}

/// Eigendecomposition of a validated symmetric matrix by LAPACK, in the precision of `T`.
pub(crate) fn eigh<T: LinalgScalar>(a: MatRef<'_, T>) -> Result<Eigh<T>> {
    let n = a.nrows();
    let (values, vectors) = if T::NAME == "f32" {
        let arr = Array2::from_shape_fn((n, n), |(i, j)| a[(i, j)].to_f64() as f32);
        let (w, u) = run(arr)?;
        (
            w.iter().map(|&v| T::from_f64(v as f64)).collect(),
            Mat::from_fn(n, n, |i, j| T::from_f64(u[(i, j)] as f64)),
        )
    } else {
        let arr = Array2::from_shape_fn((n, n), |(i, j)| a[(i, j)].to_f64());
        let (w, u) = run(arr)?;
        (
            w.iter().map(|&v| T::from_f64(v)).collect(),
            Mat::from_fn(n, n, |i, j| T::from_f64(u[(i, j)])),
        )
    };
    Ok(Eigh { values, vectors })
}
