//! Criterion benches of gradus-graph: graphs sampled within budget and scored per second,
//! exact log-probability + score, one optimisation iteration of each method, a reference
//! evaluation.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gradus_core::{Par, rng};
use gradus_graph::env::{ModelPool, SimEnv, TaskProfile};
use gradus_graph::optimise::{
    AgentReinforce, HeuristicAgent, RandomSearch, Reinforce, SearchConfig,
};
use gradus_graph::{Environment, Graph, GraphDistribution, GraphSpace, search};
use gradus_optim::Agm;

fn setup() -> (SimEnv, GraphSpace, f64) {
    let env = SimEnv::new(ModelPool::open_2024(), TaskProfile::math_like(), 32, 2000, 1).unwrap();
    let space = GraphSpace::new(4, 8, 2, 3).unwrap();
    let budget = 16.0 * env.cost_model().call_flops(0, 1, 0);
    (env, space, budget)
}

fn sample_and_score(c: &mut Criterion) {
    let (env, space, budget) = setup();
    let dist = GraphDistribution::uniform(&space);
    let mut g = Graph::default();
    let mut r = rng::seeded(3);
    let mut group = c.benchmark_group("graphs");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sample_within_budget", |b| {
        b.iter(|| dist.sample_within(&mut r, env.cost_model(), budget, 100_000, &mut g).unwrap())
    });
    dist.sample_within(&mut r, env.cost_model(), budget, 100_000, &mut g).unwrap();
    let mut grad = vec![0.0; space.dim()];
    group.bench_function("log_prob_and_score", |b| {
        b.iter(|| {
            std::hint::black_box(dist.log_prob(&g).unwrap());
            dist.add_score(&g, 0.5, &mut grad).unwrap();
        })
    });
    let mut batch = 0u64;
    group.bench_function("sample_and_score_32q", |b| {
        b.iter(|| {
            dist.sample_within(&mut r, env.cost_model(), budget, 100_000, &mut g).unwrap();
            batch += 1;
            env.evaluate(&g, batch, &mut r).unwrap()
        })
    });
    let fixed = Graph::grid(0, 1, 4, 2, gradus_graph::Role::Aggregate).unwrap();
    group.bench_function("reference_2000q_grid4x2", |b| b.iter(|| env.reference(&fixed).unwrap()));
    group.finish();
}

fn iteration(c: &mut Criterion) {
    let (env, space, budget) = setup();
    let mut group = c.benchmark_group("iteration_m16");
    for par in [Par::Seq, Par::Rayon] {
        // One iteration = the first 16 evaluations of a search (sampling, scoring, update,
        // reference re-evaluations of new incumbents).
        let mut cfg = SearchConfig::new(budget, 16, 16, 5);
        cfg.par = par;
        group.bench_function(format!("random/{par:?}"), |b| {
            b.iter(|| search(&mut RandomSearch::new(&space), &env, &cfg).unwrap())
        });
        group.bench_function(format!("reinforce_adam/{par:?}"), |b| {
            b.iter(|| {
                let opt = Agm::<f64>::adam(space.layout().unwrap(), 0.1).unwrap();
                search(&mut Reinforce::new(&space, opt, 20.0).unwrap(), &env, &cfg).unwrap()
            })
        });
        let mut cfg2 = cfg.clone();
        cfg2.evaluations = 22; // 6 probes + one batch of 16
        group.bench_function(format!("agent_heuristic/{par:?}"), |b| {
            b.iter(|| {
                let mut m = AgentReinforce::new(&space, HeuristicAgent::default(), 20.0).unwrap();
                search(&mut m, &env, &cfg2).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = sample_and_score, iteration
}
criterion_main!(benches);
