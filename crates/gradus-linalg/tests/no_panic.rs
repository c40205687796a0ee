//! Every public entry point, driven with arbitrary shapes and values (0, 1, huge, NaN, infinite,
//! mismatched lengths, non-square matrices): an error or a finite result, never a panic
//! (issue 18).

use std::panic::{AssertUnwindSafe, catch_unwind};

use gradus_core::Par;
use gradus_linalg::matfn::{RootJob, inverse_root_batch, inverse_root_owned};
use gradus_linalg::toeplitz::{
    ComplexToeplitzOp, GohbergSemencul, LevinsonWorkspace, Preconditioner, RealToeplitzOp, durbin,
    levinson_solve, pcg_solve, toeplitz_solve_general,
};
use gradus_linalg::{Backend, Mat, RootMethod, RootParams, eigh};
use num_complex::Complex64;
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -3.0..3.0f64,
        1 => Just(0.0),
        1 => Just(1.0),
        1 => Just(1e300),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn values(max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(value(), 0..max)
}

fn no_panic<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => panic!("{what} panicked"),
    }
}

fn all_finite(m: &Mat<f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(128)))]

    #[test]
    fn eigh_and_roots_never_panic(
        rows in 0usize..5, cols in 0usize..5, vals in values(25), symmetric in any::<bool>(),
        p in 0u32..5, eps in value(), floor in value(), newton in any::<bool>(), seq in any::<bool>(),
    ) {
        let at = |i: usize, j: usize| *vals.get((i * cols + j) % vals.len().max(1)).unwrap_or(&1.0);
        let a = if symmetric {
            Mat::<f64>::from_fn(rows, rows, |i, j| 0.5 * (at(i, j) + at(j, i)))
        } else {
            Mat::<f64>::from_fn(rows, cols, at)
        };
        let par = if seq { Par::Seq } else { Par::Rayon };
        if let Ok(e) = no_panic("eigh", || eigh(a.as_ref(), Backend::Faer, par)) {
            prop_assert!(e.values.iter().all(|v| v.is_finite()));
        }
        let method = if newton { RootMethod::Newton } else { RootMethod::Eigh };
        let params = RootParams::new(p)
            .with_eps(eps)
            .with_floor(floor)
            .with_method(method)
            .with_newton_max_iter(30);
        if let Ok((x, _)) = no_panic("inverse_root", || inverse_root_owned(a.as_ref(), &params, par)) {
            prop_assert!(all_finite(&x), "non-finite root accepted");
        }
        let mut jobs = vec![RootJob::new(rows)];
        jobs[0].a = a.clone();
        no_panic("inverse_root_batch", || inverse_root_batch(&mut jobs, &params, par));
    }

    #[test]
    fn toeplitz_routines_never_panic(
        t in values(9), row in values(9), b in values(9), tol in value(), max_iter in 0usize..40,
    ) {
        if let Ok(d) = no_panic("durbin", || durbin(&t)) {
            prop_assert!(d.logdet.is_finite());
        }
        let mut x = vec![0.0; b.len()];
        let mut ws = LevinsonWorkspace::new(t.len());
        if no_panic("levinson", || levinson_solve(&t, &b, &mut x, &mut ws)).is_ok() {
            prop_assert!(x.iter().all(|v| v.is_finite()));
        }
        if let Ok(x) = no_panic("general", || toeplitz_solve_general(&t, &row, &b)) {
            prop_assert!(x.iter().all(|v| v.is_finite()));
        }
        if let Ok(mut op) = no_panic("real op", || RealToeplitzOp::new(&t, &row)) {
            let mut y = vec![0.0; row.len()];
            let _ = no_panic("real apply", || op.apply(&b, &mut y));
        }
        let _ = no_panic("real symmetric op", || RealToeplitzOp::symmetric(&t));
        let tc: Vec<Complex64> = t.iter().map(|&v| Complex64::new(v, 0.5 * v)).collect();
        let rc: Vec<Complex64> = row.iter().map(|&v| Complex64::new(v, -0.5 * v)).collect();
        let bc: Vec<Complex64> = b.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        if let Ok(mut op) = no_panic("complex op", || ComplexToeplitzOp::new(&tc, &rc)) {
            let mut y = vec![Complex64::new(0.0, 0.0); rc.len()];
            let _ = no_panic("complex apply", || op.apply(&bc, &mut y));
        }
        let _ = no_panic("hermitian op", || ComplexToeplitzOp::hermitian(&tc));
        if let Ok(mut gs) = no_panic("gohberg-semencul", || GohbergSemencul::new(&t)) {
            prop_assert!(gs.logdet().is_finite());
            let mut y = bc.clone();
            let _ = no_panic("gs apply", || gs.apply(&bc, &mut y));
            let _ = no_panic("gs update", || gs.update(&tc));
        }
        let _ = no_panic("gs with_dim", || GohbergSemencul::with_dim(t.len()));
        for kind in [Preconditioner::None, Preconditioner::Chan, Preconditioner::Strang] {
            if let Ok((x, _)) = no_panic("pcg", || pcg_solve(&t, &b, kind, tol, max_iter)) {
                prop_assert!(x.iter().all(|v| v.is_finite()));
            }
        }
    }
}
