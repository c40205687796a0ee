//! Criterion benches of gradus-graph (settings of `gradus reproduce tts-graph`: math-like
//! task, budget 16 Qwen2.5-7B calls, depth <= 4, width <= 8, 100 questions per evaluation):
//! graphs sampled within budget and scored per second, exact log-probability + score, one
//! optimisation iteration (M = 16: sample, evaluate, update) of each method and its update
//! step alone, and a reference evaluation.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gradus_core::rng;
use gradus_graph::env::{ModelPool, SimEnv, TaskProfile};
use gradus_graph::optimise::{
    AgentReinforce, HeuristicAgent, Names, RandomSearch, Record, Reinforce, SearchConfig,
    SearchContext, Searcher,
};
use gradus_graph::{Environment, Graph, GraphDistribution, GraphSpace, Role};
use gradus_optim::Agm;

fn setup() -> (SimEnv, GraphSpace, SearchConfig) {
    let env = SimEnv::new(ModelPool::open_2024(), TaskProfile::math_like(), 100, 2000, 1).unwrap();
    let space = GraphSpace::new(4, 8, 2, 3).unwrap();
    let cfg = SearchConfig::new(16.0 * env.cost_model().call_flops(0, 1, 0), 400, 16, 5);
    (env, space, cfg)
}

fn sample_and_score(c: &mut Criterion) {
    let (env, space, cfg) = setup();
    let dist = GraphDistribution::uniform(&space);
    let mut g = Graph::default();
    let mut r = rng::seeded(3);
    let mut group = c.benchmark_group("graphs");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sample_within_budget", |b| {
        b.iter(|| {
            dist.sample_within(&mut r, env.cost_model(), cfg.budget, 100_000, &mut g).unwrap()
        })
    });
    dist.sample_within(&mut r, env.cost_model(), cfg.budget, 100_000, &mut g).unwrap();
    let mut grad = vec![0.0; space.dim()];
    group.bench_function("log_prob_and_score", |b| {
        b.iter(|| {
            std::hint::black_box(dist.log_prob(&g).unwrap());
            dist.add_score(&g, 0.5, &mut grad).unwrap();
        })
    });
    let mut batch = 0u64;
    group.bench_function("sample_and_score_100q", |b| {
        b.iter(|| {
            dist.sample_within(&mut r, env.cost_model(), cfg.budget, 100_000, &mut g).unwrap();
            batch += 1;
            env.evaluate(&g, batch, &mut r).unwrap()
        })
    });
    let grid = Graph::grid(0, 1, 4, 2, Role::Aggregate).unwrap();
    group.bench_function("reference_2000q_grid4x2", |b| b.iter(|| env.reference(&grid).unwrap()));
    group.finish();
}

/// Sample, evaluate and learn, as `search` does for one iteration (without the reference
/// re-evaluation of a new incumbent).
fn iterate<S: Searcher>(s: &mut S, env: &SimEnv, ctx: &SearchContext, t: u64, history: &[Record]) {
    let mut graphs = Vec::new();
    s.propose(t, ctx.cfg.batch, ctx, &mut graphs).unwrap();
    let batch: Vec<Record> = graphs
        .into_iter()
        .enumerate()
        .map(|(i, graph)| {
            let evaluation = env.evaluate(&graph, t, &mut rng::stream(t, i as u64)).unwrap();
            Record { graph, evaluation, utility: evaluation.accuracy, iteration: t }
        })
        .collect();
    s.learn(&batch, history, ctx).unwrap();
}

/// A searcher after `warm` iterations, and the history they produced.
fn warmed<S: Searcher>(mut s: S, env: &SimEnv, ctx: &SearchContext, warm: u64) -> (S, Vec<Record>) {
    let mut history = Vec::new();
    for t in 0..warm {
        let mut graphs = Vec::new();
        s.propose(t, ctx.cfg.batch, ctx, &mut graphs).unwrap();
        let batch: Vec<Record> = graphs
            .into_iter()
            .map(|graph| {
                let evaluation = env.evaluate(&graph, t, &mut rng::seeded(t)).unwrap();
                Record { graph, evaluation, utility: evaluation.accuracy, iteration: t }
            })
            .collect();
        s.learn(&batch, &history, ctx).unwrap();
        history.extend(batch);
    }
    (s, history)
}

fn bench_method<S: Searcher + Clone>(
    c: &mut Criterion,
    name: &str,
    s: S,
    env: &SimEnv,
    ctx: &SearchContext,
) {
    let (s, history) = warmed(s, env, ctx, 4);
    c.bench_function(&format!("iteration_m16/{name}"), |b| {
        b.iter_batched(
            || s.clone(),
            |mut s| iterate(&mut s, env, ctx, 99, &history),
            BatchSize::SmallInput,
        )
    });
    let mut graphs = Vec::new();
    let mut probe = s.clone();
    probe.propose(98, ctx.cfg.batch, ctx, &mut graphs).unwrap();
    let batch: Vec<Record> = graphs
        .into_iter()
        .map(|graph| {
            let evaluation = env.evaluate(&graph, 98, &mut rng::seeded(1)).unwrap();
            Record { graph, evaluation, utility: evaluation.accuracy, iteration: 98 }
        })
        .collect();
    c.bench_function(&format!("update_only_m16/{name}"), |b| {
        b.iter_batched(
            || s.clone(),
            |mut s| s.learn(&batch, &history, ctx).unwrap(),
            BatchSize::SmallInput,
        )
    });
}

fn iteration(c: &mut Criterion) {
    let (env, space, cfg) = setup();
    let names = Names::of(&env);
    let ctx = SearchContext { cfg: &cfg, cost: env.cost_model(), names: &names };
    bench_method(c, "random", RandomSearch::new(&space), &env, &ctx);
    let adam = Agm::<f64>::adam(space.layout().unwrap(), 0.3).unwrap();
    bench_method(c, "reinforce_adam", Reinforce::new(&space, adam, 20.0).unwrap(), &env, &ctx);
    let agent = AgentReinforce::new(&space, HeuristicAgent::default(), 20.0).unwrap();
    bench_method(c, "agent_heuristic", agent, &env, &ctx);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = sample_and_score, iteration
}
criterion_main!(benches);
