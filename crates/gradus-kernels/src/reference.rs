//! Plain scalar reference implementations of every kernel: one loop, one element at a time,
//! the same operation order as the SIMD code. Tests compare the SIMD kernels against these
//! (bit for bit for elementwise updates, within the rounding bound for reductions). They are
//! public so downstream crates can test their own uses of the kernels the same way.

use crate::adagrad::{AdagradConsts, adagrad_elem};
use crate::adam::{AdamConsts, adam_elem};
use crate::bf16::Bf16Vec;
use crate::rmsprop::{RmsPropConsts, rmsprop_elem};
use crate::sgd::{SgdConsts, sgd_elem, sgd_momentum_elem};
use crate::simd::{SimdFloat, sign_scalar};

/// Reference Adam step (full-precision moments). Lengths must agree.
pub fn adam_step<T: SimdFloat>(
    c: &AdamConsts<T>,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    mut vmax: Option<&mut [T]>,
) {
    for i in 0..p.len() {
        let x = vmax.as_ref().map_or(T::ZERO, |x| x[i]);
        let [pn, mn, vn, xn] = adam_elem(c, p[i], g[i], m[i], v[i], x);
        (p[i], m[i], v[i]) = (pn, mn, vn);
        if let Some(x) = vmax.as_mut() {
            x[i] = xn;
        }
    }
}

/// Reference Adam step with bf16 moments: decode, update in f32, round on store.
pub fn adam_step_bf16(
    c: &AdamConsts<f32>,
    p: &mut [f32],
    g: &[f32],
    m: &mut Bf16Vec,
    v: &mut Bf16Vec,
    mut vmax: Option<&mut Bf16Vec>,
) {
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
) {
    let crate::Bf16Rounding::Stochastic { key } = rounding else {
        return adam_step_bf16(c, p, g, m, v, vmax);
    };
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
}

/// Reference SGD step.
pub fn sgd_step<T: SimdFloat>(c: &SgdConsts<T>, p: &mut [T], g: &[T], buf: Option<&mut [T]>) {
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
}

/// Reference RMSProp step.
pub fn rmsprop_step<T: SimdFloat>(
    c: &RmsPropConsts<T>,
    p: &mut [T],
    g: &[T],
    v: &mut [T],
    mut avg: Option<&mut [T]>,
    mut buf: Option<&mut [T]>,
) {
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
}

/// Reference Adagrad step.
pub fn adagrad_step<T: SimdFloat>(c: &AdagradConsts<T>, p: &mut [T], g: &[T], sum: &mut [T]) {
    for i in 0..p.len() {
        [p[i], sum[i]] = adagrad_elem(c, p[i], g[i], sum[i]);
    }
}

/// Reference `y <- a x + y`.
pub fn axpy<T: SimdFloat>(a: T, x: &[T], y: &mut [T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = a.mul_add(x, *y);
    }
}

/// Reference `x <- a x`.
pub fn scale<T: SimdFloat>(a: T, x: &mut [T]) {
    for x in x {
        *x = a * *x;
    }
}

/// Reference elementwise sign.
pub fn sign<T: SimdFloat>(x: &[T], out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = sign_scalar(x);
    }
}

/// Reference dot product, accumulated left to right in `f64`.
pub fn dot<T: SimdFloat>(x: &[T], y: &[T]) -> f64 {
    x.iter().zip(y).map(|(&a, &b)| a.to_f64() * b.to_f64()).sum()
}

/// Reference sum of squares, accumulated in `f64`.
pub fn sum_squares<T: SimdFloat>(x: &[T]) -> f64 {
    dot(x, x)
}

/// Reference per-block mean of squares.
pub fn block_mean_squares<T: SimdFloat>(x: &[T], bounds: &[usize]) -> Vec<f64> {
    bounds.windows(2).map(|w| sum_squares(&x[w[0]..w[1]]) / (w[1] - w[0]) as f64).collect()
}
