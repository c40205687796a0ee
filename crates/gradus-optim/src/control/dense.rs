//! Small dense helpers for state dimensions of a few to a few tens: row-major slices to faer
//! matrices, the matrix exponential, and Cholesky on tiny blocks without allocation.

use faer::Mat;
use faer::linalg::solvers::DenseSolveCore;

/// A faer matrix from a row-major `d x d` slice.
pub(crate) fn from_row_major(d: usize, a: &[f64]) -> Mat<f64> {
    Mat::from_fn(d, d, |i, j| a[i * d + j])
}

/// A faer matrix back to a row-major vector.
pub(crate) fn to_row_major(a: &Mat<f64>) -> Vec<f64> {
    let (r, c) = (a.nrows(), a.ncols());
    (0..r * c).map(|k| a[(k / c, k % c)]).collect()
}

/// `diag(v)` as a row-major matrix.
pub(crate) fn diag(v: &[f64]) -> Vec<f64> {
    let d = v.len();
    let mut out = vec![0.0; d * d];
    for (i, &x) in v.iter().enumerate() {
        out[i * d + i] = x;
    }
    out
}

/// `out = A x` for row-major square `A`.
pub(crate) fn matvec(a: &[f64], x: &[f64], out: &mut [f64]) {
    let d = x.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = a[i * d..(i + 1) * d].iter().zip(x).map(|(p, q)| p * q).sum();
    }
}

/// Induced 1-norm (largest column sum of magnitudes).
pub(crate) fn norm1(a: &Mat<f64>) -> f64 {
    (0..a.ncols()).map(|j| (0..a.nrows()).map(|i| a[(i, j)].abs()).sum::<f64>()).fold(0.0, f64::max)
}

/// Frobenius norm.
pub(crate) fn norm_fro(a: &Mat<f64>) -> f64 {
    a.norm_l2()
}

/// `e^M` by scaling and squaring: `M / 2^s` with norm at most 1/2, a degree-16 Taylor
/// polynomial (truncation below 1e-19 relative), then `s` squarings.
pub(crate) fn expm(m: &Mat<f64>) -> Mat<f64> {
    let n = m.nrows();
    let norm = norm1(m);
    let s = if norm > 0.5 { (norm / 0.5).log2().ceil() as i32 } else { 0 };
    let scale = 0.5f64.powi(s);
    let a = Mat::from_fn(n, n, |i, j| m[(i, j)] * scale);
    let id = Mat::<f64>::identity(n, n);
    let mut r = id.clone();
    for k in (1..=16).rev() {
        let ar = &a * &r;
        r = Mat::from_fn(n, n, |i, j| id[(i, j)] + ar[(i, j)] / k as f64);
    }
    for _ in 0..s {
        r = &r * &r;
    }
    r
}

/// The inverse by LU with partial pivoting; `None` if it is not finite (singular input).
pub(crate) fn inverse(a: &Mat<f64>) -> Option<Mat<f64>> {
    let inv = a.partial_piv_lu().inverse();
    let finite = (0..inv.nrows()).all(|i| (0..inv.ncols()).all(|j| inv[(i, j)].is_finite()));
    finite.then_some(inv)
}

/// In-place Cholesky `A = L Lᵀ` of a row-major `d x d` block (lower triangle written; the
/// upper is left as is). `false` if `A` is not numerically positive definite. The blocks of
/// the path Newton step are tiny and many, so this avoids faer's per-call allocation.
pub(crate) fn cholesky_in_place(a: &mut [f64], d: usize) -> bool {
    for j in 0..d {
        let mut diag = a[j * d + j];
        for k in 0..j {
            diag -= a[j * d + k] * a[j * d + k];
        }
        if !diag.is_finite() || diag <= 0.0 {
            return false;
        }
        let l = diag.sqrt();
        a[j * d + j] = l;
        for i in j + 1..d {
            let mut v = a[i * d + j];
            for k in 0..j {
                v -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = v / l;
        }
    }
    true
}

/// Solves `L Lᵀ x = b` in place with the factor from [`cholesky_in_place`].
pub(crate) fn cholesky_solve(l: &[f64], d: usize, b: &mut [f64]) {
    for i in 0..d {
        let mut v = b[i];
        for k in 0..i {
            v -= l[i * d + k] * b[k];
        }
        b[i] = v / l[i * d + i];
    }
    for i in (0..d).rev() {
        let mut v = b[i];
        for k in i + 1..d {
            v -= l[k * d + i] * b[k];
        }
        b[i] = v / l[i * d + i];
    }
}
