//! Issue 4 models: gradients and Hessian-vector products against finite differences, the
//! sharpness estimators against exact values, the closed forms of paper 01, and label noise.

use gradus_core::{Objective, rng};
use gradus_models::data::{gaussian_matrix, normal};
use gradus_models::sharpness::{
    Plateau, block_measure, exact_diag, hutchinson_diag, hutchinson_trace, implicit_measure,
    power_measure, sum_sqrt,
};
use gradus_models::{
    DiagParam, DiagonalNet, Differentiable, LabelNoise, Linear, MatrixFactorization, Regression,
    SquaredLossModel, TwoLayerNet,
};

fn fd_check<M: SquaredLossModel>(reg: &mut Regression<M>, seed: u64) {
    let d = reg.model.num_params();
    let mut r = rng::seeded(seed);
    let x: Vec<f64> = (0..d).map(|_| 0.5 * normal(&mut r)).collect();
    let v: Vec<f64> = (0..d).map(|_| normal(&mut r)).collect();
    let mut g = vec![0.0; d];
    reg.full_loss_grad(&x, &mut g).unwrap();
    let h = 1e-5;
    for i in 0..d {
        let mut at = |s: f64| {
            let mut y = x.clone();
            y[i] += s;
            let mut gg = vec![0.0; d];
            reg.full_loss_grad(&y, &mut gg).unwrap()
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        assert!((g[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "grad {i}: {} vs {fd}", g[i]);
    }
    let mut hv = vec![0.0; d];
    reg.hvp(&x, &v, &mut hv).unwrap();
    let (mut gp, mut gm) = (vec![0.0; d], vec![0.0; d]);
    let xp: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a + h * b).collect();
    let xm: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a - h * b).collect();
    reg.full_loss_grad(&xp, &mut gp).unwrap();
    reg.full_loss_grad(&xm, &mut gm).unwrap();
    for i in 0..d {
        let fd = (gp[i] - gm[i]) / (2.0 * h);
        assert!((hv[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "hvp {i}: {} vs {fd}", hv[i]);
    }
}

fn design(n: usize, d: usize, seed: u64) -> (gradus_models::Dense<f64>, Vec<f64>) {
    let mut r = rng::seeded(seed);
    let x = gaussian_matrix::<f64>(n, d, &mut r);
    let y = (0..n).map(|_| normal(&mut r)).collect();
    (x, y)
}

#[test]
fn every_model_has_exact_derivatives() {
    let (x, y) = design(12, 7, 1);
    fd_check(
        &mut Regression::new(Linear::new(x.clone(), y.clone()).unwrap(), 12, LabelNoise::None)
            .unwrap(),
        2,
    );
    for p in [DiagParam::SquareDifference, DiagParam::Product] {
        fd_check(
            &mut Regression::new(
                DiagonalNet::new(x.clone(), y.clone(), p).unwrap(),
                12,
                LabelNoise::None,
            )
            .unwrap(),
            3,
        );
    }
    fd_check(
        &mut Regression::new(
            TwoLayerNet::new(x.clone(), y.clone(), 5).unwrap(),
            12,
            LabelNoise::None,
        )
        .unwrap(),
        4,
    );
    let obs: Vec<(usize, usize, f64)> =
        (0..15).map(|k| (k % 4, (k * 7) % 5, (k as f64).sin())).collect();
    fd_check(
        &mut Regression::new(MatrixFactorization::new(4, 5, 2, obs).unwrap(), 15, LabelNoise::None)
            .unwrap(),
        5,
    );
}

/// The batched passes of the diagonal network (column chunks, parallel above 2^20 design
/// entries) against the per-sample primitives, and bit-identical across thread counts: loss,
/// gradient and Hessian-vector product.
#[test]
fn diagonal_net_batched_passes_match_per_sample_reference_for_any_thread_count() {
    let (n, d) = (40, 30_000);
    let (x, y) = design(n, d, 9);
    let mut r = rng::seeded(10);
    let theta: Vec<f64> = (0..2 * d).map(|_| 0.3 * normal(&mut r)).collect();
    let dir: Vec<f64> = (0..2 * d).map(|_| normal(&mut r)).collect();
    let close = |what: &str, got: &[f64], want: &[f64]| {
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 1e-12 * scale, "{what} {i}: {a} vs {b}");
        }
    };
    for p in [DiagParam::SquareDifference, DiagParam::Product] {
        let net = DiagonalNet::new(x.clone(), y.clone(), p).unwrap();
        let (mut want_g, mut want_hv) = (vec![0.0; 2 * d], vec![0.0; 2 * d]);
        let mut want_loss = 0.0;
        for j in 0..n {
            let res = net.output(&theta, j) - net.target(j);
            want_loss += 0.5 * res * res / n as f64;
            net.add_output_grad(&theta, j, res / n as f64, &mut want_g);
            let gv = net.output_grad_dot(&theta, j, &dir);
            net.add_output_grad(&theta, j, gv / n as f64, &mut want_hv);
            net.add_output_hvp(&theta, j, &dir, res / n as f64, &mut want_hv);
        }
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut reg = Regression::new(net.clone(), n, LabelNoise::None).unwrap();
            let (mut g, mut hv) = (vec![0.0; 2 * d], vec![0.0; 2 * d]);
            let loss = pool.install(|| reg.full_loss_grad(&theta, &mut g).unwrap());
            pool.install(|| reg.hvp(&theta, &dir, &mut hv).unwrap());
            (loss, g, hv)
        };
        let (loss1, g1, hv1) = run(1);
        let (loss3, g3, hv3) = run(3);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(loss1.to_bits(), loss3.to_bits(), "{p:?}: loss depends on the thread count");
        assert!(bits(&g1) == bits(&g3), "{p:?}: gradient depends on the thread count");
        assert!(bits(&hv1) == bits(&hv3), "{p:?}: HVP depends on the thread count");
        assert!(
            (loss1 - want_loss).abs() <= 1e-12 * want_loss,
            "{p:?}: loss {loss1} vs {want_loss}"
        );
        close("gradient", &g1, &want_g);
        close("HVP", &hv1, &want_hv);
    }
}

#[test]
fn hutchinson_estimators_are_unbiased() {
    let (x, y) = design(20, 6, 6);
    let mut reg =
        Regression::new(TwoLayerNet::new(x, y, 4).unwrap(), 20, LabelNoise::None).unwrap();
    let d = reg.model.num_params();
    let mut r = rng::seeded(7);
    let theta: Vec<f64> = (0..d).map(|_| 0.7 * normal(&mut r)).collect();
    let mut diag = vec![0.0; d];
    exact_diag(&mut reg, &theta, &mut diag).unwrap();
    let tr: f64 = diag.iter().sum();
    let est = hutchinson_trace(&mut reg, &theta, 4000, &mut r).unwrap();
    assert!((est.mean - tr).abs() < 4.0 * est.stderr, "{} +- {} vs {tr}", est.mean, est.stderr);
    assert!(est.stderr < 0.2 * tr.abs().max(1e-3) + 1e-9);
    let (mut mean, mut se) = (vec![0.0; d], vec![0.0; d]);
    hutchinson_diag(&mut reg, &theta, 4000, &mut r, &mut mean, &mut se).unwrap();
    let misses = (0..d).filter(|&i| (mean[i] - diag[i]).abs() > 4.5 * se[i] + 1e-12).count();
    assert!(misses <= 1, "{misses} of {d} diagonal entries outside 4.5 standard errors");
    assert!(hutchinson_trace(&mut reg, &theta, 1, &mut r).is_err());
}

#[test]
fn trace_is_nonnegative_at_minima_and_closed_forms_hold_on_the_manifold() {
    // Diagonal net at an interpolating point: choose u, v, then set targets to the outputs.
    let (x, _) = design(8, 10, 8);
    let mut r = rng::seeded(9);
    let theta: Vec<f64> = (0..20).map(|_| normal(&mut r)).collect();
    let net0 = DiagonalNet::new(x.clone(), vec![0.0; 8], DiagParam::SquareDifference).unwrap();
    let y: Vec<f64> = (0..8).map(|j| net0.output(&theta, j)).collect();
    let net = DiagonalNet::new(x, y, DiagParam::SquareDifference).unwrap();
    let mut reg = Regression::new(net.clone(), 8, LabelNoise::None).unwrap();
    assert!(reg.train_loss(&theta).unwrap() < 1e-20);
    let mut diag = vec![0.0; 20];
    exact_diag(&mut reg, &theta, &mut diag).unwrap();
    let tr: f64 = diag.iter().sum();
    assert!(tr >= 0.0);
    // At zero loss the exact Hessian equals Gauss-Newton, and the closed forms apply.
    let mut gn = vec![0.0; 20];
    reg.gauss_newton_diag(&theta, &mut gn).unwrap();
    for (a, b) in diag.iter().zip(&gn) {
        assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()));
    }
    assert!((tr - net.trace_closed_form(&theta).unwrap()).abs() < 1e-9 * tr);
    assert!(
        (sum_sqrt(&diag) - net.sqrt_diag_closed_form(&theta).unwrap()).abs()
            < 1e-9 * sum_sqrt(&diag)
    );
    // Block measure with singleton blocks is tr(Diag(H)^{1/2}); with one block it is sqrt(D tr H).
    let singles: Vec<usize> = (0..=20).collect();
    assert!((block_measure(&diag, &singles).unwrap() - sum_sqrt(&diag)).abs() < 1e-12);
    assert!((block_measure(&diag, &[0, 20]).unwrap() - (20.0 * tr).sqrt()).abs() < 1e-9);
    // The general measure: E = 0 is tr(H) whatever the blocks; AdamE singletons are
    // sum H_ii^{1-E} / (1 - E), computed here by hand.
    assert!((implicit_measure(&diag, &[0, 7, 20], 0.0).unwrap() - tr).abs() < 1e-9 * tr);
    let by_hand: f64 = diag.iter().map(|h| h.max(0.0).powf(0.75)).sum::<f64>() / 0.75;
    assert!((power_measure(&diag, 0.25).unwrap() - by_hand).abs() < 1e-9 * by_hand);
}

#[test]
fn paper01_f_minimal_measures_at_fixed_w_by_brute_force() {
    let (x, y) = design(5, 3, 10);
    let net = DiagonalNet::new(x, y, DiagParam::SquareDifference).unwrap();
    let w = [0.8, -0.3, 0.05];
    let (l1, half) = net.measures_minimum(&w).unwrap();
    // Search the one-parameter family (u, v) = (sqrt(w + t^2), t) (or swapped for w < 0).
    let (mut best_tr, mut best_sq) = (f64::INFINITY, f64::INFINITY);
    for k in 0..20001 {
        let t = k as f64 * 1e-4;
        let mut theta = vec![0.0; 6];
        for i in 0..3 {
            let (big, small) = ((w[i].abs() + t * t).sqrt(), t);
            (theta[i], theta[3 + i]) = if w[i] >= 0.0 { (big, small) } else { (small, big) };
        }
        best_tr = best_tr.min(net.trace_closed_form(&theta).unwrap());
        best_sq = best_sq.min(net.sqrt_diag_closed_form(&theta).unwrap());
    }
    assert!((best_tr - l1).abs() < 1e-9, "{best_tr} vs {l1}");
    assert!((best_sq - half).abs() < 1e-9, "{best_sq} vs {half}");
}

#[test]
fn paper01_e_label_noise_gradient_has_mean_zero_and_covariance_sigma2_h() {
    // On the manifold, batch-1 label-noise gradients are -xi grad f_j: mean 0 and
    // E |g|^2 = sigma^2 tr(H) with H the Gauss-Newton Hessian.
    let (x, _) = design(6, 4, 11);
    let theta: Vec<f64> = (0..8).map(|i| 0.3 + 0.1 * i as f64).collect();
    let net0 = DiagonalNet::new(x.clone(), vec![0.0; 6], DiagParam::SquareDifference).unwrap();
    let y: Vec<f64> = (0..6).map(|j| net0.output(&theta, j)).collect();
    let sigma = 0.5;
    let mut reg = Regression::new(
        DiagonalNet::new(x, y, DiagParam::SquareDifference).unwrap(),
        1,
        LabelNoise::PlusMinus(sigma),
    )
    .unwrap();
    let mut gn = vec![0.0; 8];
    reg.gauss_newton_diag(&theta, &mut gn).unwrap();
    let tr: f64 = gn.iter().sum();
    let mut r = rng::seeded(12);
    let reps = 200_000;
    let (mut mean, mut sq) = (vec![0.0; 8], 0.0);
    let mut g = vec![0.0; 8];
    for _ in 0..reps {
        reg.loss_grad(&theta, &mut g, &mut r).unwrap();
        mean.iter_mut().zip(&g).for_each(|(m, v)| *m += v / reps as f64);
        sq += g.iter().map(|v| v * v).sum::<f64>() / reps as f64;
    }
    let scale = (sigma * sigma * tr).sqrt();
    assert!(mean.iter().all(|m| m.abs() < 0.02 * scale), "{mean:?}");
    assert!((sq / (sigma * sigma * tr) - 1.0).abs() < 0.02, "{} vs {}", sq, sigma * sigma * tr);
}

#[test]
fn implicit_measure_rejects_bad_blocks_and_exponents() {
    let diag = [1.0, 2.0, 3.0];
    assert!(implicit_measure(&diag, &[0, 2, 1, 3], 0.5).is_err()); // unsorted
    assert!(implicit_measure(&diag, &[0, 2], 0.5).is_err()); // does not cover
    assert!(implicit_measure(&diag, &[0, 0, 3], 0.5).is_err()); // empty block
    assert!(implicit_measure(&diag, &[0, 3], 1.0).is_err());
    assert!(implicit_measure(&diag, &[0, 3], f64::NAN).is_err());
    assert!(block_measure(&diag, &[1, 3]).is_err());
}

/// Feeds `m(t)` observed every 100 steps from step 100 (loss 0 from step `gate`) and returns
/// the step at which the plateau rule fired.
fn fire_step(m: impl Fn(f64) -> f64, gate: u64, cap: u64) -> Option<u64> {
    let mut p = Plateau::new(1e-3, 0.01, 2_000, 4).unwrap();
    (1..=cap / 100).map(|k| k * 100).find(|&t| {
        let loss = if t >= gate { 0.0 } else { 1.0 };
        p.observe(t, loss, m(t as f64))
    })
}

#[test]
fn plateau_rule_waits_for_the_drift_to_stop() {
    // A constant measure converges as soon as the minimum window has passed after the gate.
    assert_eq!(fire_step(|_| 5.0, 1_000, 100_000), Some(3_000));
    // Exponential decay to 1 with time constant 1e4: fires once the change over the last
    // half of the window is below 1%, i.e. e^{-t/2e4} (1 - e^{-t/2e4}) < 0.01, t ~ 9.2e4.
    let t = fire_step(|t| 1.0 + (-t / 1e4).exp(), 0, 1_000_000).unwrap();
    assert!((85_000..100_000).contains(&t), "fired at {t}");
    // A measure still falling like 1/sqrt(t) never plateaus by this rule (it loses 29% per
    // doubling), and nothing fires before the gate.
    assert_eq!(fire_step(|t| 1.0 / t.sqrt(), 0, 1_000_000), None);
    assert_eq!(fire_step(|_| 5.0, u64::MAX, 100_000), None);
    assert!(Plateau::new(0.0, 0.01, 10, 1).is_err());
    assert!(Plateau::new(1e-3, 0.01, 10, 0).is_err());
}
