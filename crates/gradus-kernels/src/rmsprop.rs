//! RMSProp (Tieleman & Hinton 2012) in PyTorch's convention, with the centered variant
//! (Graves 2013) and momentum applied to the preconditioned gradient:
//! ```text
//! g' = g_scale * g + l2 * p
//! v  = alpha * v + (1 - alpha) * g'²
//! a  = alpha * a + (1 - alpha) * g'              (centered only)
//! d  = sqrt(max(v - a², 0)) + eps  (centered)  |  sqrt(v) + eps
//! b  = mu * b + g' / d;  p = decay * p - lr * b   (momentum)  |  p = decay * p - lr * g' / d
//! ```
//! The clamp at zero guards against `v - a²` rounding below zero (mathematically `v >= a²`).

use gradus_core::validate::same_len;
use gradus_core::{Par, Result};
use pulp::{Simd, WithSimd};

use crate::chunk::for_each_chunk;
use crate::simd::SimdFloat;

/// Per-step constants of the RMSProp update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConsts<T> {
    /// Step size.
    pub lr: T,
    /// Smoothing constant of the squared-gradient average.
    pub alpha: T,
    /// Epsilon added to the denominator.
    pub eps: T,
    /// Momentum of the preconditioned step (used when a buffer is given).
    pub momentum: T,
    /// Parameter multiplier before the step (decoupled decay).
    pub decay: T,
    /// Coupled L2 coefficient.
    pub l2: T,
    /// Gradient multiplier (clipping).
    pub g_scale: T,
}

/// The buffers of one RMSProp step besides parameters and gradient.
pub struct RmsPropState<'a, T> {
    /// Running average of squared gradients.
    pub v: &'a mut [T],
    /// Running average of gradients (centered variant).
    pub avg: Option<&'a mut [T]>,
    /// Momentum buffer.
    pub buf: Option<&'a mut [T]>,
}

/// One element: returns `[p, v, a, b]` (`a`, `b` pass through when unused).
#[inline(always)]
pub fn rmsprop_elem<T: SimdFloat>(
    c: &RmsPropConsts<T>,
    centered: bool,
    momentum: bool,
    [p, g, v, a, b]: [T; 5],
) -> [T; 4] {
    let g = c.l2.mul_add(p, c.g_scale * g);
    let v = c.alpha.mul_add(v, ((T::ONE - c.alpha) * g) * g);
    let (a, var) = if centered {
        let a = c.alpha.mul_add(a, (T::ONE - c.alpha) * g);
        (a, (-a).mul_add(a, v).max(T::ZERO))
    } else {
        (a, v)
    };
    let u = g / (var.sqrt() + c.eps);
    if momentum {
        let b = c.momentum.mul_add(b, u);
        [(-c.lr).mul_add(b, p * c.decay), v, a, b]
    } else {
        [(-c.lr).mul_add(u, p * c.decay), v, a, b]
    }
}

struct Kernel<'a, T, const CENTERED: bool, const MOM: bool> {
    c: &'a RmsPropConsts<T>,
    p: &'a mut [T],
    g: &'a [T],
    v: &'a mut [T],
    a: &'a mut [T],
    b: &'a mut [T],
}

impl<T: SimdFloat, const CENTERED: bool, const MOM: bool> WithSimd
    for Kernel<'_, T, CENTERED, MOM>
{
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let Kernel { c, p, g, v, a, b } = self;
        let sp = |x: T| T::splat(s, x);
        let (neg_lr, alpha, oma, eps, mu, decay, l2, gs, zero) = (
            sp(-c.lr),
            sp(c.alpha),
            sp(T::ONE - c.alpha),
            sp(c.eps),
            sp(c.momentum),
            sp(c.decay),
            sp(c.l2),
            sp(c.g_scale),
            sp(T::ZERO),
        );
        let (ph, pt) = T::as_simd_mut::<S>(p);
        let (gh, gt) = T::as_simd::<S>(g);
        let (vh, vt) = T::as_simd_mut::<S>(v);
        let (ah, at) = T::as_simd_mut::<S>(a);
        let (bh, bt) = T::as_simd_mut::<S>(b);
        let n = ph.len();
        let (gh, vh) = (&gh[..n], &mut vh[..n]);
        for i in 0..n {
            let gi = T::vfma(s, l2, ph[i], T::vmul(s, gs, gh[i]));
            let vi = T::vfma(s, alpha, vh[i], T::vmul(s, T::vmul(s, oma, gi), gi));
            vh[i] = vi;
            let var = if CENTERED {
                let ai = T::vfma(s, alpha, ah[i], T::vmul(s, oma, gi));
                ah[i] = ai;
                T::vmax(s, T::vfma(s, T::vsub(s, zero, ai), ai, vi), zero)
            } else {
                vi
            };
            let u = T::vdiv(s, gi, T::vadd(s, T::vsqrt(s, var), eps));
            let d = if MOM {
                let bi = T::vfma(s, mu, bh[i], u);
                bh[i] = bi;
                bi
            } else {
                u
            };
            ph[i] = T::vfma(s, neg_lr, d, T::vmul(s, ph[i], decay));
        }
        for i in 0..pt.len() {
            let ai = if CENTERED { at[i] } else { T::ZERO };
            let bi = if MOM { bt[i] } else { T::ZERO };
            let [pn, vn, an, bn] = rmsprop_elem(c, CENTERED, MOM, [pt[i], gt[i], vt[i], ai, bi]);
            pt[i] = pn;
            vt[i] = vn;
            if CENTERED {
                at[i] = an;
            }
            if MOM {
                bt[i] = bn;
            }
        }
    }
}

/// Fused RMSProp step in place. The centered variant runs when `st.avg` is given, momentum
/// when `st.buf` is given. Errors (leaving every buffer untouched) on any length mismatch.
pub fn rmsprop_step<T: SimdFloat>(
    par: Par,
    c: &RmsPropConsts<T>,
    p: &mut [T],
    g: &[T],
    st: RmsPropState<'_, T>,
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("square average", n, st.v.len())?;
    if let Some(a) = st.avg.as_ref() {
        same_len("gradient average", n, a.len())?;
    }
    if let Some(b) = st.buf.as_ref() {
        same_len("momentum buffer", n, b.len())?;
    }
    let arch = pulp::Arch::new();
    for_each_chunk(par, n, (p, g, st.v, st.avg, st.buf), &|(p, g, v, a, b)| {
        macro_rules! go {
            ($cen:literal, $mom:literal) => {
                arch.dispatch(Kernel::<T, $cen, $mom> {
                    c,
                    p,
                    g,
                    v,
                    a: a.unwrap_or_default(),
                    b: b.unwrap_or_default(),
                })
            };
        }
        match (a.is_some(), b.is_some()) {
            (false, false) => go!(false, false),
            (false, true) => go!(false, true),
            (true, false) => go!(true, false),
            (true, true) => go!(true, true),
        }
    });
    Ok(())
}
