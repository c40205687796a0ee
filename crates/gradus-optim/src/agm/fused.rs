//! Fast paths: configurations that match a fused SIMD kernel of `gradus-kernels`.

use gradus_core::{Error, Result};
use gradus_kernels::{
    AdagradConsts, AdamConsts, RmsPropConsts, RmsPropState, SgdConsts, SimdFloat, adagrad_step,
    adam_step, adam_step_bf16_rounded, block_mean_squares, rmsprop_step, sgd_step,
};

use super::moment::Moment;
use super::{Agm, StepCtx};
use crate::config::{EpsPlacement, Momentum, Partition, Statistic};

/// Takes the step on a fused path and returns `true`, or returns `false` (touching nothing)
/// when the configuration has no fused kernel.
pub(super) fn step<T: SimdFloat>(
    opt: &mut Agm<T>,
    ctx: StepCtx<T>,
    params: &mut [T],
    grads: &[T],
) -> Result<bool> {
    let cfg = &opt.cfg;
    let sqrt_root = cfg.exponent == 0.5;
    let coords = cfg.statistic.partition() == Some(&Partition::Coordinates);
    match (&cfg.statistic, cfg.momentum) {
        (Statistic::None, _) => sgd(opt, ctx, params, grads)?,
        (Statistic::Ema { .. }, Momentum::Ema { .. }) if coords && sqrt_root && !cfg.centered => {
            adam(opt, ctx, params, grads)?
        }
        (
            Statistic::Ema { .. },
            Momentum::None | Momentum::HeavyBall { dampening: 0.0, nesterov: false, .. },
        ) if coords
            && sqrt_root
            && cfg.eps_placement == EpsPlacement::Outside
            && !cfg.bias_correction
            && !cfg.amsgrad =>
        {
            rmsprop(opt, ctx, params, grads)?
        }
        (Statistic::Sum { .. }, Momentum::None)
            if coords
                && sqrt_root
                && cfg.eps_placement == EpsPlacement::Outside
                && !cfg.amsgrad =>
        {
            adagrad(opt, ctx, params, grads)?
        }
        (Statistic::Ema { .. } | Statistic::Sum { .. }, Momentum::None | Momentum::Ema { .. })
            if !coords && (0..opt.layout.blocks().len()).all(|b| opt.block_hyper(b).l2 == 0.0) =>
        {
            blocks(opt, ctx, params, grads)?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn bias_correction1<T: SimdFloat>(opt: &Agm<T>, t: u64) -> f64 {
    match opt.cfg.momentum {
        Momentum::Ema { beta1 } if opt.cfg.bias_correction => 1.0 / (1.0 - beta1.powi(clamp_t(t))),
        _ => 1.0,
    }
}

pub(super) fn clamp_t(t: u64) -> i32 {
    t.min(i32::MAX as u64) as i32
}

fn sgd<T: SimdFloat>(
    opt: &mut Agm<T>,
    ctx: StepCtx<T>,
    params: &mut [T],
    grads: &[T],
) -> Result<()> {
    let bc1 = bias_correction1(opt, ctx.t);
    let (momentum, grad_weight, nesterov) = match opt.cfg.momentum {
        Momentum::None => (0.0, 1.0, false),
        Momentum::Ema { beta1 } => (beta1, 1.0 - beta1, false),
        Momentum::HeavyBall { mu, dampening, nesterov } => (mu, 1.0 - dampening, nesterov),
    };
    let has_buf = opt.cfg.momentum != Momentum::None;
    for (b, block) in opt.layout.blocks().iter().enumerate() {
        let h = opt.block_hyper(b);
        let r = block.range();
        let c = SgdConsts {
            lr: T::from_f64(h.lr * bc1),
            momentum: T::from_f64(momentum),
            grad_weight: T::from_f64(grad_weight),
            nesterov,
            decay: T::from_f64(h.decay),
            l2: T::from_f64(h.l2),
            g_scale: ctx.g_scale,
        };
        let buf = if has_buf { Some(&mut opt.m.as_full_mut()[r.clone()]) } else { None };
        sgd_step(opt.cfg.par, &c, &mut params[r.clone()], &grads[r], buf)?;
    }
    Ok(())
}

fn adam_consts<U: SimdFloat, T: SimdFloat>(
    cfg: &crate::config::AgmConfig,
    layout: &gradus_core::Layout,
    ctx: StepCtx<T>,
    b: usize,
) -> AdamConsts<U> {
    let h = super::block_hyper(cfg, layout, b);
    let (Momentum::Ema { beta1 }, Statistic::Ema { beta2, .. }) = (cfg.momentum, &cfg.statistic)
    else {
        unreachable!("adam path is only taken for Ema momentum and statistic")
    };
    let mut c = AdamConsts::<U>::new(h.lr, beta1, *beta2, cfg.eps, ctx.t, cfg.bias_correction);
    c.amsgrad = cfg.amsgrad;
    c.eps_inside = cfg.eps_placement == EpsPlacement::Inside;
    c.decay = U::from_f64(h.decay);
    c.l2 = U::from_f64(h.l2);
    c.g_scale = U::from_f64(ctx.g_scale.to_f64());
    c
}

fn adam<T: SimdFloat>(
    opt: &mut Agm<T>,
    ctx: StepCtx<T>,
    params: &mut [T],
    grads: &[T],
) -> Result<()> {
    let par = opt.cfg.par;
    for b in 0..opt.layout.blocks().len() {
        let r = opt.layout.blocks()[b].range();
        let (p, g) = (&mut params[r.clone()], &grads[r.clone()]);
        match (&mut opt.m, &mut opt.v, &mut opt.vmax) {
            (Moment::Full(m), Moment::Full(v), vmax) => {
                let c = adam_consts::<T, T>(&opt.cfg, &opt.layout, ctx, b);
                let vmax = if c.amsgrad { Some(&mut vmax.as_full_mut()[r.clone()]) } else { None };
                adam_step(par, &c, p, g, &mut m[r.clone()], &mut v[r], vmax)?;
            }
            (Moment::Bf16(m), Moment::Bf16(v), vmax) => {
                let c = adam_consts::<f32, T>(&opt.cfg, &opt.layout, ctx, b);
                let (Some(p), Some(g)) = (T::as_f32_slice_mut(p), T::as_f32_slice(g)) else {
                    return Err(Error::Unsupported("bf16 state needs f32 parameters".into()));
                };
                let vmax = match vmax {
                    Moment::Bf16(x) if c.amsgrad => Some(&mut x[b]),
                    _ => None,
                };
                let rounding = super::moment::bf16_rounding(opt.cfg.precision, ctx.t, b);
                adam_step_bf16_rounded(par, &c, rounding, p, g, &mut m[b], &mut v[b], vmax)?;
            }
            _ => unreachable!("moments share one precision"),
        }
    }
    Ok(())
}

fn rmsprop<T: SimdFloat>(
    opt: &mut Agm<T>,
    ctx: StepCtx<T>,
    params: &mut [T],
    grads: &[T],
) -> Result<()> {
    let Statistic::Ema { beta2, .. } = opt.cfg.statistic else { unreachable!("Ema statistic") };
    let momentum = match opt.cfg.momentum {
        Momentum::HeavyBall { mu, .. } => Some(mu),
        _ => None,
    };
    let centered = opt.cfg.centered;
    for b in 0..opt.layout.blocks().len() {
        let r = opt.layout.blocks()[b].range();
        let h = opt.block_hyper(b);
        let c = RmsPropConsts {
            lr: T::from_f64(h.lr),
            alpha: T::from_f64(beta2),
            eps: T::from_f64(opt.cfg.eps),
            momentum: T::from_f64(momentum.unwrap_or(0.0)),
            decay: T::from_f64(h.decay),
            l2: T::from_f64(h.l2),
            g_scale: ctx.g_scale,
        };
        let st = RmsPropState {
            v: &mut opt.v.as_full_mut()[r.clone()],
            avg: if centered { Some(&mut opt.avg[r.clone()]) } else { None },
            buf: if momentum.is_some() { Some(&mut opt.m.as_full_mut()[r.clone()]) } else { None },
        };
        rmsprop_step(opt.cfg.par, &c, &mut params[r.clone()], &grads[r], st)?;
    }
    Ok(())
}

fn adagrad<T: SimdFloat>(
    opt: &mut Agm<T>,
    ctx: StepCtx<T>,
    params: &mut [T],
    grads: &[T],
) -> Result<()> {
    let decay_factor = 1.0 + (ctx.t - 1) as f64 * opt.cfg.lr_decay;
    for b in 0..opt.layout.blocks().len() {
        let r = opt.layout.blocks()[b].range();
        let h = opt.block_hyper(b);
        let c = AdagradConsts {
            lr: T::from_f64(h.lr / decay_factor),
            eps: T::from_f64(opt.cfg.eps),
            decay: T::from_f64(h.decay),
            l2: T::from_f64(h.l2),
            g_scale: ctx.g_scale,
        };
        let sum = &mut opt.v.as_full_mut()[r.clone()];
        adagrad_step(opt.cfg.par, &c, &mut params[r.clone()], &grads[r], sum)?;
    }
    Ok(())
}

/// Block-scalar statistics (Adam-mini, Adalayer, global RMSProp): block means of `g²` by
/// reduction, one scalar preconditioner per block, then an SGD-kernel pass per segment with
/// the preconditioner folded into the step size. Needs no coupled L2 term, whose `p` would
/// enter the block means.
fn blocks<T: SimdFloat>(
    opt: &mut Agm<T>,
    ctx: StepCtx<T>,
    params: &mut [T],
    grads: &[T],
) -> Result<()> {
    let Some(part) = opt.blocks.as_ref() else { unreachable!("block partition resolved") };
    let par = opt.cfg.par;
    block_mean_squares(par, grads, &part.bounds, &mut opt.scratch)?;
    let gs2 = ctx.g_scale * ctx.g_scale;
    let bc2 = T::from_f64(super::generic::bias_correction2(&opt.cfg, ctx.t));
    for j in 0..opt.scratch.len() {
        let mean = opt.scratch[j] * gs2;
        opt.scratch[j] = super::generic::block_preconditioner(opt, bc2, j, mean);
    }
    let bc1 = bias_correction1(opt, ctx.t);
    let (momentum, grad_weight) = match opt.cfg.momentum {
        Momentum::Ema { beta1 } => (beta1, 1.0 - beta1),
        _ => (0.0, 1.0),
    };
    let has_buf = matches!(opt.cfg.momentum, Momentum::Ema { .. });
    let Some(part) = opt.blocks.as_ref() else { unreachable!("block partition resolved") };
    for seg in &part.segments {
        let h = opt.block_hyper(seg.layout_block);
        let pj = opt.scratch[seg.stat].to_f64();
        let c = SgdConsts {
            lr: T::from_f64(h.lr * pj * bc1),
            momentum: T::from_f64(momentum),
            grad_weight: T::from_f64(grad_weight),
            nesterov: false,
            decay: T::from_f64(h.decay),
            l2: T::ZERO,
            g_scale: ctx.g_scale,
        };
        let r = seg.range.clone();
        let buf = if has_buf { Some(&mut opt.m.as_full_mut()[r.clone()]) } else { None };
        sgd_step(par, &c, &mut params[r.clone()], &grads[r], buf)?;
    }
    Ok(())
}
