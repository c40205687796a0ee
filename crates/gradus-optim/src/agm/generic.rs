//! The reference meaning of every [`crate::AgmConfig`]: the recursion of paper 01 written out
//! one scalar at a time. Slow, general (any exponent `E`, any partition, any momentum), and
//! the oracle the fused kernels are tested against.

use gradus_kernels::SimdFloat;

use super::fused::clamp_t;
use super::moment::MomentSlice;
use super::{Agm, StepCtx, block_hyper};
use crate::config::{AgmConfig, EpsPlacement, Momentum, Statistic};

/// `P(vhat)`: `1 / (vhat^E + eps)` (eps outside) or `(vhat + eps)^(-E)` (eps inside).
#[inline]
fn precond<T: SimdFloat>(cfg: &AgmConfig, vhat: T) -> T {
    let e = cfg.exponent;
    let eps = T::from_f64(cfg.eps);
    match cfg.eps_placement {
        EpsPlacement::Outside if e == 0.5 => T::ONE / (vhat.sqrt() + eps),
        EpsPlacement::Outside => T::ONE / (vhat.powf(T::from_f64(e)) + eps),
        EpsPlacement::Inside if e == 0.5 => T::ONE / (vhat + eps).sqrt(),
        EpsPlacement::Inside => (vhat + eps).powf(T::from_f64(-e)),
    }
}

/// `1 / (1 - beta2^t)` for a bias-corrected Ema statistic, else 1.
pub(super) fn bias_correction2(cfg: &AgmConfig, t: u64) -> f64 {
    match cfg.statistic {
        Statistic::Ema { beta2, .. } if cfg.bias_correction => {
            1.0 / (1.0 - beta2.powi(clamp_t(t.max(1))))
        }
        _ => 1.0,
    }
}

/// Advances statistic `j` with the block mean of squared gradients and returns the block's
/// preconditioner; `bc2` is this step's [`bias_correction2`] (computed once per step, not per
/// block: `powi` at large `t` is a loop of squarings).
pub(super) fn block_preconditioner<T: SimdFloat>(opt: &mut Agm<T>, bc2: T, j: usize, mean: T) -> T {
    let v = opt.v.as_full_mut();
    v[j] = match opt.cfg.statistic {
        Statistic::Ema { beta2, .. } => {
            let b2 = T::from_f64(beta2);
            b2.mul_add(v[j], (T::ONE - b2) * mean)
        }
        _ => v[j] + mean,
    };
    let vh = if opt.cfg.amsgrad {
        let vmax = opt.vmax.as_full_mut();
        vmax[j] = vmax[j].max(v[j]);
        vmax[j]
    } else {
        v[j]
    };
    precond(&opt.cfg, vh * bc2)
}

/// One reference step.
#[inline(always)]
pub(super) fn step<T: SimdFloat>(opt: &mut Agm<T>, ctx: StepCtx<T>, params: &mut [T], grads: &[T]) {
    let t = ctx.t;
    let gs = ctx.g_scale;
    let lr_factor = match opt.cfg.statistic {
        Statistic::Sum { .. } => 1.0 + (t - 1) as f64 * opt.cfg.lr_decay,
        _ => 1.0,
    };
    let (beta1, bc1) = match opt.cfg.momentum {
        Momentum::Ema { beta1 } if opt.cfg.bias_correction => {
            (beta1, 1.0 / (1.0 - beta1.powi(clamp_t(t))))
        }
        Momentum::Ema { beta1 } => (beta1, 1.0),
        _ => (0.0, 1.0),
    };
    let (b1, bc1) = (T::from_f64(beta1), T::from_f64(bc1));
    let bc2 = T::from_f64(bias_correction2(&opt.cfg, t));

    // Block statistics need the whole block's mean before any element moves.
    if let Some(part) = opt.blocks.as_ref() {
        opt.scratch.iter_mut().for_each(|s| *s = T::ZERO);
        for seg in &part.segments {
            let l2 = T::from_f64(block_hyper(&opt.cfg, &opt.layout, seg.layout_block).l2);
            for i in seg.range.clone() {
                let g = l2.mul_add(params[i], gs * grads[i]);
                opt.scratch[seg.stat] += g * g;
            }
        }
        for j in 0..opt.scratch.len() {
            let bounds = &opt.blocks.as_ref().map_or(&[][..], |p| &p.bounds[..]);
            let len = bounds[j + 1] - bounds[j];
            let mean = opt.scratch[j] / T::from_usize(len);
            opt.scratch[j] = block_preconditioner(opt, bc2, j, mean);
        }
    }

    // Pieces with one learning rate and one statistic index rule.
    let n_pieces = opt.blocks.as_ref().map_or(opt.layout.blocks().len(), |p| p.segments.len());
    for piece in 0..n_pieces {
        let (range, b, stat) = match opt.blocks.as_ref() {
            Some(p) => {
                let s = &p.segments[piece];
                (s.range.clone(), s.layout_block, Some(s.stat))
            }
            None => (opt.layout.blocks()[piece].range(), piece, None),
        };
        let h = block_hyper(&opt.cfg, &opt.layout, b);
        let (lr, decay, l2) =
            (T::from_f64(h.lr / lr_factor), T::from_f64(h.decay), T::from_f64(h.l2));
        let start = range.start;
        let rounding = super::moment::bf16_rounding(opt.cfg.precision, t, b);
        let mut m = opt.m.block(b, range.clone()).rounded(rounding, 0);
        // Block statistics are indexed by block, not coordinate: no per-element view.
        let coords = opt.blocks.is_none();
        let mut v = if coords {
            opt.v.block(b, range.clone()).rounded(rounding, 1)
        } else {
            MomentSlice::Full(&mut [])
        };
        let mut vmax = if coords {
            opt.vmax.block(b, range.clone()).rounded(rounding, 2)
        } else {
            MomentSlice::Full(&mut [])
        };
        let cfg = &opt.cfg;
        for i in range {
            let k = i - start;
            let g = l2.mul_add(params[i], gs * grads[i]);
            let p_i = match (&cfg.statistic, stat) {
                (Statistic::None, _) => T::ONE,
                (_, Some(j)) => opt.scratch[j],
                (st, None) => {
                    let vi = match st {
                        Statistic::Ema { beta2, .. } => {
                            let b2 = T::from_f64(*beta2);
                            b2.mul_add(v.get(k), ((T::ONE - b2) * g) * g)
                        }
                        _ => g.mul_add(g, v.get(k)),
                    };
                    v.set(k, vi);
                    let mut vh = vi;
                    if cfg.centered {
                        let Statistic::Ema { beta2, .. } = st else { unreachable!("validated") };
                        let b2 = T::from_f64(*beta2);
                        let a = b2.mul_add(opt.avg[i], (T::ONE - b2) * g);
                        opt.avg[i] = a;
                        vh = (-a).mul_add(a, vi).max(T::ZERO);
                    }
                    if cfg.amsgrad {
                        vh = vmax.get(k).max(vi);
                        vmax.set(k, vh);
                    }
                    precond(cfg, vh * bc2)
                }
            };
            let u = match cfg.momentum {
                Momentum::None => p_i * g,
                Momentum::Ema { .. } => {
                    let mi = b1.mul_add(m.get(k), (T::ONE - b1) * g);
                    m.set(k, mi);
                    p_i * mi * bc1
                }
                Momentum::HeavyBall { mu, dampening, nesterov } => {
                    let (mu, gw) = (T::from_f64(mu), T::from_f64(1.0 - dampening));
                    let x = p_i * g;
                    let bi = mu.mul_add(m.get(k), gw * x);
                    m.set(k, bi);
                    if nesterov { mu.mul_add(bi, x) } else { bi }
                }
            };
            params[i] = (-lr).mul_add(u, params[i] * decay);
        }
    }
}

/// Diagonal of the current preconditioner (no state change); `out` has the layout's length.
pub(super) fn preconditioner_diag<T: SimdFloat>(opt: &Agm<T>, out: &mut [T]) {
    let cfg = &opt.cfg;
    let bc2 = T::from_f64(bias_correction2(cfg, opt.t));
    let read = |m: &super::moment::Moment<T>, i: usize| -> T {
        match m {
            super::moment::Moment::Full(v) => v[i],
            super::moment::Moment::Bf16(vs) => {
                let (b, k) = locate(&opt.layout, i);
                T::from_f64(vs[b].get(k) as f64)
            }
        }
    };
    for (i, o) in out.iter_mut().enumerate() {
        *o = match (&cfg.statistic, opt.blocks.as_ref()) {
            (Statistic::None, _) => T::ONE,
            (_, Some(p)) => {
                let j = p.bounds.partition_point(|&c| c <= i) - 1;
                let vh = if cfg.amsgrad { read(&opt.vmax, j) } else { read(&opt.v, j) };
                precond(cfg, vh * bc2)
            }
            (_, None) => {
                let mut vh = read(&opt.v, i);
                if cfg.centered {
                    vh = (-opt.avg[i]).mul_add(opt.avg[i], vh).max(T::ZERO);
                }
                if cfg.amsgrad {
                    vh = read(&opt.vmax, i);
                }
                precond(cfg, vh * bc2)
            }
        };
    }
}

fn locate(layout: &gradus_core::Layout, i: usize) -> (usize, usize) {
    let b = layout.blocks().partition_point(|blk| blk.offset <= i) - 1;
    (b, i - layout.blocks()[b].offset)
}
