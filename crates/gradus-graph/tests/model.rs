//! `p_theta(G)` against brute-force enumeration: probabilities sum to one, sampling matches
//! them, the score-function gradient matches finite differences of the exact expected
//! utility (plain and budget-truncated), the REINFORCE estimate is unbiased up to the mean
//! baseline's `(M - 1) / M`, and bad input is refused.

use std::collections::HashMap;

use gradus_core::{Error, rng};
use gradus_graph::model::for_each_graph;
use gradus_graph::{CostModel, Graph, GraphDistribution, GraphSpace, Node, Role};
use proptest::prelude::*;

fn random_theta(space: &GraphSpace, seed: u64, scale: f64) -> Vec<f64> {
    let mut r = rng::seeded(seed);
    (0..space.dim()).map(|_| scale * (2.0 * r.random::<f64>() - 1.0)).collect()
}

fn all_graphs(space: &GraphSpace) -> Vec<Graph> {
    let mut out = Vec::new();
    for_each_graph(space, 100_000, |g| out.push(g.clone())).unwrap();
    out
}

/// A utility that depends on every kind of choice.
fn utility(g: &Graph) -> f64 {
    let nodes: f64 = g
        .nodes()
        .iter()
        .map(|v| {
            (0.3 * v.family as f64 + 0.2 * v.size as f64 + 0.1 * v.role.index() as f64)
                * (v.layer + 1) as f64
        })
        .sum();
    nodes + 0.07 * g.edge_count() as f64 + 0.5 * g.depth() as f64 - 0.2 * g.max_width() as f64
}

fn small_spaces() -> Vec<GraphSpace> {
    vec![
        GraphSpace::new(2, 2, 2, 1).unwrap(),
        GraphSpace::new(3, 1, 1, 2).unwrap(),
        GraphSpace::new(1, 3, 2, 2).unwrap(),
        GraphSpace::new(2, 2, 1, 2).unwrap(),
    ]
}

#[test]
fn enumeration_matches_the_size_formula_and_probabilities_sum_to_one() {
    for (k, space) in small_spaces().into_iter().enumerate() {
        let graphs = all_graphs(&space);
        let expected = 10f64.powf(space.log10_size());
        assert!((graphs.len() as f64 - expected).abs() < 1e-6 * expected, "{space:?}");
        let distinct: std::collections::HashSet<&Graph> = graphs.iter().collect();
        assert_eq!(distinct.len(), graphs.len(), "enumeration repeats a graph");
        for scale in [0.0, 1.0, 4.0] {
            let dist =
                GraphDistribution::new(&space, &random_theta(&space, k as u64, scale)).unwrap();
            let total: f64 = graphs.iter().map(|g| dist.log_prob(g).unwrap().exp()).sum();
            assert!((total - 1.0).abs() < 1e-12, "{space:?} scale {scale}: sum {total}");
        }
    }
}

#[test]
fn sample_frequencies_match_exact_probabilities() {
    let space = GraphSpace::new(2, 2, 2, 1).unwrap();
    let dist = GraphDistribution::new(&space, &random_theta(&space, 9, 1.5)).unwrap();
    let n = 200_000;
    let mut counts: HashMap<Graph, usize> = HashMap::new();
    let mut r = rng::seeded(4);
    let mut g = Graph::default();
    for _ in 0..n {
        dist.sample(&mut r, &mut g);
        *counts.entry(g.clone()).or_default() += 1;
    }
    let (mut checked, mut rare_p, mut rare_f) = (0, 0.0, 0.0);
    for g in all_graphs(&space) {
        let p = dist.log_prob(&g).unwrap().exp();
        let f = *counts.get(&g).unwrap_or(&0) as f64 / n as f64;
        // The normal approximation of the binomial count needs n p well above 1.
        if p > 1e-3 {
            let sigma = (p * (1.0 - p) / n as f64).sqrt();
            assert!((f - p).abs() < 5.0 * sigma, "p {p} vs frequency {f}");
            checked += 1;
        } else {
            rare_p += p;
            rare_f += f;
        }
    }
    assert!(checked > 10);
    let sigma = (rare_p * (1.0 - rare_p) / n as f64).sqrt();
    assert!((rare_f - rare_p).abs() < 5.0 * sigma, "rare graphs: mass {rare_p} vs {rare_f}");
}

fn cost_model(space: &GraphSpace) -> CostModel {
    let params: Vec<f64> =
        (0..space.families() * space.sizes()).map(|m| 1.0 + 3.0 * m as f64).collect();
    CostModel::new(space.families(), space.sizes(), params, 100.0, 200.0).unwrap()
}

/// Exact `J(theta) = sum_G p(G) U(G) 1[feasible] / Z` (Z = 1 without truncation) and its
/// gradient in covariance form `sum_G p~(G) (U(G) - J) grad log p(G)`.
fn exact(
    space: &GraphSpace,
    graphs: &[Graph],
    theta: &[f64],
    feasible: &dyn Fn(&Graph) -> bool,
) -> (f64, Vec<f64>) {
    let dist = GraphDistribution::new(space, theta).unwrap();
    let mut z = 0.0;
    let mut j = 0.0;
    for g in graphs.iter().filter(|g| feasible(g)) {
        let p = dist.log_prob(g).unwrap().exp();
        z += p;
        j += p * utility(g);
    }
    j /= z;
    let mut grad = vec![0.0; space.dim()];
    for g in graphs.iter().filter(|g| feasible(g)) {
        let p = dist.log_prob(g).unwrap().exp() / z;
        dist.add_score(g, p * (utility(g) - j), &mut grad).unwrap();
    }
    (j, grad)
}

fn check_against_finite_differences(space: &GraphSpace, feasible: &dyn Fn(&Graph) -> bool) {
    let graphs = all_graphs(space);
    let theta = random_theta(space, 21, 1.0);
    let (_, grad) = exact(space, &graphs, &theta, feasible);
    let h = 1e-5;
    let mut worst: f64 = 0.0;
    for k in 0..space.dim() {
        let mut tp = theta.clone();
        let mut tm = theta.clone();
        tp[k] += h;
        tm[k] -= h;
        let fd = (exact(space, &graphs, &tp, feasible).0 - exact(space, &graphs, &tm, feasible).0)
            / (2.0 * h);
        worst = worst.max((fd - grad[k]).abs());
    }
    let scale = grad.iter().map(|g| g.abs()).fold(0.0, f64::max);
    assert!(scale > 1e-3, "the test utility must move the objective");
    assert!(worst < 1e-7 * (1.0 + scale), "largest |fd - score gradient| = {worst:e}");
}

#[test]
fn score_gradient_matches_finite_differences_of_the_exact_expected_utility() {
    for space in small_spaces() {
        check_against_finite_differences(&space, &|_| true);
    }
}

#[test]
fn truncated_score_gradient_with_exact_baseline_matches_finite_differences() {
    for space in small_spaces() {
        let cost = cost_model(&space);
        let all = all_graphs(&space);
        let costs: Vec<f64> = all.iter().map(|g| cost.flops(g).unwrap()).collect();
        let mut sorted = costs.clone();
        sorted.sort_by(f64::total_cmp);
        let budget = sorted[sorted.len() / 3];
        let feasible = |g: &Graph| cost.flops(g).unwrap() <= budget;
        assert!(costs.iter().any(|&c| c > budget) && costs.iter().any(|&c| c <= budget));
        check_against_finite_differences(&space, &feasible);
    }
}

#[test]
fn reinforce_estimate_is_unbiased_up_to_the_mean_baseline_factor() {
    // With b = the batch mean, E[(1/M) sum (U_i - b) grad log p(G_i)] = (M - 1)/M grad J.
    let space = GraphSpace::new(2, 2, 2, 1).unwrap();
    let graphs = all_graphs(&space);
    let theta = random_theta(&space, 5, 1.0);
    let (_, exact_grad) = exact(&space, &graphs, &theta, &|_| true);
    let dist = GraphDistribution::new(&space, &theta).unwrap();
    let (m, batches) = (8usize, 20_000usize);
    let mut sum = vec![0.0; space.dim()];
    let mut sum_sq = vec![0.0; space.dim()];
    let mut est = vec![0.0; space.dim()];
    let mut batch = vec![Graph::default(); m];
    let mut r = rng::seeded(77);
    for _ in 0..batches {
        for g in batch.iter_mut() {
            dist.sample(&mut r, g);
        }
        let b = batch.iter().map(utility).sum::<f64>() / m as f64;
        est.fill(0.0);
        for g in &batch {
            dist.add_score(g, (utility(g) - b) / m as f64, &mut est).unwrap();
        }
        for k in 0..est.len() {
            sum[k] += est[k];
            sum_sq[k] += est[k] * est[k];
        }
    }
    let n = batches as f64;
    let factor = (m as f64 - 1.0) / m as f64;
    for k in 0..est.len() {
        let mean = sum[k] / n;
        let se = ((sum_sq[k] / n - mean * mean).max(0.0) / n).sqrt();
        assert!(
            (mean - factor * exact_grad[k]).abs() < 5.0 * se + 1e-9,
            "coordinate {k}: {mean} vs {}",
            factor * exact_grad[k]
        );
    }
}

#[test]
fn bad_input_is_refused_and_leaves_the_distribution_unchanged() {
    let space = GraphSpace::new(2, 3, 2, 2).unwrap();
    let mut theta = random_theta(&space, 1, 1.0);
    let mut dist = GraphDistribution::new(&space, &theta).unwrap();
    let before = dist.clone();
    theta[3] = f64::NAN;
    assert_eq!(dist.update(&theta), Err(Error::NonFinite { what: "theta", index: 3 }));
    assert!(matches!(dist.update(&theta[1..]), Err(Error::LengthMismatch { .. })));
    assert_eq!(dist, before);
    assert!(GraphDistribution::new(&space, &[]).is_err());
    assert!(GraphSpace::new(0, 3, 1, 1).is_err());
    assert!(GraphSpace::new(2, 3, 0, 1).is_err());
    assert!(GraphSpace::new(200, 200, 1, 1).is_err());

    let cost = cost_model(&space);
    let mut g = Graph::default();
    let mut r = rng::seeded(0);
    for budget in [-1.0, 0.0, f64::NAN, f64::INFINITY, 0.5 * cost.min_graph_flops()] {
        let e = dist.sample_within(&mut r, &cost, budget, 10, &mut g).unwrap_err();
        assert!(matches!(e, Error::InvalidHyperparameter { field: "budget", .. }), "{e}");
    }
    // A budget only the cheapest graph meets, with a distribution that avoids it: capped.
    let e = dist.sample_within(&mut r, &cost, cost.min_graph_flops(), 3, &mut g).unwrap_err();
    assert!(matches!(e, Error::NoConvergence { iterations: 3, .. }), "{e}");

    // Wrong pool size, graphs outside the space, non-finite score weights.
    let other = CostModel::new(3, 2, vec![1.0; 6], 10.0, 10.0).unwrap();
    assert!(matches!(
        dist.sample_within(&mut r, &other, 1e15, 3, &mut g),
        Err(Error::StateMismatch { .. })
    ));
    let deep = Graph::chain(0, 0, 3).unwrap();
    assert!(dist.log_prob(&deep).is_err());
    let foreign = Graph::parallel(5, 0, 1).unwrap();
    assert!(dist.log_prob(&foreign).is_err());
    let mut grad = vec![0.0; space.dim()];
    let ok = Graph::parallel(1, 1, 2).unwrap();
    assert!(dist.add_score(&ok, f64::NAN, &mut grad).is_err());
    assert!(dist.add_score(&ok, 1.0, &mut grad[1..]).is_err());
    assert!(grad.iter().all(|&x| x == 0.0));
    assert!(CostModel::new(0, 2, vec![], 1.0, 1.0).is_err());
    assert!(CostModel::new(1, 2, vec![1.0, f64::NAN], 1.0, 1.0).is_err());
    assert!(CostModel::new(1, 2, vec![1.0, -2.0], 1.0, 1.0).is_err());
}

#[test]
fn graph_constructors_validate_structure() {
    let v = |layer, slot, role| Node { layer, slot, family: 0, size: 0, role };
    assert!(Graph::new(vec![], vec![], vec![]).is_err());
    assert!(Graph::new(vec![0], vec![], vec![]).is_err());
    assert!(Graph::new(vec![1], vec![v(0, 0, Role::Refine)], vec![]).is_err());
    assert!(
        Graph::new(vec![1, 1], vec![v(0, 0, Role::Generate), v(1, 0, Role::Refine)], vec![])
            .is_err()
    );
    assert!(
        Graph::new(vec![2], vec![v(0, 1, Role::Generate), v(0, 0, Role::Generate)], vec![])
            .is_err()
    );
    let g = Graph::grid(1, 0, 3, 2, Role::Aggregate).unwrap();
    assert_eq!((g.depth(), g.max_width(), g.edge_count()), (2, 3, 9));
    assert_eq!(g.in_degree(4), 3);
    assert_eq!(Graph::chain(0, 1, 4).unwrap().edge_count(), 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(64)))]

    /// Every graph drawn within a budget is a valid, acyclic (layered) graph of the space
    /// costing at most the budget, with a finite exact log-probability.
    #[test]
    fn budget_restricted_samples_never_exceed_the_budget(
        seed in 0u64..1000,
        scale in 0.0f64..6.0,
        factor in 1.0f64..40.0,
    ) {
        let space = GraphSpace::new(4, 8, 2, 3).unwrap();
        let cost = cost_model(&space);
        let dist = GraphDistribution::new(&space, &random_theta(&space, seed, scale)).unwrap();
        let budget = factor * cost.min_graph_flops();
        let mut r = rng::seeded(seed);
        let mut g = Graph::default();
        for _ in 0..20 {
            match dist.sample_within(&mut r, &cost, budget, 2000, &mut g) {
                Ok(_) => {
                    prop_assert!(cost.flops(&g).unwrap() <= budget);
                    let rebuilt = Graph::new(g.widths().to_vec(), g.nodes().to_vec(), g.edges().to_vec());
                    prop_assert_eq!(rebuilt.as_ref(), Ok(&g));
                    prop_assert!(dist.log_prob(&g).unwrap().is_finite());
                }
                Err(e) => prop_assert!(matches!(e, Error::NoConvergence { .. }), "{}", e),
            }
        }
    }
}
