//! The Gram matrix `G = X X^T` of the client vectors, and the pairwise squared distances
//! `|x_i - x_j|^2 = G_ii + G_jj - 2 G_ij` it gives (paper 09 §2, Krum; Weiszfeld in
//! coefficient space).
//!
//! One product computes all `n^2` inner products while reading every client vector from
//! memory once, instead of the `n^2 / 2` passes of pairwise distance loops. The columns are
//! cut into fixed pieces of [`GRAM_COLUMNS`]; each piece is a lower-triangular faer product
//! run sequentially, and pieces are summed along a tree that depends only on `d`, so the
//! result is bit-identical for every thread count.

use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::{Accum, Mat, MatRef};
use gradus_core::Par;
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
pub fn gram(u: Updates<'_>, par: Par) -> Vec<f64> {
    let n = u.n();
    let lower = gram_range(u, 0, u.d(), par);
    let mut g = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let v = lower[(i, j)];
            g[i * n + j] = v;
            g[j * n + i] = v;
        }
    }
    g
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

/// Squared distance `G_ii + G_jj - 2 G_ij`, clamped at 0 (rounding can make it slightly
/// negative for nearly equal vectors).
#[inline]
pub fn sq_dist_from_gram(g: &[f64], n: usize, i: usize, j: usize) -> f64 {
    (g[i * n + i] + g[j * n + j] - 2.0 * g[i * n + j]).max(0.0)
}

/// `|a - b|^2` in one SIMD pass over both vectors (four independent accumulators; the
/// operation order depends only on the length, so the result is reproducible). `a` and `b`
/// must have the same length (callers check).
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
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
    let n = a.len().min(b.len());
    pulp::Arch::new().dispatch(K { a: &a[..n], b: &b[..n] })
}
