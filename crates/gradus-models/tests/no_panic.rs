//! Every public entry point, driven with arbitrary shapes and values (0, 1, huge, NaN, infinite,
//! mismatched lengths): an error or a result, never a panic; and when every input is finite
//! and moderate, an `Ok` result is finite (issue 18).

use std::panic::{AssertUnwindSafe, catch_unwind};

use gradus_core::{Objective, rng};
use gradus_models::data::classification;
use gradus_models::sharpness::{
    Plateau, block_measure, exact_diag, hutchinson_trace, implicit_measure, power_measure,
};
use gradus_models::toeplitz_cov::baselines::{
    crb_first_row, fisher_information, sample_covariance, toeplitz_projection,
};
use gradus_models::toeplitz_cov::data::{sample, sinusoid_column};
use gradus_models::toeplitz_cov::metrics::{
    first_row_squared_error, kl_divergence, relative_frobenius,
};
use gradus_models::toeplitz_cov::{DataKind, EvalPath, SinusoidModel, ToeplitzNll};
use gradus_models::{
    Dense, DiagParam, DiagonalNet, Differentiable, LabelNoise, Linear, LogisticRegression,
    MatrixFactorization, Quadratic, Regression, SoftmaxRegression, TwoLayerNet,
};
use num_complex::Complex64;
use proptest::prelude::*;

/// Values a careless caller passes: ordinary, 0, 1, huge, NaN, infinite.
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

fn values(max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(value(), 0..max)
}

fn moderate(xs: &[f64]) -> bool {
    xs.iter().all(|v| v.is_finite() && v.abs() <= 1e3)
}

/// Runs `f`, failing the property if it panics.
fn no_panic<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => panic!("{what} panicked"),
    }
}

/// An `Ok` value computed from moderate inputs must be finite.
fn finite_if_ok(what: &str, ok_inputs: bool, r: &gradus_core::Result<f64>) {
    if let (true, Ok(v)) = (ok_inputs, r) {
        assert!(v.is_finite(), "{what} gave {v} from moderate inputs");
    }
}

fn complex(xs: &[f64]) -> Vec<Complex64> {
    xs.chunks(2).map(|c| Complex64::new(c[0], *c.get(1).unwrap_or(&0.0))).collect()
}

/// A design of `rows x cols` from `vals` (cycled), or the error for a bad shape.
fn design(rows: usize, cols: usize, vals: &[f64]) -> Option<Dense<f64>> {
    let data: Vec<f64> =
        (0..rows * cols).map(|i| *vals.get(i % vals.len().max(1)).unwrap_or(&0.5)).collect();
    Dense::from_row_major(rows, cols, data).ok()
}

/// Drives every `Differentiable` entry point with `params` / `v` of arbitrary length.
fn drive<M: Differentiable<f64> + Objective<f64>>(
    name: &str,
    m: &mut M,
    params: &[f64],
    v: &[f64],
    extra: usize,
    ok_inputs: bool,
) {
    let d = Objective::dim(m);
    // Correct lengths, then lengths off by `extra`.
    for len in [d, d + extra, d.saturating_sub(extra)] {
        let p: Vec<f64> =
            (0..len).map(|i| *params.get(i % params.len().max(1)).unwrap_or(&0.1)).collect();
        let dir: Vec<f64> = (0..len).map(|i| *v.get(i % v.len().max(1)).unwrap_or(&1.0)).collect();
        let ok = ok_inputs && moderate(&p) && moderate(&dir);
        let mut g = vec![0.0; len];
        let mut r = rng::seeded(1);
        let f = no_panic(name, || m.loss_grad(&p, &mut g, &mut r));
        finite_if_ok(name, ok, &f);
        if !moderate(&p) && p.iter().any(|x| !x.is_finite()) {
            assert!(f.is_err(), "{name}: non-finite parameters accepted");
        }
        let f = no_panic(name, || m.full_loss_grad(&p, &mut g));
        finite_if_ok(name, ok, &f);
        let mut out = vec![0.0; len];
        let h = no_panic(name, || m.hvp(&p, &dir, &mut out));
        if ok && h.is_ok() {
            assert!(out.iter().all(|x| x.is_finite()), "{name}: non-finite HVP");
        }
        let mut diag = vec![0.0; len];
        let _ = no_panic(name, || exact_diag(m, &p, &mut diag));
        let mut r = rng::seeded(2);
        let _ = no_panic(name, || hutchinson_trace(m, &p, 1 + extra % 3, &mut r));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(96)))]

    #[test]
    fn classifiers_never_panic(
        n in 0usize..6, d in 0usize..4, k in 0usize..4,
        sep in value(), cond in value(),
        labels in prop::collection::vec(0usize..5, 0..7),
        ys in values(7), l2 in value(), batch in 0usize..8,
        params in values(20), extra in 0usize..3, seed in any::<u64>(),
    ) {
        let mut r = rng::seeded(seed);
        if let Ok((x, lab)) = no_panic("classification", || classification::<f64>(n, d, k, sep, cond, &mut r)) {
            prop_assert!(x.as_slice().iter().all(|v| v.is_finite()));
            prop_assert!(lab.iter().all(|&l| l < k));
        }
        let x = design(n, d, &ys);
        if let Some(x) = x.clone() {
            let ok_inputs = moderate(x.as_slice());
            if let Ok(mut m) = no_panic("softmax new", || SoftmaxRegression::new(x.clone(), labels.clone(), k, l2, batch)) {
                drive("softmax", &mut m, &params, &ys, extra, ok_inputs);
                let p: Vec<f64> = params.iter().copied().take(k * (d + 1)).collect();
                let e = no_panic("softmax error_rate", || m.error_rate(&p));
                finite_if_ok("softmax error_rate", true, &e);
            }
            let y: Vec<f64> = (0..n).map(|i| if ys.get(i).copied().unwrap_or(1.0) > 0.0 { 1.0 } else { -1.0 }).collect();
            if let Ok(mut m) = no_panic("logistic new", || LogisticRegression::new(x.clone(), y, l2, batch)) {
                drive("logistic", &mut m, &params, &ys, extra, ok_inputs);
                let e = no_panic("logistic error_rate", || m.error_rate(&params));
                finite_if_ok("logistic error_rate", true, &e);
            }
        }
    }

    #[test]
    fn squared_loss_models_never_panic(
        n in 0usize..6, d in 0usize..4, hidden in 0usize..3,
        xs in values(12), ys in values(7), batch in 0usize..8,
        params in values(24), extra in 0usize..3, sigma in value(),
        obs in prop::collection::vec((0usize..4, 0usize..4, value()), 0..5),
    ) {
        let Some(x) = design(n, d, &xs) else { return Ok(()) };
        let y: Vec<f64> = (0..n).map(|i| *ys.get(i).unwrap_or(&0.0)).collect();
        let ok_inputs = moderate(x.as_slice()) && moderate(&y);
        let noise = LabelNoise::Gaussian(sigma);
        macro_rules! check {
            ($name:expr, $model:expr) => {
                if let Ok(model) = no_panic($name, || $model) {
                    for nz in [LabelNoise::None, noise] {
                        // Label noise of huge amplitude is valid input whose loss may overflow.
                        let ok_inputs = ok_inputs && (nz == LabelNoise::None || moderate(&[sigma]));
                        if let Ok(mut reg) = no_panic($name, || Regression::new(model.clone(), batch, nz)) {
                            drive($name, &mut reg, &params, &xs, extra, ok_inputs);
                            let t = no_panic($name, || reg.train_loss(&params));
                            finite_if_ok($name, ok_inputs && moderate(&params), &t);
                            let mut gn = vec![0.0; params.len()];
                            let _ = no_panic($name, || reg.gauss_newton_diag(&params, &mut gn));
                        }
                    }
                }
            };
        }
        check!("linear", Linear::new(x.clone(), y.clone()));
        check!("two-layer", TwoLayerNet::new(x.clone(), y.clone(), hidden));
        for param in [DiagParam::SquareDifference, DiagParam::Product] {
            check!("diag net", DiagonalNet::new(x.clone(), y.clone(), param));
            if let Ok(net) = DiagonalNet::new(x.clone(), y.clone(), param) {
                let mut w = vec![0.0; d + extra];
                let _ = no_panic("weights", || net.weights(&params, &mut w));
                let _ = no_panic("trace", || net.trace_closed_form(&params));
                let _ = no_panic("sqrt diag", || net.sqrt_diag_closed_form(&params));
                let _ = no_panic("measures", || net.measures_minimum(&w));
            }
        }
        check!("matfac", MatrixFactorization::new(n, d, hidden, obs.clone()));
        if let Ok(mf) = MatrixFactorization::new(n.max(1), d.max(1), hidden.max(1), obs.clone()) {
            for &(a, b, _) in &obs {
                let e = no_panic("entry", || mf.entry(&params, a, b));
                finite_if_ok("entry", moderate(&params), &e);
            }
        }
        let sq: Vec<f64> = (0..d * d).map(|i| *xs.get(i).unwrap_or(&0.0)).collect();
        if let Ok(a) = Dense::from_row_major(d, d, sq) {
            let c: Vec<f64> = (0..d + extra).map(|i| *ys.get(i).unwrap_or(&0.0)).collect();
            if let Ok(mut q) = no_panic("quadratic", || Quadratic::new(a, c)) {
                drive("quadratic", &mut q, &params, &xs, extra, moderate(&xs) && moderate(&ys));
            }
        }
    }

    #[test]
    fn sharpness_measures_never_panic(
        diag in values(8), bounds in prop::collection::vec(0usize..10, 0..6),
        exponent in value(), gate in value(), tol in value(),
        steps in prop::collection::vec((0u64..50, value(), value()), 0..12),
        window in 0u64..20, smooth in 0usize..4,
    ) {
        let ok = moderate(&diag) && moderate(&[exponent]);
        let r = no_panic("implicit_measure", || implicit_measure(&diag, &bounds, exponent));
        finite_if_ok("implicit_measure", ok, &r);
        let r = no_panic("block_measure", || block_measure(&diag, &bounds));
        finite_if_ok("block_measure", moderate(&diag), &r);
        let r = no_panic("power_measure", || power_measure(&diag, exponent));
        finite_if_ok("power_measure", ok, &r);
        if let Ok(mut p) = Plateau::new(gate, tol, window, smooth) {
            for (s, loss, m) in steps {
                no_panic("plateau", || p.observe(s, loss, m));
            }
        }
    }

    #[test]
    fn toeplitz_entry_points_never_panic(
        xs in values(24), n in 0usize..5, p in 0usize..5, k in 0usize..3,
        real in any::<bool>(), seed in any::<u64>(), noise in value(),
        theta in values(8), m in 0usize..4,
    ) {
        let cx = complex(&xs);
        let ok = moderate(&xs);
        if let Ok(s) = no_panic("sample_covariance", || sample_covariance(&cx, n, p)) {
            prop_assert!(!ok || s.iter().all(|z| z.re.is_finite() && z.im.is_finite()));
            let _ = no_panic("toeplitz_projection", || toeplitz_projection(&s, p));
        }
        let _ = no_panic("toeplitz_projection", || toeplitz_projection(&cx, p));
        let kind = if real { DataKind::Real } else { DataKind::Complex };
        let col: Vec<Complex64> = cx.iter().copied().take(p).collect();
        let truth = complex(&xs[xs.len() / 2..]);
        for r in [
            no_panic("kl", || kl_divergence(&col, &truth)),
            no_panic("first row", || first_row_squared_error(&col, &truth)),
            no_panic("frobenius", || relative_frobenius(&col, &truth)),
            no_panic("crb", || crb_first_row(&col, m, kind)),
        ] {
            finite_if_ok("toeplitz metric", ok, &r);
        }
        let _ = no_panic("fisher", || fisher_information(&col, kind));
        let freqs: Vec<f64> = xs.iter().copied().take(k).collect();
        let powers: Vec<f64> = xs.iter().rev().copied().take(k.max(1) - usize::from(real)).collect();
        let _ = no_panic("sinusoid_column", || sinusoid_column(p, &freqs, &powers, noise));
        let _ = no_panic("sample", || sample(&col, n, kind, seed));
        if let Ok(model) = SinusoidModel::new(p, k, kind) {
            let mut r = vec![Complex64::new(0.0, 0.0); p];
            let _ = no_panic("first_column", || model.first_column(&theta, &mut r));
            let gamma = complex(&xs);
            let mut g = vec![0.0; theta.len()];
            let _ = no_panic("backprop", || model.backprop(&theta, &gamma, &mut g));
            for path in [EvalPath::Dense, EvalPath::Structured] {
                let data = if real { cx.iter().map(|z| Complex64::new(z.re, 0.0)).collect() } else { cx.clone() };
                if let Ok(mut nll) = no_panic("nll new", || ToeplitzNll::new(model.clone(), &data, n, path)) {
                    let mut g = vec![0.0; 2 * k];
                    let f = no_panic("nll theta", || nll.loss_grad_theta(&theta, &mut g));
                    finite_if_ok("nll theta", ok && moderate(&theta) && theta.len() == 2 * k, &f);
                    let mut gamma = vec![Complex64::new(0.0, 0.0); p];
                    let _ = no_panic("nll lags", || nll.loss_grad_lags(&col, &mut gamma));
                }
            }
        }
    }
}
