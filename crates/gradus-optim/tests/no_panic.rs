//! Every optimizer entry point, driven with arbitrary configurations, layouts, parameters and
//! gradients (0, 1, huge, NaN, infinite, mismatched lengths), learning rates, schedules and
//! foreign states: an error or a finite result, never a panic; a refused step changes nothing
//! (issue 18).

use std::panic::{AssertUnwindSafe, catch_unwind};

use gradus_core::{Layout, Par};
use gradus_optim::{
    Agm, AgmConfig, EpsPlacement, Grafting, Momentum, Optimizer, Partition, Schedule, Shampoo,
    ShampooConfig, StatePrecision, Statistic,
};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -3.0..3.0f64,
        1 => Just(0.0),
        1 => Just(1.0),
        1 => Just(1e300),
        1 => Just(-1e300),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn hyper() -> impl Strategy<Value = f64> {
    prop_oneof![3 => 0.0..1.0f64, 1 => value()]
}

fn no_panic<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => panic!("{what} panicked"),
    }
}

fn agm_config() -> impl Strategy<Value = AgmConfig> {
    (
        (0usize..4, hyper(), hyper(), hyper(), hyper()),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), 0usize..4, any::<bool>()),
        (prop::option::of(hyper()), hyper(), any::<bool>()),
    )
        .prop_map(
            |((base, lr, b1, b2, e), (ams, cen, bf16, inside, part, seq), (clip, eps, hb))| {
                let cfg = match base {
                    0 => AgmConfig::sgd(lr),
                    1 => AgmConfig::adam(lr),
                    2 => AgmConfig::rmsprop(lr),
                    _ => AgmConfig::adagrad(lr),
                };
                let partition = match part {
                    0 => Partition::Coordinates,
                    1 => Partition::LayoutBlocks,
                    2 => Partition::Global,
                    _ => {
                        Partition::LayoutBlocksWithRows { row_blocks: vec!["w".into(), "x".into()] }
                    }
                };
                let momentum = if hb {
                    Momentum::HeavyBall { mu: b1, dampening: 0.0, nesterov: cen }
                } else {
                    Momentum::Ema { beta1: b1 }
                };
                let statistic = if base == 3 {
                    Statistic::Sum { initial: b2, partition }
                } else {
                    Statistic::Ema { beta2: b2, partition }
                };
                cfg.with_momentum(momentum)
                    .with_statistic(statistic)
                    .with_exponent(e)
                    .with_amsgrad(ams)
                    .with_centered(cen)
                    .with_precision(if bf16 { StatePrecision::Bf16 } else { StatePrecision::Full })
                    .with_eps_placement(if inside {
                        EpsPlacement::Inside
                    } else {
                        EpsPlacement::Outside
                    })
                    .with_max_grad_norm(clip)
                    .with_eps(eps)
                    .with_par(if seq { Par::Seq } else { Par::Rayon })
            },
        )
}

fn layout(rows: usize, cols: usize, extra: usize) -> Option<Layout> {
    Layout::new().matrix("w", rows, cols).and_then(|l| l.vector("b", extra)).ok()
}

/// Steps `opt` with arbitrary parameters and gradients: a refused step changes nothing; an
/// accepted one from finite input leaves the parameters without NaN.
fn drive<O: Optimizer<f64>>(
    name: &str,
    opt: &mut O,
    params: &[f64],
    grads: &[f64],
    lr: f64,
) -> Result<(), TestCaseError> {
    let n = opt.layout().len();
    for len in [n, params.len()] {
        let mut p: Vec<f64> = (0..len).map(|i| *params.get(i).unwrap_or(&0.5)).collect();
        let g: Vec<f64> = (0..grads.len().min(len + 1)).map(|i| grads[i]).collect();
        let (p0, st0) = (p.clone(), opt.state().ok());
        match no_panic(name, || opt.step(&mut p, &g)) {
            Err(_) => {
                prop_assert_eq!(
                    p.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    p0.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
                prop_assert_eq!(opt.state().ok(), st0, "{}: refused step changed the state", name);
            }
            Ok(info) => {
                prop_assert!(
                    g.iter().all(|v| v.is_finite()),
                    "{}: non-finite gradient accepted",
                    name
                );
                if p0.iter().all(|v| v.abs() <= 1e3) && g.iter().all(|v| v.abs() <= 1e3) {
                    prop_assert!(p.iter().all(|v| !v.is_nan()), "{}: NaN parameters", name);
                    prop_assert!(!info.lr.is_nan());
                }
            }
        }
    }
    let before = opt.lr();
    if no_panic(name, || opt.set_lr(lr)).is_err() {
        prop_assert_eq!(opt.lr(), before);
    }
    if let Ok(st) = opt.state() {
        prop_assert!(no_panic(name, || opt.load_state(&st)).is_ok(), "{}: own state refused", name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(128)))]

    #[test]
    fn agm_never_panics(
        cfg in agm_config(), rows in 0usize..4, cols in 0usize..4, extra in 0usize..3,
        params in prop::collection::vec(value(), 0..20),
        grads in prop::collection::vec(value(), 0..20), lr in value(),
    ) {
        let Some(l) = layout(rows, cols, extra) else { return Ok(()) };
        if let Ok(mut opt) = no_panic("agm new", || Agm::<f64>::new("x", cfg.clone(), l.clone())) {
            drive("agm", &mut opt, &params, &grads, lr)?;
            let _ = no_panic("set_config", || opt.set_config(AgmConfig::adam(0.1)));
            // A state from another layout is refused.
            if let (Some(other), Ok(st)) = (layout(rows + 1, cols, extra), opt.state()) {
                if let Ok(mut o2) = Agm::<f64>::new("x", cfg.clone(), other) {
                    prop_assert!(o2.load_state(&st).is_err());
                }
            }
        }
        if let Ok(mut opt) = no_panic("agm f32", || Agm::<f32>::new("x", cfg, l)) {
            let mut p: Vec<f32> = params.iter().map(|&v| v as f32).collect();
            let g: Vec<f32> = grads.iter().map(|&v| v as f32).collect();
            let _ = no_panic("agm f32 step", || opt.step(&mut p, &g));
        }
    }

    #[test]
    fn shampoo_never_panics(
        lr in hyper(), beta2 in hyper(), eps in hyper(), root in 0u32..5, freq in 0u64..3,
        max_dim in 0usize..4, min_dim in 0usize..3, graft in 0usize..5, mom in hyper(),
        rows in 0usize..5, cols in 0usize..5, extra in 0usize..3,
        params in prop::collection::vec(value(), 0..30),
        grads in prop::collection::vec(value(), 0..30), newlr in value(),
    ) {
        let grafting = match graft {
            0 => Grafting::None,
            1 => Grafting::Sgd,
            2 => Grafting::Adagrad,
            3 => Grafting::RmsProp { beta2 },
            _ => Grafting::Adam { beta2 },
        };
        let cfg = ShampooConfig::new(lr)
            .with_beta2(beta2)
            .with_epsilon(eps)
            .with_root(root)
            .with_precondition_frequency(freq)
            .with_max_preconditioner_dim(max_dim)
            .with_min_preconditioner_dim(min_dim)
            .with_grafting(grafting)
            .with_momentum(mom)
            .with_par(Par::Seq);
        let Some(l) = layout(rows, cols, extra) else { return Ok(()) };
        if let Ok(mut opt) = no_panic("shampoo new", || Shampoo::<f64>::new(cfg, l)) {
            drive("shampoo", &mut opt, &params, &grads, newlr)?;
        }
    }

    #[test]
    fn schedules_never_panic(kind in 0usize..6, a in value(), b in value(), w in 0u64..50, total in 0u64..50, t in any::<u64>()) {
        let s = match kind {
            0 => Schedule::Constant,
            1 => Schedule::Step { every: w, gamma: a },
            2 => Schedule::Exponential { gamma: a },
            3 => Schedule::InverseTime { decay: a, power: b },
            4 => Schedule::Linear { warmup: w, total, final_factor: a },
            _ => Schedule::Cosine { warmup: w, total, final_factor: a },
        };
        if no_panic("validate", || s.validate()).is_ok() {
            let f = no_panic("factor", || s.factor(t));
            prop_assert!(f.is_finite() && f >= 0.0, "{:?} at {}: {}", s, t, f);
        }
    }
}
