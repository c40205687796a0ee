//! Levinson-Durbin recursion for Hermitian positive-definite Toeplitz matrices.
//!
//! With `T_{k+1} [1; a^(k)] = [E_k; 0]` (forward prediction), each order adds
//! ```text
//! Delta_k = t_k + sum_{j=1}^{k-1} a_j t_{k-j},   kappa_k = -Delta_k / E_{k-1},
//! a_j <- a_j + kappa_k conj(a_{k-j}),  a_k = kappa_k,   E_k = E_{k-1} (1 - |kappa_k|^2),
//! ```
//! starting from `E_0 = t_0`. `T` is positive definite iff `t_0 > 0` and every
//! `|kappa_k| < 1`, and `log det T = sum_k log E_k`. The backward vector
//! `J conj([1; a]) / E_k` solves `T_{k+1} g = e_k`, which extends a solution of the leading
//! `k x k` system by one row (Levinson).

use gradus_core::{Error, Result, validate::same_len};

use super::ToeplitzField;

/// Output of [`durbin`]: the prediction polynomial and everything the likelihood needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Durbin<F> {
    /// `[1, a_1, ..., a_{n-1}]`: `T [1; a] = [E_{n-1}; 0]`, so `T^{-1} e_1 = [1; a] / E_{n-1}`.
    pub poly: Vec<F>,
    /// Reflection coefficients `kappa_1 .. kappa_{n-1}`.
    pub reflection: Vec<F>,
    /// Prediction errors `E_0 .. E_{n-1}` (all positive).
    pub errors: Vec<f64>,
    /// `log det T`.
    pub logdet: f64,
}

fn check_first_column<F: ToeplitzField>(t: &[F]) -> Result<()> {
    if t.is_empty() {
        return Err(Error::InvalidShape {
            what: "Toeplitz matrix",
            detail: "empty first column".into(),
        });
    }
    if let Some(index) = t.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { what: "Toeplitz first column", index });
    }
    if t[0].im() != 0.0 {
        return Err(Error::NotSymmetric { asymmetry: t[0].im().abs(), tolerance: 0.0 });
    }
    if t[0].re() <= 0.0 {
        return Err(Error::NotPositiveDefinite {
            detail: format!("diagonal t_0 = {} is not positive", t[0].re()),
        });
    }
    Ok(())
}

/// `sum_j u_j r_{n-1-j}` (a convolution term) in four independent partial sums, so the
/// `O(n)` inner product of each Levinson order runs at SIMD speed rather than one dependent
/// add per element.
#[inline]
fn reversed_dot<F: ToeplitzField>(u: &[F], r: &[F]) -> F {
    let n = u.len().min(r.len());
    let mut acc = [F::ZERO; 4];
    let quads = n / 4;
    for q in 0..quads {
        for (l, a) in acc.iter_mut().enumerate() {
            let j = 4 * q + l;
            *a = *a + u[j] * r[n - 1 - j];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for j in 4 * quads..n {
        s = s + u[j] * r[n - 1 - j];
    }
    s
}

/// `(sum_j u_j r_{n-1-j}, sum_j v_j r_{n-1-j})` in one pass over `r` (the two inner products
/// of a Levinson order share the Toeplitz column), four partial sums each.
#[inline]
fn two_reversed_dots<F: ToeplitzField>(u: &[F], v: &[F], r: &[F]) -> (F, F) {
    let n = u.len().min(v.len()).min(r.len());
    let (mut au, mut av) = ([F::ZERO; 4], [F::ZERO; 4]);
    let quads = n / 4;
    for q in 0..quads {
        for l in 0..4 {
            let j = 4 * q + l;
            let rj = r[n - 1 - j];
            au[l] = au[l] + u[j] * rj;
            av[l] = av[l] + v[j] * rj;
        }
    }
    let mut su = (au[0] + au[1]) + (au[2] + au[3]);
    let mut sv = (av[0] + av[1]) + (av[2] + av[3]);
    for j in 4 * quads..n {
        su = su + u[j] * r[n - 1 - j];
        sv = sv + v[j] * r[n - 1 - j];
    }
    (su, sv)
}

/// `kappa_k` from `Delta_k` and `E_{k-1}`, and `E_k`; errors unless `|kappa_k| < 1` and
/// `E_k > 0`.
#[inline]
fn reflection<F: ToeplitzField>(delta: F, e_prev: f64, k: usize) -> Result<(F, f64)> {
    let kappa = -delta / F::from_re(e_prev);
    let k2 = kappa.abs2();
    if !(k2 < 1.0) {
        return Err(Error::NotPositiveDefinite {
            detail: format!("reflection coefficient {k} has modulus {:.6} >= 1", k2.sqrt()),
        });
    }
    let e = e_prev * (1.0 - k2);
    if !(e > 0.0) {
        return Err(Error::NotPositiveDefinite {
            detail: format!("prediction error {k} is {e:e}"),
        });
    }
    Ok((kappa, e))
}

/// One Durbin order: updates `a` (length `k`, holding `a^(k-1)` in `a[1..k]` with `a[0] = 1`)
/// in place to order `k`, returning `(kappa_k, E_k)`.
#[inline]
fn durbin_order<F: ToeplitzField>(t: &[F], a: &mut [F], k: usize, e_prev: f64) -> Result<(F, f64)> {
    let delta = t[k] + reversed_dot(&a[1..k], &t[1..k]);
    let (kappa, e) = reflection(delta, e_prev, k)?;
    // a_j <- a_j + kappa conj(a_{k-j}) for j = 1..k-1, pairwise so old values are used.
    // Split at the middle so both halves stream (one reversed) and the loop vectorises.
    let inner = &mut a[1..k];
    let half = inner.len() / 2;
    let (left, rest) = inner.split_at_mut(half);
    let (mid, right) = rest.split_at_mut(rest.len() - half);
    for (al, ah) in left.iter_mut().zip(right.iter_mut().rev()) {
        let (l, h) = (*al, *ah);
        *al = l + kappa * h.conj();
        *ah = h + kappa * l.conj();
    }
    if let Some(am) = mid.first_mut() {
        *am = *am + kappa * am.conj();
    }
    a[k] = kappa;
    Ok((kappa, e))
}

/// Levinson-Durbin on the first column `t` of a Hermitian Toeplitz matrix: the prediction
/// polynomial, reflection coefficients, prediction errors and `log det T` in `O(n^2)`.
///
/// Errors: empty or non-finite `t`, non-real `t_0`, `t_0 <= 0`, or a reflection coefficient of
/// modulus `>= 1` ([`Error::NotPositiveDefinite`], naming the order).
pub fn durbin<F: ToeplitzField>(t: &[F]) -> Result<Durbin<F>> {
    check_first_column(t)?;
    let n = t.len();
    let mut poly = vec![F::ZERO; n];
    poly[0] = F::ONE;
    let mut reflection = Vec::with_capacity(n.saturating_sub(1));
    let mut errors = Vec::with_capacity(n);
    let mut e = t[0].re();
    errors.push(e);
    let mut logdet = e.ln();
    for k in 1..n {
        let (kappa, e_new) = durbin_order(t, &mut poly, k, e)?;
        reflection.push(kappa);
        e = e_new;
        errors.push(e);
        logdet += e.ln();
    }
    if !logdet.is_finite() || poly.iter().any(|v| !v.is_finite()) {
        return Err(Error::Singular {
            detail: "Levinson-Durbin overflowed (entries too large)".into(),
        });
    }
    Ok(Durbin { poly, reflection, errors, logdet })
}

/// Scratch for [`levinson_solve`]: reusable across solves of the same size.
#[derive(Debug, Clone)]
pub struct LevinsonWorkspace<F> {
    a: Vec<F>,
}

impl<F: ToeplitzField> LevinsonWorkspace<F> {
    /// Scratch for systems of size `n`.
    pub fn new(n: usize) -> Self {
        LevinsonWorkspace { a: vec![F::ZERO; n.max(1)] }
    }
}

/// Solves `T x = b` for Hermitian positive-definite Toeplitz `T` with first column `t`, in
/// `O(n^2)` and without allocation; returns `log det T` (free by-product).
///
/// Errors (with `x` unspecified) as [`durbin`], plus length mismatches and non-finite `b`.
pub fn levinson_solve<F: ToeplitzField>(
    t: &[F],
    b: &[F],
    x: &mut [F],
    ws: &mut LevinsonWorkspace<F>,
) -> Result<f64> {
    check_first_column(t)?;
    let n = t.len();
    same_len("right-hand side", n, b.len())?;
    same_len("solution", n, x.len())?;
    same_len("Levinson workspace", n.max(1), ws.a.len())?;
    if let Some(index) = b.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what: "right-hand side", index });
    }
    let a = &mut ws.a;
    a[0] = F::ONE;
    let mut e = t[0].re();
    let mut logdet = e.ln();
    x[0] = b[0] / t[0];
    for k in 1..n {
        // Two passes per order instead of four: both inner products (Durbin's Delta_k and
        // Levinson's rho = row k of T_{k+1} [x; 0]) in one, then the mirrored update of `a`
        // to order k fused with x <- [x; 0] + mu J conj([1; a]).
        let (da, dx) = two_reversed_dots(&a[1..k], &x[1..k], &t[1..k]);
        let (kappa, e_new) = reflection(t[k] + da, e, k)?;
        e = e_new;
        logdet += e.ln();
        let rho = x[0] * t[k] + dx;
        // g = J conj([1; a]) / E_k solves T_{k+1} g = e_k.
        let mu = (b[k] - rho) / F::from_re(e);
        x[0] = x[0] + mu * kappa.conj();
        let (ai, xi) = (&mut a[1..k], &mut x[1..k]);
        let half = ai.len() / 2;
        let (a_lo, a_rest) = ai.split_at_mut(half);
        let (a_mid, a_hi) = a_rest.split_at_mut(a_rest.len() - half);
        let (x_lo, x_rest) = xi.split_at_mut(half);
        let (x_mid, x_hi) = x_rest.split_at_mut(x_rest.len() - half);
        // Pairs (j, k - j): a_j and a_{k-j} update each other; x_j takes the new a_{k-j} and
        // x_{k-j} the new a_j.
        for (((al, ah), xl), xh) in a_lo
            .iter_mut()
            .zip(a_hi.iter_mut().rev())
            .zip(x_lo.iter_mut())
            .zip(x_hi.iter_mut().rev())
        {
            let (l, h) = (*al, *ah);
            let (nl, nh) = (l + kappa * h.conj(), h + kappa * l.conj());
            *al = nl;
            *ah = nh;
            *xl = *xl + mu * nh.conj();
            *xh = *xh + mu * nl.conj();
        }
        if let (Some(am), Some(xm)) = (a_mid.first_mut(), x_mid.first_mut()) {
            *am = *am + kappa * am.conj();
            *xm = *xm + mu * am.conj();
        }
        a[k] = kappa;
        x[k] = mu;
    }
    // Extreme but finite entries can overflow intermediate products while every reflection
    // coefficient stays below 1 in modulus: report it rather than return garbage.
    if let Some(index) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Singular {
            detail: format!("solution overflowed at entry {index} (entries too large)"),
        });
    }
    if !logdet.is_finite() {
        return Err(Error::Singular {
            detail: "log-determinant overflowed (entries too large)".into(),
        });
    }
    Ok(logdet)
}
