//! One SIMD vocabulary for `f32` and `f64`, so every kernel is written once.
//!
//! [`SimdFloat`] maps each operation to pulp's `*_f32s` / `*_f64s` method of the dispatched
//! instruction set (AVX2+FMA on x86-64, also on AVX-512 machines since pulp's `x86-v4`
//! feature is off; NEON; or the scalar fallback). `mul_add` is always a
//! correctly rounded fused multiply-add, so a kernel and its scalar reference written with the
//! same operation order agree bit for bit.

use gradus_core::Scalar;
use pulp::Simd;

/// A float type with SIMD lanes on every pulp instruction set.
pub trait SimdFloat: Scalar {
    /// The SIMD register type holding lanes of `Self` on instruction set `S`.
    type V<S: Simd>: Copy;

    /// Number of lanes of `Self` on `S`.
    fn lanes<S: Simd>() -> usize;
    /// Splits a slice into a SIMD-aligned head and a scalar tail.
    fn as_simd<S: Simd>(x: &[Self]) -> (&[Self::V<S>], &[Self]);
    /// Mutable counterpart of [`SimdFloat::as_simd`].
    fn as_simd_mut<S: Simd>(x: &mut [Self]) -> (&mut [Self::V<S>], &mut [Self]);
    /// All lanes set to `x`.
    fn splat<S: Simd>(s: S, x: Self) -> Self::V<S>;
    /// `a + b`.
    fn vadd<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// `a - b`.
    fn vsub<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// `a * b`.
    fn vmul<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// `a / b`.
    fn vdiv<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// `a * b + c`, one rounding.
    fn vfma<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S>;
    /// Lane-wise square root.
    fn vsqrt<S: Simd>(s: S, a: Self::V<S>) -> Self::V<S>;
    /// Lane-wise maximum.
    fn vmax<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// Lane-wise sign: `1` for positive, `-1` for negative, the input itself for `±0` and NaN.
    fn vsign<S: Simd>(s: S, a: Self::V<S>) -> Self::V<S>;
    /// Sum of the lanes.
    fn vsum<S: Simd>(s: S, a: Self::V<S>) -> Self;
}

macro_rules! impl_simd_float {
    ($t:ident, $v:ident, $lanes:ident, $as_simd:ident, $as_mut_simd:ident, $splat:ident,
     $add:ident, $sub:ident, $mul:ident, $div:ident, $mul_add:ident, $sqrt:ident, $max:ident,
     $select:ident, $lt:ident, $gt:ident, $reduce_sum:ident) => {
        impl SimdFloat for $t {
            type V<S: Simd> = S::$v;

            #[inline(always)]
            fn lanes<S: Simd>() -> usize {
                S::$lanes
            }
            #[inline(always)]
            fn as_simd<S: Simd>(x: &[Self]) -> (&[Self::V<S>], &[Self]) {
                S::$as_simd(x)
            }
            #[inline(always)]
            fn as_simd_mut<S: Simd>(x: &mut [Self]) -> (&mut [Self::V<S>], &mut [Self]) {
                S::$as_mut_simd(x)
            }
            #[inline(always)]
            fn splat<S: Simd>(s: S, x: Self) -> Self::V<S> {
                s.$splat(x)
            }
            #[inline(always)]
            fn vadd<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$add(a, b)
            }
            #[inline(always)]
            fn vsub<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$sub(a, b)
            }
            #[inline(always)]
            fn vmul<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$mul(a, b)
            }
            #[inline(always)]
            fn vdiv<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$div(a, b)
            }
            #[inline(always)]
            fn vfma<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S> {
                s.$mul_add(a, b, c)
            }
            #[inline(always)]
            fn vsqrt<S: Simd>(s: S, a: Self::V<S>) -> Self::V<S> {
                s.$sqrt(a)
            }
            #[inline(always)]
            fn vmax<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$max(a, b)
            }
            #[inline(always)]
            fn vsign<S: Simd>(s: S, a: Self::V<S>) -> Self::V<S> {
                let zero = s.$splat(0.0);
                let neg = s.$select(s.$lt(a, zero), s.$splat(-1.0), a);
                s.$select(s.$gt(a, zero), s.$splat(1.0), neg)
            }
            #[inline(always)]
            fn vsum<S: Simd>(s: S, a: Self::V<S>) -> Self {
                s.$reduce_sum(a)
            }
        }
    };
}

impl_simd_float!(
    f32,
    f32s,
    F32_LANES,
    as_simd_f32s,
    as_mut_simd_f32s,
    splat_f32s,
    add_f32s,
    sub_f32s,
    mul_f32s,
    div_f32s,
    mul_add_f32s,
    sqrt_f32s,
    max_f32s,
    select_f32s,
    less_than_f32s,
    greater_than_f32s,
    reduce_sum_f32s
);
impl_simd_float!(
    f64,
    f64s,
    F64_LANES,
    as_simd_f64s,
    as_mut_simd_f64s,
    splat_f64s,
    add_f64s,
    sub_f64s,
    mul_f64s,
    div_f64s,
    mul_add_f64s,
    sqrt_f64s,
    max_f64s,
    select_f64s,
    less_than_f64s,
    greater_than_f64s,
    reduce_sum_f64s
);

/// Scalar sign with the same convention as [`SimdFloat::vsign`].
#[inline(always)]
pub fn sign_scalar<T: Scalar>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        x
    }
}
