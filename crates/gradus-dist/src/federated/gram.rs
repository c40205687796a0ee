//! The Gram matrix `G = X X^T` of the client vectors, and the pairwise squared distances
//! `|x_i - x_j|^2 = (G_ii - G_ij) + (G_jj - G_ij)` it gives (paper 09 §2, Krum; Weiszfeld in
//! coefficient space).
//!
//! One product computes all `n^2` inner products while reading every client vector from
//! memory once, instead of the `n^2 / 2` passes of pairwise distance loops. The columns are
//! cut into fixed pieces of [`GRAM_COLUMNS`]; each piece is a lower-triangular faer product
//! run sequentially, and pieces are summed along a tree that depends only on `d`, so the
//! result is bit-identical for every thread count.
//!
//! The price is cancellation: a squared distance from `G` carries an absolute error of order
//! `eps * sqrt(d) * max(|x_i|^2, |x_j|^2)` (at worst `d eps` instead of `sqrt(d) eps`), not
//! relative to `|x_i - x_j|^2`. Distances between clients much closer to each other than to
//! the origin (relative spread below about `1e-7`) are therefore dominated by rounding; shift
//! such vectors towards the origin (e.g. subtract a reference update) before aggregating.

use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::{Accum, Mat, MatRef};
use gradus_core::validate::same_len;
use gradus_core::{Error, Par, Result};
use gradus_kernels::SimdFloat;
use pulp::{Simd, WithSimd};

use super::Updates;

/// Columns per leaf of the Gram reduction: `n x GRAM_COLUMNS` doubles stay in cache for the
/// client counts of federated learning (a few hundred KB at `n = 100`).
pub const GRAM_COLUMNS: usize = 1 << 12;

/// `G = X X^T` (`n x n`, row-major, symmetric) for the rows of `u`.
///
/// Rounding: each entry is accumulated within pieces by faer's blocked FMA kernels and the
/// pieces pairwise, so `|G_ij - exact| <~ c * eps * sqrt(d) * |x_i| |x_j|` in practice and
/// `d * eps * |x_i| |x_j|` at worst.
///
/// Errors (before any work) if `n^2` overflows or the `n x n` result cannot be allocated
/// (many clients of small dimension: the Gram matrix is larger than the input).
pub fn gram(u: Updates<'_>, par: Par) -> Result<Vec<f64>> {
    let n = u.n();
    let len = gram_len(n)?;
    let mut g = Vec::new();
    g.try_reserve_exact(len).map_err(|_| Error::InvalidShape {
        what: "Gram matrix",
        detail: format!("{n} x {n} doubles cannot be allocated"),
    })?;
    g.resize(len, 0.0);
    let lower = gram_range(u, 0, u.d(), par);
    for i in 0..n {
        for j in 0..=i {
            let v = lower[(i, j)];
            g[i * n + j] = v;
            g[j * n + i] = v;
        }
    }
    Ok(g)
}

/// `n^2`, or an error naming the overflow.
fn gram_len(n: usize) -> Result<usize> {
    n.checked_mul(n).ok_or_else(|| Error::InvalidShape {
        what: "Gram matrix",
        detail: format!("{n} x {n} overflows usize"),
    })
}

fn gram_range(u: Updates<'_>, lo: usize, hi: usize, par: Par) -> Mat<f64> {
    let len = hi - lo;
    if len <= GRAM_COLUMNS {
        let n = u.n();
        let x = MatRef::from_row_major_slice_with_stride(&u.as_slice()[lo..], n, len, u.d());
        let mut acc = Mat::<f64>::zeros(n, n);
        matmul(
            acc.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            x,
            BlockStructure::Rectangular,
            x.transpose(),
            BlockStructure::Rectangular,
            1.0,
            faer::Par::Seq,
        );
        return acc;
    }
    let mid = lo + (len.div_ceil(GRAM_COLUMNS) / 2) * GRAM_COLUMNS;
    let (mut a, b) = if par.is_parallel() {
        rayon::join(|| gram_range(u, lo, mid, par), || gram_range(u, mid, hi, par))
    } else {
        (gram_range(u, lo, mid, par), gram_range(u, mid, hi, par))
    };
    a += &b;
    a
}

/// Squared distance `|x_i - x_j|^2 = (G_ii - G_ij) + (G_jj - G_ij)` from the `n x n`
/// row-major Gram matrix `g`, clamped at 0 (rounding can make it slightly negative for
/// nearly equal vectors). See the module documentation for its absolute rounding error.
///
/// Errors if `g` is not `n x n` or `i`, `j` are not below `n`.
pub fn sq_dist_from_gram(g: &[f64], n: usize, i: usize, j: usize) -> Result<f64> {
    same_len("Gram matrix entries (n * n)", gram_len(n)?, g.len())?;
    if i >= n || j >= n {
        return Err(Error::InvalidShape {
            what: "Gram matrix index",
            detail: format!("({i}, {j}) is outside {n} x {n}"),
        });
    }
    Ok(sq_dist_at(g, n, i, j))
}

/// [`sq_dist_from_gram`] for callers that guarantee the shape and indices.
///
/// The differences are formed before the sum: `G_ii + G_jj` overflows for two clients of
/// squared norm above `f64::MAX / 2` even when every entry is finite, and `inf - inf` would
/// turn their distance into NaN. A NaN can only come from non-finite entries and counts as
/// infinitely far.
#[inline]
pub(crate) fn sq_dist_at(g: &[f64], n: usize, i: usize, j: usize) -> f64 {
    let gij = g[i * n + j];
    let d = (g[i * n + i] - gij) + (g[j * n + j] - gij);
    if d.is_nan() { f64::INFINITY } else { d.max(0.0) }
}

/// `|a - b|^2` in one SIMD pass over both vectors (four independent accumulators; the
/// operation order depends only on the length, so the result is reproducible). Errors if
/// the lengths differ.
pub fn sq_dist(a: &[f64], b: &[f64]) -> Result<f64> {
    same_len("vectors of a squared distance", a.len(), b.len())?;
    Ok(sq_dist_same_len(a, b))
}

/// [`sq_dist`] for callers that guarantee equal lengths.
pub(crate) fn sq_dist_same_len(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    struct K<'a> {
        a: &'a [f64],
        b: &'a [f64],
    }
    impl WithSimd for K<'_> {
        type Output = f64;
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) -> f64 {
            let (ah, at) = f64::as_simd::<S>(self.a);
            let (bh, bt) = f64::as_simd::<S>(self.b);
            let mut acc = [f64::splat(s, 0.0); 4];
            let quads = ah.len() / 4;
            for q in 0..quads {
                for (j, c) in acc.iter_mut().enumerate() {
                    let t = f64::vsub(s, ah[4 * q + j], bh[4 * q + j]);
                    *c = f64::vfma(s, t, t, *c);
                }
            }
            for i in 4 * quads..ah.len() {
                let t = f64::vsub(s, ah[i], bh[i]);
                acc[0] = f64::vfma(s, t, t, acc[0]);
            }
            let folded = f64::vadd(s, f64::vadd(s, acc[0], acc[1]), f64::vadd(s, acc[2], acc[3]));
            let mut total = f64::vsum(s, folded);
            for (&x, &y) in at.iter().zip(bt) {
                let t = x - y;
                total += t * t;
            }
            total
        }
    }
    pulp::Arch::new().dispatch(K { a, b })
}

#[cfg(test)]
mod tests {
    use super::gram_len;

    #[test]
    fn gram_sizes_that_overflow_are_errors() {
        // Updates with 2^32 clients would need 32 GiB of input, so the guard is tested here.
        assert!(gram_len(1 << 32).is_err());
        assert!(gram_len(usize::MAX).is_err());
        assert_eq!(gram_len((1 << 32) - 1).unwrap(), ((1usize << 32) - 1).pow(2));
    }
}
