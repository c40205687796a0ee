//! Level-1 building blocks: `axpy`, `scale`, `sign`, and the reductions `dot`,
//! `sum_squares`, [`grad_stats`] (sum of squares fused with a finiteness check) and
//! [`block_mean_squares`] (Adam-mini's per-block statistic, paper 01).
//!
//! Reductions accumulate in four independent SIMD registers per chunk (for instruction-level
//! parallelism), fold them in a fixed order, then combine chunks along the fixed tree of
//! [`crate::chunk::tree_reduce`]: the result does not depend on the thread count. Its rounding
//! error is within the classical bound `n * eps * sum |x_i y_i|` of any summation order.

use gradus_core::validate::same_len;
use gradus_core::{Error, Par, Result};
use pulp::{Simd, WithSimd};

use crate::chunk::{for_each_chunk, tree_reduce};
use crate::simd::{SimdFloat, sign_scalar};

/// `y <- a x + y`.
pub fn axpy<T: SimdFloat>(par: Par, a: T, x: &[T], y: &mut [T]) -> Result<()> {
    same_len("axpy x", y.len(), x.len())?;
    struct K<'a, T> {
        a: T,
        x: &'a [T],
        y: &'a mut [T],
    }
    impl<T: SimdFloat> WithSimd for K<'_, T> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) {
            let av = T::splat(s, self.a);
            let (yh, yt) = T::as_simd_mut::<S>(self.y);
            let (xh, xt) = T::as_simd::<S>(self.x);
            for (y, &x) in yh.iter_mut().zip(xh) {
                *y = T::vfma(s, av, x, *y);
            }
            for (y, &x) in yt.iter_mut().zip(xt) {
                *y = self.a.mul_add(x, *y);
            }
        }
    }
    let arch = pulp::Arch::new();
    for_each_chunk(par, y.len(), (x, y), &|(x, y)| arch.dispatch(K { a, x, y }));
    Ok(())
}

/// `x <- a x`.
pub fn scale<T: SimdFloat>(par: Par, a: T, x: &mut [T]) {
    struct K<'a, T> {
        a: T,
        x: &'a mut [T],
    }
    impl<T: SimdFloat> WithSimd for K<'_, T> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) {
            let av = T::splat(s, self.a);
            let (xh, xt) = T::as_simd_mut::<S>(self.x);
            for x in xh {
                *x = T::vmul(s, av, *x);
            }
            for x in xt {
                *x = self.a * *x;
            }
        }
    }
    let arch = pulp::Arch::new();
    for_each_chunk(par, x.len(), x, &|x| arch.dispatch(K { a, x }));
}

/// `out <- sign(x)` elementwise (`±1`, with `±0` and NaN passed through).
pub fn sign<T: SimdFloat>(par: Par, x: &[T], out: &mut [T]) -> Result<()> {
    same_len("sign output", x.len(), out.len())?;
    struct K<'a, T> {
        x: &'a [T],
        out: &'a mut [T],
    }
    impl<T: SimdFloat> WithSimd for K<'_, T> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) {
            let (oh, ot) = T::as_simd_mut::<S>(self.out);
            let (xh, xt) = T::as_simd::<S>(self.x);
            for (o, &x) in oh.iter_mut().zip(xh) {
                *o = T::vsign(s, x);
            }
            for (o, &x) in ot.iter_mut().zip(xt) {
                *o = sign_scalar(x);
            }
        }
    }
    let arch = pulp::Arch::new();
    for_each_chunk(par, x.len(), (x, out), &|(x, out)| arch.dispatch(K { x, out }));
    Ok(())
}

/// Dot product over one chunk: four accumulators, folded as `(a0 + a1) + (a2 + a3)`.
struct DotChunk<'a, T> {
    x: &'a [T],
    y: &'a [T],
}

impl<T: SimdFloat> WithSimd for DotChunk<'_, T> {
    type Output = T;
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> T {
        let (xh, xt) = T::as_simd::<S>(self.x);
        let (yh, yt) = T::as_simd::<S>(self.y);
        let mut acc = [T::splat(s, T::ZERO); 4];
        let quads = xh.len() / 4;
        for q in 0..quads {
            for (j, a) in acc.iter_mut().enumerate() {
                *a = T::vfma(s, xh[4 * q + j], yh[4 * q + j], *a);
            }
        }
        for i in 4 * quads..xh.len() {
            acc[0] = T::vfma(s, xh[i], yh[i], acc[0]);
        }
        let folded = T::vadd(s, T::vadd(s, acc[0], acc[1]), T::vadd(s, acc[2], acc[3]));
        let mut total = T::vsum(s, folded);
        for (&x, &y) in xt.iter().zip(yt) {
            total = x.mul_add(y, total);
        }
        total
    }
}

/// `sum_i x_i y_i`, bit-identical for every thread count.
pub fn dot<T: SimdFloat>(par: Par, x: &[T], y: &[T]) -> Result<T> {
    same_len("dot y", x.len(), y.len())?;
    let arch = pulp::Arch::new();
    Ok(tree_reduce(par, x.len(), (x, y), &|(x, y)| arch.dispatch(DotChunk { x, y }), &|a, b| a + b))
}

/// `sum_i x_i²`, bit-identical for every thread count.
pub fn sum_squares<T: SimdFloat>(par: Par, x: &[T]) -> T {
    let arch = pulp::Arch::new();
    tree_reduce(par, x.len(), x, &|x| arch.dispatch(DotChunk { x, y: x }), &|a, b| a + b)
}

/// Sum of squares of a gradient and whether every entry is finite, in one read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradStats<T> {
    /// `sum_i g_i²` (may overflow to infinity for finite but huge entries).
    pub sum_squares: T,
    /// No entry is NaN or infinite.
    pub all_finite: bool,
}

struct StatsChunk<'a, T> {
    x: &'a [T],
}

impl<T: SimdFloat> WithSimd for StatsChunk<'_, T> {
    type Output = (T, T);
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> (T, T) {
        let (xh, xt) = T::as_simd::<S>(self.x);
        let zero = T::splat(s, T::ZERO);
        // Four quarters walked side by side: four concurrent memory streams keep more cache
        // misses in flight than one, which is what limits a read-only pass from DRAM.
        let q = xh.len() / 4;
        let (mut acc, mut bad4) = ([zero; 4], [zero; 4]);
        for i in 0..q {
            for j in 0..4 {
                let x = xh[j * q + i];
                acc[j] = T::vfma(s, x, x, acc[j]);
                // x - x is 0 for finite x and NaN for NaN or ±inf; NaN then sticks.
                bad4[j] = T::vadd(s, bad4[j], T::vsub(s, x, x));
            }
        }
        for &x in &xh[4 * q..] {
            acc[0] = T::vfma(s, x, x, acc[0]);
            bad4[0] = T::vadd(s, bad4[0], T::vsub(s, x, x));
        }
        let a0 = T::vadd(s, acc[0], acc[1]);
        let a1 = T::vadd(s, acc[2], acc[3]);
        let bad = T::vadd(s, T::vadd(s, bad4[0], bad4[1]), T::vadd(s, bad4[2], bad4[3]));
        let mut total = T::vsum(s, T::vadd(s, a0, a1));
        let mut bad = T::vsum(s, bad);
        for &x in xt {
            total = x.mul_add(x, total);
            // Same trick as above: 0 for finite x, NaN otherwise.
            #[allow(clippy::eq_op)]
            let poison = x - x;
            bad += poison;
        }
        (total, bad)
    }
}

/// [`GradStats`] of `g`: the norm for clipping and the check that rejects NaN/Inf gradients,
/// fused into one pass.
pub fn grad_stats<T: SimdFloat>(par: Par, g: &[T]) -> GradStats<T> {
    let arch = pulp::Arch::new();
    let (sum_squares, bad) = tree_reduce(
        par,
        g.len(),
        g,
        &|x| arch.dispatch(StatsChunk { x }),
        &|a: (T, T), b: (T, T)| (a.0 + b.0, a.1 + b.1),
    );
    GradStats { sum_squares, all_finite: bad == T::ZERO }
}

/// Euclidean norm of `x`, without overflow for finite inputs: when the plain sum of squares
/// overflows, it is recomputed on `x / max|x_i|`.
pub fn norm2<T: SimdFloat>(par: Par, x: &[T]) -> T {
    let ss = sum_squares(par, x);
    if ss.is_finite() {
        return ss.sqrt();
    }
    let amax = x.iter().fold(T::ZERO, |m, &v| m.max(v.abs()));
    if !amax.is_finite() || amax == T::ZERO {
        return ss.sqrt();
    }
    let inv = T::ONE / amax;
    let scaled: T = x.iter().map(|&v| (v * inv) * (v * inv)).sum();
    amax * scaled.sqrt()
}

/// Adam-mini's block statistic (paper 01): `out[b] = mean_{i in block b} x_i²` for the blocks
/// `bounds[b] .. bounds[b+1]`. `bounds` must start at 0, end at `x.len()` and not decrease;
/// empty blocks are an error (their mean is undefined).
pub fn block_mean_squares<T: SimdFloat>(
    par: Par,
    x: &[T],
    bounds: &[usize],
    out: &mut [T],
) -> Result<()> {
    check_bounds(x.len(), bounds)?;
    same_len("block statistics", bounds.len() - 1, out.len())?;
    for (o, w) in out.iter_mut().zip(bounds.windows(2)) {
        let block = &x[w[0]..w[1]];
        *o = sum_squares(par, block) / T::from_usize(block.len());
    }
    Ok(())
}

/// Validates block boundaries for [`block_mean_squares`].
pub fn check_bounds(len: usize, bounds: &[usize]) -> Result<()> {
    let ok = bounds.len() >= 2
        && bounds[0] == 0
        && bounds[bounds.len() - 1] == len
        && bounds.windows(2).all(|w| w[0] < w[1]);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidShape {
            what: "block bounds",
            detail: format!(
                "need strictly increasing offsets from 0 to {len}, got {} entries",
                bounds.len()
            ),
        })
    }
}
