//! Criterion benches of the federated aggregators, the Gram product and LSH hashing at
//! `n = 20` clients, `d = 1e5` (the peer comparison at larger sizes is
//! `benches/peers/aggregate_byzfl.py`).

use criterion::{Criterion, criterion_group, criterion_main};
use gradus_core::{Layout, Par, rng};
use gradus_dist::federated::aggregate::{Aggregator, CenteredClipping, Krum, Weiszfeld};
use gradus_dist::federated::gram::gram;
use gradus_dist::federated::{LshHasher, NonFinitePolicy, Updates};
use gradus_models::data::normal;

fn bench(c: &mut Criterion) {
    let (n, d) = (20, 100_000);
    let mut r = rng::seeded(1);
    let x: Vec<f64> = (0..n * d).map(|_| normal(&mut r)).collect();
    let u = match Updates::new(&x, n, d) {
        Ok(u) => u,
        Err(e) => panic!("bench setup: {e}"),
    };
    let mut g = c.benchmark_group("aggregate n=20 d=1e5");
    g.sample_size(10);
    let rules = [
        Aggregator::Mean,
        Aggregator::Median,
        Aggregator::TrimmedMean { b: 4 },
        Aggregator::GeometricMedian(Weiszfeld { tol: 1e-8, ..Weiszfeld::default() }),
        Aggregator::Krum(Krum::new(4)),
        Aggregator::CenteredClipping(CenteredClipping::default()),
    ];
    for rule in rules {
        g.bench_function(rule.name(), |b| {
            b.iter(|| {
                rule.aggregate(u, NonFinitePolicy::Reject, Par::Rayon).map(|a| a.vector.len())
            })
        });
    }
    g.bench_function("gram", |b| b.iter(|| gram(u, Par::Rayon)));
    g.finish();

    let layout = match Layout::new().matrix("w", 128, d / 128) {
        Ok(l) => l,
        Err(e) => panic!("bench setup: {e}"),
    };
    let h = match LshHasher::new(&layout, 5, 3) {
        Ok(h) => h,
        Err(e) => panic!("bench setup: {e}"),
    };
    let m = layout.len();
    c.bench_function("lsh hash 128 x 781, r = 5", |b| b.iter(|| h.hash(&x[..m]).map(|c| c.bits())));
}

criterion_group!(benches, bench);
criterion_main!(benches);
