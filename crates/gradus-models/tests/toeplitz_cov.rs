//! Paper 07: the sinusoid model's invariants, the likelihood's gradient against finite
//! differences and the spec's formula, the structured path against the dense oracle, the
//! estimators' decrease and first-order conditions, the baselines and the Cramer-Rao bound.

use faer::Mat;
use gradus_core::Error;
use gradus_models::toeplitz_cov::baselines::{
    crb_first_row, fisher_scoring_ml, sample_covariance, toeplitz_projection,
};
use gradus_models::toeplitz_cov::data::{ar3, atom, random_caratheodory, sample};
use gradus_models::toeplitz_cov::estimators::initial_theta;
use gradus_models::toeplitz_cov::metrics::{first_row_squared_error, kl_divergence};
use gradus_models::toeplitz_cov::model::amplitude;
use gradus_models::toeplitz_cov::{
    ArmijoParams, DataKind, EvalPath, Init, SinusoidModel, ToeplitzNll, armijo_gd,
};
use num_complex::Complex64;
use rand::{Rng, SeedableRng};

type R = rand::rngs::StdRng;

/// Parameters at the data's scale (powers 0.3..1 per sinusoid): the likelihood is then well
/// conditioned enough for central differences to be accurate.
fn random_theta(model: &SinusoidModel, seed: u64) -> Vec<f64> {
    let mut r = R::seed_from_u64(seed);
    let mut t: Vec<f64> = (0..model.k).map(|_| r.random_range(-4.0..-3.0)).collect();
    t.extend((0..model.k).map(|_| r.random_range(0.0..std::f64::consts::TAU)));
    t
}

fn problem(p: usize, n: usize, kind: DataKind, seed: u64) -> (Vec<Complex64>, Vec<Complex64>) {
    let r = random_caratheodory(p, seed).unwrap();
    let r = if kind == DataKind::Real {
        r.iter().map(|z| Complex64::new(z.re, 0.0)).collect::<Vec<_>>()
    } else {
        r
    };
    let x = sample(&r, n, kind, seed + 1).unwrap();
    (r, x)
}

#[test]
fn model_is_hermitian_toeplitz_with_ridge_and_invariant() {
    let m = SinusoidModel::new(6, 9, DataKind::Complex).unwrap();
    let theta = random_theta(&m, 1);
    let mut r = vec![Complex64::new(0.0, 0.0); 6];
    m.first_column(&theta, &mut r).unwrap();
    let rm =
        Mat::<Complex64>::from_fn(6, 6, |i, j| if i >= j { r[i - j] } else { r[j - i].conj() });
    let e = rm.self_adjoint_eigen(faer::Side::Lower).unwrap();
    let lmin = (0..6).map(|i| e.S()[i].re).fold(f64::INFINITY, f64::min);
    assert!(lmin >= m.delta * (1.0 - 1e-9), "lambda_min {lmin}");
    // w -> w + 2 pi, permutation of pairs, and merging equal frequencies leave R unchanged.
    let mut shifted = theta.clone();
    shifted[9 + 2] += std::f64::consts::TAU;
    let mut perm = theta.clone();
    perm.swap(0, 1);
    perm.swap(9, 10);
    for other in [shifted, perm] {
        let mut r2 = vec![Complex64::new(0.0, 0.0); 6];
        m.first_column(&other, &mut r2).unwrap();
        for (a, b) in r.iter().zip(&r2) {
            assert!((a - b).norm() < 1e-10);
        }
    }
    let two = SinusoidModel::new(6, 2, DataKind::Complex).unwrap();
    let one = SinusoidModel::new(6, 1, DataKind::Complex).unwrap();
    let (a1, a2) = (-1.0, 0.5);
    let merged = gradus_models::toeplitz_cov::model::inverse_amplitude(
        amplitude(a1, 20.0) + amplitude(a2, 20.0),
        20.0,
    );
    let (mut ra, mut rb) = (vec![Complex64::new(0.0, 0.0); 6], vec![Complex64::new(0.0, 0.0); 6]);
    two.first_column(&[a1, a2, 1.3, 1.3], &mut ra).unwrap();
    one.first_column(&[merged, 1.3], &mut rb).unwrap();
    for (a, b) in ra.iter().zip(&rb) {
        assert!((a - b).norm() < 1e-9);
    }
}

fn fd_check(nll: &mut ToeplitzNll, theta: &[f64]) {
    let n = theta.len();
    let mut g = vec![0.0; n];
    nll.loss_grad_theta(theta, &mut g).unwrap();
    // Fourth-order central differences: the likelihood is large (tr(R^{-1} S) of a poor fit), so
    // plain central differences lose digits to cancellation before the truncation error is small.
    let h = 1e-3;
    for i in 0..n {
        let mut at = |d: f64| {
            let mut t = theta.to_vec();
            t[i] += d;
            nll.loss_theta(&t).unwrap()
        };
        let fd = (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h);
        assert!((g[i] - fd).abs() <= 1e-6 * (1.0 + fd.abs()), "param {i}: {} vs {fd}", g[i]);
    }
}

#[test]
fn gradients_match_finite_differences_on_both_paths_and_kinds() {
    for kind in [DataKind::Complex, DataKind::Real] {
        // K >= 2P keeps R well conditioned at random parameters, so the finite differences
        // are accurate to ~1e-8 (with K = P and nearly coincident frequencies the likelihood's
        // higher derivatives blow up and differences, not the gradient, lose accuracy).
        for (p, k) in [(5usize, 10usize), (12, 24), (20, 40)] {
            let (_, x) = problem(p, 30, kind, p as u64);
            let m = SinusoidModel::new(p, k, kind).unwrap();
            let theta = random_theta(&m, 7);
            for path in [EvalPath::Dense, EvalPath::Structured] {
                let mut nll = ToeplitzNll::new(m, &x, 30, path).unwrap();
                fd_check(&mut nll, &theta);
            }
        }
    }
}

#[test]
fn structured_path_matches_dense_oracle() {
    for kind in [DataKind::Complex, DataKind::Real] {
        for p in [1usize, 2, 7, 33, 70] {
            let (_, x) = problem(p, 25, kind, 11 + p as u64);
            let m = SinusoidModel::new(p, 2 * p, kind).unwrap();
            let theta = random_theta(&m, 3);
            let mut d = ToeplitzNll::new(m, &x, 25, EvalPath::Dense).unwrap();
            let mut s = ToeplitzNll::new(m, &x, 25, EvalPath::Structured).unwrap();
            let (mut gd, mut gs) = (vec![0.0; 4 * p], vec![0.0; 4 * p]);
            let ld = d.loss_grad_theta(&theta, &mut gd).unwrap();
            let ls = s.loss_grad_theta(&theta, &mut gs).unwrap();
            assert!((ld - ls).abs() < 1e-9 * (1.0 + ld.abs()), "P={p}: {ld} vs {ls}");
            // The loss-only evaluation (Cholesky of S, or the snapshots when N < P, then one
            // triangular solve) agrees with the full one on both paths.
            for (nll, full) in [(&mut d, ld), (&mut s, ls)] {
                let l = nll.loss_theta(&theta).unwrap();
                assert!((l - full).abs() < 1e-10 * (1.0 + full.abs()), "P={p}: {l} vs {full}");
            }
            let scale = gd.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            for (a, b) in gd.iter().zip(&gs) {
                assert!((a - b).abs() < 1e-8 * (1.0 + scale), "P={p}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn amplitude_gradient_matches_the_specs_formula() {
    // dL/da_k = s'(a_k) Re(v_k^H E v_k), E = R^{-1} - R^{-1} S R^{-1}, computed here densely.
    let p = 6;
    let (_, x) = problem(p, 20, DataKind::Complex, 5);
    let m = SinusoidModel::new(p, 8, DataKind::Complex).unwrap();
    let theta = random_theta(&m, 8);
    let mut nll = ToeplitzNll::new(m, &x, 20, EvalPath::Structured).unwrap();
    let mut g = vec![0.0; 16];
    nll.loss_grad_theta(&theta, &mut g).unwrap();
    let mut r = vec![Complex64::new(0.0, 0.0); p];
    m.first_column(&theta, &mut r).unwrap();
    let rm =
        Mat::<Complex64>::from_fn(p, p, |i, j| if i >= j { r[i - j] } else { r[j - i].conj() });
    use faer::linalg::solvers::Solve;
    let id = Mat::<Complex64>::from_fn(p, p, |i, j| {
        if i == j { Complex64::new(1.0, 0.0) } else { Complex64::new(0.0, 0.0) }
    });
    let ri = rm.partial_piv_lu().solve(&id);
    let s = sample_covariance(&x, 20, p).unwrap();
    let sm = Mat::<Complex64>::from_fn(p, p, |i, j| s[i * p + j]);
    let e = &ri - &ri * &sm * &ri;
    for k in 0..8 {
        let v: Vec<Complex64> =
            (0..p).map(|l| Complex64::from_polar(1.0, theta[8 + k] * l as f64)).collect();
        let q: Complex64 = (0..p)
            .flat_map(|i| (0..p).map(move |j| (i, j)))
            .map(|(i, j)| v[i].conj() * e[(i, j)] * v[j])
            .sum();
        let sp = 20.0 / (1.0 + (-theta[k]).exp());
        let d = v
            .iter()
            .enumerate()
            .map(|(l, z)| z * Complex64::new(0.0, l as f64))
            .collect::<Vec<_>>();
        let qw: Complex64 = (0..p)
            .flat_map(|i| (0..p).map(move |j| (i, j)))
            .map(|(i, j)| v[i].conj() * e[(i, j)] * d[j])
            .sum();
        assert!((g[k] - sp * q.re).abs() < 1e-8 * (1.0 + g[k].abs()), "{} vs {}", g[k], sp * q.re);
        // dL/dw_k = 2 s(a_k) Re(v^H E (i D v)) (the spec writes it with Im of v^H D E v).
        let want = 2.0 * amplitude(theta[k], 20.0) * qw.re;
        assert!((g[8 + k] - want).abs() < 1e-8 * (1.0 + want.abs()), "{} vs {want}", g[8 + k]);
    }
}

#[test]
fn armijo_gd_decreases_and_amplitude_only_meets_kkt() {
    let p = 8;
    let (_, x) = problem(p, 60, DataKind::Complex, 21);
    let m = SinusoidModel::new(p, 2 * p, DataKind::Complex).unwrap();
    let mut nll = ToeplitzNll::new(m, &x, 60, EvalPath::Auto).unwrap();
    let theta0 = initial_theta(&m, nll.trace_s(), Init::Spec, 4);
    let l0 = nll.loss_theta(&theta0).unwrap();
    let params = ArmijoParams { max_iter: 3000, ..Default::default() };
    let acc = armijo_gd(&mut nll, &m.separate_step_layout(9e-3 / 8e-2).unwrap(), &theta0, &params)
        .unwrap();
    assert!(acc.loss < l0 - 1.0, "{} -> {}", l0, acc.loss);
    // Amplitudes only on a fine fixed grid: at the end, g_k = Re(v_k^H E v_k) >= 0 and ~0
    // where the power is non-negligible (KKT in the powers s_k >= 0).
    let grid = SinusoidModel::new(p, 4 * p, DataKind::Complex).unwrap();
    let mut nll = ToeplitzNll::new(grid, &x, 60, EvalPath::Auto).unwrap();
    let t0 = initial_theta(&grid, nll.trace_s(), Init::Spec, 5);
    let tight = ArmijoParams { max_iter: 60_000, tol: 1e-12, patience: 50, ..Default::default() };
    let amp = armijo_gd(&mut nll, &grid.amplitudes_only_layout().unwrap(), &t0, &tight).unwrap();
    eprintln!("amplitude-only: {} iterations, stagnated {}", amp.iterations, amp.stagnated);
    assert_eq!(&amp.theta[4 * p..], &t0[4 * p..], "frequencies moved");
    let mut g = vec![0.0; 8 * p];
    nll.loss_grad_theta(&amp.theta, &mut g).unwrap();
    for (k, (&a, &gk)) in amp.theta.iter().zip(&g).take(4 * p).enumerate() {
        let s = amplitude(a, 20.0);
        let gk = gk / (20.0 / (1.0 + (-a).exp())); // divide out s'(a)
        assert!(gk > -1e-2, "KKT sign violated at {k}: {gk}");
        if s > 1e-2 {
            assert!(gk.abs() < 1e-2, "KKT complementarity at {k}: s = {s}, g = {gk}");
        }
    }
}

#[test]
fn baselines_and_metrics() {
    let truth = ar3(10).unwrap();
    // The AR(3) covariance is Toeplitz and positive definite.
    assert!(truth[0].re > 0.0 && truth.iter().all(|z| z.im == 0.0));
    let x = sample(&truth, 4000, DataKind::Complex, 1).unwrap();
    let s = sample_covariance(&x, 4000, 10).unwrap();
    let proj = toeplitz_projection(&s, 10).unwrap();
    assert!(first_row_squared_error(&proj, &truth).unwrap() < 0.02 * truth[0].norm_sqr());
    assert!(kl_divergence(&truth, &truth).unwrap().abs() < 1e-12);
    assert!(kl_divergence(&proj, &truth).unwrap() > 0.0);
    // Projection of an exactly Toeplitz S returns its first column.
    let exact: Vec<Complex64> = (0..100)
        .map(|k| {
            let (i, j) = (k / 10, k % 10);
            if i >= j { truth[i - j] } else { truth[j - i].conj() }
        })
        .collect();
    assert!(
        first_row_squared_error(&toeplitz_projection(&exact, 10).unwrap(), &truth).unwrap() < 1e-24
    );
    // Fisher-scoring ML: a stationary point, at least as good as GD, and consistent.
    let m = SinusoidModel::new(10, 20, DataKind::Complex).unwrap();
    let mut nll = ToeplitzNll::new(m, &x[..10 * 200], 200, EvalPath::Dense).unwrap();
    let ml = fisher_scoring_ml(&mut nll, 1e-9, 100).unwrap();
    assert!(ml.grad_norm < 1e-6, "grad {}", ml.grad_norm);
    let t0 = initial_theta(&m, nll.trace_s(), Init::Spec, 1);
    let gd = armijo_gd(
        &mut nll,
        &m.separate_step_layout(9e-3 / 8e-2).unwrap(),
        &t0,
        &ArmijoParams { max_iter: 4000, ..Default::default() },
    )
    .unwrap();
    assert!(ml.loss <= gd.loss + 1e-6, "ML {} vs GD {}", ml.loss, gd.loss);
    let mut big = ToeplitzNll::new(m, &x, 4000, EvalPath::Dense).unwrap();
    let ml_big = fisher_scoring_ml(&mut big, 1e-9, 100).unwrap();
    assert!(kl_divergence(&ml_big.r, &truth).unwrap() < 5e-3);
}

#[test]
fn cramer_rao_bound_closed_form_and_scaling() {
    // P = 1: r_0 = sigma^2, the ML estimate's variance is sigma^4 / N (complex), 2 sigma^4 / N (real).
    let r = [Complex64::new(2.0, 0.0)];
    assert!((crb_first_row(&r, 10, DataKind::Complex).unwrap() - 0.4).abs() < 1e-12);
    assert!((crb_first_row(&r, 10, DataKind::Real).unwrap() - 0.8).abs() < 1e-12);
    let t = atom(false);
    let c10 = crb_first_row(&t, 10, DataKind::Complex).unwrap();
    let c90 = crb_first_row(&t, 90, DataKind::Complex).unwrap();
    assert!(c10 > 0.0 && (c10 / c90 - 9.0).abs() < 1e-9);
}

#[test]
fn bad_inputs_are_errors() {
    let m = SinusoidModel::new(3, 3, DataKind::Complex).unwrap();
    assert!(SinusoidModel::new(0, 3, DataKind::Complex).is_err());
    assert!(ToeplitzNll::new(m, &[Complex64::new(1.0, 0.0); 5], 2, EvalPath::Dense).is_err());
    let mut bad = vec![Complex64::new(1.0, 0.0); 6];
    bad[4] = Complex64::new(f64::NAN, 0.0);
    assert!(matches!(ToeplitzNll::new(m, &bad, 2, EvalPath::Dense), Err(Error::NonFinite { .. })));
    let mr = SinusoidModel::new(3, 3, DataKind::Real).unwrap();
    assert!(ToeplitzNll::new(mr, &[Complex64::new(1.0, 1.0); 6], 2, EvalPath::Dense).is_err());
    let mut nll =
        ToeplitzNll::new(m, &[Complex64::new(1.0, 0.5); 6], 2, EvalPath::Structured).unwrap();
    let mut g = vec![0.0; 6];
    assert!(nll.loss_grad_theta(&[0.0, 0.0, f64::INFINITY, 0.0, 0.0, 0.0], &mut g).is_err());
    let mut gamma = vec![Complex64::new(0.0, 0.0); 3];
    let indefinite = [Complex64::new(1.0, 0.0), Complex64::new(2.0, 0.0), Complex64::new(0.0, 0.0)];
    assert!(matches!(
        nll.loss_grad_lags(&indefinite, &mut gamma),
        Err(Error::NotPositiveDefinite { .. })
    ));
    assert!(ar3(3).is_err());
}
