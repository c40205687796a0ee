//! Shampoo against a dense Kronecker-product reference, the 1x1 identity of paper 01
//! (Shampoo on scalars is Adagrad), grafting, blocking, root failures and bad input.

use faer::Mat;
use gradus_core::{Error, Layout, Par};
use gradus_linalg::matfn::inverse_root_owned;
use gradus_linalg::{RootMethod, RootParams};
use gradus_optim::{Agm, AgmConfig, Grafting, Optimizer, Shampoo, ShampooConfig};
use rand::{Rng, SeedableRng};

type R = rand::rngs::StdRng;

fn plain(lr: f64) -> ShampooConfig {
    ShampooConfig::new(lr)
        .with_beta2(1.0)
        .with_epsilon(1e-3)
        .with_precondition_frequency(1)
        .with_grafting(Grafting::None)
        .with_par(Par::Seq)
}

/// Root by the coupled Newton iteration: an algorithm independent of Shampoo's eigh path.
fn newton_root(a: &Mat<f64>, eps: f64) -> Mat<f64> {
    let p = RootParams::default()
        .with_p(4)
        .with_eps(eps)
        .with_method(RootMethod::Newton)
        .with_newton_tol(1e-13);
    inverse_root_owned(a.as_ref(), &p, Par::Seq).unwrap().0
}

#[test]
fn matches_dense_kronecker_reference() {
    let (rows, cols) = (3, 4);
    let layout = Layout::new().matrix("w", rows, cols).unwrap();
    let mut opt = Shampoo::<f64>::new(plain(0.1), layout).unwrap();
    let mut r = R::seed_from_u64(1);
    let mut p = vec![0.0f64; rows * cols];
    let mut want = p.clone();
    let mut l = Mat::<f64>::zeros(rows, rows);
    let mut rr = Mat::<f64>::zeros(cols, cols);
    for _ in 0..5 {
        let g: Vec<f64> = (0..rows * cols).map(|_| r.random_range(-1.0..1.0)).collect();
        let gm = Mat::<f64>::from_fn(rows, cols, |i, j| g[i * cols + j]);
        for i in 0..rows {
            for j in 0..rows {
                l[(i, j)] += (0..cols).map(|k| gm[(i, k)] * gm[(j, k)]).sum::<f64>();
            }
        }
        for i in 0..cols {
            for j in 0..cols {
                rr[(i, j)] += (0..rows).map(|k| gm[(k, i)] * gm[(k, j)]).sum::<f64>();
            }
        }
        let (li, ri) = (newton_root(&l, 1e-3), newton_root(&rr, 1e-3));
        // Kronecker form on the row-major vec(G): (L^{-1/4} (x) R^{-1/4}) vec(G).
        let n = rows * cols;
        for (a, wa) in want.iter_mut().enumerate().take(n) {
            let (i, j) = (a / cols, a % cols);
            let s: f64 = g
                .iter()
                .enumerate()
                .map(|(b, gb)| li[(i, b / cols)] * ri[(j, b % cols)] * gb)
                .sum();
            *wa -= 0.1 * s;
        }
        opt.step(&mut p, &g).unwrap();
        for (x, y) in p.iter().zip(&want) {
            assert!((x - y).abs() < 1e-8 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }
}

#[test]
fn paper01_g_one_by_one_shampoo_is_adagrad() {
    // L = R = sum g^2, so L^{-1/4} g R^{-1/4} = g / sqrt(sum g^2): Adagrad without epsilon.
    let n = 6;
    let mut layout = Layout::new();
    for i in 0..n {
        layout = layout.matrix(&format!("m{i}"), 1, 1).unwrap();
    }
    let cfg = plain(0.05).with_min_preconditioner_dim(1).with_epsilon(0.0);
    let mut sh = Shampoo::<f64>::new(cfg, layout.clone()).unwrap();
    let mut ada =
        Agm::<f64>::new("adagrad", AgmConfig::adagrad(0.05).with_eps(1e-300), layout).unwrap();
    let mut r = R::seed_from_u64(2);
    let (mut x1, mut x2) = (vec![1.0f64; n], vec![1.0f64; n]);
    for _ in 0..20 {
        let g: Vec<f64> = x1.iter().map(|x| x + r.random_range(-0.5..0.5)).collect();
        sh.step(&mut x1, &g).unwrap();
        ada.step(&mut x2, &g).unwrap();
        for (a, b) in x1.iter().zip(&x2) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
        x2.copy_from_slice(&x1);
    }
}

#[test]
fn grafting_sets_the_step_norm_per_block_and_vectors_use_the_graft() {
    let layout = Layout::new().matrix("w", 4, 5).unwrap().vector("b", 3).unwrap();
    let cfg = plain(1.0).with_grafting(Grafting::Sgd);
    let mut opt = Shampoo::<f64>::new(cfg, layout).unwrap();
    let mut r = R::seed_from_u64(3);
    let g: Vec<f64> = (0..23).map(|_| r.random_range(-1.0..1.0)).collect();
    let mut p = vec![0.0f64; 23];
    opt.step(&mut p, &g).unwrap();
    let step_norm: f64 = p[..20].iter().map(|v| v * v).sum::<f64>().sqrt();
    let g_norm: f64 = g[..20].iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!((step_norm - g_norm).abs() < 1e-10);
    // The step direction is not the gradient's (Shampoo rotated it)...
    let cos: f64 =
        -p[..20].iter().zip(&g[..20]).map(|(a, b)| a * b).sum::<f64>() / (step_norm * g_norm);
    assert!(cos < 0.9999);
    // ...while the vector block took a plain SGD step.
    for i in 20..23 {
        assert!((p[i] + g[i]).abs() < 1e-15);
    }
}

#[test]
fn blocking_splits_large_dimensions() {
    let layout = Layout::new().matrix("w", 7, 5).unwrap();
    let cfg = plain(0.1).with_max_preconditioner_dim(3);
    let opt = Shampoo::<f32>::new(cfg, layout.clone()).unwrap();
    assert_eq!(opt.num_tiles(), 3 * 2);
    // Blocked Shampoo equals unblocked Shampoo on each tile separately: compare a 7x5 matrix
    // split at 3 with separate 3x3, 3x2, ... blocks laid out as their own matrices.
    let mut r = R::seed_from_u64(4);
    let g: Vec<f64> = (0..35).map(|_| r.random_range(-1.0..1.0)).collect();
    let mut blocked =
        Shampoo::<f64>::new(plain(0.1).with_max_preconditioner_dim(3), layout).unwrap();
    let mut p = vec![0.0; 35];
    blocked.step(&mut p, &g).unwrap();
    // Tile (rows 3..6, cols 3..5) as a standalone 3x2 problem.
    let sub: Vec<f64> =
        (3..6).flat_map(|i| (3..5).map(move |j| (i, j))).map(|(i, j)| g[i * 5 + j]).collect();
    let mut alone =
        Shampoo::<f64>::new(plain(0.1), Layout::new().matrix("t", 3, 2).unwrap()).unwrap();
    let mut q = vec![0.0; 6];
    alone.step(&mut q, &sub).unwrap();
    for (k, (i, j)) in (3..6).flat_map(|i| (3..5).map(move |j| (i, j))).enumerate() {
        assert!((p[i * 5 + j] - q[k]).abs() < 1e-12);
    }
}

#[test]
fn failed_roots_keep_the_previous_ones_and_are_reported() {
    // Rank-one statistics with epsilon 0: Newton cannot converge on a singular matrix.
    let layout = Layout::new().matrix("w", 3, 3).unwrap();
    let cfg = plain(0.1).with_epsilon(0.0).with_root_method(RootMethod::Newton);
    let mut opt = Shampoo::<f64>::new(cfg, layout).unwrap();
    let mut p = vec![0.0; 9];
    let g = [1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 3.0, 6.0, 9.0];
    let info = opt.step(&mut p, &g).unwrap();
    assert_eq!(info.root_failures, 2);
    // Identity roots were kept: the step is plain SGD.
    for (x, gi) in p.iter().zip(g) {
        assert!((x + 0.1 * gi).abs() < 1e-15);
    }
}

#[test]
fn bad_input_and_overflowing_statistics_leave_state_untouched() {
    let layout = Layout::new().matrix("w", 2, 3).unwrap().vector("b", 2).unwrap();
    let mut opt = Shampoo::<f64>::new(ShampooConfig::new(0.1).with_momentum(0.9), layout).unwrap();
    let mut p = vec![0.5; 8];
    opt.step(&mut p, &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]).unwrap();
    let (p0, s0) = (p.clone(), opt.state().unwrap());
    let mut nan = vec![0.1; 8];
    nan[3] = f64::NAN;
    assert!(matches!(opt.step(&mut p, &nan), Err(Error::NonFinite { what: "gradient", index: 3 })));
    let huge = vec![1e200; 8];
    assert!(matches!(
        opt.step(&mut p, &huge),
        Err(Error::NonFinite { what: "Shampoo statistics", .. })
    ));
    assert!(opt.step(&mut p, &[0.1; 7]).is_err());
    assert_eq!(p, p0);
    assert_eq!(opt.state().unwrap(), s0);
    assert!(
        Shampoo::<f64>::new(ShampooConfig::new(0.1).with_beta2(0.0), Layout::flat(2).unwrap())
            .is_err()
    );
    assert!(
        Shampoo::<f64>::new(
            ShampooConfig::new(0.1).with_precondition_frequency(0),
            Layout::flat(2).unwrap()
        )
        .is_err()
    );
}

#[test]
fn state_round_trip_resumes_exactly() {
    let layout = Layout::new().matrix("w", 4, 3).unwrap().vector("b", 4).unwrap();
    let cfg = ShampooConfig::new(0.05).with_momentum(0.5).with_precondition_frequency(2);
    let mut a = Shampoo::<f32>::new(cfg.clone(), layout.clone()).unwrap();
    let mut r = R::seed_from_u64(5);
    let grads: Vec<Vec<f32>> =
        (0..8).map(|_| (0..16).map(|_| r.random_range(-1.0..1.0)).collect()).collect();
    let mut pa = vec![0.1f32; 16];
    for g in &grads[..3] {
        a.step(&mut pa, g).unwrap();
    }
    let st = a.state().unwrap();
    let mut b = Shampoo::<f32>::new(cfg, layout).unwrap();
    b.load_state(&st).unwrap();
    let mut pb = pa.clone();
    for g in &grads[3..] {
        a.step(&mut pa, g).unwrap();
        b.step(&mut pb, g).unwrap();
    }
    assert_eq!(pa, pb);
    let mut wrong =
        Agm::<f32>::adam(Layout::new().matrix("w", 4, 3).unwrap().vector("b", 4).unwrap(), 0.1)
            .unwrap();
    assert!(matches!(wrong.load_state(&st), Err(Error::StateMismatch { .. })));
}

/// Tiles, the two statistics and roots of a tile, and the column halves of its products run
/// in parallel with `Par::Rayon`: the iterates are bit-identical to `Par::Seq` for any pool.
#[test]
fn results_do_not_depend_on_parallelism_or_thread_count() {
    let layout = Layout::new().matrix("w", 70, 45).unwrap().vector("b", 9).unwrap();
    let n = layout.len();
    let mut r = R::seed_from_u64(11);
    let grads: Vec<Vec<f64>> =
        (0..4).map(|_| (0..n).map(|_| r.random_range(-1.0..1.0)).collect()).collect();
    let run = |par: Par, threads: usize| {
        let cfg = plain(0.05)
            .with_max_preconditioner_dim(32)
            .with_grafting(Grafting::Adam { beta2: 0.99 })
            .with_beta2(0.9)
            .with_par(par);
        let mut opt = Shampoo::<f64>::new(cfg, layout.clone()).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut p = vec![0.1; n];
        pool.install(|| {
            for g in &grads {
                opt.step(&mut p, g).unwrap();
            }
        });
        p.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    let reference = run(Par::Seq, 1);
    for threads in [1, 2, 3] {
        assert!(
            run(Par::Rayon, threads) == reference,
            "Par::Rayon with {threads} threads differs from Par::Seq"
        );
    }
}
