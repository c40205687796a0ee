//! Loops compiled for the best instruction set of the machine, and a vectorisable `exp`.
//!
//! Kernels are written as plain branch-free loops and run inside `pulp::Arch::dispatch`, which
//! compiles them with the dispatched target features (AVX2+FMA here), so the compiler
//! vectorises them; reductions keep eight explicit lanes folded in a fixed order, so results
//! are the same on every call and every thread count.

use pulp::{Simd, WithSimd};

/// A loop body to run with the machine's best SIMD target features enabled.
pub(crate) trait Kernel {
    type Output;
    fn run<S: Simd>(self, simd: S) -> Self::Output;
}

struct Dispatch<K>(K);

impl<K: Kernel> WithSimd for Dispatch<K> {
    type Output = K::Output;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> K::Output {
        self.0.run(simd)
    }
}

/// Runs `kernel` under `pulp`'s runtime dispatch.
#[inline]
pub(crate) fn run<K: Kernel>(kernel: K) -> K::Output {
    pulp::Arch::new().dispatch(Dispatch(kernel))
}

const LOG2E: f64 = std::f64::consts::LOG2_E;
/// `ln 2` split so that `n * LN2_HI` is exact for `|n| <= 1100` (Cody-Waite reduction).
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// `1.5 * 2^52`: adding it rounds to an integer held in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// Below this argument the result is reported as 0 (the true value is below 3.3e-308).
pub(crate) const EXP_CUTOFF: f64 = -708.0;

/// `exp(x)` for `x <= 0` to about 1 ulp, branch-free so loops over it vectorise; returns 0 for
/// `x < -708`. Reduction `x = n ln 2 + r` with `|r| <= ln2 / 2`, degree-13 Taylor polynomial
/// (truncation below 2e-16 relative), scaling by `2^n` through the exponent bits.
#[inline(always)]
pub(crate) fn exp_nonpos(x: f64) -> f64 {
    let xc = if x < EXP_CUTOFF { EXP_CUTOFF } else { x };
    let t = xc.mul_add(LOG2E, SHIFT);
    let n = t - SHIFT;
    let r = n.mul_add(-LN2_HI, xc);
    let r = n.mul_add(-LN2_LO, r);
    let mut p: f64 = 1.0 / 6_227_020_800.0;
    p = p.mul_add(r, 1.0 / 479_001_600.0);
    p = p.mul_add(r, 1.0 / 39_916_800.0);
    p = p.mul_add(r, 1.0 / 3_628_800.0);
    p = p.mul_add(r, 1.0 / 362_880.0);
    p = p.mul_add(r, 1.0 / 40_320.0);
    p = p.mul_add(r, 1.0 / 5_040.0);
    p = p.mul_add(r, 1.0 / 720.0);
    p = p.mul_add(r, 1.0 / 120.0);
    p = p.mul_add(r, 1.0 / 24.0);
    p = p.mul_add(r, 1.0 / 6.0);
    p = p.mul_add(r, 0.5);
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    // t = SHIFT + n exactly, so the difference of the bit patterns is n (in [-1022, 0]).
    let n_int = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let scale = f64::from_bits(((n_int + 1023) as u64) << 52);
    let v = p * scale;
    if x < EXP_CUTOFF { 0.0 } else { v }
}

/// Sum of eight lanes in a fixed order.
#[inline(always)]
pub(crate) fn fold8(a: [f64; 8]) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// Maximum of eight lanes.
#[inline(always)]
pub(crate) fn max8(a: [f64; 8]) -> f64 {
    a.iter().fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// `sum_i x_i` with eight lanes (fixed order).
#[inline(always)]
pub(crate) fn sum_lanes(x: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    fold8(acc) + tail.iter().sum::<f64>()
}

/// `max_i x_i` (`-inf` for an empty slice; NaN entries are skipped).
#[inline(always)]
pub(crate) fn max_lanes(x: &[f64]) -> f64 {
    let mut acc = [f64::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    tail.iter().fold(max8(acc), |m, &v| if v > m { v } else { m })
}

/// `z_i <- exp(z_i - shift)` for `z_i <= shift`, returning `sum_i z_i` (after the update).
#[inline(always)]
pub(crate) fn exp_shift_sum_body(z: &mut [f64], shift: f64) -> f64 {
    for v in z.iter_mut() {
        *v = exp_nonpos(*v - shift);
    }
    sum_lanes(z)
}

struct ExpShiftSum<'a> {
    z: &'a mut [f64],
    shift: f64,
}

impl Kernel for ExpShiftSum<'_> {
    type Output = f64;
    #[inline(always)]
    fn run<S: Simd>(self, _simd: S) -> f64 {
        exp_shift_sum_body(self.z, self.shift)
    }
}

/// Replaces `z` by `exp(z - max z)` and returns `(max z, sum exp(z - max z))`: the stable
/// pieces of `log sum_i exp(z_i) = max + ln(sum)`.
pub(crate) fn softmax_in_place(z: &mut [f64]) -> (f64, f64) {
    let m = max_lanes(z);
    if !m.is_finite() {
        return (m, 0.0);
    }
    let s = run(ExpShiftSum { z, shift: m });
    (m, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm_to_an_ulp_or_two() {
        let mut worst: f64 = 0.0;
        for i in 0..200_001 {
            let x = -708.0 * (i as f64) / 200_000.0;
            let (a, b) = (exp_nonpos(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        // Small arguments, where the reduction is exact.
        for i in 0..10_000 {
            let x = -(i as f64) * 1e-5;
            worst = worst.max(((exp_nonpos(x) - x.exp()) / x.exp()).abs());
        }
        assert!(worst < 5e-16, "worst relative error {worst:e}");
        assert_eq!(exp_nonpos(0.0), 1.0);
        assert_eq!(exp_nonpos(-709.0), 0.0);
        assert_eq!(exp_nonpos(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn softmax_pieces_are_stable() {
        let z = vec![1000.0, 999.0, -1e300, 1000.0];
        let mut w = z.clone();
        let (m, tot) = softmax_in_place(&mut w);
        let exact = 1000.0 + (2.0 + (-1f64).exp()).ln();
        assert!((m + tot.ln() - exact).abs() < 1e-12);
        assert_eq!(m, 1000.0);
        assert!((w.iter().sum::<f64>() - tot).abs() < 1e-15);
        assert_eq!(sum_lanes(&[1.0; 13]), 13.0);
        assert_eq!(max_lanes(&[]), f64::NEG_INFINITY);
    }
}
