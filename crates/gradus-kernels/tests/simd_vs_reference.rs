//! Every SIMD kernel against its scalar reference, over all lengths 0..=130 (every head/tail
//! split for lane counts up to 16 and the bf16 block of 32) and random values, plus one long
//! buffer split across threads.
//!
//! Tolerances: elementwise updates must match **bit for bit** (same operation order, correctly
//! rounded FMA on both sides). Reductions sum in a different order than the left-to-right f64
//! reference; they must lie within `(n + 2) * eps * sum |x_i y_i|`, the classical worst-case
//! bound for floating-point summation in any order.

use gradus_core::Par;
use gradus_kernels::{
    self as k, AdagradConsts, AdamConsts, Bf16Vec, RmsPropConsts, RmsPropState, SgdConsts,
    SimdFloat, reference as r,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

type TestRng = rand::rngs::StdRng;

fn vec_of<T: SimdFloat>(rng: &mut TestRng, n: usize, lo: f64, hi: f64) -> Vec<T> {
    (0..n).map(|_| T::from_f64(rng.random_range(lo..hi))).collect()
}

fn bits<T: SimdFloat>(xs: &[T]) -> Vec<u64> {
    xs.iter().map(|x| x.to_f64().to_bits()).collect()
}

fn adam_consts<T: SimdFloat>(rng: &mut TestRng) -> AdamConsts<T> {
    let mut c = AdamConsts::new(
        rng.random_range(1e-4..1e-1),
        rng.random_range(0.0..0.99),
        rng.random_range(0.5..0.9999),
        rng.random_range(1e-10..1e-3),
        rng.random_range(1..50),
        rng.random_bool(0.5),
    );
    c.amsgrad = rng.random_bool(0.5);
    c.eps_inside = rng.random_bool(0.5);
    c.decay =
        T::from_f64(if rng.random_bool(0.5) { 1.0 - rng.random_range(0.0..0.01) } else { 1.0 });
    c.l2 = T::from_f64(if rng.random_bool(0.5) { rng.random_range(0.0..0.1) } else { 0.0 });
    c.g_scale = T::from_f64(if rng.random_bool(0.5) { rng.random_range(0.1..1.0) } else { 1.0 });
    c
}

fn check_adam<T: SimdFloat>(seed: u64, n: usize, par: Par) {
    let mut rng = TestRng::seed_from_u64(seed);
    let c = adam_consts::<T>(&mut rng);
    let p0 = vec_of::<T>(&mut rng, n, -2.0, 2.0);
    let g = vec_of::<T>(&mut rng, n, -3.0, 3.0);
    let m0 = vec_of::<T>(&mut rng, n, -1.0, 1.0);
    let v0 = vec_of::<T>(&mut rng, n, 0.0, 2.0);
    let x0 = vec_of::<T>(&mut rng, n, 0.0, 3.0);
    let (mut p1, mut m1, mut v1, mut x1) = (p0.clone(), m0.clone(), v0.clone(), x0.clone());
    let (mut p2, mut m2, mut v2, mut x2) = (p0.clone(), m0.clone(), v0.clone(), x0.clone());
    let xs1 = c.amsgrad.then_some(&mut x1[..]);
    k::adam_step(par, &c, &mut p1, &g, &mut m1, &mut v1, xs1).unwrap();
    let xs2 = c.amsgrad.then_some(&mut x2[..]);
    r::adam_step(&c, &mut p2, &g, &mut m2, &mut v2, xs2);
    assert_eq!(bits(&p1), bits(&p2), "params n={n}");
    assert_eq!(bits(&m1), bits(&m2), "m n={n}");
    assert_eq!(bits(&v1), bits(&v2), "v n={n}");
    assert_eq!(bits(&x1), bits(&x2), "vmax n={n}");
}

fn check_adam_bf16(seed: u64, n: usize, par: Par) {
    let mut rng = TestRng::seed_from_u64(seed);
    let c = adam_consts::<f32>(&mut rng);
    let p0 = vec_of::<f32>(&mut rng, n, -2.0, 2.0);
    let g = vec_of::<f32>(&mut rng, n, -3.0, 3.0);
    let m0 = Bf16Vec::from_f32(&vec_of::<f32>(&mut rng, n, -1.0, 1.0));
    let v0 = Bf16Vec::from_f32(&vec_of::<f32>(&mut rng, n, 0.0, 2.0));
    let x0 = Bf16Vec::from_f32(&vec_of::<f32>(&mut rng, n, 0.0, 3.0));
    let (mut p1, mut m1, mut v1, mut x1) = (p0.clone(), m0.clone(), v0.clone(), x0.clone());
    let (mut p2, mut m2, mut v2, mut x2) = (p0.clone(), m0.clone(), v0.clone(), x0.clone());
    let xs1 = if c.amsgrad { Some(&mut x1) } else { None };
    k::adam_step_bf16(par, &c, &mut p1, &g, &mut m1, &mut v1, xs1).unwrap();
    let xs2 = if c.amsgrad { Some(&mut x2) } else { None };
    r::adam_step_bf16(&c, &mut p2, &g, &mut m2, &mut v2, xs2);
    assert_eq!(bits(&p1), bits(&p2), "params n={n}");
    assert_eq!(m1, m2, "m n={n}");
    assert_eq!(v1, v2, "v n={n}");
    assert_eq!(x1, x2, "vmax n={n}");
}

fn check_sgd<T: SimdFloat>(seed: u64, n: usize, par: Par) {
    let mut rng = TestRng::seed_from_u64(seed);
    let c = SgdConsts {
        lr: T::from_f64(rng.random_range(1e-3..1.0)),
        momentum: T::from_f64(rng.random_range(0.0..0.99)),
        grad_weight: T::from_f64(rng.random_range(0.1..1.0)),
        nesterov: rng.random_bool(0.5),
        decay: T::from_f64(1.0 - rng.random_range(0.0..0.01)),
        l2: T::from_f64(rng.random_range(0.0..0.1)),
        g_scale: T::from_f64(rng.random_range(0.1..1.0)),
    };
    let with_buf = rng.random_bool(0.7);
    let p0 = vec_of::<T>(&mut rng, n, -2.0, 2.0);
    let g = vec_of::<T>(&mut rng, n, -3.0, 3.0);
    let b0 = vec_of::<T>(&mut rng, n, -1.0, 1.0);
    let (mut p1, mut b1, mut p2, mut b2) = (p0.clone(), b0.clone(), p0, b0);
    k::sgd_step(par, &c, &mut p1, &g, with_buf.then_some(&mut b1[..])).unwrap();
    r::sgd_step(&c, &mut p2, &g, with_buf.then_some(&mut b2[..]));
    assert_eq!(bits(&p1), bits(&p2));
    assert_eq!(bits(&b1), bits(&b2));
}

fn check_rmsprop<T: SimdFloat>(seed: u64, n: usize, par: Par) {
    let mut rng = TestRng::seed_from_u64(seed);
    let c = RmsPropConsts {
        lr: T::from_f64(rng.random_range(1e-4..1e-1)),
        alpha: T::from_f64(rng.random_range(0.5..0.999)),
        eps: T::from_f64(rng.random_range(1e-10..1e-3)),
        momentum: T::from_f64(rng.random_range(0.0..0.95)),
        decay: T::from_f64(1.0 - rng.random_range(0.0..0.01)),
        l2: T::from_f64(rng.random_range(0.0..0.1)),
        g_scale: T::from_f64(rng.random_range(0.1..1.0)),
    };
    let (centered, mom) = (rng.random_bool(0.5), rng.random_bool(0.5));
    let p0 = vec_of::<T>(&mut rng, n, -2.0, 2.0);
    let g = vec_of::<T>(&mut rng, n, -3.0, 3.0);
    // a² <= v, as the running averages guarantee.
    let a0 = vec_of::<T>(&mut rng, n, -1.0, 1.0);
    let v0: Vec<T> = a0.iter().map(|&a| a * a + T::from_f64(rng.random_range(0.0..1.0))).collect();
    let b0 = vec_of::<T>(&mut rng, n, -1.0, 1.0);
    let (mut p1, mut v1, mut a1, mut b1) = (p0.clone(), v0.clone(), a0.clone(), b0.clone());
    let (mut p2, mut v2, mut a2, mut b2) = (p0, v0, a0, b0);
    let st = RmsPropState {
        v: &mut v1,
        avg: centered.then_some(&mut a1[..]),
        buf: mom.then_some(&mut b1[..]),
    };
    k::rmsprop_step(par, &c, &mut p1, &g, st).unwrap();
    r::rmsprop_step(
        &c,
        &mut p2,
        &g,
        &mut v2,
        centered.then_some(&mut a2[..]),
        mom.then_some(&mut b2[..]),
    );
    assert_eq!(bits(&p1), bits(&p2));
    assert_eq!(bits(&v1), bits(&v2));
    assert_eq!(bits(&a1), bits(&a2));
    assert_eq!(bits(&b1), bits(&b2));
}

fn check_adagrad<T: SimdFloat>(seed: u64, n: usize, par: Par) {
    let mut rng = TestRng::seed_from_u64(seed);
    let c = AdagradConsts {
        lr: T::from_f64(rng.random_range(1e-3..1.0)),
        eps: T::from_f64(rng.random_range(1e-10..1e-3)),
        decay: T::from_f64(1.0 - rng.random_range(0.0..0.01)),
        l2: T::from_f64(rng.random_range(0.0..0.1)),
        g_scale: T::from_f64(rng.random_range(0.1..1.0)),
    };
    let p0 = vec_of::<T>(&mut rng, n, -2.0, 2.0);
    let g = vec_of::<T>(&mut rng, n, -3.0, 3.0);
    let s0 = vec_of::<T>(&mut rng, n, 0.0, 5.0);
    let (mut p1, mut s1, mut p2, mut s2) = (p0.clone(), s0.clone(), p0, s0);
    k::adagrad_step(par, &c, &mut p1, &g, &mut s1).unwrap();
    r::adagrad_step(&c, &mut p2, &g, &mut s2);
    assert_eq!(bits(&p1), bits(&p2));
    assert_eq!(bits(&s1), bits(&s2));
}

fn check_blas1<T: SimdFloat>(seed: u64, n: usize, par: Par) {
    let mut rng = TestRng::seed_from_u64(seed);
    let x = vec_of::<T>(&mut rng, n, -3.0, 3.0);
    let y0 = vec_of::<T>(&mut rng, n, -3.0, 3.0);
    let a = T::from_f64(rng.random_range(-2.0..2.0));
    let (mut y1, mut y2) = (y0.clone(), y0.clone());
    k::axpy(par, a, &x, &mut y1).unwrap();
    r::axpy(a, &x, &mut y2);
    assert_eq!(bits(&y1), bits(&y2));
    let (mut s1, mut s2) = (x.clone(), x.clone());
    k::scale(par, a, &mut s1);
    r::scale(a, &mut s2);
    assert_eq!(bits(&s1), bits(&s2));
    let mut z = x.clone();
    if n > 2 {
        z[n / 2] = T::ZERO;
        z[1] = -T::ZERO;
    }
    let (mut o1, mut o2) = (vec![T::ONE; n], vec![T::ONE; n]);
    k::sign(par, &z, &mut o1).unwrap();
    r::sign(&z, &mut o2);
    assert_eq!(bits(&o1), bits(&o2));

    let eps = T::EPSILON.to_f64();
    let bound = |abs_sum: f64| (n as f64 + 2.0) * eps * abs_sum;
    let d = k::dot(par, &x, &y0).unwrap().to_f64();
    let abs: f64 = x.iter().zip(&y0).map(|(a, b)| (a.to_f64() * b.to_f64()).abs()).sum();
    assert!((d - r::dot(&x, &y0)).abs() <= bound(abs), "dot n={n}");
    let ss = r::sum_squares(&x);
    assert!((k::sum_squares(par, &x).to_f64() - ss).abs() <= bound(ss));
    let st = k::grad_stats(par, &x);
    assert!(st.all_finite);
    assert!((st.sum_squares.to_f64() - ss).abs() <= bound(ss));
    if n > 0 {
        let mut bad = x.clone();
        let i = rng.random_range(0..n);
        bad[i] = if rng.random_bool(0.5) {
            T::from_f64(f64::NAN)
        } else {
            T::from_f64(f64::NEG_INFINITY)
        };
        assert!(!k::grad_stats(par, &bad).all_finite, "non-finite at {i} of {n} missed");
        let cuts = rng.random_range(1..=n.min(7));
        let mut bounds: Vec<usize> = (1..cuts).map(|_| rng.random_range(1..n)).collect();
        bounds.extend([0, n]);
        bounds.sort();
        bounds.dedup();
        let mut out = vec![T::ZERO; bounds.len() - 1];
        k::block_mean_squares(par, &x, &bounds, &mut out).unwrap();
        for (o, want) in out.iter().zip(r::block_mean_squares(&x, &bounds)) {
            assert!((o.to_f64() - want).abs() <= bound(want) + eps * want);
        }
    }
}

fn all_kernels(seed: u64, n: usize, par: Par) {
    check_adam::<f32>(seed, n, par);
    check_adam::<f64>(seed, n, par);
    check_adam_bf16(seed, n, par);
    check_sgd::<f32>(seed, n, par);
    check_sgd::<f64>(seed, n, par);
    check_rmsprop::<f32>(seed, n, par);
    check_rmsprop::<f64>(seed, n, par);
    check_adagrad::<f32>(seed, n, par);
    check_adagrad::<f64>(seed, n, par);
    check_blas1::<f32>(seed, n, par);
    check_blas1::<f64>(seed, n, par);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(24)))]
    #[test]
    fn simd_matches_reference_for_every_short_length(seed in any::<u64>()) {
        for n in 0..=130 {
            all_kernels(seed ^ n as u64, n, Par::Seq);
        }
    }
}

#[test]
fn long_buffers_split_across_threads_match_reference() {
    // Longer than PAR_MIN and not a multiple of CHUNK: exercises the split tree and a ragged
    // last chunk.
    let n = 3 * k::chunk::PAR_MIN + 1234;
    for seed in 0..2 {
        all_kernels(seed, n, Par::Rayon);
    }
}

#[test]
fn reductions_do_not_depend_on_thread_count() {
    let n = 5 * k::chunk::PAR_MIN + 77;
    let mut rng = TestRng::seed_from_u64(9);
    let x = vec_of::<f32>(&mut rng, n, -1.0, 1.0);
    let y = vec_of::<f32>(&mut rng, n, -1.0, 1.0);
    let seq = (k::dot(Par::Seq, &x, &y).unwrap(), k::sum_squares(Par::Seq, &x));
    for threads in [1, 2, 3, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let par =
            pool.install(|| (k::dot(Par::Rayon, &x, &y).unwrap(), k::sum_squares(Par::Rayon, &x)));
        assert_eq!(seq.0.to_bits(), par.0.to_bits(), "dot with {threads} threads");
        assert_eq!(seq.1.to_bits(), par.1.to_bits(), "sum of squares with {threads} threads");
    }
}

#[test]
fn length_mismatch_is_an_error_and_touches_nothing() {
    let c = AdamConsts::<f32>::new(0.1, 0.9, 0.999, 1e-8, 1, true);
    let (mut p, mut m, mut v) = (vec![1.0f32; 5], vec![0.5f32; 5], vec![0.25f32; 5]);
    let g = vec![1.0f32; 4];
    assert!(k::adam_step(Par::Seq, &c, &mut p, &g, &mut m, &mut v, None).is_err());
    assert_eq!((p[0], m[0], v[0]), (1.0, 0.5, 0.25));
    let mut ams = c;
    ams.amsgrad = true;
    assert!(k::adam_step(Par::Seq, &ams, &mut p, &[1.0; 5], &mut m, &mut v, None).is_err());
    assert!(k::sgd_step(Par::Seq, &SgdConsts::plain(0.1), &mut p, &g, None).is_err());
    assert!(k::axpy(Par::Seq, 1.0f32, &g, &mut p).is_err());
    assert!(k::dot(Par::Seq, &g, &p).is_err());
    let mut out = [0.0f32; 2];
    assert!(k::block_mean_squares(Par::Seq, &p, &[0, 3, 3, 5], &mut [0.0; 3]).is_err());
    assert!(k::block_mean_squares(Par::Seq, &p, &[0, 3, 4], &mut out).is_err());
    assert_eq!(p, vec![1.0f32; 5]);
}

#[test]
fn norm_survives_overflowing_squares() {
    let x = [3e30f32, 4e30];
    assert!(k::sum_squares(Par::Seq, &x).is_infinite());
    let n = k::norm2(Par::Seq, &x);
    assert!((n / 5e30 - 1.0).abs() < 1e-6, "{n}");
}
