//! The simulated environment against independent references: one call reproduces the
//! published accuracy, voting and refinement chains match their closed forms
//! (`env::theory`, quadrature), costs and latencies match hand computations; evaluations are
//! deterministic and thread-count independent; bad input is refused.

use gradus_core::{Error, Par, rng};
use gradus_graph::env::{ModelPool, SimEnv, TaskProfile, theory};
use gradus_graph::{Environment, Graph, Node, Role};

const Q: usize = 20_000;

fn env(task: TaskProfile, questions: usize) -> SimEnv {
    SimEnv::new(ModelPool::open_2024(), task, 16, questions, 11).unwrap()
}

/// Four standard errors of an accuracy measured on `n` questions.
fn tol(p: f64, n: usize) -> f64 {
    4.0 * (p * (1.0 - p) / n as f64).sqrt()
}

#[test]
fn one_call_has_the_published_accuracy() {
    for task in TaskProfile::all() {
        let e = env(task.clone(), 8000);
        let b = task.benchmark.index();
        for f in 0..2 {
            for s in 0..3 {
                let p = e.pool().model(f, s).accuracy[b];
                let acc = e.reference(&Graph::parallel(f, s, 1).unwrap()).unwrap().accuracy;
                assert!(
                    (acc - p).abs() < tol(p, 8000),
                    "{} {}: {acc} vs {p}",
                    task.name,
                    e.model_name(f, s)
                );
            }
        }
    }
}

fn binary(mut task: TaskProfile) -> TaskProfile {
    task.distractors = 1;
    task
}

#[test]
fn majority_vote_matches_the_closed_form() {
    for task in [binary(TaskProfile::math_like()), binary(TaskProfile::knowledge_like())] {
        let e = env(task.clone(), Q);
        for (f, s) in [(0, 1), (1, 0)] {
            let p = e.pool().model(f, s).accuracy[task.benchmark.index()];
            for n in [2, 3, 5, 8] {
                let sim = e.reference(&Graph::parallel(f, s, n).unwrap()).unwrap().accuracy;
                let exact = theory::vote_accuracy(p, task.rho_family, n).unwrap();
                assert!(
                    (sim - exact).abs() < tol(exact, Q),
                    "{} n={n}: {sim} vs {exact}",
                    task.name
                );
            }
        }
    }
}

#[test]
fn refinement_chain_matches_the_closed_form_and_drifts_when_long() {
    for task in TaskProfile::all() {
        let e = env(task.clone(), Q);
        let p = e.pool().model(0, 1).accuracy[task.benchmark.index()];
        let mut exact_curve = Vec::new();
        for depth in 1..=6 {
            let sim = e.reference(&Graph::chain(0, 1, depth).unwrap()).unwrap().accuracy;
            let exact = theory::chain_accuracy(p, task.rho_family, depth, &task).unwrap();
            assert!(
                (sim - exact).abs() < tol(exact, Q),
                "{} depth {depth}: {sim} vs {exact}",
                task.name
            );
            exact_curve.push(exact);
        }
        // Depth 1 of the closed form is one call.
        assert!((exact_curve[0] - p).abs() < 1e-6);
    }
    // The refinement chain of the code-like task first gains, then loses (insight 2).
    let code = TaskProfile::code_like();
    let curve: Vec<f64> = (1..=12)
        .map(|d| theory::chain_accuracy(0.72, code.rho_family, d, &code).unwrap())
        .collect();
    let peak = curve.iter().cloned().fold(0.0, f64::max);
    assert!(peak > curve[0] + 0.01 && curve[11] < peak - 0.01, "{curve:?}");
}

#[test]
fn vote_closed_form_reduces_to_the_binomial_and_prefers_independent_errors() {
    // rho = 0: independent calls, P(majority of 3) = p^3 + 3 p^2 (1 - p).
    let p: f64 = 0.7;
    let exact = p.powi(3) + 3.0 * p * p * (1.0 - p);
    assert!((theory::vote_accuracy(p, 0.0, 3).unwrap() - exact).abs() < 1e-6);
    // Correlated errors shrink the gain of voting.
    let gain = |rho| theory::vote_accuracy(p, rho, 7).unwrap() - p;
    assert!(gain(0.0) > gain(0.5) && gain(0.5) > gain(0.9) && gain(0.9) > 0.0);
    assert!(theory::vote_accuracy(1.2, 0.1, 3).is_err());
    assert!(theory::vote_accuracy(0.5, 1.0, 3).is_err());
    assert!(theory::vote_accuracy(0.5, 0.1, 0).is_err());
}

#[test]
fn cross_family_votes_beat_same_family_votes_at_equal_single_call_accuracy() {
    // Correlated errors within a family: mixing families helps the vote.
    let mut task = binary(TaskProfile::math_like());
    task.rho_common = 0.1;
    task.rho_family = 0.7;
    let mut pool = ModelPool::open_2024();
    for m in &mut pool.models {
        m.accuracy = [0.6; 3];
    }
    let e = SimEnv::new(pool, task, 16, Q, 3).unwrap();
    let node = |slot, family| Node { layer: 0, slot, family, size: 1, role: Role::Generate };
    let same = Graph::new(vec![4], (0..4).map(|i| node(i, 0)).collect(), vec![]).unwrap();
    let mixed = Graph::new(vec![4], (0..4).map(|i| node(i, i % 2)).collect(), vec![]).unwrap();
    let (a, b) = (e.reference(&same).unwrap().accuracy, e.reference(&mixed).unwrap().accuracy);
    assert!(b > a + tol(0.6, Q), "same family {a}, mixed {b}");
}

#[test]
fn cost_and_latency_match_hand_computation() {
    let e = env(TaskProfile::math_like(), 100);
    let c = e.cost_model();
    // Two Qwen-7B generators feeding one Llama-8B aggregator.
    let g = Graph::new(
        vec![2, 1],
        vec![
            Node { layer: 0, slot: 0, family: 0, size: 1, role: Role::Generate },
            Node { layer: 0, slot: 1, family: 0, size: 1, role: Role::Generate },
            Node { layer: 1, slot: 0, family: 1, size: 0, role: Role::Aggregate },
        ],
        vec![true, true],
    )
    .unwrap();
    let (prompt, out) = (200.0, 500.0);
    let flops = 2.0 * 2e9 * 7.61 * (prompt + out) + 2e9 * 8.03 * (prompt + 3.0 * out);
    assert!((c.flops(&g).unwrap() - flops).abs() < 1e-6 * flops);
    let lat = |params: f64, k: f64| {
        0.005 + params * (1e-5 * (prompt + k * out) + (2.0 / 3.0) * 1e-3 * out)
    };
    let latency = lat(7.61, 0.0) + lat(8.03, 2.0);
    assert!((c.latency(&g).unwrap() - latency).abs() < 1e-9 * latency);
    assert!((c.min_graph_flops() - 2e9 * 1.54 * (prompt + out)).abs() < 1.0);
    let ev = e.evaluate(&g, 7, &mut rng::seeded(1)).unwrap();
    assert_eq!(
        (ev.flops, ev.latency_s, ev.questions),
        (c.flops(&g).unwrap(), c.latency(&g).unwrap(), 16)
    );
}

#[test]
fn evaluations_are_deterministic_and_thread_count_independent() {
    let e = env(TaskProfile::code_like(), 3000);
    let g = Graph::grid(0, 1, 3, 3, Role::Refine).unwrap();
    let seq = e.clone().with_par(Par::Seq).reference(&g).unwrap();
    let pools = [1, 2, 3].map(|t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap());
    for p in &pools {
        assert_eq!(p.install(|| e.reference(&g).unwrap()), seq);
    }
    let a = e.evaluate(&g, 42, &mut rng::stream(5, 1)).unwrap();
    let b = e.evaluate(&g, 42, &mut rng::stream(5, 1)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn bad_input_is_refused() {
    let ok = TaskProfile::math_like();
    let empty = ModelPool { families: vec![], sizes: vec![], models: vec![] };
    assert!(matches!(SimEnv::new(empty, ok.clone(), 8, 8, 0), Err(Error::InvalidShape { .. })));
    let mut pool = ModelPool::open_2024();
    pool.models[2].accuracy[0] = 1.0;
    assert!(SimEnv::new(pool, ok.clone(), 8, 8, 0).is_err());
    let mut pool = ModelPool::open_2024();
    pool.models.pop();
    assert!(matches!(SimEnv::new(pool, ok.clone(), 8, 8, 0), Err(Error::LengthMismatch { .. })));
    let mut pool = ModelPool::open_2024();
    pool.models[0].params_b = f64::NAN;
    assert!(SimEnv::new(pool, ok.clone(), 8, 8, 0).is_err());
    for t in [
        TaskProfile { rho_family: 0.2, ..ok.clone() },
        TaskProfile { rho_family: 1.0, ..ok.clone() },
        TaskProfile { distractors: 0, ..ok.clone() },
        TaskProfile { fix_prob: f64::NAN, ..ok.clone() },
        TaskProfile { context_capacity: 0.0, ..ok.clone() },
        TaskProfile { output_tokens: -1.0, ..ok.clone() },
    ] {
        assert!(SimEnv::new(ModelPool::open_2024(), t, 8, 8, 0).is_err());
    }
    assert!(SimEnv::new(ModelPool::open_2024(), ok.clone(), 0, 8, 0).is_err());
    let e = env(ok, 100);
    let foreign = Graph::parallel(2, 0, 1).unwrap();
    assert!(e.evaluate(&foreign, 0, &mut rng::seeded(0)).is_err());
    assert!(e.reference(&foreign).is_err());
}
