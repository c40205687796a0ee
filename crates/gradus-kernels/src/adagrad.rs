//! Adagrad (Duchi, Hazan & Singer 2011): the statistic is the running *sum* of squared
//! gradients (the `beta2 = 1` end of the unified AGM form of paper 01).
//! ```text
//! g' = g_scale * g + l2 * p
//! s  = s + g'²
//! p  = decay * p - lr_t * g' / (sqrt(s) + eps)
//! ```
//! `lr_t` already includes PyTorch's `lr / (1 + (t - 1) lr_decay)`.

use gradus_core::validate::same_len;
use gradus_core::{Par, Result};
use pulp::{Simd, WithSimd};

use crate::chunk::for_each_chunk;
use crate::simd::SimdFloat;

/// Per-step constants of the Adagrad update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConsts<T> {
    /// Step size of this step.
    pub lr: T,
    /// Epsilon added to the denominator.
    pub eps: T,
    /// Parameter multiplier before the step (decoupled decay).
    pub decay: T,
    /// Coupled L2 coefficient.
    pub l2: T,
    /// Gradient multiplier (clipping).
    pub g_scale: T,
}

/// One element: returns the new parameter and sum.
#[inline(always)]
pub fn adagrad_elem<T: SimdFloat>(c: &AdagradConsts<T>, p: T, g: T, s: T) -> [T; 2] {
    let g = c.l2.mul_add(p, c.g_scale * g);
    let s = g.mul_add(g, s);
    [(-c.lr).mul_add(g / (s.sqrt() + c.eps), p * c.decay), s]
}

struct Kernel<'a, T> {
    c: &'a AdagradConsts<T>,
    p: &'a mut [T],
    g: &'a [T],
    sum: &'a mut [T],
}

impl<T: SimdFloat> WithSimd for Kernel<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let Kernel { c, p, g, sum } = self;
        let sp = |x: T| T::splat(s, x);
        let (neg_lr, eps, decay, l2, gs) =
            (sp(-c.lr), sp(c.eps), sp(c.decay), sp(c.l2), sp(c.g_scale));
        let (ph, pt) = T::as_simd_mut::<S>(p);
        let (gh, gt) = T::as_simd::<S>(g);
        let (sh, st) = T::as_simd_mut::<S>(sum);
        let n = ph.len();
        let (gh, sh) = (&gh[..n], &mut sh[..n]);
        for i in 0..n {
            let gi = T::vfma(s, l2, ph[i], T::vmul(s, gs, gh[i]));
            let si = T::vfma(s, gi, gi, sh[i]);
            sh[i] = si;
            let u = T::vdiv(s, gi, T::vadd(s, T::vsqrt(s, si), eps));
            ph[i] = T::vfma(s, neg_lr, u, T::vmul(s, ph[i], decay));
        }
        for i in 0..pt.len() {
            [pt[i], st[i]] = adagrad_elem(c, pt[i], gt[i], st[i]);
        }
    }
}

/// Fused Adagrad step in place. Errors (leaving every buffer untouched) on a length mismatch.
pub fn adagrad_step<T: SimdFloat>(
    par: Par,
    c: &AdagradConsts<T>,
    p: &mut [T],
    g: &[T],
    sum: &mut [T],
) -> Result<()> {
    let n = p.len();
    same_len("gradient", n, g.len())?;
    same_len("square sum", n, sum.len())?;
    let arch = pulp::Arch::new();
    for_each_chunk(par, n, (p, g, sum), &|(p, g, sum)| arch.dispatch(Kernel { c, p, g, sum }));
    Ok(())
}
