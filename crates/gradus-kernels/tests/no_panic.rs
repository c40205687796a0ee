//! Every public kernel (SIMD and scalar reference), driven with arbitrary lengths and values
//! (0, 1, huge, NaN, infinite, mismatched lengths, arbitrary block bounds): an error or a
//! result, never a panic; a rejected call touches no buffer; finite moderate inputs give
//! finite outputs (issue 18).

use std::panic::{AssertUnwindSafe, catch_unwind};

use gradus_core::Par;
use gradus_kernels::{
    self as k, AdagradConsts, AdamConsts, Bf16Vec, RmsPropConsts, RmsPropState, SgdConsts,
    reference as r,
};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -3.0..3.0f32,
        1 => Just(0.0f32),
        1 => Just(1.0f32),
        1 => Just(3e38f32),
        1 => Just(f32::NAN),
        1 => Just(f32::NEG_INFINITY),
    ]
}

fn values(max: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(value(), 0..max)
}

fn moderate(xs: &[f32]) -> bool {
    xs.iter().all(|v| v.is_finite() && v.abs() <= 1e3)
}

fn no_panic<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => panic!("{what} panicked"),
    }
}

fn bits(xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|x| x.to_bits()).collect()
}

/// A rejected call leaves every buffer bit for bit as it was; an accepted one with moderate
/// inputs leaves them finite.
fn check(
    what: &str,
    res: gradus_core::Result<()>,
    before: &[Vec<u32>],
    after: &[&[f32]],
    ok: bool,
) {
    match res {
        Err(_) => {
            for (b, a) in before.iter().zip(after) {
                assert_eq!(b, &bits(a), "{what}: rejected call changed a buffer");
            }
        }
        Ok(()) if ok => {
            for a in after {
                assert!(a.iter().all(|v| v.is_finite()), "{what}: non-finite output");
            }
        }
        Ok(()) => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(128)))]

    #[test]
    fn update_kernels_never_panic(
        p in values(70), g in values(70), m in values(70), v in values(70), x in values(70),
        lr in 1e-4f64..1.0, beta1 in 0.0f64..0.99, beta2 in 0.5f64..0.999, t in 0u64..5,
        amsgrad in any::<bool>(), seq in any::<bool>(),
    ) {
        let par = if seq { Par::Seq } else { Par::Rayon };
        // Second moments are non-negative in every real state.
        let v: Vec<f32> = v.iter().map(|a| a.abs()).collect();
        let x: Vec<f32> = x.iter().map(|a| a.abs()).collect();
        let ok = moderate(&p) && moderate(&g) && moderate(&m) && moderate(&v) && moderate(&x) && t > 0;
        let mut c = AdamConsts::<f32>::new(lr, beta1, beta2, 1e-8, t.max(1), true);
        c.amsgrad = amsgrad;
        let before = [bits(&p), bits(&m), bits(&v), bits(&x)];
        let (mut p1, mut m1, mut v1, mut x1) = (p.clone(), m.clone(), v.clone(), x.clone());
        let res = no_panic("adam", || {
            k::adam_step(par, &c, &mut p1, &g, &mut m1, &mut v1, amsgrad.then_some(&mut x1[..]))
        });
        let accepted = res.is_ok();
        check("adam", res, &before, &[&p1, &m1, &v1, &x1], ok);
        let (mut p2, mut m2, mut v2, mut x2) = (p.clone(), m.clone(), v.clone(), x.clone());
        let res2 = no_panic("adam ref", || {
            r::adam_step(&c, &mut p2, &g, &mut m2, &mut v2, amsgrad.then_some(&mut x2[..]))
        });
        // The reference accepts exactly what the kernel accepts.
        prop_assert_eq!(res2.is_ok(), accepted);
        check("adam ref", res2, &before, &[&p2, &m2, &v2, &x2], ok);

        let (mut bm, mut bv, mut bx) = (Bf16Vec::from_f32(&m), Bf16Vec::from_f32(&v), Bf16Vec::from_f32(&x));
        let mut p3 = p.clone();
        let res = no_panic("adam bf16", || {
            k::adam_step_bf16(par, &c, &mut p3, &g, &mut bm, &mut bv, if amsgrad { Some(&mut bx) } else { None })
        });
        check("adam bf16", res, &before[..1], &[&p3], ok);
        let mut p4 = p.clone();
        let _ = no_panic("adam bf16 ref", || {
            r::adam_step_bf16(&c, &mut p4, &g, &mut Bf16Vec::from_f32(&m), &mut Bf16Vec::from_f32(&v), None)
        });

        let sc = SgdConsts::<f32>::plain(lr);
        let (mut p5, mut b5) = (p.clone(), m.clone());
        let res = no_panic("sgd", || k::sgd_step(par, &sc, &mut p5, &g, Some(&mut b5[..])));
        check("sgd", res, &before[..2], &[&p5, &b5], ok);
        let mut p6 = p.clone();
        let _ = no_panic("sgd ref", || r::sgd_step(&sc, &mut p6, &g, None));

        let rc = RmsPropConsts { lr: lr as f32, alpha: beta2 as f32, eps: 1e-8, momentum: 0.5, decay: 1.0, l2: 0.0, g_scale: 1.0 };
        let (mut p7, mut v7, mut b7) = (p.clone(), v.clone(), m.clone());
        let res = no_panic("rmsprop", || {
            k::rmsprop_step(par, &rc, &mut p7, &g, RmsPropState { v: &mut v7, avg: None, buf: Some(&mut b7) })
        });
        check("rmsprop", res, &[before[0].clone(), before[2].clone(), before[1].clone()], &[&p7, &v7, &b7], ok);
        let (mut p8, mut v8) = (p.clone(), v.clone());
        let _ = no_panic("rmsprop ref", || r::rmsprop_step(&rc, &mut p8, &g, &mut v8, None, None));

        let ac = AdagradConsts { lr: lr as f32, eps: 1e-10, decay: 1.0, l2: 0.0, g_scale: 1.0 };
        let (mut p9, mut s9) = (p.clone(), v.clone());
        let res = no_panic("adagrad", || k::adagrad_step(par, &ac, &mut p9, &g, &mut s9));
        check("adagrad", res, &[before[0].clone(), before[2].clone()], &[&p9, &s9], ok);
        let (mut p10, mut s10) = (p.clone(), v.clone());
        let _ = no_panic("adagrad ref", || r::adagrad_step(&ac, &mut p10, &g, &mut s10));
    }

    #[test]
    fn blas1_kernels_never_panic(
        x in values(70), y in values(70), a in value(),
        bounds in prop::collection::vec(0usize..80, 0..6), nout in 0usize..7, seq in any::<bool>(),
    ) {
        let par = if seq { Par::Seq } else { Par::Rayon };
        let ok = moderate(&x) && moderate(&y) && moderate(&[a]);
        let mut y1 = y.clone();
        let res = no_panic("axpy", || k::axpy(par, a, &x, &mut y1));
        check("axpy", res, &[bits(&y)], &[&y1], ok);
        let mut y2 = y.clone();
        let _ = no_panic("axpy ref", || r::axpy(a, &x, &mut y2));
        let mut s = x.clone();
        no_panic("scale", || k::scale(par, a, &mut s));
        no_panic("scale ref", || r::scale(a, &mut s));
        let mut o = y.clone();
        let res = no_panic("sign", || k::sign(par, &x, &mut o));
        check("sign", res, &[bits(&y)], &[&o], ok);
        let _ = no_panic("sign ref", || r::sign(&x, &mut o));
        let d = no_panic("dot", || k::dot(par, &x, &y));
        if let (true, Ok(d)) = (ok, d) {
            prop_assert!(d.is_finite());
        }
        let _ = no_panic("dot ref", || r::dot(&x, &y));
        let ss = no_panic("sum_squares", || k::sum_squares(par, &x));
        prop_assert!(!ok || ss.is_finite());
        let _ = no_panic("sum_squares ref", || r::sum_squares(&x));
        let n = no_panic("norm2", || k::norm2(par, &x));
        prop_assert!(!ok || n.is_finite());
        let _ = no_panic("grad_stats", || k::grad_stats(par, &x));
        let mut out = vec![0.0f32; nout];
        let res = no_panic("block_mean_squares", || k::block_mean_squares(par, &x, &bounds, &mut out));
        check("block_mean_squares", res, &[bits(&vec![0.0f32; nout])], &[&out], ok);
        let _ = no_panic("block_mean_squares ref", || r::block_mean_squares(&x, &bounds));
        let _ = no_panic("check_bounds", || k::blas1::check_bounds(x.len(), &bounds));
        let b = no_panic("bf16", || Bf16Vec::from_f32(&x));
        prop_assert_eq!(b.len(), x.len());
        prop_assert_eq!(no_panic("bf16 round trip", || b.to_f32_vec()).len(), x.len());
    }
}
