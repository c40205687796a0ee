//! SGD with optional heavy-ball or Nesterov momentum, coupled (L2) and decoupled weight decay,
//! in PyTorch's convention:
//! ```text
//! g' = g_scale * g + l2 * p
//! b  = mu * b + (1 - dampening) * g'                 (momentum buffer)
//! d  = g' + mu * b  (Nesterov)  |  b  (heavy ball)  |  g'  (no momentum)
//! p  = decay * p - lr * d
//! ```
//! With `mu = beta1`, `dampening = beta1` the buffer is Adam's first moment, which is how
//! Adam-mini and Adalayer apply their block-scalar preconditioner (the preconditioner is folded
//! into `lr`).

use gradus_core::validate::same_len;
use gradus_core::{Par, Result};
use pulp::{Simd, WithSimd};

use crate::chunk::for_each_chunk;
use crate::simd::SimdFloat;

/// Per-step constants of the SGD update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConsts<T> {
    /// Step size (any preconditioner scalar folded in).
    pub lr: T,
    /// Momentum coefficient `mu` (ignored when no buffer is given).
    pub momentum: T,
    /// `1 - dampening`: weight of the new gradient in the buffer.
    pub grad_weight: T,
    /// Nesterov look-ahead.
    pub nesterov: bool,
    /// Parameter multiplier before the step (`1 - lr * wd` for decoupled decay).
    pub decay: T,
    /// Coupled L2 coefficient.
    pub l2: T,
    /// Gradient multiplier (clipping).
    pub g_scale: T,
}

impl<T: SimdFloat> SgdConsts<T> {
    /// Plain SGD with step `lr` and no momentum, decay or clipping.
    pub fn plain(lr: f64) -> Self {
        SgdConsts {
            lr: T::from_f64(lr),
            momentum: T::ZERO,
            grad_weight: T::ONE,
            nesterov: false,
            decay: T::ONE,
            l2: T::ZERO,
            g_scale: T::ONE,
        }
    }
}

/// One element without momentum: returns the new parameter.
#[inline(always)]
pub fn sgd_elem<T: SimdFloat>(c: &SgdConsts<T>, p: T, g: T) -> T {
    let g = c.l2.mul_add(p, c.g_scale * g);
    (-c.lr).mul_add(g, p * c.decay)
}

/// One element with a momentum buffer: returns the new parameter and buffer.
#[inline(always)]
pub fn sgd_momentum_elem<T: SimdFloat>(c: &SgdConsts<T>, p: T, g: T, b: T) -> [T; 2] {
    let g = c.l2.mul_add(p, c.g_scale * g);
    let b = c.momentum.mul_add(b, c.grad_weight * g);
    let d = if c.nesterov { c.momentum.mul_add(b, g) } else { b };
    [(-c.lr).mul_add(d, p * c.decay), b]
}

struct Kernel<'a, T, const MOM: bool, const NESTEROV: bool> {
    c: &'a SgdConsts<T>,
    p: &'a mut [T],
    g: &'a [T],
    b: &'a mut [T],
}

impl<T: SimdFloat, const MOM: bool, const NESTEROV: bool> WithSimd
    for Kernel<'_, T, MOM, NESTEROV>
{
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let Kernel { c, p, g, b } = self;
        let sp = |x: T| T::splat(s, x);
        let (neg_lr, mu, gw, decay, l2, gs) =
            (sp(-c.lr), sp(c.momentum), sp(c.grad_weight), sp(c.decay), sp(c.l2), sp(c.g_scale));
        let (ph, pt) = T::as_simd_mut::<S>(p);
        let (gh, gt) = T::as_simd::<S>(g);
        let n = ph.len();
        let gh = &gh[..n];
        if MOM {
            let (bh, bt) = T::as_simd_mut::<S>(b);
            let bh = &mut bh[..n];
            for i in 0..n {
                let gi = T::vfma(s, l2, ph[i], T::vmul(s, gs, gh[i]));
                let bi = T::vfma(s, mu, bh[i], T::vmul(s, gw, gi));
                let d = if NESTEROV { T::vfma(s, mu, bi, gi) } else { bi };
                ph[i] = T::vfma(s, neg_lr, d, T::vmul(s, ph[i], decay));
                bh[i] = bi;
            }
            for i in 0..pt.len() {
                [pt[i], bt[i]] = sgd_momentum_elem(c, pt[i], gt[i], bt[i]);
            }
        } else {
            for i in 0..n {
                let gi = T::vfma(s, l2, ph[i], T::vmul(s, gs, gh[i]));
                ph[i] = T::vfma(s, neg_lr, gi, T::vmul(s, ph[i], decay));
            }
            for i in 0..pt.len() {
                pt[i] = sgd_elem(c, pt[i], gt[i]);
            }
        }
    }
}

/// Fused SGD step in place; `buf` is the momentum buffer (omit it for momentum-free SGD).
///
/// Errors (leaving every buffer untouched) on any length mismatch.
pub fn sgd_step<T: SimdFloat>(
    par: Par,
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
    let arch = pulp::Arch::new();
    for_each_chunk(par, n, (p, g, buf), &|(p, g, b)| match (b, c.nesterov) {
        (Some(b), true) => arch.dispatch(Kernel::<T, true, true> { c, p, g, b }),
        (Some(b), false) => arch.dispatch(Kernel::<T, true, false> { c, p, g, b }),
        (None, _) => arch.dispatch(Kernel::<T, false, false> { c, p, g, b: &mut [] }),
    });
    Ok(())
}
