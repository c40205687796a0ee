//! Subspaces of `R^d` given by `d x k` bases (row-major): orthonormalisation and the
//! principal angles between two of them (paper 09's synthetic metric, spec §3).
//!
//! The distance used for the linear model is `|(I - P P^T) Q|_F = sqrt(sum_i sin^2 theta_i)`
//! for orthonormal bases `P` (the truth) and `Q` (the estimate), which lies in
//! `[0, sqrt(k)]`. It is formed from the residual `Q - P (P^T Q)` rather than as
//! `k - |P^T Q|_F^2`: the latter cancels catastrophically for small angles (an angle of
//! `1e-8` would vanish), the former keeps its relative accuracy.

use gradus_core::{Error, Par, Result, validate};
use gradus_kernels::{axpy, dot, norm2};

/// Checks a `d x k` basis buffer: `1 <= k <= d`, length `d * k`, finite entries.
fn check_basis(what: &'static str, b: &[f64], d: usize, k: usize) -> Result<()> {
    if k == 0 || k > d {
        return Err(Error::InvalidShape {
            what,
            detail: format!("a basis needs 1 <= k <= d, got d = {d}, k = {k}"),
        });
    }
    let len = d
        .checked_mul(k)
        .ok_or_else(|| Error::InvalidShape { what, detail: format!("{d} x {k} overflows") })?;
    validate::same_len(what, len, b.len())?;
    validate::all_finite(what, b)
}

/// Orthonormalises the columns of the row-major `d x k` matrix `b` in place: `b <- Q` with
/// `b = Q R`, `R` upper triangular with a positive diagonal (so `Q` depends continuously on
/// `b`, and a basis that is already orthonormal is returned unchanged up to rounding).
///
/// Gram-Schmidt with one reorthogonalisation (two modified Gram-Schmidt passes per column;
/// "twice is enough", Giraud et al. 2005): the loss of orthogonality is of order `eps`, like
/// Householder QR, and the operation order is fixed (SIMD `dot` / `axpy` from
/// `gradus-kernels`, sequential), so the result does not depend on any thread count.
/// `O(d k^2)`; one `d x k` scratch copy.
///
/// Errors (leaving `b` untouched) on a bad shape, a non-finite entry, or numerically dependent
/// columns (a column whose norm after projection falls below `1e-12` of its original norm,
/// or is zero).
pub fn orthonormalize(b: &mut [f64], d: usize, k: usize) -> Result<()> {
    check_basis("basis (d x k)", b, d, k)?;
    // Work on a column-major copy: columns are contiguous for the dot products and updates,
    // and a rank-deficient input must leave `b` untouched.
    let mut q = vec![0.0; d * k];
    for (i, row) in b.chunks_exact(k).enumerate() {
        for (j, v) in row.iter().enumerate() {
            q[j * d + i] = *v;
        }
    }
    for j in 0..k {
        let (done, rest) = q.split_at_mut(j * d);
        let col = &mut rest[..d];
        let norm0 = norm2(Par::Seq, col);
        for _pass in 0..2 {
            for prev in done.chunks_exact(d) {
                axpy(Par::Seq, -dot(Par::Seq, prev, col)?, prev, col)?;
            }
        }
        let norm = norm2(Par::Seq, col);
        if norm <= 1e-12 * norm0 {
            return Err(Error::Singular {
                detail: format!("column {j} of the basis depends on the previous ones"),
            });
        }
        col.iter_mut().for_each(|v| *v /= norm);
    }
    for (i, row) in b.chunks_exact_mut(k).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = q[j * d + i];
        }
    }
    Ok(())
}

/// `R = Q - P (P^T Q)` for orthonormal `p`, `q` (row-major `d x k`), into a new buffer.
fn residual(p: &[f64], q: &[f64], d: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0; k * k];
    for i in 0..d {
        for a in 0..k {
            for b in 0..k {
                c[a * k + b] += p[i * k + a] * q[i * k + b];
            }
        }
    }
    let mut r = q.to_vec();
    for i in 0..d {
        for b in 0..k {
            r[i * k + b] -= (0..k).map(|a| p[i * k + a] * c[a * k + b]).sum::<f64>();
        }
    }
    r
}

/// Orthonormal copies of two bases, after checking them.
fn orthonormal_pair(
    truth: &[f64],
    estimate: &[f64],
    d: usize,
    k: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    check_basis("true basis (d x k)", truth, d, k)?;
    check_basis("estimated basis (d x k)", estimate, d, k)?;
    let (mut p, mut q) = (truth.to_vec(), estimate.to_vec());
    orthonormalize(&mut p, d, k)?;
    orthonormalize(&mut q, d, k)?;
    Ok((p, q))
}

/// The subspace distance `|(I - P P^T) Q|_F = sqrt(sum_i sin^2 theta_i)` between the column
/// spans of `truth` and `estimate` (row-major `d x k`, any full-rank bases: both are
/// orthonormalised first). Symmetric, invariant to a change of basis of either argument,
/// `0` for equal spans and `sqrt(k)` for orthogonal ones.
///
/// Errors on bad shapes (`k > d` included), non-finite entries or rank-deficient bases.
pub fn subspace_distance(truth: &[f64], estimate: &[f64], d: usize, k: usize) -> Result<f64> {
    let (p, q) = orthonormal_pair(truth, estimate, d, k)?;
    Ok(residual(&p, &q, d, k).iter().map(|x| x * x).sum::<f64>().sqrt())
}

/// The principal angles `0 <= theta_1 <= ... <= theta_k <= pi/2` between the column spans of
/// `truth` and `estimate` (Bjorck and Golub 1973): `cos theta_i` are the singular values of
/// `P^T Q` and `sin theta_i` those of `(I - P P^T) Q`, both from faer's SVD; each angle is
/// `atan2(sin, cos)`, accurate for small and for near-right angles alike.
///
/// Errors as [`subspace_distance`], or if an SVD fails to converge.
pub fn principal_angles(truth: &[f64], estimate: &[f64], d: usize, k: usize) -> Result<Vec<f64>> {
    let (p, q) = orthonormal_pair(truth, estimate, d, k)?;
    let pm = faer::MatRef::from_row_major_slice(&p, d, k);
    let qm = faer::MatRef::from_row_major_slice(&q, d, k);
    let cosines = pm.transpose() * qm;
    let r = residual(&p, &q, d, k);
    let rm = faer::MatRef::from_row_major_slice(&r, d, k);
    let svd_error =
        |_| Error::NoConvergence { method: "singular values", iterations: 0, residual: f64::NAN };
    let mut cos = cosines.singular_values().map_err(svd_error)?;
    let mut sin = rm.singular_values().map_err(svd_error)?;
    // Largest cosine pairs with the smallest sine: (P^T Q)^T (P^T Q) + R^T R = I, so both
    // share right singular vectors with cos^2 + sin^2 = 1.
    cos.sort_by(|a, b| b.total_cmp(a));
    sin.sort_by(f64::total_cmp);
    Ok(cos.iter().zip(&sin).map(|(c, s)| s.atan2(*c)).collect())
}
