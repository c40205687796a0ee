//! Eigendecomposition and inverse roots against identities: `U diag(w) U^T = A`, `U^T U = I`,
//! `X^p A = I` within a tolerance that scales with the condition number; the two root methods
//! against each other; bad input gives errors.

use faer::Mat;
use gradus_core::{Error, Par};
#[cfg(feature = "openblas-system")]
use gradus_linalg::inverse_root;
use gradus_linalg::matfn::{RootJob, inverse_root_batch, inverse_root_owned};
use gradus_linalg::{Backend, LinalgScalar, RootMethod, RootParams, RootWorkspace, eigh};
use rand::{Rng, SeedableRng};

type R = rand::rngs::StdRng;

fn random_symmetric<T: LinalgScalar>(n: usize, seed: u64) -> Mat<T> {
    let mut r = R::seed_from_u64(seed);
    let g = Mat::<f64>::from_fn(n, n, |_, _| r.random_range(-1.0..1.0));
    Mat::from_fn(n, n, |i, j| T::from_f64(0.5 * (g[(i, j)] + g[(j, i)])))
}

/// SPD with eigenvalues log-spaced in [1/kappa, 1] and a random eigenbasis.
fn random_spd(n: usize, kappa: f64, seed: u64) -> Mat<f64> {
    let s = random_symmetric::<f64>(n, seed);
    let e = eigh(s.as_ref(), Backend::Faer, Par::Seq).unwrap();
    let lam: Vec<f64> = (0..n).map(|i| kappa.powf(-(i as f64) / (n.max(2) - 1) as f64)).collect();
    let q = e.vectors;
    Mat::from_fn(n, n, |i, j| (0..n).map(|k| q[(i, k)] * lam[k] * q[(j, k)]).sum())
}

fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let mut m = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            m = m.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    m
}

fn check_eigh<T: LinalgScalar>(n: usize, seed: u64) {
    let a = random_symmetric::<T>(n, seed);
    let e = eigh(a.as_ref(), Backend::Faer, Par::Seq).unwrap();
    assert!(e.values.windows(2).all(|w| w[0] <= w[1]), "eigenvalues not ascending");
    let u = Mat::<f64>::from_fn(n, n, |i, j| e.vectors[(i, j)].to_f64());
    let w: Vec<f64> = e.values.iter().map(|v| v.to_f64()).collect();
    let rebuilt =
        Mat::<f64>::from_fn(n, n, |i, j| (0..n).map(|k| u[(i, k)] * w[k] * u[(j, k)]).sum());
    let a64 = Mat::<f64>::from_fn(n, n, |i, j| a[(i, j)].to_f64());
    let eps = T::EPSILON.to_f64();
    let tol = 50.0 * eps * (n as f64).sqrt() * n as f64;
    assert!(
        max_abs_diff(&rebuilt, &a64) <= tol,
        "A != U diag(w) U^T for n={n}: {}",
        max_abs_diff(&rebuilt, &a64)
    );
    let utu = Mat::<f64>::from_fn(n, n, |i, j| (0..n).map(|k| u[(k, i)] * u[(k, j)]).sum());
    let id = Mat::<f64>::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 });
    assert!(max_abs_diff(&utu, &id) <= tol, "U not orthogonal for n={n}");
}

#[test]
fn eigendecomposition_reconstructs() {
    for (k, n) in [1usize, 2, 5, 33, 100].into_iter().enumerate() {
        check_eigh::<f64>(n, k as u64);
        check_eigh::<f32>(n, 10 + k as u64);
    }
}

#[test]
fn eigh_rejects_bad_input() {
    let rect = Mat::<f64>::zeros(3, 4);
    assert!(matches!(
        eigh(rect.as_ref(), Backend::Faer, Par::Seq),
        Err(Error::InvalidShape { .. })
    ));
    let mut nan = random_symmetric::<f64>(4, 1);
    nan[(2, 1)] = f64::NAN;
    assert!(matches!(eigh(nan.as_ref(), Backend::Faer, Par::Seq), Err(Error::NonFinite { .. })));
    let mut asym = random_symmetric::<f64>(4, 2);
    asym[(0, 3)] += 1e-3;
    assert!(matches!(
        eigh(asym.as_ref(), Backend::Faer, Par::Seq),
        Err(Error::NotSymmetric { .. })
    ));
    // Asymmetry at rounding level is accepted.
    let mut tiny = random_symmetric::<f64>(4, 3);
    tiny[(0, 3)] += 1e-16;
    assert!(eigh(tiny.as_ref(), Backend::Faer, Par::Seq).is_ok());
}

#[cfg(not(feature = "openblas-system"))]
#[test]
fn lapack_backend_without_feature_is_an_error() {
    let a = random_symmetric::<f64>(3, 4);
    assert!(matches!(eigh(a.as_ref(), Backend::Lapack, Par::Seq), Err(Error::Unsupported(_))));
    assert!(matches!(
        RootWorkspace::<f64>::with_backend(300, Par::Seq, Backend::Lapack),
        Err(Error::Unsupported(_))
    ));
    // Auto is faer at every size in the default build.
    assert_eq!(Backend::Auto.resolve(4096), Backend::Faer);
    assert_eq!(RootWorkspace::<f64>::new(300, Par::Seq).backend(), Backend::Faer);
}

#[cfg(feature = "openblas-system")]
#[test]
fn auto_switches_to_lapack_at_the_threshold() {
    use gradus_linalg::eigh::LAPACK_MIN_N;
    assert_eq!(Backend::Auto.resolve(LAPACK_MIN_N - 1), Backend::Faer);
    assert_eq!(Backend::Auto.resolve(LAPACK_MIN_N), Backend::Lapack);
    assert_eq!(RootWorkspace::<f32>::new(LAPACK_MIN_N, Par::Seq).backend(), Backend::Lapack);
    assert_eq!(RootWorkspace::<f64>::new(LAPACK_MIN_N - 1, Par::Seq).backend(), Backend::Faer);
}

#[cfg(feature = "openblas-system")]
#[test]
fn lapack_roots_satisfy_their_defining_identity_and_reject_bad_input() {
    // n = 150 > 25: LAPACK's divide and conquer splits (below 26 it is plain QR).
    let n = 150;
    let a = random_spd(n, 1e3, 77);
    let params = RootParams::new(4).with_eps(0.0);
    let mut ws = RootWorkspace::<f64>::with_backend(n, Par::Seq, Backend::Lapack).unwrap();
    let mut out = Mat::<f64>::zeros(n, n);
    let info = inverse_root(a.as_ref(), out.as_mut(), &params, &mut ws).unwrap();
    let r = independent_residual(&out, &a, 4);
    assert!(r <= 1e-13 * 1e3 * n as f64, "residual {r:e}");
    assert!(info.residual <= 1e-13 * 1e3 * n as f64);
    let mut wf = RootWorkspace::<f64>::with_backend(n, Par::Seq, Backend::Faer).unwrap();
    let mut out_f = Mat::<f64>::zeros(n, n);
    inverse_root(a.as_ref(), out_f.as_mut(), &params, &mut wf).unwrap();
    assert!(max_abs_diff(&out, &out_f) < 1e-9, "{}", max_abs_diff(&out, &out_f));
    // A NaN is rejected before LAPACK sees it, and the output keeps its old value.
    let mut bad = a.clone();
    bad[(3, 2)] = f64::NAN;
    let before = out.clone();
    assert!(matches!(
        inverse_root(bad.as_ref(), out.as_mut(), &params, &mut ws),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(max_abs_diff(&out, &before), 0.0);
}

#[cfg(feature = "openblas-system")]
#[test]
fn both_backends_agree() {
    for n in [1usize, 7, 64, 200] {
        let a = random_symmetric::<f64>(n, 40 + n as u64);
        let f = eigh(a.as_ref(), Backend::Faer, Par::Seq).unwrap();
        let l = eigh(a.as_ref(), Backend::Lapack, Par::Seq).unwrap();
        for (x, y) in f.values.iter().zip(&l.values) {
            assert!((x - y).abs() < 1e-12 * (1.0 + x.abs()), "{x} vs {y}");
        }
        // Eigenvectors agree up to sign (eigenvalues of a random matrix are simple).
        for k in 0..n {
            let d: f64 = (0..n).map(|i| f.vectors[(i, k)] * l.vectors[(i, k)]).sum();
            assert!((d.abs() - 1.0).abs() < 1e-9, "vector {k}: |<u, v>| = {}", d.abs());
        }
        let a32 = Mat::<f32>::from_fn(n, n, |i, j| a[(i, j)] as f32);
        let l32 = eigh(a32.as_ref(), Backend::Lapack, Par::Seq).unwrap();
        for (x, y) in f.values.iter().zip(&l32.values) {
            assert!((x - *y as f64).abs() < 1e-4 * (1.0 + x.abs()));
        }
    }
}

/// `||X^p A - I||` of an independently computed product, in f64.
fn independent_residual(x: &Mat<f64>, a: &Mat<f64>, p: u32) -> f64 {
    let n = a.nrows();
    let mut acc = a.clone();
    for _ in 0..p {
        acc = Mat::from_fn(n, n, |i, j| (0..n).map(|k| x[(i, k)] * acc[(k, j)]).sum());
    }
    let id = Mat::<f64>::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 });
    max_abs_diff(&acc, &id)
}

#[test]
fn inverse_roots_satisfy_their_defining_identity() {
    for (n, kappa) in [(1usize, 1.0), (6, 10.0), (40, 1e3), (80, 1e4)] {
        let a = random_spd(n, kappa, n as u64);
        for p in [1u32, 2, 4, 8] {
            for method in [RootMethod::Eigh, RootMethod::Newton] {
                let params = RootParams::default()
                    .with_p(p)
                    .with_eps(0.0)
                    .with_method(method)
                    .with_newton_tol(1e-12);
                let (x, info) = inverse_root_owned(a.as_ref(), &params, Par::Seq).unwrap();
                let tol = 1e-13 * kappa * n.max(4) as f64;
                let r = independent_residual(&x, &a, p);
                assert!(r <= tol, "{method:?} p={p} n={n} kappa={kappa}: residual {r:e} > {tol:e}");
                assert!(info.residual <= tol, "reported residual {:e}", info.residual);
            }
        }
    }
}

#[test]
fn eigh_and_newton_roots_agree_and_f32_is_usable() {
    let a = random_spd(30, 100.0, 7);
    let e =
        inverse_root_owned(a.as_ref(), &RootParams::default().with_eps(0.0), Par::Seq).unwrap().0;
    let nw = inverse_root_owned(
        a.as_ref(),
        &RootParams::default().with_eps(0.0).with_method(RootMethod::Newton).with_newton_tol(1e-12),
        Par::Seq,
    )
    .unwrap()
    .0;
    assert!(max_abs_diff(&e, &nw) < 1e-9);
    let a32 = Mat::<f32>::from_fn(30, 30, |i, j| a[(i, j)] as f32);
    let (x32, info) = inverse_root_owned(
        a32.as_ref(),
        &RootParams::default().with_eps(1e-6).with_floor(1e-6),
        Par::Seq,
    )
    .unwrap();
    assert!(info.residual < 1e-3, "f32 residual {}", info.residual);
    let x32_64 = Mat::<f64>::from_fn(30, 30, |i, j| x32[(i, j)] as f64);
    assert!(max_abs_diff(&x32_64, &e) < 1e-3);
}

#[test]
fn indefinite_and_singular_inputs() {
    // Indefinite: the eigh method floors (and says how many), Newton refuses.
    let mut a = random_spd(5, 10.0, 9);
    for i in 0..5 {
        a[(i, i)] -= 0.5;
    }
    let params = RootParams::default().with_eps(0.0).with_floor(1e-3);
    let (_, info) = inverse_root_owned(a.as_ref(), &params, Par::Seq).unwrap();
    assert!(info.floored > 0 && info.min_eig < 0.0);
    let newton = RootParams::default().with_method(RootMethod::Newton).with_eps(0.0);
    assert!(matches!(
        inverse_root_owned(a.as_ref(), &newton, Par::Seq),
        Err(Error::NoConvergence { .. })
    ));
    let zero = Mat::<f64>::zeros(3, 3);
    assert!(matches!(
        inverse_root_owned(zero.as_ref(), &newton, Par::Seq),
        Err(Error::Singular { .. })
    ));
    // Too few Newton iterations is non-convergence, reported with the residual.
    let few = RootParams::default()
        .with_method(RootMethod::Newton)
        .with_newton_max_iter(1)
        .with_newton_tol(1e-14);
    match inverse_root_owned(random_spd(10, 1e3, 2).as_ref(), &few, Par::Seq) {
        Err(Error::NoConvergence { iterations: 1, residual, .. }) => assert!(residual > 1e-14),
        other => panic!("expected NoConvergence, got {other:?}"),
    }
    assert!(
        inverse_root_owned(
            random_spd(3, 2.0, 1).as_ref(),
            &RootParams::default().with_p(0),
            Par::Seq
        )
        .is_err()
    );
}

#[test]
fn batches_match_single_computations_for_any_thread_count() {
    let mats: Vec<Mat<f64>> = (0..6).map(|k| random_spd(12 + k, 50.0, 100 + k as u64)).collect();
    let params = RootParams::default();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut jobs: Vec<RootJob<f64>> = mats
                .iter()
                .map(|a| {
                    let mut j = RootJob::new(a.nrows());
                    j.a.as_mut().copy_from(a.as_ref());
                    j
                })
                .collect();
            inverse_root_batch(&mut jobs, &params, Par::Rayon);
            jobs.into_iter().map(|j| (j.out, j.outcome.unwrap().unwrap())).collect::<Vec<_>>()
        })
    };
    let one = run(1);
    let three = run(3);
    for (k, a) in mats.iter().enumerate() {
        let (single, _) = inverse_root_owned(a.as_ref(), &params, Par::Seq).unwrap();
        assert_eq!(max_abs_diff(&one[k].0, &single), 0.0);
        assert_eq!(max_abs_diff(&three[k].0, &single), 0.0);
    }
}
