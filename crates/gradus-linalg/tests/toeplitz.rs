//! Toeplitz solvers against dense linear algebra (faer LU / Cholesky), FFT products against
//! dense products, PCG residuals, and the classic bad inputs.

use faer::Mat;
use faer::linalg::solvers::Solve;
use gradus_core::Error;
use gradus_linalg::toeplitz::{
    ComplexToeplitzOp, GohbergSemencul, LevinsonWorkspace, Preconditioner, RealToeplitzOp, durbin,
    levinson_solve, pcg_solve, toeplitz_solve_general,
};
use num_complex::Complex64;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

type R = rand::rngs::StdRng;

/// Autocovariance of a random positive spectral density plus a nugget: PD Toeplitz.
fn spd_column(n: usize, seed: u64) -> Vec<f64> {
    let mut r = R::seed_from_u64(seed);
    let comps: Vec<(f64, f64)> = (0..5)
        .map(|_| (r.random_range(0.1..1.0), r.random_range(0.0..std::f64::consts::PI)))
        .collect();
    let nugget = r.random_range(0.01..0.5);
    (0..n)
        .map(|k| {
            comps.iter().map(|(w, f)| w * (f * k as f64).cos()).sum::<f64>()
                + if k == 0 { nugget } else { 0.0 }
        })
        .collect()
}

fn hermitian_column(n: usize, seed: u64) -> Vec<Complex64> {
    let mut r = R::seed_from_u64(seed);
    let comps: Vec<(f64, f64)> =
        (0..4).map(|_| (r.random_range(0.1..1.0), r.random_range(-3.0..3.0))).collect();
    (0..n)
        .map(|k| {
            let s: Complex64 =
                comps.iter().map(|(w, f)| Complex64::from_polar(*w, f * k as f64)).sum();
            if k == 0 { Complex64::new(s.re + 0.1, 0.0) } else { s }
        })
        .collect()
}

fn dense_real(col: &[f64], row: &[f64]) -> Mat<f64> {
    let n = col.len();
    Mat::from_fn(n, n, |i, j| if i >= j { col[i - j] } else { row[j - i] })
}

fn dense_hermitian(col: &[Complex64]) -> Mat<Complex64> {
    let n = col.len();
    Mat::from_fn(n, n, |i, j| if i >= j { col[i - j] } else { col[j - i].conj() })
}

fn dense_solve(a: &Mat<f64>, b: &[f64]) -> Vec<f64> {
    let rhs = Mat::from_fn(b.len(), 1, |i, _| b[i]);
    let x = a.partial_piv_lu().solve(&rhs);
    (0..b.len()).map(|i| x[(i, 0)]).collect()
}

fn rel_err(x: &[f64], y: &[f64]) -> f64 {
    let num: f64 = x.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    let den: f64 = y.iter().map(|b| b * b).sum::<f64>().sqrt();
    num / den.max(1e-300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(40)))]

    #[test]
    fn levinson_matches_dense_solve_and_logdet(n in 1usize..=200, seed in any::<u64>()) {
        let t = spd_column(n, seed);
        let mut r = R::seed_from_u64(seed ^ 1);
        let b: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
        let mut x = vec![0.0; n];
        let logdet = levinson_solve(&t, &b, &mut x, &mut LevinsonWorkspace::new(n)).unwrap();
        let a = dense_real(&t, &t);
        let want = dense_solve(&a, &b);
        // Error bound ~ cond(T) eps; the nugget keeps cond(T) below ~1e4.
        prop_assert!(rel_err(&x, &want) < 1e-8, "solve error {}", rel_err(&x, &want));
        let l = a.llt(faer::Side::Lower).unwrap();
        let dense_logdet: f64 = (0..n).map(|i| 2.0 * l.L()[(i, i)].ln()).sum();
        prop_assert!((logdet - dense_logdet).abs() < 1e-9 * (1.0 + dense_logdet.abs()));
        let d = durbin(&t).unwrap();
        prop_assert!((d.logdet - dense_logdet).abs() < 1e-9 * (1.0 + dense_logdet.abs()));
        prop_assert!(d.reflection.iter().all(|k| k.abs() < 1.0));
    }

    #[test]
    fn general_levinson_matches_dense_solve(n in 1usize..=120, seed in any::<u64>()) {
        let mut r = R::seed_from_u64(seed);
        // Diagonally dominant non-symmetric Toeplitz: every leading block is nonsingular.
        let decay = |k: usize, r: &mut R| r.random_range(-1.0..1.0) * 0.5f64.powi(k as i32);
        let mut col: Vec<f64> = (0..n).map(|k| decay(k, &mut r)).collect();
        let mut row: Vec<f64> = (0..n).map(|k| decay(k, &mut r)).collect();
        col[0] = 3.0;
        row[0] = 3.0;
        let b: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
        let x = toeplitz_solve_general(&col, &row, &b).unwrap();
        prop_assert!(rel_err(&x, &dense_solve(&dense_real(&col, &row), &b)) < 1e-11);
    }

    #[test]
    fn fft_matvec_matches_dense(n in 1usize..=70, seed in any::<u64>()) {
        let mut r = R::seed_from_u64(seed);
        let col: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
        let mut row: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
        row[0] = col[0];
        let x: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
        let a = dense_real(&col, &row);
        let want: Vec<f64> = (0..n).map(|i| (0..n).map(|j| a[(i, j)] * x[j]).sum()).collect();
        let mut y = vec![0.0; n];
        RealToeplitzOp::new(&col, &row).unwrap().apply(&x, &mut y).unwrap();
        for (u, v) in y.iter().zip(&want) {
            prop_assert!((u - v).abs() < 1e-12 * n as f64);
        }
        let hc = hermitian_column(n, seed);
        let xc: Vec<Complex64> = x.iter().map(|&v| Complex64::new(v, -0.5 * v)).collect();
        let h = dense_hermitian(&hc);
        let mut yc = vec![Complex64::new(0.0, 0.0); n];
        ComplexToeplitzOp::hermitian(&hc).unwrap().apply(&xc, &mut yc).unwrap();
        for i in 0..n {
            let want: Complex64 = (0..n).map(|j| h[(i, j)] * xc[j]).sum();
            prop_assert!((yc[i] - want).norm() < 1e-11 * n as f64);
        }
    }
}

#[test]
fn hermitian_levinson_and_gohberg_semencul_match_dense_inverse() {
    for n in [1usize, 2, 3, 17, 64] {
        let t = hermitian_column(n, n as u64);
        let h = dense_hermitian(&t);
        let mut r = R::seed_from_u64(5);
        let b: Vec<Complex64> = (0..n)
            .map(|_| Complex64::new(r.random_range(-1.0..1.0), r.random_range(-1.0..1.0)))
            .collect();
        let mut x = vec![Complex64::new(0.0, 0.0); n];
        let logdet = levinson_solve(&t, &b, &mut x, &mut LevinsonWorkspace::new(n)).unwrap();
        let rhs = Mat::from_fn(n, 1, |i, _| b[i]);
        let want = h.partial_piv_lu().solve(&rhs);
        for i in 0..n {
            assert!((x[i] - want[(i, 0)]).norm() < 1e-9, "n={n} entry {i}");
        }
        let l = h.llt(faer::Side::Lower).unwrap();
        let dense_logdet: f64 = (0..n).map(|i| 2.0 * l.L()[(i, i)].re.ln()).sum();
        assert!((logdet - dense_logdet).abs() < 1e-9 * (1.0 + dense_logdet.abs()));

        let mut gs = GohbergSemencul::new(&t).unwrap();
        let inv = gs.to_dense();
        // T * T^{-1} = I
        for i in 0..n {
            for j in 0..n {
                let s: Complex64 = (0..n).map(|k| h[(i, k)] * inv[k * n + j]).sum();
                let id = if i == j { 1.0 } else { 0.0 };
                assert!((s - id).norm() < 1e-9, "n={n} ({i},{j}): {s}");
            }
        }
        let mut y = vec![Complex64::new(0.0, 0.0); n];
        gs.apply(&b, &mut y).unwrap();
        for i in 0..n {
            assert!((y[i] - want[(i, 0)]).norm() < 1e-9, "GS apply n={n} entry {i}");
        }
    }
    // Real symmetric through the same code path.
    let t = spd_column(50, 3);
    let mut gs = GohbergSemencul::new(&t).unwrap();
    let b: Vec<f64> = (0..50).map(|i| (i as f64).sin()).collect();
    let bc: Vec<Complex64> = b.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    let mut y = vec![Complex64::new(0.0, 0.0); 50];
    gs.apply(&bc, &mut y).unwrap();
    let want = dense_solve(&dense_real(&t, &t), &b);
    for i in 0..50 {
        assert!((y[i].re - want[i]).abs() < 1e-9 && y[i].im.abs() < 1e-9);
    }
}

#[test]
fn pcg_with_circulant_preconditioners() {
    let n = 20_000;
    // Generating function with a zero-free positive symbol: t_k = 1/(1+k)^2, t_0 = 2.
    let t: Vec<f64> =
        (0..n).map(|k| if k == 0 { 2.0 } else { 1.0 / ((1 + k) as f64).powi(2) }).collect();
    let b: Vec<f64> = (0..n).map(|i| ((i % 7) as f64 - 3.0) / 3.0).collect();
    let (x_none, none) = pcg_solve(&t, &b, Preconditioner::None, 1e-10, 1000).unwrap();
    let (x_chan, chan) = pcg_solve(&t, &b, Preconditioner::Chan, 1e-10, 1000).unwrap();
    let (x_strang, strang) = pcg_solve(&t, &b, Preconditioner::Strang, 1e-10, 1000).unwrap();
    assert!(
        chan.iterations < none.iterations && strang.iterations < none.iterations,
        "{none:?} {chan:?} {strang:?}"
    );
    // Independent check of the residual with the FFT operator.
    let mut op = RealToeplitzOp::symmetric(&t).unwrap();
    for x in [&x_none, &x_chan, &x_strang] {
        let mut tx = vec![0.0; n];
        op.apply(x, &mut tx).unwrap();
        assert!(rel_err(&tx, &b) < 2e-10);
    }
    // Against Levinson on a smaller instance.
    let m = 500;
    let (xp, _) = pcg_solve(&t[..m], &b[..m], Preconditioner::Chan, 1e-12, 500).unwrap();
    let mut xl = vec![0.0; m];
    levinson_solve(&t[..m], &b[..m], &mut xl, &mut LevinsonWorkspace::new(m)).unwrap();
    assert!(rel_err(&xp, &xl) < 1e-10);
    assert!(matches!(
        pcg_solve(&t, &b, Preconditioner::None, 1e-14, 2),
        Err(Error::NoConvergence { .. })
    ));
}

#[test]
fn classic_bad_inputs_are_errors() {
    // SciPy's singular example: c = [2, 2, 1] (the leading 2x2 block [[2,2],[2,2]] is singular).
    let c = [2.0, 2.0, 1.0];
    match durbin(&c) {
        Err(Error::NotPositiveDefinite { detail }) => {
            assert!(detail.contains("reflection coefficient 1"), "{detail}")
        }
        other => panic!("expected NotPositiveDefinite, got {other:?}"),
    }
    let mut x = [0.0; 3];
    assert!(matches!(
        levinson_solve(&c, &[1.0, 1.0, 1.0], &mut x, &mut LevinsonWorkspace::new(3)),
        Err(Error::NotPositiveDefinite { .. })
    ));
    assert!(matches!(
        toeplitz_solve_general(&c, &c, &[1.0, 2.0, 3.0]),
        Err(Error::Singular { .. })
    ));
    // Zero diagonal.
    let z = [0.0, 1.0, 0.5];
    assert!(matches!(durbin(&z), Err(Error::NotPositiveDefinite { .. })));
    assert!(matches!(
        toeplitz_solve_general(&z, &z, &[1.0, 1.0, 1.0]),
        Err(Error::Singular { .. })
    ));
    // Non-finite, empty, mismatched lengths.
    assert!(matches!(durbin(&[1.0, f64::NAN]), Err(Error::NonFinite { .. })));
    assert!(durbin::<f64>(&[]).is_err());
    assert!(
        levinson_solve(&[2.0, 0.5], &[1.0], &mut [0.0; 2], &mut LevinsonWorkspace::new(2)).is_err()
    );
    assert!(RealToeplitzOp::new(&[1.0, 2.0], &[1.5, 2.0]).is_err());
    // Indefinite but with a nonsingular leading chain: Levinson-Durbin must flag it.
    assert!(matches!(durbin(&[1.0, 0.2, 1.5]), Err(Error::NotPositiveDefinite { .. })));
}
