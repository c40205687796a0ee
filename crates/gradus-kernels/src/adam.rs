//! The fused one-pass Adam / AdamW update (Kingma & Ba 2015; Loshchilov & Hutter 2019), with
//! AMSGrad and both placements of epsilon. Paper 01, "unified AGM form": `m` is the momentum,
//! `v = beta2 v + (1 - beta2) g⊙g` the diagonal statistic, `P = diag(1/(sqrt(v̂) + eps))`.
//!
//! Per element, with every constant folded by the caller (see [`AdamConsts`]):
//! ```text
//! g' = g_scale * g + l2 * p                      (clipping scale, coupled L2 decay)
//! m  = beta1 * m + (1 - beta1) * g'
//! v  = beta2 * v + (1 - beta2) * g' * g'
//! v̂  = max(v̂_max, v) with AMSGrad, else v
//! d  = sqrt(v̂) * c2 + eps          (eps outside)   |   sqrt(v̂ * c2² + eps)   (eps inside)
//! p  = decay * p - step_size * m / d               (decay = 1 - lr * wd for AdamW)
//! ```
//! Each of `p, g, m, v` is read once and written once: 28 bytes per f32 parameter, 20 with
//! bf16 moments.

use gradus_core::validate::same_len;
use gradus_core::{Par, Result};
use pulp::{Simd, WithSimd};

use crate::bf16::{self, BF16_BLOCK, Bf16Rounding, Bf16SliceMut, Bf16Vec};
use crate::chunk::for_each_chunk;
use crate::simd::SimdFloat;

/// Per-step constants of the fused Adam update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConsts<T> {
    /// First-moment decay `beta1`.
    pub beta1: T,
    /// Second-moment decay `beta2`.
    pub beta2: T,
    /// `lr / (1 - beta1^t)` with bias correction, `lr` without.
    pub step_size: T,
    /// `1 / sqrt(1 - beta2^t)` with bias correction, `1` without.
    pub c2: T,
    /// Epsilon added to the denominator.
    pub eps: T,
    /// Add epsilon inside the square root (`sqrt(v̂ c2² + eps)`) instead of outside.
    pub eps_inside: bool,
    /// Keep the running maximum of `v` (AMSGrad) and divide by it.
    pub amsgrad: bool,
    /// Multiplier of the parameter before the update: `1 - lr * wd` for AdamW, `1` otherwise.
    pub decay: T,
    /// Coupled L2 coefficient added to the gradient (`Adam(weight_decay=...)`), `0` for none.
    pub l2: T,
    /// Multiplier of the raw gradient (global-norm clipping), `1` for none.
    pub g_scale: T,
}

impl<T: SimdFloat> AdamConsts<T> {
    /// Constants for step `t >= 1` of Adam with learning rate `lr`.
    pub fn new(lr: f64, beta1: f64, beta2: f64, eps: f64, t: u64, bias_correction: bool) -> Self {
        let (bc1, bc2) = if bias_correction {
            let t = t.min(i32::MAX as u64) as i32;
            (1.0 - beta1.powi(t), 1.0 - beta2.powi(t))
        } else {
            (1.0, 1.0)
        };
        AdamConsts {
            beta1: T::from_f64(beta1),
            beta2: T::from_f64(beta2),
            step_size: T::from_f64(lr / bc1),
            c2: T::from_f64(1.0 / bc2.sqrt()),
            eps: T::from_f64(eps),
            eps_inside: false,
            amsgrad: false,
            decay: T::ONE,
            l2: T::ZERO,
            g_scale: T::ONE,
        }
    }
}

/// One element of the update; the scalar reference and the SIMD tails both use it.
#[inline(always)]
pub fn adam_elem<T: SimdFloat>(c: &AdamConsts<T>, p: T, g: T, m: T, v: T, vmax: T) -> [T; 4] {
    let g = c.l2.mul_add(p, c.g_scale * g);
    let m = c.beta1.mul_add(m, (T::ONE - c.beta1) * g);
    let v = c.beta2.mul_add(v, ((T::ONE - c.beta2) * g) * g);
    let vh = if c.amsgrad { vmax.max(v) } else { v };
    let d = if c.eps_inside {
        vh.mul_add(c.c2 * c.c2, c.eps).sqrt()
    } else {
        vh.sqrt().mul_add(c.c2, c.eps)
    };
    let p = (-c.step_size).mul_add(m / d, p * c.decay);
    [p, m, v, vh]
}

/// The constants splatted into registers once per call.
#[derive(Clone, Copy)]
struct Lanes<V> {
    beta1: V,
    omb1: V,
    beta2: V,
    omb2: V,
    neg_step: V,
    c2: V,
    c2sq: V,
    eps: V,
    decay: V,
    l2: V,
    g_scale: V,
}

impl<V: Copy> Lanes<V> {
    #[inline(always)]
    fn new<T: SimdFloat<V<S> = V>, S: Simd>(s: S, c: &AdamConsts<T>) -> Self {
        let sp = |x: T| T::splat(s, x);
        Lanes {
            beta1: sp(c.beta1),
            omb1: sp(T::ONE - c.beta1),
            beta2: sp(c.beta2),
            omb2: sp(T::ONE - c.beta2),
            neg_step: sp(-c.step_size),
            c2: sp(c.c2),
            c2sq: sp(c.c2 * c.c2),
            eps: sp(c.eps),
            decay: sp(c.decay),
            l2: sp(c.l2),
            g_scale: sp(c.g_scale),
        }
    }
}

/// SIMD mirror of [`adam_elem`], operation for operation.
#[inline(always)]
fn adam_lanes<T: SimdFloat, S: Simd, const AMS: bool, const EPS_IN: bool>(
    s: S,
    k: &Lanes<T::V<S>>,
    p: T::V<S>,
    g: T::V<S>,
    m: T::V<S>,
    v: T::V<S>,
    vmax: T::V<S>,
) -> [T::V<S>; 4] {
    let g = T::vfma(s, k.l2, p, T::vmul(s, k.g_scale, g));
    let m = T::vfma(s, k.beta1, m, T::vmul(s, k.omb1, g));
    let v = T::vfma(s, k.beta2, v, T::vmul(s, T::vmul(s, k.omb2, g), g));
    let vh = if AMS { T::vmax(s, vmax, v) } else { v };
    let d = if EPS_IN {
        T::vsqrt(s, T::vfma(s, vh, k.c2sq, k.eps))
    } else {
        T::vfma(s, T::vsqrt(s, vh), k.c2, k.eps)
    };
    let p = T::vfma(s, k.neg_step, T::vdiv(s, m, d), T::vmul(s, p, k.decay));
    [p, m, v, vh]
}

struct FullKernel<'a, T, const AMS: bool, const EPS_IN: bool> {
    c: &'a AdamConsts<T>,
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    vmax: &'a mut [T],
}

impl<T: SimdFloat, const AMS: bool, const EPS_IN: bool> WithSimd
    for FullKernel<'_, T, AMS, EPS_IN>
{
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let FullKernel { c, p, g, m, v, vmax } = self;
        let k = Lanes::new::<T, S>(s, c);
        let (ph, pt) = T::as_simd_mut::<S>(p);
        let (gh, gt) = T::as_simd::<S>(g);
        let (mh, mt) = T::as_simd_mut::<S>(m);
        let (vh, vt) = T::as_simd_mut::<S>(v);
        let n = ph.len();
        let (gh, mh, vh) = (&gh[..n], &mut mh[..n], &mut vh[..n]);
        if AMS {
            let (xh, xt) = T::as_simd_mut::<S>(vmax);
            let xh = &mut xh[..n];
            for i in 0..n {
                let [p, m, v, x] =
                    adam_lanes::<T, S, true, EPS_IN>(s, &k, ph[i], gh[i], mh[i], vh[i], xh[i]);
                (ph[i], mh[i], vh[i], xh[i]) = (p, m, v, x);
            }
            for i in 0..pt.len() {
                let [p, m, v, x] = adam_elem(c, pt[i], gt[i], mt[i], vt[i], xt[i]);
                (pt[i], mt[i], vt[i], xt[i]) = (p, m, v, x);
            }
        } else {
            for i in 0..n {
                let [p, m, v, _] =
                    adam_lanes::<T, S, false, EPS_IN>(s, &k, ph[i], gh[i], mh[i], vh[i], vh[i]);
                (ph[i], mh[i], vh[i]) = (p, m, v);
            }
            for i in 0..pt.len() {
                let [p, m, v, _] = adam_elem(c, pt[i], gt[i], mt[i], vt[i], T::ZERO);
                (pt[i], mt[i], vt[i]) = (p, m, v);
            }
        }
    }
}

/// Fused Adam/AdamW step over full-precision moments (`f32` or `f64`), in place.
///
/// `vmax` is the AMSGrad running maximum and must be given exactly when `c.amsgrad`.
/// Errors (leaving every buffer untouched) on any length mismatch.
pub fn adam_step<T: SimdFloat>(
    par: Par,
    c: &AdamConsts<T>,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: Option<&mut [T]>,
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("first moment", n, m.len())?;
    same_len("second moment", n, v.len())?;
    check_vmax(c.amsgrad, n, vmax.as_ref().map(|x| x.len()))?;
    let arch = pulp::Arch::new();
    for_each_chunk(par, n, (p, g, m, v, vmax), &|(p, g, m, v, vmax)| {
        let vmax: &mut [T] = vmax.unwrap_or_default();
        macro_rules! go {
            ($ams:literal, $ein:literal) => {
                arch.dispatch(FullKernel::<T, $ams, $ein> { c, p, g, m, v, vmax })
            };
        }
        match (c.amsgrad, c.eps_inside) {
            (false, false) => go!(false, false),
            (false, true) => go!(false, true),
            (true, false) => go!(true, false),
            (true, true) => go!(true, true),
        }
    });
    Ok(())
}

pub(crate) fn check_vmax(amsgrad: bool, n: usize, vmax_len: Option<usize>) -> Result<()> {
    match (amsgrad, vmax_len) {
        (true, Some(len)) => same_len("AMSGrad maximum", n, len),
        (false, None) => Ok(()),
        (true, None) => {
            Err(gradus_core::Error::Unsupported("AMSGrad needs a running-maximum buffer".into()))
        }
        (false, Some(_)) => Err(gradus_core::Error::Unsupported(
            "running-maximum buffer given without AMSGrad".into(),
        )),
    }
}

struct Bf16Kernel<'a, const AMS: bool, const EPS_IN: bool, const SR: bool> {
    c: &'a AdamConsts<f32>,
    /// Stream keys of `m`, `v` and the AMSGrad maximum (stochastic rounding only).
    keys: [u32; 3],
    p: &'a mut [f32],
    g: &'a [f32],
    m: Bf16SliceMut<'a>,
    v: Bf16SliceMut<'a>,
    vmax: Option<Bf16SliceMut<'a>>,
}

impl<const AMS: bool, const EPS_IN: bool, const SR: bool> WithSimd
    for Bf16Kernel<'_, AMS, EPS_IN, SR>
{
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let Bf16Kernel { c, keys, p, g, mut m, mut v, mut vmax } = self;
        let lanes = S::F32_LANES;
        let blocks = m.full_blocks();
        let head = blocks * BF16_BLOCK;
        let first_word = m.first_word() as u32;
        if 16 % lanes == 0 {
            let k = Lanes::new::<f32, S>(s, c);
            let per_half = 16 / lanes;
            // Word index of each lane of word vector 0 (stochastic rounding hashes it).
            const IOTA: [u32; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
            let iota = s.add_u32s(s.partial_load_u32s(&IOTA[..lanes]), s.splat_u32s(first_word));
            let (ph, _) = S::as_mut_simd_f32s(&mut p[..head]);
            let (gh, _) = S::as_simd_f32s(&g[..head]);
            let (mw, _) = S::as_mut_simd_u32s(&mut m.words_mut()[..head / 2]);
            let (vw, _) = S::as_mut_simd_u32s(&mut v.words_mut()[..head / 2]);
            let mut xw =
                vmax.as_mut().map(|x| S::as_mut_simd_u32s(&mut x.words_mut()[..head / 2]).0);
            for b in 0..blocks {
                for j in 0..per_half {
                    let w = b * per_half + j;
                    let lo = b * 2 * per_half + j;
                    let hi = lo + per_half;
                    let (m_lo, m_hi) = bf16::unpack(s, mw[w]);
                    let (v_lo, v_hi) = bf16::unpack(s, vw[w]);
                    let (x_lo, x_hi) = match xw.as_deref() {
                        Some(x) => bf16::unpack(s, x[w]),
                        None => (v_lo, v_hi),
                    };
                    let [p0, m0, v0, x0] =
                        adam_lanes::<f32, S, AMS, EPS_IN>(s, &k, ph[lo], gh[lo], m_lo, v_lo, x_lo);
                    let [p1, m1, v1, x1] =
                        adam_lanes::<f32, S, AMS, EPS_IN>(s, &k, ph[hi], gh[hi], m_hi, v_hi, x_hi);
                    ph[lo] = p0;
                    ph[hi] = p1;
                    if SR {
                        let idx = s.add_u32s(iota, s.splat_u32s((w * lanes) as u32));
                        let r = |key| bf16::word_bits_simd(s, key, idx);
                        mw[w] = bf16::pack_stochastic(s, m0, m1, r(keys[0]));
                        vw[w] = bf16::pack_stochastic(s, v0, v1, r(keys[1]));
                        if let Some(x) = xw.as_deref_mut() {
                            x[w] = bf16::pack_stochastic(s, x0, x1, r(keys[2]));
                        }
                    } else {
                        mw[w] = bf16::pack(s, m0, m1);
                        vw[w] = bf16::pack(s, v0, v1);
                        if let Some(x) = xw.as_deref_mut() {
                            x[w] = bf16::pack(s, x0, x1);
                        }
                    }
                }
            }
        }
        let start = if 16 % lanes == 0 { head } else { 0 };
        for i in start..p.len() {
            let x_old = vmax.as_ref().map_or(0.0, |x| x.get(i));
            let [pn, mn, vn, xn] = adam_elem(c, p[i], g[i], m.get(i), v.get(i), x_old);
            p[i] = pn;
            if SR {
                m.set_stochastic(i, mn, keys[0]);
                v.set_stochastic(i, vn, keys[1]);
                if let Some(x) = vmax.as_mut() {
                    x.set_stochastic(i, xn, keys[2]);
                }
            } else {
                m.set(i, mn);
                v.set(i, vn);
                if let Some(x) = vmax.as_mut() {
                    x.set(i, xn);
                }
            }
        }
    }
}

/// Fused Adam/AdamW step with moments stored as bf16 (see [`crate::bf16`]), in place,
/// rounding to nearest.
///
/// Arithmetic is in `f32`; `m`, `v` (and the AMSGrad maximum) are rounded to bf16 on store.
pub fn adam_step_bf16(
    par: Par,
    c: &AdamConsts<f32>,
    p: &mut [f32],
    g: &[f32],
    m: &mut Bf16Vec,
    v: &mut Bf16Vec,
    vmax: Option<&mut Bf16Vec>,
) -> Result<()> {
    adam_step_bf16_rounded(par, c, Bf16Rounding::Nearest, p, g, m, v, vmax)
}

/// [`adam_step_bf16`] with the rounding of the stored moments chosen by `rounding`.
/// Stochastic rounding draws its bits from the key and each element's position only, so the
/// result is the same for every thread count.
#[allow(clippy::too_many_arguments)]
pub fn adam_step_bf16_rounded(
    par: Par,
    c: &AdamConsts<f32>,
    rounding: Bf16Rounding,
    p: &mut [f32],
    g: &[f32],
    m: &mut Bf16Vec,
    v: &mut Bf16Vec,
    vmax: Option<&mut Bf16Vec>,
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("first moment", n, m.len())?;
    same_len("second moment", n, v.len())?;
    check_vmax(c.amsgrad, n, vmax.as_ref().map(|x| x.len()))?;
    let (sr, keys) = match rounding {
        Bf16Rounding::Nearest => (false, [0; 3]),
        Bf16Rounding::Stochastic { key } => {
            (true, [bf16::stream_key(key, 0), bf16::stream_key(key, 1), bf16::stream_key(key, 2)])
        }
    };
    let arch = pulp::Arch::new();
    let parts = (p, g, m.as_mut_slice(), v.as_mut_slice(), vmax.map(|x| x.as_mut_slice()));
    for_each_chunk(par, n, parts, &|(p, g, m, v, vmax)| {
        macro_rules! go {
            ($ams:literal, $ein:literal, $sr:literal) => {
                arch.dispatch(Bf16Kernel::<$ams, $ein, $sr> { c, keys, p, g, m, v, vmax })
            };
        }
        match (c.amsgrad, c.eps_inside, sr) {
            (false, false, false) => go!(false, false, false),
            (false, true, false) => go!(false, true, false),
            (true, false, false) => go!(true, false, false),
            (true, true, false) => go!(true, true, false),
            (false, false, true) => go!(false, false, true),
            (false, true, true) => go!(false, true, true),
            (true, false, true) => go!(true, false, true),
            (true, true, true) => go!(true, true, true),
        }
    });
    Ok(())
}
