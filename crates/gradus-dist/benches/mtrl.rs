//! Criterion bench of BR-MTRL rounds (paper 09): 100 participating clients with a shared
//! representation of about 1e5 parameters, the mean and the geometric median, one thread
//! (`Par::Seq`) against a two-thread rayon pool. Reported as rounds per second in
//! `docs/benchmarks.md`.

use criterion::{Criterion, criterion_group, criterion_main};
use gradus_core::{Par, rng};
use gradus_dist::federated::aggregate::{Aggregator, Weiszfeld};
use gradus_dist::federated::data::synthetic::GaussianMixture;
use gradus_dist::federated::mtrl::data::{label_subset_tasks, linear_tasks, random_basis};
use gradus_dist::federated::mtrl::{
    Activation, Federation, Head, HeadFit, LinearRep, LinearTasks, LocalSgd, LocalUpdate, Mlp,
    Mtrl, MtrlConfig, RegressionHead, Representation, SoftmaxHead,
};
use gradus_dist::federated::{Attack, NonFinitePolicy};

const CLIENTS: usize = 100;
const ROWS: usize = 16;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("bench setup: {e}"),
    }
}

fn config(local: LocalUpdate, aggregator: Aggregator, par: Par) -> MtrlConfig {
    MtrlConfig {
        participants: CLIENTS,
        local,
        eval_fit: local.head,
        byzantine_fraction: 0.0,
        attack: Attack::Honest,
        aggregator,
        policy: NonFinitePolicy::Reject,
        seed: 1,
        par,
    }
}

fn bench_rounds<R: Representation, H: Head>(
    c: &mut Criterion,
    name: &str,
    fed: &Federation<R, H>,
    local: LocalUpdate,
) {
    let pool = ok(rayon::ThreadPoolBuilder::new().num_threads(2).build());
    let mut g = c.benchmark_group(format!("mtrl round, {CLIENTS} clients, {name}"));
    g.sample_size(10);
    let rules = [
        ("mean", Aggregator::Mean),
        ("geometric median", Aggregator::GeometricMedian(Weiszfeld::default())),
    ];
    for (rule, agg) in rules {
        for (threads, par) in [("1 thread", Par::Seq), ("2 threads", Par::Rayon)] {
            let mut m = ok(Mtrl::new(fed, config(local, agg.clone(), par), None));
            g.bench_function(format!("{rule}, {threads}"), |b| {
                b.iter(|| pool.install(|| par.on_pool(|| m.round().map(|r| r.step_norm))))
            });
        }
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    // MLP 256 -> 256 -> 128 (98,688 parameters), softmax heads over 10 classes.
    let mix = ok(GaussianMixture::new(256, 10, 0.3, &mut rng::seeded(1)));
    let tasks = ok(label_subset_tasks(&mix, CLIENTS, 3, ROWS, 4, 2));
    let mlp = ok(Mlp::new(256, &[256, 128], Activation::Relu));
    let name = format!("mlp {} params", mlp.num_params());
    let fed = ok(Federation::new(mlp, ok(SoftmaxHead::new(128, 10)), tasks));
    let sgd = LocalSgd { epochs: 1, lr: 0.05, momentum: 0.9, batch: ROWS };
    bench_rounds(c, &name, &fed, LocalUpdate { head: HeadFit::Sgd(sgd), rep: sgd });

    // Linear B: 1000 x 100 (1e5 parameters), ridge least-squares heads.
    let (d, k) = (1000, 100);
    let b = ok(random_basis(d, k, 3));
    let cfg = LinearTasks { train: ROWS, test: 4, noise: 0.01, whiten: false };
    let tasks = ok(linear_tasks(&b, d, k, CLIENTS, cfg, 4));
    let fed =
        ok(Federation::new(ok(LinearRep::new(d, k, true)), ok(RegressionHead::new(k)), tasks));
    let local = LocalUpdate {
        head: HeadFit::Exact { ridge: 1e-3 },
        rep: LocalSgd { epochs: 1, lr: 0.1, momentum: 0.0, batch: ROWS },
    };
    bench_rounds(c, &format!("linear {} params", d * k), &fed, local);
}

criterion_group!(benches, bench);
criterion_main!(benches);
