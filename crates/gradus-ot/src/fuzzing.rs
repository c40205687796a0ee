//! Fuzz harnesses (`fuzz/fuzz_targets/ot_inputs.rs`): problem construction and the first
//! steps of every solver from arbitrary bytes. None may panic; every `Ok` value must be
//! finite. The committed corpus is replayed by `tests/fuzz_corpus.rs`.

use gradus_core::{Par, rng};

use crate::dro::{Classifier, GibbsTarget, MultinomialLogistic, PointLoss, pgd_l2_point};
use crate::flows::{
    Bandwidth, Flow, GaussianTarget, Langevin, Particles, Reaction, Rgo, RgoWork, Svgd, Wfr,
};
use crate::semidiscrete::{Averaging, Drag, DragConfig, EpsilonSchedule, Projection, SemiDiscrete};
use crate::sinkhorn::{SinkhornConfig, sinkhorn};
use crate::{DiscreteMeasure, UniformBox};

/// Reads bytes as `f64`s (8 bytes each, little endian: any bit pattern, NaN and Inf included),
/// then single bytes.
struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn f64(&mut self) -> f64 {
        let mut b = [0u8; 8];
        for v in b.iter_mut() {
            *v = self.byte();
        }
        f64::from_le_bytes(b)
    }

    /// A "small" f64: half the time a byte mapped to [-2, 2), otherwise raw bits.
    fn num(&mut self) -> f64 {
        if self.byte() % 2 == 0 { self.byte() as f64 / 64.0 - 2.0 } else { self.f64() }
    }

    fn nums(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.num()).collect()
    }
}

fn finite_ok(r: gradus_core::Result<f64>) {
    if let Ok(v) = r {
        assert!(v.is_finite(), "Ok value must be finite, got {v}");
    }
}

/// Dispatches on the first byte to one of the harnesses below.
pub fn ot_inputs(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else { return };
    match kind % 4 {
        0 => semidiscrete(rest),
        1 => discrete(rest),
        2 => particles(rest),
        _ => dro(rest),
    }
}

/// Target measure, potential, point and DRAG settings from bytes.
pub fn semidiscrete(data: &[u8]) {
    let mut r = Reader { data };
    let d = 1 + (r.byte() % 4) as usize;
    let m = 1 + (r.byte() % 12) as usize;
    let pts = r.nums(m * d);
    let w = r.nums(m);
    let Ok(nu) = DiscreteMeasure::new(d, pts, w) else { return };
    let Ok(src) = UniformBox::cube(d, 0.0, 1.0) else { return };
    let Ok(problem) = SemiDiscrete::new(src, nu) else { return };
    let g = r.nums(m);
    let x = r.nums(d);
    let eps = r.num();
    finite_ok(problem.c_transform(&x, &g, eps));
    let mut grad = vec![0.0; m];
    let h = problem.stochastic_gradient(&x, &g, eps, &mut grad);
    if h.is_ok() {
        assert!((grad.iter().sum::<f64>()).abs() < 1e-9 * (1.0 + m as f64));
    }
    let _ = problem.power_cell(&x, &g);
    let cfg = DragConfig {
        gamma1: r.num(),
        b: r.num(),
        epsilon: if r.byte() % 2 == 0 {
            EpsilonSchedule::Constant(r.num())
        } else {
            EpsilonSchedule::Decreasing { initial: r.num(), scale: r.num(), decay: r.num() }
        },
        averaging: match r.byte() % 3 {
            0 => Averaging::Uniform,
            1 => Averaging::LastIterate,
            _ => Averaging::LogWeighted { omega: r.num() },
        },
        projection: match r.byte() % 3 {
            0 => Projection::None,
            1 => Projection::Box { upper: r.num() },
            _ => Projection::Anchored { radius: r.num() },
        },
        batch: (r.byte() % 3) as usize,
        scale_step_with_batch: true,
        par: Par::Seq,
    };
    let Ok(mut drag) = Drag::new(&problem, cfg, Some(&g)) else { return };
    let xs = r.nums(cfg.batch * d);
    for _ in 0..3 {
        if drag.step_with(&xs).is_err() {
            break;
        }
        assert!(drag.average().iter().all(|v| v.is_finite()));
    }
    let mut rr = rng::seeded(1);
    let _ = drag.step(&mut rr);
}

/// Sinkhorn inputs from bytes.
pub fn discrete(data: &[u8]) {
    let mut r = Reader { data };
    let n = 1 + (r.byte() % 5) as usize;
    let m = 1 + (r.byte() % 5) as usize;
    let a = r.nums(n);
    let b = r.nums(m);
    let cost = r.nums(n * m);
    let cfg = SinkhornConfig {
        eps: r.num(),
        eps_start: if r.byte() % 2 == 0 { None } else { Some(r.num()) },
        scaling: r.num(),
        max_iter: (r.byte() % 50) as usize,
        tol: r.num(),
        par: Par::Seq,
    };
    if let Ok(res) = sinkhorn(&a, &b, &cost, &cfg) {
        assert!(res.f.iter().chain(&res.g).all(|v| !v.is_nan()));
    }
}

/// Particles and one step of each flow from bytes.
pub fn particles(data: &[u8]) {
    let mut r = Reader { data };
    let d = 1 + (r.byte() % 3) as usize;
    let n = 1 + (r.byte() % 6) as usize;
    let pos = r.nums(n * d);
    let w = r.nums(n);
    let Ok(mut p) = Particles::weighted(d, pos, w) else { return };
    let Ok(target) = GaussianTarget::isotropic(r.nums(d), r.num()) else { return };
    let mut rr = rng::seeded(2);
    let (h, t) = (r.num(), r.num());
    if let Ok(mut l) = Langevin::new(h, t) {
        let _ = l.step(&mut p, &target, &mut rr, Par::Seq);
    }
    if let Ok(mut s) = Svgd::new(h, Bandwidth::Median, t.abs()) {
        let _ = s.step(&mut p, &target, &mut rr, Par::Seq);
    }
    if let Ok(l) = Langevin::new(h, t) {
        if let Ok(mut f) = Wfr::new(l, r.num(), Reaction::Kde(Bandwidth::Median)) {
            let _ = f.step(&mut p, &target, &mut rr, Par::Seq);
        }
    }
    assert!(p.positions().iter().all(|v| v.is_finite()));
    assert!((p.weights().iter().sum::<f64>() - 1.0).abs() < 1e-9);
}

/// The DRO model, its l2 attack and the RGO sampler on arbitrary shapes and values (wrong
/// theta lengths and out-of-range labels included).
fn dro(data: &[u8]) {
    let mut r = Reader { data };
    let input = 1 + r.byte() as usize % 6;
    let classes = r.byte() as usize % 5;
    let Ok(model) = MultinomialLogistic::new(input, classes) else { return };
    let extra = r.byte() as usize % 2;
    let theta = r.nums(model.num_params() + extra);
    let y = r.nums(input);
    let label = r.byte() as usize % (classes + 1);
    let mut gy = vec![0.0; input];
    finite_ok(model.loss(&theta, label, &y));
    finite_ok(model.loss_grad_y(&theta, label, &y, &mut gy));
    let mut gt = vec![0.0; theta.len()];
    finite_ok(model.loss_grad_theta(&theta, label, &y, 1.0, &mut gt));
    if let Ok(c) = model.predict(&theta, &y) {
        assert!(c < model.classes());
    }
    let (radius, step, iters) = (r.num(), r.num(), r.byte() as usize % 5);
    let mut adv = vec![0.0; input];
    if pgd_l2_point(&model, &theta, &y, label, radius, step, iters, &mut adv, &mut gy).is_ok()
        && y.iter().all(|v| v.is_finite())
        && adv.iter().all(|v| v.is_finite())
    {
        let dist = adv.iter().zip(&y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        // The projection `x + (y - x) r / |y - x|` is exact up to rounding of the coordinates
        // themselves: with |x| ~ 1e7 one ulp is ~1e-9, so the slack scales with them.
        let scale = y.iter().chain(&adv).fold(0.0f64, |m, v| m.max(v.abs()));
        let slack = 16.0 * f64::EPSILON * scale * (input as f64).sqrt();
        assert!(
            dist <= radius * (1.0 + 1e-9) + 1e-12 + slack,
            "attack left its ball: {dist} > {radius} (+{slack})"
        );
    }
    let (lambda, eps, smooth) = (r.num(), r.num(), r.num());
    let (ascent, trials) = (r.byte() as usize % 8, 1 + r.byte() as usize % 4);
    if let Ok(rgo) = Rgo::dro(lambda, eps, smooth, ascent, trials) {
        let target = GibbsTarget { loss: &model, theta: &theta, x: &y, label, lambda };
        let mut out = vec![0.0; 2 * input];
        let _ = rgo.sample(&target, &y, &mut out, &mut rng::seeded(1), &mut RgoWork::default());
    }
}
