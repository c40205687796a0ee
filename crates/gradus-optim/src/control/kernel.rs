//! SIMD passes of [`super::ControlRule`]'s inferred-curvature feedback law (the ballistic and
//! the general discounted case), written once over [`SimdFloat`] and dispatched with pulp.
//! Each has a per-element function with the same operation order (fused multiply-adds on
//! both sides) that serves the scalar tail, so head and tail agree bit for bit.
//!
//! ```text
//! g' = g_scale g,   v = β₂ v + (1 - β₂) g'²,   h = v + eps
//! ballistic:  θ -= (Δt sqrt(c)) g' / sqrt(h)              (uniform c)
//!             θ -= Δt g' sqrt(c_i / h)                     (per-coordinate c)
//! general:    ρ = c h / (sqrt(s² + c h) + s),  s = j + γ/2
//!             D⁻¹ = 1 / (γ + λ + j + ρ),  α = c D⁻¹,  β = (λ ρ + j(γ + λ + j)) D⁻¹
//!             θ -= Δt (α g' + β θ)
//! ```

use gradus_kernels::SimdFloat;
use pulp::{Simd, WithSimd};

/// Per-step constants of the inferred-curvature passes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdaptiveConsts<T> {
    pub dt: T,
    pub g_scale: T,
    pub beta2: T,
    pub one_minus_beta2: T,
    pub eps: T,
    /// Uniform authority `c = η k` (when no per-coordinate `c_i` is given).
    pub c: T,
    /// `Δt sqrt(c)`.
    pub dt_sqrt_c: T,
    /// `s = j + γ/2`.
    pub shift: T,
    /// `γ + λ + j`.
    pub rate_sum: T,
    pub hazard: T,
    /// `j (γ + λ + j)`.
    pub decay_term: T,
}

/// One element of the ballistic pass: returns `(θ, v)`.
#[inline(always)]
pub(crate) fn ballistic_elem<T: SimdFloat>(
    k: &AdaptiveConsts<T>,
    c: Option<T>,
    p: T,
    g: T,
    v: T,
) -> (T, T) {
    let gi = k.g_scale * g;
    let vi = k.beta2.mul_add(v, (k.one_minus_beta2 * gi) * gi);
    let h = vi + k.eps;
    let step = match c {
        None => (k.dt_sqrt_c * gi) / h.sqrt(),
        Some(c) => (k.dt * gi) * (c / h).sqrt(),
    };
    (p - step, vi)
}

/// One element of the general pass: returns `(θ, v)`.
#[inline(always)]
pub(crate) fn general_elem<T: SimdFloat>(
    k: &AdaptiveConsts<T>,
    c: Option<T>,
    p: T,
    g: T,
    v: T,
) -> (T, T) {
    let c = c.unwrap_or(k.c);
    let gi = k.g_scale * g;
    let vi = k.beta2.mul_add(v, (k.one_minus_beta2 * gi) * gi);
    let ch = c * (vi + k.eps);
    let root = k.shift.mul_add(k.shift, ch).sqrt();
    let rho = ch / (root + k.shift);
    let inv = T::ONE / (k.rate_sum + rho);
    let alpha = c * inv;
    let beta = k.hazard.mul_add(rho, k.decay_term) * inv;
    ((-k.dt).mul_add(alpha.mul_add(gi, beta * p), p), vi)
}

struct Kernel<'a, T, const GENERAL: bool> {
    k: &'a AdaptiveConsts<T>,
    p: &'a mut [T],
    g: &'a [T],
    v: &'a mut [T],
    c: Option<&'a [T]>,
}

impl<T: SimdFloat, const GENERAL: bool> WithSimd for Kernel<'_, T, GENERAL> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let Kernel { k, p, g, v, c } = self;
        let sp = |x: T| T::splat(s, x);
        let (dt, gs, b2, omb2, eps, cu, dsc, shift, rsum, haz, dterm, one, neg_dt) = (
            sp(k.dt),
            sp(k.g_scale),
            sp(k.beta2),
            sp(k.one_minus_beta2),
            sp(k.eps),
            sp(k.c),
            sp(k.dt_sqrt_c),
            sp(k.shift),
            sp(k.rate_sum),
            sp(k.hazard),
            sp(k.decay_term),
            sp(T::ONE),
            sp(-k.dt),
        );
        let (ph, pt) = T::as_simd_mut::<S>(p);
        let (gh, gt) = T::as_simd::<S>(g);
        let (vh, vt) = T::as_simd_mut::<S>(v);
        let (ch, ct) = match c {
            Some(c) => {
                let (h, t) = T::as_simd::<S>(c);
                (Some(h), Some(t))
            }
            None => (None, None),
        };
        let n = ph.len();
        for i in 0..n {
            let gi = T::vmul(s, gs, gh[i]);
            let vi = T::vfma(s, b2, vh[i], T::vmul(s, T::vmul(s, omb2, gi), gi));
            vh[i] = vi;
            let h = T::vadd(s, vi, eps);
            ph[i] = if GENERAL {
                let c = ch.map_or(cu, |c| c[i]);
                let chv = T::vmul(s, c, h);
                let root = T::vsqrt(s, T::vfma(s, shift, shift, chv));
                let rho = T::vdiv(s, chv, T::vadd(s, root, shift));
                let inv = T::vdiv(s, one, T::vadd(s, rsum, rho));
                let alpha = T::vmul(s, c, inv);
                let beta = T::vmul(s, T::vfma(s, haz, rho, dterm), inv);
                T::vfma(s, neg_dt, T::vfma(s, alpha, gi, T::vmul(s, beta, ph[i])), ph[i])
            } else {
                let step = match ch {
                    None => T::vdiv(s, T::vmul(s, dsc, gi), T::vsqrt(s, h)),
                    Some(c) => T::vmul(s, T::vmul(s, dt, gi), T::vsqrt(s, T::vdiv(s, c[i], h))),
                };
                T::vsub(s, ph[i], step)
            };
        }
        for i in 0..pt.len() {
            let c = ct.map(|c| c[i]);
            let (pn, vn) = if GENERAL {
                general_elem(k, c, pt[i], gt[i], vt[i])
            } else {
                ballistic_elem(k, c, pt[i], gt[i], vt[i])
            };
            pt[i] = pn;
            vt[i] = vn;
        }
    }
}

/// One pass of the inferred-curvature feedback law over equal-length slices (the caller
/// checked the lengths). `general` selects the discounted form, else the ballistic one.
pub(crate) fn adaptive_pass<T: SimdFloat>(
    k: &AdaptiveConsts<T>,
    general: bool,
    p: &mut [T],
    g: &[T],
    v: &mut [T],
    c: Option<&[T]>,
) {
    let arch = pulp::Arch::new();
    if general {
        arch.dispatch(Kernel::<T, true> { k, p, g, v, c });
    } else {
        arch.dispatch(Kernel::<T, false> { k, p, g, v, c });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consts<T: SimdFloat>() -> AdaptiveConsts<T> {
        let f = T::from_f64;
        AdaptiveConsts {
            dt: f(0.01),
            g_scale: f(0.8),
            beta2: f(0.99),
            one_minus_beta2: f(0.01),
            eps: f(1e-8),
            c: f(1.3),
            dt_sqrt_c: f(0.01 * 1.3f64.sqrt()),
            shift: f(0.45),
            rate_sum: f(0.6),
            hazard: f(0.1),
            decay_term: f(0.03),
        }
    }

    /// SIMD heads equal the element functions bit for bit, for every length and mode.
    fn check<T: SimdFloat>() {
        let k = consts::<T>();
        for n in 0..=41 {
            let val = |i: usize, a: f64| T::from_f64(((i as f64 + a) * 0.731).sin());
            let g: Vec<T> = (0..n).map(|i| val(i, 0.3)).collect();
            let c: Vec<T> = (0..n).map(|i| T::from_f64(0.5 + (i % 3) as f64)).collect();
            for general in [false, true] {
                for per_coord in [false, true] {
                    let mut p: Vec<T> = (0..n).map(|i| val(i, 1.1)).collect();
                    let mut v: Vec<T> = (0..n).map(|i| val(i, 2.0) * val(i, 2.0)).collect();
                    let (mut pr, mut vr) = (p.clone(), v.clone());
                    let cs = per_coord.then_some(&c[..]);
                    adaptive_pass(&k, general, &mut p, &g, &mut v, cs);
                    for i in 0..n {
                        let ci = cs.map(|c| c[i]);
                        let f = if general { general_elem::<T> } else { ballistic_elem::<T> };
                        (pr[i], vr[i]) =
                            pulp::Arch::new().dispatch(|| f(&k, ci, pr[i], g[i], vr[i]));
                    }
                    assert_eq!(p, pr, "n {n} general {general} per_coord {per_coord}");
                    assert_eq!(v, vr);
                }
            }
        }
    }

    #[test]
    fn simd_heads_match_the_element_functions() {
        check::<f32>();
        check::<f64>();
    }
}
