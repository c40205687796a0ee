//! Contracts of the compressors: selection against a sort, classes against exact
//! expectations (enumerated subsets, closed-form rounding variances), determinism, wire
//! sizes and bad input.

use gradus_core::{Error, rng};
use gradus_dist::compression::{
    Chain, Class, Compressor, Identity, Induced, NaturalCompression, NaturalDithering, Qsgd, RandK,
    Scaled, ScaledIdentity, ScaledSign, TopK, index_bits,
};
use gradus_models::data::normal;
use proptest::prelude::*;

fn sq(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum()
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn gaussian(d: usize, seed: u64) -> Vec<f64> {
    let mut r = rng::seeded(seed);
    (0..d).map(|_| normal(&mut r)).collect()
}

/// Top-k by sorting indices by (magnitude desc, index asc).
fn topk_reference<T: Copy + Into<f64> + Default>(v: &[T], k: usize) -> Vec<T> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y): (f64, f64) = (v[a].into(), v[b].into());
        y.abs().total_cmp(&x.abs()).then(a.cmp(&b))
    });
    let mut out = vec![T::default(); v.len()];
    for &i in &idx[..k] {
        out[i] = v[i];
    }
    out
}

fn compress<C: Compressor<f64>>(c: &mut C, v: &[f64], seed: u64) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    c.compress(v, &mut out, &mut rng::seeded(seed)).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(300)))]

    #[test]
    fn topk_equals_the_sort_reference(
        vals in prop::collection::vec(prop_oneof![
            (-4i32..=4).prop_map(|i| i as f64 * 0.5),
            -1e3f64..1e3,
        ], 1..200),
        kf in 0.0f64..1.0,
    ) {
        let d = vals.len();
        let k = 1 + ((d - 1) as f64 * kf) as usize;
        let mut c = TopK::new(d, k).unwrap();
        let out = compress(&mut c, &vals, 0);
        prop_assert_eq!(&out, &topk_reference(&vals, k));
        // Deterministic contraction with eps = 1 - k/d.
        let eps = Compressor::<f64>::class(&c).eps().unwrap();
        prop_assert!((eps - (1.0 - k as f64 / d as f64)).abs() < 1e-15);
        prop_assert!(dist2(&out, &vals) <= eps * sq(&vals) * (1.0 + 1e-12));
        // f32 agrees with its own reference too.
        let v32: Vec<f32> = vals.iter().map(|&x| x as f32).collect();
        let mut o32 = vec![0.0f32; d];
        c.compress(&v32, &mut o32, &mut rng::seeded(0)).unwrap();
        prop_assert_eq!(o32, topk_reference(&v32, k));
    }
}

#[test]
fn topk_large_inputs_take_both_selection_paths_and_agree() {
    let d = 40_000;
    let gauss = gaussian(d, 1);
    let cases: Vec<(&str, Vec<f64>)> = vec![
        ("gaussian", gauss.clone()),
        ("ascending", (0..d).map(|i| i as f64).collect()),
        ("descending", (0..d).map(|i| -(i as f64)).collect()),
        ("constant", vec![2.5; d]),
        ("two values", (0..d).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }).collect()),
        ("one spike", (0..d).map(|i| if i == 12_345 { 9.0 } else { 0.0 }).collect()),
        ("zeros", vec![0.0; d]),
        ("tiny", gauss.iter().map(|x| x * 1e-310).collect()),
    ];
    for (name, v) in &cases {
        for k in [1, 7, 400, 4_000, 39_999, 40_000] {
            let mut c = TopK::new(d, k).unwrap();
            assert_eq!(compress(&mut c, v, 0), topk_reference(v, k), "{name}, k = {k}");
        }
    }
}

#[test]
fn randk_draws_every_subset_equally_and_has_its_class() {
    // d = 5, k = 2: ten subsets. Each draw must be one of them with the kept values
    // unchanged (unscaled) or scaled by d/k; the frequencies must be uniform.
    let (d, k) = (5, 2);
    let v = [1.0, -2.0, 3.0, 0.5, -1.5];
    let mut counts = std::collections::HashMap::new();
    let (mut plain, mut scaled) =
        (RandK::contractive(d, k).unwrap(), RandK::unbiased(d, k).unwrap());
    let mut r = rng::seeded(11);
    let draws = 20_000;
    for _ in 0..draws {
        let mut r2 = r.clone();
        let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
        plain.compress(&v, &mut a, &mut r).unwrap();
        scaled.compress(&v, &mut b, &mut r2).unwrap();
        let mask: Vec<bool> = a.iter().map(|&x| x != 0.0).collect();
        assert_eq!(mask.iter().filter(|&&m| m).count(), k);
        for i in 0..d {
            assert_eq!(a[i], if mask[i] { v[i] } else { 0.0 });
            assert_eq!(b[i], if mask[i] { v[i] * 2.5 } else { 0.0 });
        }
        *counts.entry(mask).or_insert(0usize) += 1;
    }
    assert_eq!(counts.len(), 10);
    let expected = draws as f64 / 10.0;
    let sd = (draws as f64 * 0.1 * 0.9).sqrt();
    for (mask, &c) in &counts {
        assert!((c as f64 - expected).abs() < 5.0 * sd, "subset {mask:?} drawn {c} times");
    }
    // Exact expectations over the ten equally likely subsets.
    let mut mean = [0.0; 5];
    let (mut err_plain, mut err_scaled) = (0.0, 0.0);
    for mask in counts.keys() {
        let a: Vec<f64> = (0..d).map(|i| if mask[i] { v[i] } else { 0.0 }).collect();
        let b: Vec<f64> = a.iter().map(|x| x * 2.5).collect();
        err_plain += dist2(&a, &v) / 10.0;
        err_scaled += dist2(&b, &v) / 10.0;
        for i in 0..d {
            mean[i] += b[i] / 10.0;
        }
    }
    for i in 0..d {
        assert!((mean[i] - v[i]).abs() < 1e-12);
    }
    let n2 = sq(&v);
    assert!((err_plain - 0.6 * n2).abs() < 1e-12);
    assert!((err_scaled - 1.5 * n2).abs() < 1e-12);
    assert_eq!(
        Compressor::<f64>::class(&plain),
        Class::Contractive { eps: 0.6, in_expectation: true }
    );
    assert_eq!(Compressor::<f64>::class(&scaled), Class::Unbiased { omega: 1.5 });
}

/// Checks a stochastic-rounding quantiser on `v`: every output coordinate is one of the two
/// neighbouring levels `lo, hi` that `levels(x)` names, the up-frequency matches
/// `(x - lo)/(hi - lo)`, and the exact variance `sum (hi - x)(x - lo)` is within `omega`.
fn check_rounding<C: Compressor<f64>>(
    c: &mut C,
    v: &[f64],
    levels: impl Fn(f64) -> (f64, f64),
    draws: usize,
) -> f64 {
    let d = v.len();
    let omega = c.class().omega().unwrap();
    let mut ups = vec![0usize; d];
    let mut r = rng::seeded(5);
    let mut out = vec![0.0; d];
    for _ in 0..draws {
        c.compress(v, &mut out, &mut r).unwrap();
        for i in 0..d {
            let (lo, hi) = levels(v[i].abs());
            let q = out[i].abs();
            assert!(out[i] == 0.0 || out[i].signum() == v[i].signum());
            let tol = 1e-12 * hi.max(1e-300);
            if (q - hi).abs() <= tol && hi != lo {
                ups[i] += 1;
            } else {
                assert!((q - lo).abs() <= tol, "coordinate {i}: {q} not in {{{lo}, {hi}}}");
            }
        }
    }
    let mut var = 0.0;
    for i in 0..d {
        let (lo, hi) = levels(v[i].abs());
        let x = v[i].abs();
        var += (hi - x) * (x - lo);
        if hi > lo {
            let p = (x - lo) / (hi - lo);
            let sd = (p * (1.0 - p) / draws as f64).sqrt();
            let freq = ups[i] as f64 / draws as f64;
            assert!((freq - p).abs() <= 5.0 * sd + 1e-9, "coordinate {i}: up {freq} vs {p}");
        }
    }
    assert!(var <= omega * sq(v) * (1.0 + 1e-12), "variance {var} above omega ||v||^2");
    var / sq(v)
}

#[test]
fn qsgd_rounds_to_neighbouring_levels_within_its_variance() {
    for (d, s) in [(8, 1), (8, 4), (50, 2), (50, 16)] {
        for v in [
            gaussian(d, 3),
            vec![1.0; d],
            (0..d).map(|i| if i == 0 { 1.0 } else { 1e-3 }).collect(),
        ] {
            let norm = sq(&v).sqrt();
            let levels = |x: f64| {
                let r = x / norm * s as f64;
                let l = r.floor();
                (l * norm / s as f64, (l + 1.0).min(s as f64) * norm / s as f64)
            };
            check_rounding(&mut Qsgd::new(d, s).unwrap(), &v, levels, 2000);
        }
    }
}

#[test]
fn natural_dithering_rounds_to_powers_of_two_within_its_variance() {
    for (d, s) in [(8, 1), (8, 3), (64, 2), (64, 8)] {
        for v in [gaussian(d, 4), vec![-1.0; d], (0..d).map(|i| 0.9f64.powi(i as i32)).collect()] {
            let norm = sq(&v).sqrt();
            let lowest = 2f64.powi(1 - s);
            let levels = |x: f64| {
                let r = x / norm;
                let (lo, hi) = if r < lowest {
                    (0.0, lowest)
                } else {
                    let a = 2f64.powf(r.log2().floor());
                    let a = if 2.0 * a <= r {
                        2.0 * a
                    } else if a > r {
                        a / 2.0
                    } else {
                        a
                    };
                    (a, (2.0 * a).min(1.0))
                };
                (lo * norm, hi * norm)
            };
            check_rounding(&mut NaturalDithering::new(d, s as u32).unwrap(), &v, levels, 2000);
        }
    }
}

#[test]
fn natural_compression_is_unbiased_with_omega_one_eighth() {
    let v: Vec<f64> = gaussian(40, 6).iter().map(|x| x * 1e3).chain([1.0, -0.75, 3e-310]).collect();
    let levels = |x: f64| {
        let a = 2f64.powf(x.log2().floor());
        let a = if 2.0 * a <= x {
            2.0 * a
        } else if a > x {
            a / 2.0
        } else {
            a
        };
        (a, if a == x { a } else { 2.0 * a })
    };
    let ratio = check_rounding(&mut NaturalCompression::new(v.len()).unwrap(), &v, levels, 2000);
    assert!(ratio <= 0.125);
    // The worst ratio is 1/8, at x = (4/3) 2^j.
    let w = vec![4.0 / 3.0; 3];
    let r = check_rounding(&mut NaturalCompression::new(3).unwrap(), &w, levels, 500);
    assert!((r - 0.125).abs() < 1e-12);
}

#[test]
fn scaled_sign_error_has_its_closed_form() {
    for seed in 0..20 {
        let d = 1 + seed as usize * 3;
        let v = gaussian(d, seed);
        let out = compress(&mut ScaledSign::new(d).unwrap(), &v, 0);
        let l1: f64 = v.iter().map(|x| x.abs()).sum();
        let err = dist2(&out, &v);
        // ||C(v) - v||^2 = ||v||^2 - 2 a ||v||_1 + nnz a^2 with a = ||v||_1 / d.
        let (a, nnz) = (l1 / d as f64, v.iter().filter(|&&x| x != 0.0).count() as f64);
        assert!((err - (sq(&v) - 2.0 * a * l1 + nnz * a * a)).abs() <= 1e-12 * sq(&v));
        assert!(err <= (1.0 - 1.0 / d as f64) * sq(&v) * (1.0 + 1e-12));
    }
    // One dominant entry (the others tiny but non-zero) approaches eps = 1 - 1/d; exact
    // zeros are sent as zeros, which only lowers the error.
    let mut e = vec![1e-30; 10];
    e[3] = -2.0;
    let out = compress(&mut ScaledSign::new(10).unwrap(), &e, 0);
    assert!((dist2(&out, &e) - 0.9 * 4.0).abs() < 1e-12);
    e.iter_mut().enumerate().for_each(|(i, x)| *x = if i == 3 { -2.0 } else { 0.0 });
    let out = compress(&mut ScaledSign::new(10).unwrap(), &e, 0);
    assert!((dist2(&out, &e) - (2.0f64 - 0.2).powi(2)).abs() < 1e-12);
}

#[test]
fn scaled_identity_attains_its_bound() {
    let v = gaussian(9, 8);
    for a in [0.3, 1.0, 1.7] {
        let mut c = ScaledIdentity::new(9, a).unwrap();
        let eps = Compressor::<f64>::class(&c).eps().unwrap();
        let out = compress(&mut c, &v, 0);
        assert!((dist2(&out, &v) - eps * sq(&v)).abs() < 1e-12 * sq(&v));
    }
    assert!(ScaledIdentity::new(3, 2.0).is_err());
    assert!(ScaledIdentity::new(3, 0.0).is_err());
}

/// Mean and mean squared error of `draws` compressions of `v`.
fn moments<C: Compressor<f64>>(c: &mut C, v: &[f64], draws: usize) -> (Vec<f64>, f64) {
    let mut mean = vec![0.0; v.len()];
    let mut err = 0.0;
    let mut r = rng::seeded(9);
    let mut out = vec![0.0; v.len()];
    for _ in 0..draws {
        c.compress(v, &mut out, &mut r).unwrap();
        mean.iter_mut().zip(&out).for_each(|(m, o)| *m += o / draws as f64);
        err += dist2(&out, v) / draws as f64;
    }
    (mean, err)
}

#[test]
fn compositions_have_their_classes() {
    let d = 12;
    let v = gaussian(d, 10);
    let n2 = sq(&v);

    // rand-k / (1 + omega): omega/(1 + omega) = 1 - k/d, and its error equals the unscaled one.
    let mut sc = Scaled::new::<f64>(RandK::unbiased(d, 3).unwrap()).unwrap();
    let eps = Compressor::<f64>::class(&sc).eps().unwrap();
    assert!((eps - 0.75).abs() < 1e-15);
    let (_, err) = moments(&mut sc, &v, 20_000);
    assert!(err <= eps * n2 * 1.05, "scaled rand-k: {err} vs {}", eps * n2);

    // Induced: top-k plus unbiased rand-k on the residual is unbiased.
    let mut ind = Induced::new(TopK::new(d, 4).unwrap(), RandK::unbiased(d, 2).unwrap()).unwrap();
    let omega = Compressor::<f64>::class(&ind).omega().unwrap();
    assert!((omega - 5.0 * (1.0 - 4.0 / 12.0)).abs() < 1e-12);
    let (mean, err) = moments(&mut ind, &v, 40_000);
    let resid = dist2(&topk_reference(&v, 4), &v);
    for i in 0..d {
        assert!((mean[i] - v[i]).abs() < 0.06 * n2.sqrt(), "induced mean at {i}");
    }
    // Exact: E||U(r) - r||^2 = 5 ||r||^2 for rand-2 of 12 scaled by 6.
    assert!((err - 5.0 * resid).abs() < 0.05 * 5.0 * resid, "induced error {err}");

    // Chain: top-k then natural compression, a projection followed by omega = 1/8.
    let mut ch = Chain::new(TopK::new(d, 6).unwrap(), NaturalCompression::new(d).unwrap()).unwrap();
    let eps = Compressor::<f64>::class(&ch).eps().unwrap();
    assert!((eps - (0.5 + 0.125 * 0.5)).abs() < 1e-15);
    let (_, err) = moments(&mut ch, &v, 5_000);
    assert!(err <= eps * n2);
    // The message is 6 index-value pairs of sign + 11 exponent bits.
    let msg = ch.compress(&v, &mut vec![0.0; d], &mut rng::seeded(0)).unwrap();
    assert_eq!(msg.bits, 6 * (12 + index_bits(d)));

    // Two unbiased compressors compose multiplicatively.
    let ch =
        Chain::new(RandK::unbiased(d, 6).unwrap(), NaturalCompression::new(d).unwrap()).unwrap();
    let omega = Compressor::<f64>::class(&ch).omega().unwrap();
    assert!((omega - (2.0 * 1.125 - 1.0)).abs() < 1e-15);

    // A chain whose bound is not a contraction, and wrong classes, are refused.
    assert!(Chain::<_, _, f64>::new(TopK::new(d, 1).unwrap(), Qsgd::new(d, 1).unwrap()).is_err());
    assert!(Chain::<_, _, f64>::new(TopK::new(d, 1).unwrap(), TopK::new(d, 2).unwrap()).is_err());
    assert!(Scaled::new::<f64>(TopK::new(d, 1).unwrap()).is_err());
    assert!(
        Induced::<_, _, f64>::new(RandK::unbiased(d, 2).unwrap(), RandK::unbiased(d, 2).unwrap())
            .is_err()
    );
    assert!(
        Chain::<_, _, f64>::new(TopK::new(d, 1).unwrap(), NaturalCompression::new(d + 1).unwrap())
            .is_err()
    );
}

#[test]
fn compressors_are_functions_of_input_and_generator_state() {
    let d = 30;
    let v = gaussian(d, 12);
    let all: Vec<Box<dyn Compressor<f64>>> = vec![
        Box::new(Identity::new(d).unwrap()),
        Box::new(TopK::new(d, 5).unwrap()),
        Box::new(RandK::unbiased(d, 5).unwrap()),
        Box::new(ScaledSign::new(d).unwrap()),
        Box::new(Qsgd::new(d, 4).unwrap()),
        Box::new(NaturalDithering::new(d, 4).unwrap()),
        Box::new(NaturalCompression::new(d).unwrap()),
        Box::new(
            Chain::new(TopK::new(d, 5).unwrap(), NaturalCompression::new(d).unwrap()).unwrap(),
        ),
    ];
    for c in all {
        let mut a = c.clone();
        let first = compress(&mut a, &v, 1);
        // A used compressor gives the same output for the same generator state.
        let _ = compress(&mut a, &gaussian(d, 99), 7);
        assert_eq!(compress(&mut a, &v, 1), first, "{}", c.name());
        let mut b = c.clone();
        assert_eq!(compress(&mut b, &v, 1), first, "{} (clone)", c.name());
        if c.is_random() {
            assert_ne!(compress(&mut b, &v, 2), first, "{} ignores its seed", c.name());
        }
    }
}

#[test]
fn wire_sizes() {
    let d = 1000;
    let v = gaussian(d, 13);
    let mut out = vec![0.0f32; d];
    let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    let mut r = rng::seeded(0);
    let bits = |c: &mut dyn Compressor<f32>, out: &mut [f32], r: &mut gradus_core::Rng| {
        c.compress(&v32, out, r).unwrap().bits
    };
    assert_eq!(bits(&mut Identity::new(d).unwrap(), &mut out, &mut r), 32_000);
    assert_eq!(bits(&mut TopK::new(d, 10).unwrap(), &mut out, &mut r), 10 * (32 + 10));
    assert_eq!(bits(&mut RandK::unbiased(d, 10).unwrap(), &mut out, &mut r), 10 * (32 + 10));
    assert_eq!(bits(&mut ScaledSign::new(d).unwrap(), &mut out, &mut r), 32 + 1000);
    // QSGD with 3 levels: sign + 2 bits per value, dense unless mostly zeros.
    let q = bits(&mut Qsgd::new(d, 3).unwrap(), &mut out, &mut r);
    let nnz = out.iter().filter(|&&x| x != 0.0).count() as u64;
    assert_eq!(q, 32 + (3 * 1000).min(nnz * (3 + 10)));
    assert_eq!(bits(&mut NaturalCompression::new(d).unwrap(), &mut out, &mut r), 9 * 1000);
}

#[test]
fn bad_input_is_an_error_naming_it() {
    let d = 6;
    let mut v = vec![1.0f64; d];
    v[4] = f64::NAN;
    let all: Vec<Box<dyn Compressor<f64>>> = vec![
        Box::new(Identity::new(d).unwrap()),
        Box::new(ScaledIdentity::new(d, 0.5).unwrap()),
        Box::new(TopK::new(d, 2).unwrap()),
        Box::new(RandK::unbiased(d, 2).unwrap()),
        Box::new(ScaledSign::new(d).unwrap()),
        Box::new(Qsgd::new(d, 2).unwrap()),
        Box::new(NaturalDithering::new(d, 2).unwrap()),
        Box::new(NaturalCompression::new(d).unwrap()),
    ];
    for mut c in all {
        let mut out = vec![0.0; d];
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            v[4] = bad;
            let mut r = rng::seeded(1);
            let before = r.clone();
            let err = c.compress(&v, &mut out, &mut r).unwrap_err();
            assert_eq!(
                err,
                Error::NonFinite { what: "compressor input", index: 4 },
                "{}",
                c.name()
            );
            assert_eq!(r, before, "{} consumed randomness on bad input", c.name());
        }
        let err = c.compress(&v[..d - 1], &mut out, &mut rng::seeded(1)).unwrap_err();
        assert!(matches!(err, Error::LengthMismatch { what: "compressor input", .. }));
        let err = c.compress(&vec![0.0; d], &mut out[..2], &mut rng::seeded(1)).unwrap_err();
        assert!(matches!(err, Error::LengthMismatch { what: "compressor output", .. }));
    }
    for bad in [TopK::new(5, 0), TopK::new(5, 6)] {
        assert!(matches!(bad, Err(Error::InvalidHyperparameter { field: "k", .. })));
    }
    assert!(RandK::unbiased(5, 0).is_err());
    assert!(TopK::new(0, 0).is_err());
    assert!(matches!(Qsgd::new(5, 0), Err(Error::InvalidHyperparameter { field: "levels", .. })));
    assert!(NaturalDithering::new(5, 33).is_err());
}

#[test]
fn extreme_finite_values_stay_finite_or_are_refused() {
    let v = [f64::MAX, -f64::MAX, f64::MIN_POSITIVE, 5e-324, 0.0, -0.0];
    let d = v.len();
    let mut out = vec![0.0; d];
    let mut r = rng::seeded(2);
    for (mut c, norm_based) in [
        (Box::new(TopK::new(d, 3).unwrap()) as Box<dyn Compressor<f64>>, false),
        (Box::new(ScaledSign::new(d).unwrap()), false),
        (Box::new(NaturalCompression::new(d).unwrap()), false),
        (Box::new(Qsgd::new(d, 4).unwrap()), true),
        (Box::new(NaturalDithering::new(d, 4).unwrap()), true),
    ] {
        for _ in 0..50 {
            match c.compress(&v, &mut out, &mut r) {
                Ok(_) => assert!(out.iter().all(|x| x.is_finite()), "{}: {out:?}", c.name()),
                // The norm of (MAX, -MAX, ...) is not representable; quantisers send it.
                Err(e) => {
                    assert!(norm_based, "{}: {e}", c.name());
                    assert_eq!(e, Error::NonFinite { what: "compressor input norm", index: 0 });
                }
            }
        }
        let half: Vec<f64> = v.iter().map(|x| x / 4.0).collect();
        c.compress(&half, &mut out, &mut r).unwrap();
        assert!(out.iter().all(|x| x.is_finite()), "{}: {out:?}", c.name());
    }
}

#[test]
fn scaled_sign_stays_in_its_ball_when_the_scale_underflows() {
    let mut r = rng::seeded(0);
    // f32: (1e-45, 0) has ||v||_1 / d = 7e-46, which rounds to 0 in f32.
    let v32 = [1e-45f32, 0.0];
    let mut out32 = [1.0f32; 2];
    let mut c = ScaledSign::new(2).unwrap();
    let msg = Compressor::<f32>::compress(&mut c, &v32, &mut out32, &mut r).unwrap();
    let err: f64 = v32.iter().zip(&out32).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
    let norm: f64 = v32.iter().map(|&a| (a as f64).powi(2)).sum();
    assert!(err <= 0.5 * norm, "{out32:?}");
    assert_eq!(msg.nnz, out32.iter().filter(|x| **x != 0.0).count());
    // f64: one entry of the smallest subnormal among 999 zeros, and a few subnormals.
    for v in [
        {
            let mut v = vec![0.0f64; 1000];
            v[7] = -5e-324;
            v
        },
        vec![5e-324, -1e-323, 0.0, 2e-323],
        vec![1e-320, 1e-321, -3e-322],
    ] {
        let d = v.len();
        let mut c = ScaledSign::new(d).unwrap();
        let mut out = vec![0.0; d];
        let msg = c.compress(&v, &mut out, &mut r).unwrap();
        // Scale by an exact power of two so that the squares do not underflow.
        let s = 2f64.powi(1000);
        let vs: Vec<f64> = v.iter().map(|x| x * s).collect();
        let os: Vec<f64> = out.iter().map(|x| x * s).collect();
        assert!(dist2(&os, &vs) <= (1.0 - 1.0 / d as f64) * sq(&vs), "{v:?} -> {out:?}");
        assert_eq!(msg.nnz, out.iter().filter(|x| **x != 0.0).count(), "{v:?}");
        assert!(msg.bits <= 64 + 2 * d as u64);
    }
}
