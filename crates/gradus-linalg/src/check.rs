//! Input validation shared by the matrix routines.

use faer::MatRef;
use gradus_core::{Error, Result};

use crate::LinalgScalar;

/// Errors unless `a` is square.
pub(crate) fn square<T>(what: &'static str, a: MatRef<'_, T>) -> Result<usize> {
    if a.nrows() != a.ncols() {
        return Err(Error::InvalidShape {
            what,
            detail: format!("{} x {} is not square", a.nrows(), a.ncols()),
        });
    }
    Ok(a.nrows())
}

/// Errors at the first non-finite entry (index in column-major order).
pub(crate) fn finite<T: LinalgScalar>(what: &'static str, a: MatRef<'_, T>) -> Result<()> {
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            if !a[(i, j)].is_finite() {
                return Err(Error::NonFinite { what, index: j * a.nrows() + i });
            }
        }
    }
    Ok(())
}

/// Largest `|a_ij|`.
pub(crate) fn max_abs<T: LinalgScalar>(a: MatRef<'_, T>) -> f64 {
    let mut m = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            m = m.max(a[(i, j)].to_f64().abs());
        }
    }
    m
}

/// Errors unless `max |a_ij - a_ji| <= rel_tol * max |a_ij|`.
pub(crate) fn symmetric<T: LinalgScalar>(a: MatRef<'_, T>, rel_tol: f64) -> Result<()> {
    let scale = max_abs(a);
    let mut asym = 0.0f64;
    for j in 0..a.ncols() {
        for i in (j + 1)..a.nrows() {
            asym = asym.max((a[(i, j)].to_f64() - a[(j, i)].to_f64()).abs());
        }
    }
    let tolerance = rel_tol * scale;
    if asym > tolerance {
        return Err(Error::NotSymmetric { asymmetry: asym, tolerance });
    }
    Ok(())
}

/// The default relative symmetry tolerance for `n x n` matrices of `T`: a few hundred
/// roundings, enough for `G G^T` accumulated in floating point, far below any real asymmetry.
pub(crate) fn default_sym_tol<T: LinalgScalar>(n: usize) -> f64 {
    256.0 * T::EPSILON.to_f64() * (n.max(1) as f64).sqrt()
}
