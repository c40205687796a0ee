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
    r::adam_step(&c, &mut p2, &g, &mut m2, &mut v2, xs2).unwrap();
    assert_eq!(bits(&p1), bits(&p2), "params n={n}");
    assert_eq!(bits(&m1), bits(&m2), "m n={n}");
    assert_eq!(bits(&v1), bits(&v2), "v n={n}");
    assert_eq!(bits(&x1), bits(&x2), "vmax n={n}");
}

fn check_adam_bf16(seed: u64, n: usize, par: Par) {
    check_adam_bf16_rounded(seed, n, par, k::Bf16Rounding::Nearest);
    check_adam_bf16_rounded(seed, n, par, k::Bf16Rounding::Stochastic { key: seed ^ 0xABCD });
}

fn check_adam_bf16_rounded(seed: u64, n: usize, par: Par, rounding: k::Bf16Rounding) {
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
    k::adam_step_bf16_rounded(par, &c, rounding, &mut p1, &g, &mut m1, &mut v1, xs1).unwrap();
    let xs2 = if c.amsgrad { Some(&mut x2) } else { None };
    r::adam_step_bf16_rounded(&c, rounding, &mut p2, &g, &mut m2, &mut v2, xs2).unwrap();
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
    r::sgd_step(&c, &mut p2, &g, with_buf.then_some(&mut b2[..])).unwrap();
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
    )
    .unwrap();
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
    r::adagrad_step(&c, &mut p2, &g, &mut s2).unwrap();
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
    r::axpy(a, &x, &mut y2).unwrap();
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
    r::sign(&z, &mut o2).unwrap();
    assert_eq!(bits(&o1), bits(&o2));

    let eps = T::EPSILON.to_f64();
    let bound = |abs_sum: f64| (n as f64 + 2.0) * eps * abs_sum;
    let d = k::dot(par, &x, &y0).unwrap().to_f64();
    let abs: f64 = x.iter().zip(&y0).map(|(a, b)| (a.to_f64() * b.to_f64()).abs()).sum();
    assert!((d - r::dot(&x, &y0).unwrap()).abs() <= bound(abs), "dot n={n}");
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
        for (o, want) in out.iter().zip(r::block_mean_squares(&x, &bounds).unwrap()) {
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
    #![proptest_config(ProptestConfig::with_cases(24))]
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

/// The scalar references check lengths as the SIMD kernels do (the crate docs promise it of
/// every kernel): the same error, and no buffer touched.
#[test]
fn references_reject_mismatched_lengths_like_the_kernels() {
    let c = AdamConsts::<f32>::new(0.1, 0.9, 0.999, 1e-8, 1, true);
    let (mut p, mut m, mut v) = (vec![1.0f32; 5], vec![0.5f32; 5], vec![0.25f32; 5]);
    let g = vec![1.0f32; 4];
    let want = k::adam_step(Par::Seq, &c, &mut p, &g, &mut m, &mut v, None).unwrap_err();
    assert_eq!(r::adam_step(&c, &mut p, &g, &mut m, &mut v, None).unwrap_err(), want);
    let mut short = vec![0.0f32; 3];
    assert!(r::adam_step(&c, &mut p, &[1.0; 5], &mut short, &mut v, None).is_err());
    let mut ams = c;
    ams.amsgrad = true;
    assert!(r::adam_step(&ams, &mut p, &[1.0; 5], &mut m, &mut v, None).is_err());
    let (mut bm, mut bv) = (Bf16Vec::zeros(5), Bf16Vec::zeros(4));
    assert!(r::adam_step_bf16(&c, &mut p, &[1.0; 5], &mut bm, &mut bv, None).is_err());
    assert!(r::sgd_step(&SgdConsts::plain(0.1), &mut p, &g, None).is_err());
    assert!(r::sgd_step(&SgdConsts::plain(0.1), &mut p, &[1.0; 5], Some(&mut short)).is_err());
    let rc = RmsPropConsts {
        lr: 0.1f32,
        alpha: 0.9,
        eps: 1e-8,
        momentum: 0.0,
        decay: 1.0,
        l2: 0.0,
        g_scale: 1.0,
    };
    assert!(r::rmsprop_step(&rc, &mut p, &[1.0; 5], &mut v, Some(&mut short), None).is_err());
    let ac = AdagradConsts { lr: 0.1f32, eps: 1e-8, decay: 1.0, l2: 0.0, g_scale: 1.0 };
    assert!(r::adagrad_step(&ac, &mut p, &[1.0; 5], &mut short).is_err());
    assert!(r::axpy(1.0f32, &g, &mut p).is_err());
    assert!(r::sign(&p, &mut short).is_err());
    assert_eq!(r::dot(&g, &p).unwrap_err(), k::dot(Par::Seq, &g, &p).unwrap_err());
    assert!(r::block_mean_squares(&p, &[0, 3, 3, 5]).is_err());
    assert!(r::block_mean_squares(&p, &[0, 4, 3, 5]).is_err());
    assert!(r::block_mean_squares(&p, &[0, 3]).is_err());
    assert_eq!((p, m, v), (vec![1.0f32; 5], vec![0.5f32; 5], vec![0.25f32; 5]));
    assert_eq!(short, vec![0.0f32; 3]);
}

#[test]
fn norm_survives_overflowing_squares() {
    let x = [3e30f32, 4e30];
    assert!(k::sum_squares(Par::Seq, &x).is_infinite());
    let n = k::norm2(Par::Seq, &x);
    assert!((n / 5e30 - 1.0).abs() < 1e-6, "{n}");
}

/// Adam's second moment stored in bf16 with `beta2 = 0.999`, starting at 1 with `g² = 2`:
/// each step should move `v` by 0.1% of its distance to 2, less than half a bf16 ulp at 1
/// (2^-8 relative), so round-to-nearest leaves `v` at exactly 1 forever, while stochastic
/// rounding tracks the f32 recursion `v_t = 2 - 0.999^t` on average.
#[test]
fn stochastic_rounding_does_not_stall_small_updates() {
    let n = 4096 + 17;
    let steps = 2000;
    let c = AdamConsts::<f32>::new(1e-3, 0.9, 0.999, 1e-8, 1, false);
    let g = vec![2f32.sqrt(); n];
    let run = |rounding: k::Bf16Rounding| {
        let (mut p, mut m, mut v) = (vec![0f32; n], Bf16Vec::zeros(n), Bf16Vec::filled(n, 1.0));
        for t in 0..steps {
            let rounding = match rounding {
                k::Bf16Rounding::Stochastic { key } => {
                    k::Bf16Rounding::Stochastic { key: key.wrapping_add(t) }
                }
                r => r,
            };
            k::adam_step_bf16_rounded(Par::Seq, &c, rounding, &mut p, &g, &mut m, &mut v, None)
                .unwrap();
        }
        v.to_f32_vec()
    };
    // The f32 recursion, computed independently in f64.
    let exact = 2.0 - 0.999f64.powi(steps as i32);
    let nearest = run(k::Bf16Rounding::Nearest);
    assert!(nearest.iter().all(|&x| x == 1.0), "round-to-nearest should stall at 1");
    let sr = run(k::Bf16Rounding::Stochastic { key: 7 });
    let mean = sr.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    assert!((mean - exact).abs() < 0.01 * exact, "stochastic mean {mean} vs exact {exact}");
    // Every element moved well away from 1 (not just a lucky few).
    assert!(sr.iter().all(|&x| x > 1.3), "min {}", sr.iter().cloned().fold(f32::MAX, f32::min));
}

/// `E[round(x)] = x`: the mean of stochastic roundings of one value over many positions is
/// the value, within the standard error; round-to-nearest is off by the rounding error.
#[test]
fn stochastic_rounding_is_unbiased() {
    let x = 1.0f32 + 2f32.powi(-10); // 1/8 of a bf16 ulp above 1
    let n = 1 << 16;
    let mut sum = 0f64;
    for w in 0..n as u32 {
        let r = k::bf16::word_bits(12345, w);
        sum += f32::from_bits(k::bf16::round_to_bf16_high_stochastic(x, r)) as f64;
    }
    let mean = sum / n as f64;
    // Each rounding is 1 or 1 + 2^-7 with p = 1/8: standard deviation of the mean ~ 1.3e-5.
    assert!((mean - x as f64).abs() < 1e-4, "mean {mean} vs {x}");
    assert_eq!(f32::from_bits(k::bf16::round_to_bf16_high(x)), 1.0);
    // Non-finite values survive stochastic rounding.
    for r in [0u32, 0xFFFF, 0x1234] {
        assert_eq!(
            f32::from_bits(k::bf16::round_to_bf16_high_stochastic(f32::INFINITY, r)),
            f32::INFINITY
        );
        assert!(f32::from_bits(k::bf16::round_to_bf16_high_stochastic(f32::NAN, r)).is_nan());
    }
}

#[test]
fn stochastic_bf16_step_does_not_depend_on_thread_count() {
    let n = 3 * k::chunk::PAR_MIN + 999;
    let mut rng = TestRng::seed_from_u64(5);
    let c = AdamConsts::<f32>::new(1e-3, 0.9, 0.999, 1e-8, 3, true);
    let g = vec_of::<f32>(&mut rng, n, -1.0, 1.0);
    let run = |par: Par| {
        let (mut p, mut m, mut v) = (vec![0.5f32; n], Bf16Vec::zeros(n), Bf16Vec::zeros(n));
        let rounding = k::Bf16Rounding::Stochastic { key: 99 };
        k::adam_step_bf16_rounded(par, &c, rounding, &mut p, &g, &mut m, &mut v, None).unwrap();
        (bits(&p), m, v)
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    assert_eq!(run(Par::Seq), pool.install(|| run(Par::Rayon)));
}

/// The kernels run the level `pulp::Arch::new()` picks: on x86-64 with AVX2 and FMA that is
/// AVX2+FMA even when the CPU also has AVX-512 (pulp's `x86-v4` feature is off).
#[test]
fn dispatch_level_is_the_one_reported() {
    #[cfg(target_arch = "x86_64")]
    {
        let v3 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        assert_eq!(k::simd_level(), if v3 { "avx2+fma" } else { "scalar" });
    }
}
