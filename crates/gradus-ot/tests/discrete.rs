//! Discrete OT references: Sinkhorn marginals, its limit as eps -> 0 against exact
//! assignments and the 1-D sorting plan, epsilon scaling, thread-count independence.

use gradus_core::{Par, rng};
use gradus_ot::DiscreteMeasure;
use gradus_ot::exact1d::exact_1d;
use gradus_ot::sinkhorn::{SinkhornConfig, half_squared_distances, plan, sinkhorn};
use rand::Rng as _;

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for k in 0..=p.len() {
            let mut q = p.clone();
            q.insert(k, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn marginals_and_dual_at_convergence() {
    let mut r = rng::seeded(1);
    let (n, m) = (30, 45);
    let x = DiscreteMeasure::new(
        2,
        (0..2 * n).map(|_| r.random()).collect(),
        (0..n).map(|_| 0.5 + r.random::<f64>()).collect(),
    )
    .unwrap();
    let y = DiscreteMeasure::new(
        2,
        (0..2 * m).map(|_| r.random()).collect(),
        (0..m).map(|_| 0.5 + r.random::<f64>()).collect(),
    )
    .unwrap();
    let c = half_squared_distances(&x, &y).unwrap();
    let cfg = SinkhornConfig { eps: 0.01, eps_start: Some(1.0), tol: 1e-10, ..Default::default() };
    let res = sinkhorn(x.weights(), y.weights(), &c, &cfg).unwrap();
    assert!(res.converged, "marginal error {}", res.marginal_error);
    let p = plan(x.weights(), y.weights(), &c, &res, cfg.eps).unwrap();
    for i in 0..n {
        let row: f64 = p[i * m..(i + 1) * m].iter().sum();
        assert!((row - x.weights()[i]).abs() < 1e-9);
    }
    for j in 0..m {
        let col: f64 = (0..n).map(|i| p[i * m + j]).sum();
        assert!((col - y.weights()[j]).abs() < 1e-9);
    }
    // Strong duality of entropic OT: <P, C> + eps KL(P | a b^T) = <a, f> + <b, g>.
    let kl: f64 = (0..n * m)
        .filter(|&k| p[k] > 0.0)
        .map(|k| p[k] * (p[k] / (x.weights()[k / m] * y.weights()[k % m])).ln())
        .sum();
    assert!(
        (res.cost + cfg.eps * kl - res.dual).abs() < 1e-8,
        "{} vs {}",
        res.cost + cfg.eps * kl,
        res.dual
    );
}

#[test]
fn small_eps_recovers_the_best_assignment() {
    let mut r = rng::seeded(2);
    let n = 6;
    let pts: Vec<f64> = (0..2 * n).map(|_| r.random()).collect();
    let qts: Vec<f64> = (0..2 * n).map(|_| r.random()).collect();
    let x = DiscreteMeasure::uniform(2, pts).unwrap();
    let y = DiscreteMeasure::uniform(2, qts).unwrap();
    let c = half_squared_distances(&x, &y).unwrap();
    let best = permutations(n)
        .iter()
        .map(|s| (0..n).map(|i| c[i * n + s[i]]).sum::<f64>() / n as f64)
        .fold(f64::INFINITY, f64::min);
    let cfg = SinkhornConfig {
        eps: 1e-4,
        eps_start: Some(1.0),
        tol: 1e-9,
        max_iter: 100_000,
        ..Default::default()
    };
    let res = sinkhorn(x.weights(), y.weights(), &c, &cfg).unwrap();
    assert!(res.converged);
    // The entropic plan costs at most eps log(n) more than the optimum (and never less).
    assert!(
        res.cost >= best - 1e-9 && res.cost <= best + cfg.eps * (n as f64).ln() + 1e-9,
        "{} vs {best}",
        res.cost
    );
}

#[test]
fn one_dimensional_limit_matches_sorting() {
    let mut r = rng::seeded(3);
    let (n, m) = (40, 25);
    let xs: Vec<f64> = (0..n).map(|_| r.random::<f64>() * 3.0).collect();
    let ys: Vec<f64> = (0..m).map(|_| r.random::<f64>() * 3.0 - 0.5).collect();
    let a: Vec<f64> = (0..n).map(|_| 0.2 + r.random::<f64>()).collect();
    let b: Vec<f64> = (0..m).map(|_| 0.2 + r.random::<f64>()).collect();
    let exact = exact_1d(&xs, &a, &ys, &b, 2.0).unwrap();
    let c: Vec<f64> = xs.iter().flat_map(|x| ys.iter().map(move |y| (x - y) * (x - y))).collect();
    let mut prev = f64::INFINITY;
    for eps in [1e-1, 1e-2, 1e-3] {
        let cfg = SinkhornConfig {
            eps,
            eps_start: Some(10.0),
            tol: 1e-10,
            max_iter: 200_000,
            ..Default::default()
        };
        let res = sinkhorn(&a, &b, &c, &cfg).unwrap();
        let gap = res.cost - exact.cost;
        assert!(gap > -1e-9 && gap < prev, "eps {eps}: gap {gap}");
        prev = gap;
    }
    assert!(prev < 5e-3 * exact.cost.max(1e-3), "gap {prev}");
}

#[test]
fn scaling_and_threads_do_not_change_the_answer() {
    let mut r = rng::seeded(4);
    let (n, m) = (50, 40);
    let c: Vec<f64> = (0..n * m).map(|_| r.random()).collect();
    let (a, b) = (vec![1.0; n], vec![1.0; m]);
    let with = SinkhornConfig {
        eps: 0.05,
        eps_start: Some(2.0),
        tol: 1e-12,
        max_iter: 50_000,
        ..Default::default()
    };
    let without = SinkhornConfig { eps_start: None, ..with };
    let r1 = sinkhorn(&a, &b, &c, &with).unwrap();
    let r2 = sinkhorn(&a, &b, &c, &without).unwrap();
    assert!((r1.cost - r2.cost).abs() < 1e-10);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| sinkhorn(&a, &b, &c, &SinkhornConfig { par: Par::Rayon, ..with }).unwrap())
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn bad_inputs_are_errors() {
    let cfg = SinkhornConfig::default();
    assert!(sinkhorn(&[], &[1.0], &[], &cfg).is_err());
    assert!(sinkhorn(&[1.0], &[1.0], &[1.0, 2.0], &cfg).is_err());
    assert!(sinkhorn(&[1.0], &[0.0], &[1.0], &cfg).is_err());
    assert!(sinkhorn(&[1.0], &[1.0], &[f64::NAN], &cfg).is_err());
    assert!(sinkhorn(&[1.0], &[1.0], &[1.0], &SinkhornConfig { eps: 0.0, ..cfg }).is_err());
    assert!(sinkhorn(&[1.0], &[1.0], &[1.0], &SinkhornConfig { scaling: 1.0, ..cfg }).is_err());
}

/// Subnormal `eps`: `e * scaling` rounds back to `e` two ulps above it, so a schedule that
/// only multiplied would never end (the fuzzer ran it out of memory). It must return.
#[test]
fn epsilon_scaling_among_subnormals_terminates() {
    let tiny = f64::from_bits(1);
    let cfg = SinkhornConfig {
        eps: tiny,
        eps_start: Some(f64::from_bits(2)),
        scaling: 0.99,
        max_iter: 3,
        ..SinkhornConfig::default()
    };
    match sinkhorn(&[1.0, 1.0], &[1.0], &[0.5, 1.5], &cfg) {
        Ok(r) => assert!(r.f.iter().chain(&r.g).all(|v| v.is_finite())),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// The 1-D sorting plan against every assignment of six atoms.
#[test]
fn sorting_plan_is_the_best_assignment() {
    let x = [0.3, -1.2, 2.5, 0.9, 0.0, 1.7];
    let y = [1.1, -0.4, 0.2, 3.0, -2.0, 0.6];
    for p in [1.0, 2.0, 3.5] {
        let plan = exact_1d(&x, &[1.0; 6], &y, &[1.0; 6], p).unwrap();
        let best = permutations(6)
            .iter()
            .map(|s| (0..6).map(|i| (x[i] - y[s[i]]).abs().powf(p)).sum::<f64>() / 6.0)
            .fold(f64::INFINITY, f64::min);
        assert!((plan.cost - best).abs() < 1e-12, "p={p}: {} vs {best}", plan.cost);
        let rows: f64 = plan.entries.iter().map(|e| e.2).sum();
        assert!((rows - 1.0).abs() < 1e-12);
    }
}
