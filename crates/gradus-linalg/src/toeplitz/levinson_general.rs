//! Levinson's algorithm for a general (non-symmetric) Toeplitz system `T x = b`, with first
//! column `c` and first row `r` (`c_0 = r_0`), by the Zohar-Trench forward/backward vectors:
//! `T_k f = e_1`, `T_k g = e_k` extended one order at a time,
//! ```text
//! eps_f = sum_{i<k} c_{k-i} f_i,  eps_g = sum_{i<k} r_{i+1} g_i,  d = 1 - eps_f eps_g
//! f' = ([f; 0] - eps_f [0; g]) / d,   g' = ([0; g] - eps_g [f; 0]) / d
//! x' = [x; 0] + (b_k - sum_{i<k} c_{k-i} x_i) g'
//! ```
//! Every leading principal submatrix must be nonsingular; `d = 0` (or `c_0 = 0`) is reported
//! as [`Error::Singular`] with the order at which it happened.

use gradus_core::{Error, Result, validate::same_len};

use super::ToeplitzField;

/// Solves `T x = b` in `O(n^2)`, allocating `O(n)` scratch.
pub fn toeplitz_solve_general<F: ToeplitzField>(c: &[F], r: &[F], b: &[F]) -> Result<Vec<F>> {
    let n = c.len();
    if n == 0 {
        return Err(Error::InvalidShape { what: "Toeplitz matrix", detail: "empty".into() });
    }
    same_len("first row", n, r.len())?;
    same_len("right-hand side", n, b.len())?;
    for (what, v) in [("first column", c), ("first row", r), ("right-hand side", b)] {
        if let Some(index) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite { what, index });
        }
    }
    if c[0] != r[0] {
        return Err(Error::InvalidShape {
            what: "Toeplitz matrix",
            detail: "first column and first row disagree at (0, 0)".into(),
        });
    }
    let scale = c.iter().chain(r).fold(0.0f64, |m, v| m.max(v.abs2().sqrt()));
    let tiny = 1e-14;
    if c[0].abs2().sqrt() <= tiny * scale || c[0] == F::ZERO {
        return Err(Error::Singular { detail: "zero pivot: the diagonal entry is 0".into() });
    }
    let mut f = vec![F::ZERO; n];
    let mut g = vec![F::ZERO; n];
    let mut f_new = vec![F::ZERO; n];
    let mut x = vec![F::ZERO; n];
    f[0] = F::ONE / c[0];
    g[0] = F::ONE / c[0];
    x[0] = b[0] / c[0];
    for k in 1..n {
        let mut ef = F::ZERO;
        let mut eg = F::ZERO;
        let mut ex = F::ZERO;
        for i in 0..k {
            ef = ef + c[k - i] * f[i];
            eg = eg + r[i + 1] * g[i];
            ex = ex + c[k - i] * x[i];
        }
        let d = F::ONE - ef * eg;
        if d.abs2().sqrt() <= tiny {
            return Err(Error::Singular {
                detail: format!(
                    "zero pivot at order {k}: leading {} x {} block is singular",
                    k + 1,
                    k + 1
                ),
            });
        }
        // f' and g' from the old f, g (g' written into g after f' is staged in f_new).
        f_new[0] = f[0] / d;
        for i in 1..=k {
            let fi = if i < k { f[i] } else { F::ZERO };
            f_new[i] = (fi - ef * g[i - 1]) / d;
        }
        for i in (0..=k).rev() {
            let gshift = if i >= 1 { g[i - 1] } else { F::ZERO };
            let fi = if i < k { f[i] } else { F::ZERO };
            g[i] = (gshift - eg * fi) / d;
        }
        f[..=k].copy_from_slice(&f_new[..=k]);
        let mu = b[k] - ex;
        for i in 0..=k {
            x[i] = x[i] + mu * g[i];
        }
    }
    if let Some(index) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Singular {
            detail: format!(
                "solution overflowed at entry {index}: the matrix is numerically singular"
            ),
        });
    }
    Ok(x)
}
