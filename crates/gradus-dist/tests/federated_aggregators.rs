//! Aggregators against scalar references, closed forms and invariants (papers 05, 09).

use gradus_core::{Error, Par, rng};
use gradus_dist::federated::aggregate::weighted_sum;
use gradus_dist::federated::aggregate::{
    Aggregator, CenteredClipping, Krum, Weiszfeld, WeiszfeldStart,
};
use gradus_dist::federated::gram::{GRAM_COLUMNS, gram, sq_dist, sq_dist_from_gram};
use gradus_dist::federated::{NonFinitePolicy, Updates, stack_rows};
use gradus_models::data::normal;
use proptest::prelude::*;

const REJECT: NonFinitePolicy = NonFinitePolicy::Reject;

fn random_rows(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut r = rng::seeded(seed);
    (0..n * d).map(|_| normal(&mut r)).collect()
}

fn agg(rule: &Aggregator, x: &[f64], n: usize, d: usize) -> Vec<f64> {
    rule.aggregate(Updates::new(x, n, d).unwrap(), REJECT, Par::Rayon).unwrap().vector
}

fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn column(x: &[f64], n: usize, d: usize, j: usize) -> Vec<f64> {
    (0..n).map(|i| x[i * d + j]).collect()
}

#[test]
fn mean_median_trimmed_match_per_coordinate_references() {
    for (n, d) in [(1, 5), (2, 3), (7, 300), (10, 1000)] {
        let x = random_rows(n, d, 11 + n as u64);
        let mean = agg(&Aggregator::Mean, &x, n, d);
        let med = agg(&Aggregator::Median, &x, n, d);
        let b = (n - 1) / 2;
        let tm = agg(&Aggregator::TrimmedMean { b }, &x, n, d);
        for j in 0..d {
            let mut c = column(&x, n, d, j);
            let m: f64 = c.iter().sum::<f64>() / n as f64;
            assert!((mean[j] - m).abs() <= 1e-12 * (1.0 + m.abs()), "mean {j}");
            c.sort_by(f64::total_cmp);
            let want = if n % 2 == 1 { c[n / 2] } else { 0.5 * (c[n / 2 - 1] + c[n / 2]) };
            assert_eq!(med[j], want, "median {j}");
            let t: f64 = c[b..n - b].iter().sum::<f64>() / (n - 2 * b) as f64;
            assert!((tm[j] - t).abs() <= 1e-12 * (1.0 + t.abs()), "trimmed {j}");
        }
    }
}

#[test]
fn trimmed_mean_with_zero_trim_is_the_mean() {
    let (n, d) = (9, 77);
    let x = random_rows(n, d, 3);
    let a = agg(&Aggregator::TrimmedMean { b: 0 }, &x, n, d);
    let m = agg(&Aggregator::Mean, &x, n, d);
    assert!(max_abs_diff(&a, &m) < 1e-14);
}

#[test]
fn gram_matches_direct_inner_products_across_column_pieces() {
    let (n, d) = (6, 3 * GRAM_COLUMNS + 17);
    let x = random_rows(n, d, 5);
    let u = Updates::new(&x, n, d).unwrap();
    let g = gram(u, Par::Rayon).unwrap();
    for i in 0..n {
        for j in 0..n {
            let exact: f64 = (0..d).map(|k| x[i * d + k] * x[j * d + k]).sum();
            assert!((g[i * n + j] - exact).abs() < 1e-10 * d as f64, "G[{i},{j}]");
            assert_eq!(g[i * n + j], g[j * n + i]);
        }
        let dd: f64 = (0..d).map(|k| (x[i * d + k] - x[k]).powi(2)).sum();
        assert!((sq_dist(u.row(i), u.row(0)).unwrap() - dd).abs() < 1e-9 * dd.max(1.0));
    }
}

/// Blanchard's Krum by brute force with direct distances.
fn krum_reference(x: &[f64], n: usize, d: usize, f: usize, nb: usize) -> (Vec<f64>, Vec<usize>) {
    let dist =
        |i: usize, j: usize| -> f64 { (0..d).map(|k| (x[i * d + k] - x[j * d + k]).powi(2)).sum() };
    let scores: Vec<f64> = (0..n)
        .map(|i| {
            let mut v: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| dist(i, j)).collect();
            v.sort_by(f64::total_cmp);
            v[..nb].iter().sum()
        })
        .collect();
    let _ = f;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    (scores, order)
}

#[test]
fn krum_and_multi_krum_match_brute_force() {
    for (n, d, f) in [(5, 40, 1), (12, 500, 3), (20, 9000, 6)] {
        let x = random_rows(n, d, 100 + n as u64);
        let u = Updates::new(&x, n, d).unwrap();
        for nb in [n - f - 2, n - f - 1] {
            let (scores, order) = krum_reference(&x, n, d, f, nb);
            let k = Krum { f, m: 1, neighbours: Some(nb) };
            let a = Aggregator::Krum(k).aggregate(u, REJECT, Par::Rayon).unwrap();
            assert_eq!(a.selected, vec![order[0]]);
            assert_eq!(a.vector, u.row(order[0]).to_vec(), "Krum returns an input vector");
            for (got, want) in a.scores.iter().zip(&scores) {
                assert!((got - want).abs() < 1e-9 * want);
            }
            let m = 4;
            let a = Aggregator::Krum(Krum { m, ..k }).aggregate(u, REJECT, Par::Seq).unwrap();
            let mut best = order[..m].to_vec();
            best.sort_unstable();
            assert_eq!(a.selected, best);
            for j in 0..d {
                let want: f64 = best.iter().map(|&i| x[i * d + j]).sum::<f64>() / m as f64;
                assert!((a.vector[j] - want).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn krum_picks_an_honest_vector_against_far_outliers() {
    let (n, d, f) = (11, 50, 4);
    let mut x = random_rows(n, d, 9);
    for i in 0..f {
        x[i * d..(i + 1) * d].iter_mut().for_each(|v| *v += 1e6);
    }
    let a = Aggregator::Krum(Krum::new(f))
        .aggregate(Updates::new(&x, n, d).unwrap(), REJECT, Par::Seq)
        .unwrap();
    assert!(a.selected[0] >= f);
}

#[test]
fn krum_precondition_is_an_error_naming_f() {
    let (n, d) = (6, 3);
    let x = random_rows(n, d, 1);
    let err =
        Aggregator::Krum(Krum::new(2)).aggregate(Updates::new(&x, n, d).unwrap(), REJECT, Par::Seq);
    assert!(matches!(err, Err(Error::InvalidHyperparameter { field: "f", .. })), "{err:?}");
    let err = Aggregator::Krum(Krum::multi(1, 7)).aggregate(
        Updates::new(&x, n, d).unwrap(),
        REJECT,
        Par::Seq,
    );
    assert!(matches!(err, Err(Error::InvalidHyperparameter { field: "m", .. })));
    let err = Aggregator::TrimmedMean { b: 3 }.aggregate(
        Updates::new(&x, n, d).unwrap(),
        REJECT,
        Par::Seq,
    );
    assert!(matches!(err, Err(Error::InvalidHyperparameter { field: "b", .. })));
}

/// Plain Weiszfeld with direct distances (the definition, paper 09 §2).
fn weiszfeld_reference(x: &[f64], n: usize, d: usize, cfg: &Weiszfeld) -> (Vec<f64>, Vec<f64>) {
    let mut z = match cfg.start {
        WeiszfeldStart::Mean => {
            (0..d).map(|j| (0..n).map(|i| x[i * d + j]).sum::<f64>() / n as f64).collect()
        }
        WeiszfeldStart::Zero => vec![0.0; d],
    };
    let obj = |z: &[f64]| -> f64 {
        (0..n).map(|i| (0..d).map(|j| (z[j] - x[i * d + j]).powi(2)).sum::<f64>().sqrt()).sum()
    };
    let mut objs = vec![obj(&z)];
    for _ in 0..cfg.max_iter {
        let beta: Vec<f64> = (0..n)
            .map(|i| {
                let r = (0..d).map(|j| (z[j] - x[i * d + j]).powi(2)).sum::<f64>().sqrt();
                1.0 / r.max(cfg.nu)
            })
            .collect();
        let s: f64 = beta.iter().sum();
        z = (0..d).map(|j| (0..n).map(|i| beta[i] * x[i * d + j]).sum::<f64>() / s).collect();
        objs.push(obj(&z));
    }
    (z, objs)
}

#[test]
fn weiszfeld_in_gram_space_matches_the_direct_iteration() {
    let (n, d) = (9, 2000);
    let x = random_rows(n, d, 21);
    let u = Updates::new(&x, n, d).unwrap();
    for start in [WeiszfeldStart::Mean, WeiszfeldStart::Zero] {
        for iters in 1..=8 {
            let cfg = Weiszfeld { nu: 1e-6, tol: 0.0, max_iter: iters, start };
            let a = Aggregator::GeometricMedian(cfg).aggregate(u, REJECT, Par::Rayon).unwrap();
            let (z, objs) = weiszfeld_reference(&x, n, d, &cfg);
            assert!(max_abs_diff(&a.vector, &z) < 1e-10, "iters {iters}");
            let obj = a.objective.unwrap();
            assert!((obj - objs[iters]).abs() < 1e-9 * obj);
            assert_eq!(a.iterations, iters);
            // The smoothed Weiszfeld objective never increases.
            assert!(objs.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-12)));
        }
    }
}

#[test]
fn geometric_median_is_stationary_and_reports_its_objective() {
    let (n, d) = (15, 300);
    let x = random_rows(n, d, 33);
    let cfg = Weiszfeld { tol: 1e-14, max_iter: 5000, ..Weiszfeld::default() };
    let a = Aggregator::GeometricMedian(cfg)
        .aggregate(Updates::new(&x, n, d).unwrap(), REJECT, Par::Seq)
        .unwrap();
    assert!(a.converged);
    let z = &a.vector;
    // First-order optimality: sum_i (z - x_i) / |z - x_i| = 0.
    let mut grad = vec![0.0; d];
    let mut obj = 0.0;
    for i in 0..n {
        let r = (0..d).map(|j| (z[j] - x[i * d + j]).powi(2)).sum::<f64>().sqrt();
        obj += r;
        for j in 0..d {
            grad[j] += (z[j] - x[i * d + j]) / r;
        }
    }
    let gnorm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    assert!(gnorm < 1e-5, "gradient norm {gnorm}");
    assert!((a.objective.unwrap() - obj).abs() < 1e-9 * obj);
}

#[test]
fn geometric_median_of_collinear_points_is_their_median() {
    // Points t_i * e on a line in R^4: the GM is the median point (odd count).
    let ts = [-3.0, 0.5, 1.0, 7.0, 100.0];
    let e = [0.5, -0.5, 0.5, 0.5];
    let x: Vec<f64> = ts.iter().flat_map(|t| e.iter().map(move |v| t * v)).collect();
    let cfg = Weiszfeld { tol: 1e-15, max_iter: 10_000, nu: 1e-12, ..Weiszfeld::default() };
    let z = agg(&Aggregator::GeometricMedian(cfg), &x, 5, 4);
    for (zj, ej) in z.iter().zip(e) {
        assert!((zj - 1.0 * ej).abs() < 1e-6, "{z:?}");
    }
}

#[test]
fn geometric_median_of_two_points_lies_on_their_segment() {
    let x = [0.0, 0.0, 3.0, 4.0];
    let z = agg(&Aggregator::GeometricMedian(Weiszfeld::default()), &x, 2, 2);
    // On the segment: z = t (3, 4) with t in [0, 1].
    let t = z[0] / 3.0;
    assert!((z[1] - 4.0 * t).abs() < 1e-9 && (-1e-9..=1.0 + 1e-9).contains(&t));
}

#[test]
fn geometric_median_is_translation_and_rotation_equivariant() {
    let (n, d) = (7, 6);
    let x = random_rows(n, d, 8);
    let cfg = Weiszfeld { tol: 1e-15, max_iter: 10_000, ..Weiszfeld::default() };
    let z = agg(&Aggregator::GeometricMedian(cfg), &x, n, d);
    let c: Vec<f64> = (0..d).map(|j| 10.0 + j as f64).collect();
    let shifted: Vec<f64> = x.iter().enumerate().map(|(k, v)| v + c[k % d]).collect();
    let zs = agg(&Aggregator::GeometricMedian(cfg), &shifted, n, d);
    for j in 0..d {
        assert!((zs[j] - z[j] - c[j]).abs() < 1e-6);
    }
    let q = gradus_models::data::random_orthogonal(d, &mut rng::seeded(4));
    let rot = |v: &[f64]| -> Vec<f64> {
        (0..d).map(|a| (0..d).map(|b| q[a * d + b] * v[b]).sum()).collect()
    };
    let rotated: Vec<f64> = (0..n).flat_map(|i| rot(&x[i * d..(i + 1) * d])).collect();
    let zr = agg(&Aggregator::GeometricMedian(cfg), &rotated, n, d);
    assert!(max_abs_diff(&zr, &rot(&z)) < 1e-6);
}

#[test]
fn geometric_median_stays_near_the_honest_points_under_far_outliers() {
    let (n, d, bad) = (11, 20, 5);
    let mut x = random_rows(n, d, 12);
    for i in 0..bad {
        x[i * d..(i + 1) * d].iter_mut().for_each(|v| *v = if i % 2 == 0 { 1e6 } else { -1e6 });
    }
    let z = agg(&Aggregator::GeometricMedian(Weiszfeld::default()), &x, n, d);
    let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
    // Honest points have norm ~ sqrt(20); the outliers sit at 4.5e6.
    assert!(norm < 50.0, "norm {norm}");
}

#[test]
fn centered_clipping_matches_its_definition() {
    let (n, d) = (8, 33);
    let x = random_rows(n, d, 41);
    let center: Vec<f64> = (0..d).map(|j| 0.1 * j as f64).collect();
    let cc = CenteredClipping { tau: 2.0, iterations: 3, center: Some(center.clone()) };
    let got = agg(&Aggregator::CenteredClipping(cc), &x, n, d);
    let mut v = center;
    for _ in 0..3 {
        let mut next = v.clone();
        for i in 0..n {
            let r = (0..d).map(|j| (x[i * d + j] - v[j]).powi(2)).sum::<f64>().sqrt();
            let c = (2.0 / r).min(1.0);
            for j in 0..d {
                next[j] += c * (x[i * d + j] - v[j]) / n as f64;
            }
        }
        v = next;
    }
    assert!(max_abs_diff(&got, &v) < 1e-12);
    // A radius larger than every distance makes one iteration the mean.
    let wide = CenteredClipping { tau: 1e9, ..CenteredClipping::default() };
    let m = agg(&Aggregator::Mean, &x, n, d);
    assert!(max_abs_diff(&agg(&Aggregator::CenteredClipping(wide), &x, n, d), &m) < 1e-12);
    let bad = CenteredClipping { tau: 0.0, ..CenteredClipping::default() };
    let err = Aggregator::CenteredClipping(bad).aggregate(
        Updates::new(&x, n, d).unwrap(),
        REJECT,
        Par::Seq,
    );
    assert!(matches!(err, Err(Error::InvalidHyperparameter { field: "tau", .. })));
}

fn all_rules(n: usize) -> Vec<Aggregator> {
    let f = (n - 3) / 2;
    vec![
        Aggregator::Mean,
        Aggregator::Median,
        Aggregator::TrimmedMean { b: (n - 1) / 2 },
        Aggregator::GeometricMedian(Weiszfeld::default()),
        Aggregator::GeometricMedian(Weiszfeld::byzfl()),
        Aggregator::Krum(Krum::new(f)),
        Aggregator::Krum(Krum::multi(f, n - f)),
        Aggregator::CenteredClipping(CenteredClipping { tau: 1.0, iterations: 3, center: None }),
    ]
}

#[test]
fn non_finite_clients_are_rejected_or_dropped_and_reported() {
    let (n, d) = (9, 40);
    let mut x = random_rows(n, d, 2);
    x[3 * d + 5] = f64::NAN;
    x[7 * d] = f64::INFINITY;
    let u = Updates::new(&x, n, d).unwrap();
    let kept: Vec<usize> = (0..n).filter(|&i| i != 3 && i != 7).collect();
    let mut sub = Vec::new();
    kept.iter().for_each(|&i| sub.extend_from_slice(u.row(i)));
    for rule in all_rules(kept.len()) {
        let err = rule.aggregate(u, NonFinitePolicy::Reject, Par::Seq);
        assert!(matches!(err, Err(Error::NonFinite { index: 3, .. })), "{} {err:?}", rule.name());
        let a = rule.aggregate(u, NonFinitePolicy::Drop, Par::Seq).unwrap();
        assert_eq!(a.dropped, vec![3, 7]);
        let b =
            rule.aggregate(Updates::new(&sub, kept.len(), d).unwrap(), REJECT, Par::Seq).unwrap();
        assert!(max_abs_diff(&a.vector, &b.vector) < 1e-12, "{}", rule.name());
    }
    // A finite client whose squared norm overflows is named as such.
    let mut y = random_rows(5, 4, 1);
    y[4..8].iter_mut().for_each(|v| *v = 1e200);
    let err =
        Aggregator::Krum(Krum::new(0)).aggregate(Updates::new(&y, 5, 4).unwrap(), REJECT, Par::Seq);
    assert!(
        matches!(err, Err(Error::NonFinite { index: 1, what }) if what.contains("squared norm"))
    );
}

#[test]
fn shapes_are_checked() {
    assert!(matches!(stack_rows(&[vec![1.0, 2.0], vec![3.0]]), Err(Error::LengthMismatch { .. })));
    assert!(Updates::new(&[1.0, 2.0, 3.0], 2, 2).is_err());
    assert!(Updates::new(&[], 0, 2).is_err());
    let bad = Weiszfeld { nu: 0.0, ..Weiszfeld::default() };
    let err = Aggregator::GeometricMedian(bad).aggregate_rows(&[vec![1.0]], REJECT, Par::Seq);
    assert!(matches!(err, Err(Error::InvalidHyperparameter { field: "nu", .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(24)))]

    #[test]
    fn symmetric_rules_ignore_client_order(
        n in 5usize..12, d in 1usize..40, seed in 0u64..1000, shift in 1usize..11,
    ) {
        let x = random_rows(n, d, seed);
        let perm: Vec<usize> = (0..n).map(|i| (i * (shift % n).max(1) + 3) % n).collect();
        let mut unique = perm.clone();
        unique.sort_unstable();
        unique.dedup();
        prop_assume!(unique.len() == n);
        let px: Vec<f64> = perm.iter().flat_map(|&i| x[i * d..(i + 1) * d].to_vec()).collect();
        for rule in all_rules(n) {
            let a = agg(&rule, &x, n, d);
            let b = agg(&rule, &px, n, d);
            match rule {
                Aggregator::Median | Aggregator::TrimmedMean { .. } => prop_assert_eq!(&a, &b),
                _ => prop_assert!(max_abs_diff(&a, &b) < 1e-9, "{}", rule.name()),
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count(n in 5usize..9, seed in 0u64..1000) {
        let d = 2 * GRAM_COLUMNS + 999;
        let x = random_rows(n, d, seed);
        for rule in all_rules(n) {
            let one = in_pool(1, || agg(&rule, &x, n, d));
            let three = in_pool(3, || agg(&rule, &x, n, d));
            let seq = rule.aggregate(Updates::new(&x, n, d).unwrap(), REJECT, Par::Seq).unwrap().vector;
            prop_assert_eq!(&one, &three, "{}", rule.name());
            prop_assert_eq!(&one, &seq, "{}", rule.name());
        }
    }
}

#[test]
fn trimmed_mean_with_a_huge_b_is_an_error_naming_b() {
    // `2 b` wraps for these b; the precondition must still fail instead of trimming garbage.
    let (n, d) = (5, 3);
    let x = random_rows(n, d, 4);
    let u = Updates::new(&x, n, d).unwrap();
    for b in [usize::MAX, usize::MAX / 2 + 1, usize::MAX / 2, 3] {
        for par in [Par::Seq, Par::Rayon] {
            let err = Aggregator::TrimmedMean { b }.aggregate(u, REJECT, par);
            assert!(matches!(err, Err(Error::InvalidHyperparameter { field: "b", .. })), "{b}");
        }
    }
    // The boundary: 2b < n is fine, 2b = n - 1 the largest b allowed.
    assert!(Aggregator::TrimmedMean { b: 2 }.aggregate(u, REJECT, Par::Seq).is_ok());
    let even = Updates::new(&x[..4 * d], 4, d).unwrap();
    assert!(Aggregator::TrimmedMean { b: 1 }.aggregate(even, REJECT, Par::Seq).is_ok());
    assert!(Aggregator::TrimmedMean { b: 2 }.aggregate(even, REJECT, Par::Seq).is_err());
}

#[test]
fn krum_with_a_huge_f_is_an_error_naming_f() {
    let (n, d) = (7, 3);
    let x = random_rows(n, d, 6);
    let u = Updates::new(&x, n, d).unwrap();
    for f in [usize::MAX, usize::MAX - 1, usize::MAX / 2, usize::MAX / 2 + 1, 3] {
        for neighbours in [None, Some(1)] {
            let k = Krum { f, m: 1, neighbours };
            let err = Aggregator::Krum(k).aggregate(u, REJECT, Par::Seq);
            assert!(
                matches!(err, Err(Error::InvalidHyperparameter { field: "f", .. })),
                "f = {f}, {neighbours:?}: {err:?}"
            );
        }
    }
    // n = 7 > 2f + 2 holds for f = 2.
    assert!(Aggregator::Krum(Krum::new(2)).aggregate(u, REJECT, Par::Seq).is_ok());
}

#[test]
fn krum_default_neighbours_are_n_minus_f_minus_2() {
    for (n, d, f) in [(5, 40, 1), (9, 30, 2), (12, 500, 3)] {
        let x = random_rows(n, d, 200 + n as u64);
        let u = Updates::new(&x, n, d).unwrap();
        let (scores, order) = krum_reference(&x, n, d, f, n - f - 2);
        for par in [Par::Seq, Par::Rayon] {
            let a = Aggregator::Krum(Krum::new(f)).aggregate(u, REJECT, par).unwrap();
            let b = Aggregator::Krum(Krum { f, m: 1, neighbours: Some(n - f - 2) })
                .aggregate(u, REJECT, par)
                .unwrap();
            assert_eq!(a, b);
            assert_eq!(a.selected, vec![order[0]]);
            for (got, want) in a.scores.iter().zip(&scores) {
                assert!((got - want).abs() < 1e-9 * want);
            }
            // One neighbour more is a different rule (byzfl's n - f - 1): other scores.
            let c = Aggregator::Krum(Krum { f, m: 1, neighbours: Some(n - f - 1) })
                .aggregate(u, REJECT, par)
                .unwrap();
            assert!(c.scores.iter().zip(&a.scores).all(|(c, a)| c > a));
        }
    }
}

#[test]
fn krum_distances_of_huge_near_parallel_clients_are_not_zero() {
    // G_ii + G_jj overflows for these clients while every G entry is finite; their
    // squared distance is b^2 = 1e300, not inf - inf = NaN clamped to 0.
    let a = 1.1e154;
    let b = 1e150;
    let x = vec![a, 0.0, a, b, 0.0, 0.0];
    let u = Updates::new(&x, 3, 2).unwrap();
    let g = gram(u, Par::Seq).unwrap();
    assert!(g.iter().all(|v| v.is_finite()));
    let direct = sq_dist(u.row(0), u.row(1)).unwrap();
    assert!((direct - b * b).abs() < 1e-12 * b * b);
    let from_gram = sq_dist_from_gram(&g, 3, 0, 1).unwrap();
    assert!((from_gram - b * b).abs() < 1e-6 * b * b, "{from_gram}");
    let k = Aggregator::Krum(Krum { f: 0, m: 1, neighbours: Some(1) });
    let out = k.aggregate(u, REJECT, Par::Seq).unwrap();
    for s in &out.scores[..2] {
        assert!((s - b * b).abs() < 1e-6 * b * b, "{s}");
    }
    assert!((out.scores[2] - a * a).abs() < 1e-12 * a * a);
}

#[test]
fn trimmed_mean_and_median_ignore_client_order_with_signed_zeros() {
    // Columns of signed zeros wide enough for the SIMD compare-exchange (min / max of equal
    // values return one operand, so -0 and +0 are not ordered by the network).
    let d = 16;
    let patterns: [&[f64]; 4] =
        [&[-0.0, 0.0, 0.0], &[-0.0, -0.0, 0.0], &[0.0, -0.0, -0.0, 0.0], &[-0.0, 0.0, -0.0, 1.0]];
    for p in patterns {
        let n = p.len();
        let b = (n - 1) / 2;
        let mut outs = Vec::new();
        for shift in 0..n {
            for rev in [false, true] {
                let order: Vec<usize> = (0..n)
                    .map(|i| if rev { (n - 1 - i + shift) % n } else { (i + shift) % n })
                    .collect();
                let x: Vec<f64> = order.iter().flat_map(|&i| vec![p[i]; d]).collect();
                let u = Updates::new(&x, n, d).unwrap();
                for par in [Par::Seq, Par::Rayon] {
                    let out: Vec<Vec<u64>> = [Aggregator::TrimmedMean { b }, Aggregator::Median]
                        .iter()
                        .map(|rule| {
                            let v = rule.aggregate(u, REJECT, par).unwrap().vector;
                            v.iter().map(|x| x.to_bits()).collect()
                        })
                        .collect();
                    outs.push(out);
                }
            }
        }
        assert!(outs.windows(2).all(|w| w[0] == w[1]), "{p:?}: {outs:?}");
    }
}

#[test]
fn public_distance_and_sum_helpers_check_their_inputs() {
    let (n, d) = (3, 4);
    let x = random_rows(n, d, 8);
    let u = Updates::new(&x, n, d).unwrap();
    // weighted_sum: the definition, and errors instead of panics or silent truncation.
    let w = [0.5, -2.0];
    let got = weighted_sum(u, &[2, 0], &w, Par::Seq).unwrap();
    for j in 0..d {
        assert!((got[j] - (0.5 * x[2 * d + j] - 2.0 * x[j])).abs() < 1e-14);
    }
    assert_eq!(weighted_sum(u, &[2, 0], &w, Par::Rayon).unwrap(), got);
    assert!(matches!(weighted_sum(u, &[3], &[1.0], Par::Seq), Err(Error::InvalidShape { .. })));
    assert!(matches!(
        weighted_sum(u, &[0, 1], &[1.0], Par::Seq),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        weighted_sum(u, &[0, 1], &[1.0, f64::NAN], Par::Seq),
        Err(Error::NonFinite { index: 1, .. })
    ));
    // sq_dist: no truncation to the shorter vector.
    assert_eq!(
        sq_dist(&[1.0, 2.0], &[1.0, 2.0, 3.0]),
        Err(Error::LengthMismatch { what: "vectors of a squared distance", expected: 2, got: 3 })
    );
    // sq_dist_from_gram: the definition, and checked shape and indices.
    let g = gram(u, Par::Seq).unwrap();
    let dd = sq_dist(u.row(0), u.row(2)).unwrap();
    assert!((sq_dist_from_gram(&g, n, 0, 2).unwrap() - dd).abs() < 1e-12 * dd);
    assert!(sq_dist_from_gram(&g, n, 0, 3).is_err());
    assert!(sq_dist_from_gram(&g, n, 3, 0).is_err());
    assert!(sq_dist_from_gram(&g[..8], n, 0, 1).is_err());
    assert!(sq_dist_from_gram(&g, usize::MAX, 0, 1).is_err());
}
