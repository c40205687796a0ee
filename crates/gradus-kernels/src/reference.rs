//! Plain scalar reference implementations of every kernel: one loop, one element at a time,
//! the same operation order as the SIMD code. Tests compare the SIMD kernels against these
//! (bit for bit for elementwise updates, within the rounding bound for reductions). They are
//! public so downstream crates can test their own uses of the kernels the same way.
//!
//! Like the SIMD kernels, every function checks its lengths first and returns the same error
//! (naming the buffer) without touching any buffer.

use gradus_core::Result;
use gradus_core::validate::same_len;

use crate::adagrad::{AdagradConsts, adagrad_elem};
use crate::adam::{AdamConsts, adam_elem, check_vmax};
use crate::bf16::Bf16Vec;
use crate::blas1::check_bounds;
use crate::rmsprop::{RmsPropConsts, rmsprop_elem};
use crate::sgd::{SgdConsts, sgd_elem, sgd_momentum_elem};
use crate::simd::{SimdFloat, sign_scalar};

/// Reference Adam step (full-precision moments). Errors like [`crate::adam_step`].
pub fn adam_step<T: SimdFloat>(
    c: &AdamConsts<T>,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    mut vmax: Option<&mut [T]>,
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("first moment", n, m.len())?;
    same_len("second moment", n, v.len())?;
    check_vmax(c.amsgrad, n, vmax.as_ref().map(|x| x.len()))?;
    for i in 0..p.len() {
        let x = vmax.as_ref().map_or(T::ZERO, |x| x[i]);
        let [pn, mn, vn, xn] = adam_elem(c, p[i], g[i], m[i], v[i], x);
        (p[i], m[i], v[i]) = (pn, mn, vn);
        if let Some(x) = vmax.as_mut() {
            x[i] = xn;
        }
    }
    Ok(())
}

/// Reference Adam step with bf16 moments: decode, update in f32, round on store. Errors like
/// [`crate::adam_step_bf16`].
pub fn adam_step_bf16(
    c: &AdamConsts<f32>,
    p: &mut [f32],
    g: &[f32],
    m: &mut Bf16Vec,
    v: &mut Bf16Vec,
    mut vmax: Option<&mut Bf16Vec>,
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("first moment", n, m.len())?;
    same_len("second moment", n, v.len())?;
    check_vmax(c.amsgrad, n, vmax.as_ref().map(|x| x.len()))?;
    for i in 0..p.len() {
        let x = vmax.as_ref().map_or(0.0, |x| x.get(i));
        let [pn, mn, vn, xn] = adam_elem(c, p[i], g[i], m.get(i), v.get(i), x);
        p[i] = pn;
        m.set(i, mn);
        v.set(i, vn);
        if let Some(x) = vmax.as_mut() {
            x.set(i, xn);
        }
    }
    Ok(())
}

/// Reference Adam step with bf16 moments and a chosen rounding: decode, update in f32, round
/// each element on store with the same random bits (key and position) as the kernel.
pub fn adam_step_bf16_rounded(
    c: &AdamConsts<f32>,
    rounding: crate::Bf16Rounding,
    p: &mut [f32],
    g: &[f32],
    m: &mut Bf16Vec,
    v: &mut Bf16Vec,
    mut vmax: Option<&mut Bf16Vec>,
) -> Result<()> {
    let crate::Bf16Rounding::Stochastic { key } = rounding else {
        return adam_step_bf16(c, p, g, m, v, vmax);
    };
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("first moment", n, m.len())?;
    same_len("second moment", n, v.len())?;
    check_vmax(c.amsgrad, n, vmax.as_ref().map(|x| x.len()))?;
    let keys = [0, 1, 2].map(|k| crate::bf16::stream_key(key, k));
    for i in 0..p.len() {
        let x = vmax.as_ref().map_or(0.0, |x| x.get(i));
        let [pn, mn, vn, xn] = adam_elem(c, p[i], g[i], m.get(i), v.get(i), x);
        p[i] = pn;
        m.as_mut_slice().set_stochastic(i, mn, keys[0]);
        v.as_mut_slice().set_stochastic(i, vn, keys[1]);
        if let Some(x) = vmax.as_mut() {
            x.as_mut_slice().set_stochastic(i, xn, keys[2]);
        }
    }
    Ok(())
}

/// Reference SGD step. Errors like [`crate::sgd_step`].
pub fn sgd_step<T: SimdFloat>(
    c: &SgdConsts<T>,
    p: &mut [T],
    g: &[T],
    buf: Option<&mut [T]>,
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    if let Some(b) = buf.as_ref() {
        same_len("momentum buffer", n, b.len())?;
    }
    match buf {
        Some(b) => {
            for i in 0..p.len() {
                [p[i], b[i]] = sgd_momentum_elem(c, p[i], g[i], b[i]);
            }
        }
        None => {
            for i in 0..p.len() {
                p[i] = sgd_elem(c, p[i], g[i]);
            }
        }
    }
    Ok(())
}

/// Reference RMSProp step. Errors like [`crate::rmsprop_step`].
pub fn rmsprop_step<T: SimdFloat>(
    c: &RmsPropConsts<T>,
    p: &mut [T],
    g: &[T],
    v: &mut [T],
    mut avg: Option<&mut [T]>,
    mut buf: Option<&mut [T]>,
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("square average", n, v.len())?;
    if let Some(a) = avg.as_ref() {
        same_len("gradient average", n, a.len())?;
    }
    if let Some(b) = buf.as_ref() {
        same_len("momentum buffer", n, b.len())?;
    }
    let (centered, momentum) = (avg.is_some(), buf.is_some());
    for i in 0..p.len() {
        let a = avg.as_ref().map_or(T::ZERO, |a| a[i]);
        let b = buf.as_ref().map_or(T::ZERO, |b| b[i]);
        let [pn, vn, an, bn] = rmsprop_elem(c, centered, momentum, [p[i], g[i], v[i], a, b]);
        (p[i], v[i]) = (pn, vn);
        if let Some(a) = avg.as_mut() {
            a[i] = an;
        }
        if let Some(b) = buf.as_mut() {
            b[i] = bn;
        }
    }
    Ok(())
}

/// Reference Adagrad step. Errors like [`crate::adagrad_step`].
pub fn adagrad_step<T: SimdFloat>(
    c: &AdagradConsts<T>,
    p: &mut [T],
    g: &[T],
    sum: &mut [T],
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("square sum", n, sum.len())?;
    for i in 0..n {
        [p[i], sum[i]] = adagrad_elem(c, p[i], g[i], sum[i]);
    }
    Ok(())
}

/// Reference `y <- a x + y`. Errors like [`crate::axpy`].
pub fn axpy<T: SimdFloat>(a: T, x: &[T], y: &mut [T]) -> Result<()> {
    same_len("axpy x", y.len(), x.len())?;
    for (y, &x) in y.iter_mut().zip(x) {
        *y = a.mul_add(x, *y);
    }
    Ok(())
}

/// Reference `x <- a x`.
pub fn scale<T: SimdFloat>(a: T, x: &mut [T]) {
    for x in x {
        *x = a * *x;
    }
}

/// Reference elementwise sign. Errors like [`crate::sign`].
pub fn sign<T: SimdFloat>(x: &[T], out: &mut [T]) -> Result<()> {
    same_len("sign output", x.len(), out.len())?;
    for (o, &x) in out.iter_mut().zip(x) {
        *o = sign_scalar(x);
    }
    Ok(())
}

/// Reference dot product, accumulated left to right in `f64`. Errors like [`crate::dot`].
pub fn dot<T: SimdFloat>(x: &[T], y: &[T]) -> Result<f64> {
    same_len("dot y", x.len(), y.len())?;
    Ok(x.iter().zip(y).map(|(&a, &b)| a.to_f64() * b.to_f64()).sum())
}

/// Reference sum of squares, accumulated in `f64`.
pub fn sum_squares<T: SimdFloat>(x: &[T]) -> f64 {
    x.iter().map(|&a| a.to_f64() * a.to_f64()).sum()
}

/// Reference per-block mean of squares. Errors, like [`crate::block_mean_squares`], unless
/// `bounds` rises strictly from 0 to `x.len()`.
pub fn block_mean_squares<T: SimdFloat>(x: &[T], bounds: &[usize]) -> Result<Vec<f64>> {
    check_bounds(x.len(), bounds)?;
    Ok(bounds.windows(2).map(|w| sum_squares(&x[w[0]..w[1]]) / (w[1] - w[0]) as f64).collect())
}
