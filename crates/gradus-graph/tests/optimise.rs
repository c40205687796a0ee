//! The search methods: budget never exceeded, determinism by seed and thread count,
//! REINFORCE ascends (on a replacement environment with a known optimum), agents that fail
//! leave the state unchanged, the heuristic agent moves toward its elites, bad settings are
//! refused.

use gradus_core::{Error, Par, Result, Rng};
use gradus_graph::env::{ModelPool, SimEnv, TaskProfile};
use gradus_graph::optimise::fixed::{self, Shape};
use gradus_graph::optimise::{
    AgentReinforce, Feedback, FeedbackInput, HeuristicAgent, Names, RandomSearch, Record,
    Reinforce, SearchConfig, SearchContext, Searcher,
};
use gradus_graph::{CostModel, Environment, Evaluation, Graph, GraphSpace, Utility, search};
use gradus_optim::{Agm, Optimizer};
use proptest::prelude::*;

fn sim(task: TaskProfile) -> SimEnv {
    SimEnv::new(ModelPool::open_2024(), task, 40, 400, 2).unwrap()
}

fn space() -> GraphSpace {
    GraphSpace::new(3, 5, 2, 3).unwrap()
}

fn unit(env: &SimEnv) -> f64 {
    env.cost_model().call_flops(0, 1, 0)
}

fn methods(space: &GraphSpace) -> Vec<Box<dyn Searcher>> {
    let adam = Agm::<f64>::adam(space.layout().unwrap(), 0.1).unwrap();
    vec![
        Box::new(RandomSearch::new(space)),
        Box::new(Reinforce::new(space, adam, 20.0).unwrap()),
        Box::new(AgentReinforce::new(space, HeuristicAgent::default(), 20.0).unwrap()),
    ]
}

#[test]
fn searches_are_deterministic_and_thread_count_independent() {
    let env = sim(TaskProfile::math_like());
    let sp = space();
    let mut cfg = SearchConfig::new(8.0 * unit(&env), 40, 6, 17);
    let run = |cfg: &SearchConfig| -> Vec<_> {
        methods(&sp).iter_mut().map(|m| search(m.as_mut(), &env, cfg).unwrap()).collect()
    };
    let base = run(&cfg);
    for r in &base {
        assert_eq!(r.records.len(), 40);
        assert_eq!(r.curve.len(), 40);
    }
    let pools = [1, 3].map(|t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap());
    for p in &pools {
        assert_eq!(p.install(|| run(&cfg)), base);
    }
    cfg.par = Par::Seq;
    assert_eq!(run(&cfg), base);
    cfg.seed = 18;
    assert_ne!(run(&cfg)[0].records, base[0].records);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(12)))]

    /// No method ever evaluates or returns a graph over budget.
    #[test]
    fn no_evaluated_or_returned_graph_exceeds_the_budget(
        factor in 1.0f64..24.0,
        seed in 0u64..1000,
        task in 0usize..3,
    ) {
        let env = sim(TaskProfile::all()[task].clone());
        let sp = space();
        let budget = factor * env.cost_model().min_graph_flops();
        let cfg = SearchConfig::new(budget, 24, 4, seed);
        for mut m in methods(&sp) {
            let r = search(m.as_mut(), &env, &cfg).unwrap();
            for rec in &r.records {
                prop_assert!(rec.evaluation.flops <= budget);
                prop_assert!(env.cost_model().flops(&rec.graph).unwrap() <= budget);
            }
            prop_assert!(env.cost_model().flops(&r.best).unwrap() <= budget);
            prop_assert!(r.curve.iter().all(|u| u.is_finite()));
        }
    }
}

/// A replacement environment with a known optimum: accuracy is the fraction of nodes of
/// family 0, every call costs the same.
struct FamilyZero {
    cost: CostModel,
}

impl Environment for FamilyZero {
    fn cost_model(&self) -> &CostModel {
        &self.cost
    }
    fn model_name(&self, family: usize, size: usize) -> String {
        format!("m{family}{size}")
    }
    fn evaluate(&self, graph: &Graph, _: u64, _: &mut Rng) -> Result<Evaluation> {
        self.reference(graph)
    }
    fn reference(&self, graph: &Graph) -> Result<Evaluation> {
        let n = graph.nodes().len() as f64;
        let zero = graph.nodes().iter().filter(|v| v.family == 0).count() as f64;
        Ok(Evaluation {
            accuracy: zero / n,
            flops: self.cost.flops(graph)?,
            latency_s: self.cost.latency(graph)?,
            questions: 1,
        })
    }
}

#[test]
fn reinforce_ascends_the_expected_utility() {
    let sp = GraphSpace::new(2, 3, 3, 1).unwrap();
    let env = FamilyZero { cost: CostModel::new(3, 1, vec![1.0; 3], 10.0, 10.0).unwrap() };
    let cfg = SearchConfig::new(1e15, 400, 8, 3);
    let sgd = Agm::<f64>::sgd(sp.layout().unwrap(), 2.0).unwrap();
    let mut m = Reinforce::new(&sp, sgd, 20.0).unwrap();
    let r = search(&mut m, &env, &cfg).unwrap();
    let p = m.distribution().probabilities();
    let first = p[sp.family_offset(0, 0)];
    assert!(first > 0.9, "P(family 0) at slot (0, 0) = {first}");
    let early: f64 = r.records[..40].iter().map(|x| x.utility).sum::<f64>() / 40.0;
    let late: f64 = r.records[360..].iter().map(|x| x.utility).sum::<f64>() / 40.0;
    assert!(late > early + 0.3, "mean utility {early} -> {late}");
}

#[test]
fn one_sgd_step_is_theta_plus_lr_times_the_score_estimate() {
    let sp = space();
    let env = sim(TaskProfile::code_like());
    let names = Names::of(&env);
    let cfg = SearchConfig::new(6.0 * unit(&env), 8, 8, 1);
    let ctx = SearchContext { cfg: &cfg, cost: env.cost_model(), names: &names };
    let sgd = Agm::<f64>::sgd(sp.layout().unwrap(), 0.3).unwrap();
    let mut m = Reinforce::new(&sp, sgd, 20.0).unwrap();
    let mut graphs = Vec::new();
    m.propose(0, 8, &ctx, &mut graphs).unwrap();
    let batch: Vec<Record> = graphs
        .iter()
        .enumerate()
        .map(|(i, g)| Record {
            graph: g.clone(),
            evaluation: Evaluation { accuracy: 0.0, flops: 0.0, latency_s: 0.0, questions: 1 },
            utility: i as f64 / 7.0,
            iteration: 0,
        })
        .collect();
    let mut expected = vec![0.0; sp.dim()];
    let mean = batch.iter().map(|r| r.utility).sum::<f64>() / 8.0;
    for r in &batch {
        m.distribution()
            .add_score(&r.graph, 0.3 * (r.utility - mean) / 8.0, &mut expected)
            .unwrap();
    }
    m.learn(&batch, &[], &ctx).unwrap();
    for (a, b) in m.theta().iter().zip(&expected) {
        assert!((a - b).abs() < 1e-12);
    }
}

/// An agent that fails (or writes NaN) after a number of good updates.
struct Flaky {
    nan: bool,
}

impl Feedback for Flaky {
    fn name(&self) -> String {
        "flaky".into()
    }
    fn update(&mut self, _: &FeedbackInput, theta: &mut [f64]) -> Result<()> {
        theta[0] += 1.0;
        if self.nan {
            theta[1] = f64::NAN;
            Ok(())
        } else {
            Err(Error::Unsupported("agent unavailable".into()))
        }
    }
}

fn records(env: &SimEnv, graphs: &[Graph]) -> Vec<Record> {
    graphs
        .iter()
        .map(|g| {
            let evaluation = env.reference(g).unwrap();
            Record { graph: g.clone(), evaluation, utility: evaluation.accuracy, iteration: 0 }
        })
        .collect()
}

#[test]
fn a_failing_agent_leaves_the_state_unchanged() {
    let sp = space();
    let env = sim(TaskProfile::math_like());
    let names = Names::of(&env);
    let cfg = SearchConfig::new(6.0 * unit(&env), 8, 4, 1);
    let ctx = SearchContext { cfg: &cfg, cost: env.cost_model(), names: &names };
    for nan in [false, true] {
        let mut m = AgentReinforce::new(&sp, Flaky { nan }, 20.0).unwrap();
        let mut graphs = Vec::new();
        m.propose(0, 4, &ctx, &mut graphs).unwrap();
        let batch = records(&env, &graphs);
        let (theta, dist) = (m.theta().to_vec(), m.distribution().clone());
        let e = m.learn(&batch, &[], &ctx).unwrap_err();
        assert!(matches!(e, Error::Unsupported(_) | Error::NonFinite { .. }), "{e}");
        assert_eq!((m.theta(), m.distribution(), m.initialised()), (&theta[..], &dist, false));
    }
    // The driver stops with the agent's error.
    let mut m = AgentReinforce::new(&sp, Flaky { nan: false }, 20.0).unwrap();
    assert!(matches!(search(&mut m, &env, &cfg), Err(Error::Unsupported(_))));
}

#[test]
fn heuristic_agent_initialises_from_probes_and_moves_toward_its_elites() {
    let sp = space();
    let env = sim(TaskProfile::knowledge_like());
    let names = Names::of(&env);
    let cfg = SearchConfig::new(16.0 * unit(&env), 8, 4, 1);
    let ctx = SearchContext { cfg: &cfg, cost: env.cost_model(), names: &names };
    let mut m = AgentReinforce::new(&sp, HeuristicAgent::default(), 20.0).unwrap();
    let mut probes = Vec::new();
    m.propose(0, 4, &ctx, &mut probes).unwrap();
    // Each affordable model alone at its largest best-of-N.
    assert_eq!(probes.len(), 5, "every model but the 405B fits 16 units");
    for g in &probes {
        let v = g.nodes()[0];
        let n = g.nodes().len();
        assert!(env.cost_model().flops(g).unwrap() <= cfg.budget);
        let bigger = Graph::parallel(v.family, v.size, n + 1).unwrap();
        assert!(n == sp.max_width() || env.cost_model().flops(&bigger).unwrap() > cfg.budget);
    }
    let batch = records(&env, &probes);
    m.learn(&batch, &[], &ctx).unwrap();
    let p = m.distribution().probabilities();
    let best =
        batch.iter().max_by(|a, b| a.utility.total_cmp(&b.utility)).unwrap().graph.nodes()[0];
    let (fo, so) = (sp.family_offset(1, 2), sp.size_offset(1, 2));
    assert!(p[fo + best.family] > 0.5 && p[so + best.size] > 0.5, "{:?}", &p[so..so + 3]);

    // Elites all of depth 2: the depth-2 probability rises.
    let elite: Vec<Graph> = (0..8).map(|_| Graph::chain(0, 1, 2).unwrap()).collect();
    let mut history = batch.clone();
    history.iter_mut().for_each(|r| r.utility -= 1.0);
    let elite = records(&env, &elite);
    let before = m.distribution().probabilities()[sp.depth_offset() + 1];
    m.learn(&elite, &history, &ctx).unwrap();
    let after = m.distribution().probabilities()[sp.depth_offset() + 1];
    assert!(after > before + 0.2, "P(depth 2): {before} -> {after}");
}

#[test]
fn fixed_graphs_are_the_largest_within_budget() {
    let sp = space();
    let env = sim(TaskProfile::code_like());
    let budget = 3.5 * unit(&env);
    let all = fixed::all(&env, &sp, budget).unwrap();
    assert!(!all.is_empty());
    for f in &all {
        assert!(f.reference.flops <= budget);
        let v = f.graph.nodes()[0];
        let next = match f.shape {
            Shape::BestOfN => Graph::parallel(v.family, v.size, f.graph.nodes().len() + 1).unwrap(),
            Shape::SelfRefine => Graph::chain(v.family, v.size, f.graph.depth() + 1).unwrap(),
        };
        let at_limit = match f.shape {
            Shape::BestOfN => f.graph.max_width() == sp.max_width(),
            Shape::SelfRefine => f.graph.depth() == sp.max_depth(),
        };
        assert!(at_limit || env.cost_model().flops(&next).unwrap() > budget);
    }
    let best_of_n =
        fixed::largest(Shape::BestOfN, env.cost_model(), &sp, budget, 0, 1).unwrap().unwrap();
    assert_eq!(best_of_n.nodes().len(), 3);
    assert!(fixed::largest(Shape::BestOfN, env.cost_model(), &sp, budget, 1, 2).unwrap().is_none());
}

#[test]
fn bad_settings_are_refused() {
    let sp = space();
    let env = sim(TaskProfile::math_like());
    let good = SearchConfig::new(4.0 * unit(&env), 8, 4, 0);
    let mut bad = vec![
        SearchConfig { evaluations: 0, ..good.clone() },
        SearchConfig { batch: 0, ..good.clone() },
        SearchConfig { max_draws: 0, ..good.clone() },
        SearchConfig { budget: -1.0, ..good.clone() },
        SearchConfig { budget: f64::NAN, ..good.clone() },
        SearchConfig { budget: 0.1 * env.cost_model().min_graph_flops(), ..good.clone() },
    ];
    bad.push(SearchConfig { utility: Utility { latency_weight: -0.1 }, ..good.clone() });
    for cfg in &bad {
        assert!(search(&mut RandomSearch::new(&sp), &env, cfg).is_err(), "{cfg:?}");
    }
    let wrong = Agm::<f64>::adam(gradus_core::Layout::flat(3).unwrap(), 0.1).unwrap();
    assert!(matches!(Reinforce::new(&sp, wrong, 20.0), Err(Error::LengthMismatch { .. })));
    let adam = Agm::<f64>::adam(sp.layout().unwrap(), 0.1).unwrap();
    assert!(Reinforce::new(&sp, adam.clone(), 0.0).is_err());
    assert!(AgentReinforce::new(&sp, HeuristicAgent::default(), f64::NAN).is_err());
    // A graph space for another pool.
    let other = GraphSpace::new(2, 2, 3, 3).unwrap();
    assert!(search(&mut RandomSearch::new(&other), &env, &good).is_err());
    // Invalid agent settings: an error at the first update, nothing changed.
    let agent = HeuristicAgent { step: 0.0, ..HeuristicAgent::default() };
    let mut m = AgentReinforce::new(&sp, agent, 20.0).unwrap();
    assert!(matches!(
        search(&mut m, &env, &good),
        Err(Error::InvalidHyperparameter { field: "step", .. })
    ));
    assert!(m.theta().iter().all(|&t| t == 0.0));
    // NaN utilities reach REINFORCE as an error, the optimizer untouched.
    let names = Names::of(&env);
    let ctx = SearchContext { cfg: &good, cost: env.cost_model(), names: &names };
    let mut r = Reinforce::new(&sp, adam, 20.0).unwrap();
    let mut graphs = Vec::new();
    r.propose(0, 2, &ctx, &mut graphs).unwrap();
    let mut batch = records(&env, &graphs);
    batch[1].utility = f64::NAN;
    assert!(matches!(
        r.learn(&batch, &[], &ctx),
        Err(Error::NonFinite { what: "utilities", index: 1 })
    ));
    assert!(r.theta().iter().all(|&t| t == 0.0));
}

#[test]
fn optimizer_state_is_untouched_by_a_rejected_reinforce_step() {
    // Agm refuses a non-finite gradient without changing anything; REINFORCE relies on it.
    let sp = space();
    let mut adam = Agm::<f64>::adam(sp.layout().unwrap(), 0.1).unwrap();
    let before = adam.state().unwrap();
    let mut theta = vec![0.0; sp.dim()];
    let mut g = vec![0.0; sp.dim()];
    g[0] = f64::INFINITY;
    assert!(adam.step(&mut theta, &g).is_err());
    assert_eq!(adam.state().unwrap(), before);
}
