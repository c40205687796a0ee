//! Throughput of the online-SGD teacher-student simulator (paper 02) and the solve time of its
//! limit ODEs. Run: `cargo bench --bench sgd_limits`.
//!
//! Samples per second at N = 1e3, 1e4, 1e5 on one thread (one run) and on a two-thread pool
//! (two independent seeds at once, the way `reproduce sgd-limits` spreads its seeds); each
//! sample costs one Gaussian input of length N, two dot products and one axpy.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradus::models::teacher_student::erf_integrals::Overlaps;
use gradus::models::teacher_student::{
    Activation, Init, OnlineSgd, SgdConfig, SingleIndexOde, solve_committee_erf,
};

/// Samples per measured iteration: about 2e7 coordinates of work whatever N.
fn samples_for(n: usize) -> u64 {
    (20_000_000 / n) as u64
}

fn simulator(n: usize, seed: u64) -> OnlineSgd {
    let cfg = SgdConfig::single_index(n, Activation::Erf, 0.5, 0.01);
    // Benches are not tests: a configuration error is a bug in this file, reported loudly.
    OnlineSgd::new(cfg, Init::Random { scale: 1.0 }, seed).expect("valid simulator config")
}

fn online_sgd(c: &mut Criterion) {
    let mut g = c.benchmark_group("online SGD samples (erf single-index, delta = 0.5/N)");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3));
    for &n in &[1_000usize, 10_000, 100_000] {
        let steps = samples_for(n);
        g.throughput(Throughput::Elements(steps));
        let mut one = simulator(n, 1);
        g.bench_with_input(BenchmarkId::new("1 thread", n), &n, |b, _| {
            b.iter(|| one.run(black_box(steps)).expect("simulation step"))
        });
        g.throughput(Throughput::Elements(2 * steps));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("thread pool");
        let (mut a, mut z) = (simulator(n, 2), simulator(n, 3));
        g.bench_with_input(BenchmarkId::new("2 threads, 2 seeds", n), &n, |b, _| {
            b.iter(|| {
                pool.install(|| {
                    let (ra, rz) = rayon::join(|| a.run(steps), || z.run(steps));
                    ra.and(rz).expect("simulation step")
                })
            })
        });
    }
    g.finish();
}

fn limit_odes(c: &mut Criterion) {
    let mut g = c.benchmark_group("limit ODE solves (Dormand-Prince, rtol 1e-9)");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let grid: Vec<f64> = (0..=100).map(|i| 0.1 * i as f64).collect();
    let erf = SingleIndexOde::new(Activation::Erf, 1.0, 0.1, 40).expect("ode");
    g.bench_function("single-index erf (m, Q), closed form, tau 0..10", |b| {
        b.iter(|| erf.solve(black_box(0.1), 1.0, &grid).expect("solve"))
    });
    let relu = SingleIndexOde::new(Activation::Relu, 1.0, 0.1, 40).expect("ode");
    g.bench_function("single-index ReLU (m, Q), 40x40 quadrature, tau 0..10", |b| {
        b.iter(|| relu.solve(black_box(0.1), 1.0, &grid).expect("solve"))
    });
    let h3 = SingleIndexOde::new(Activation::Hermite(3), 0.1, 0.0, 40).expect("ode");
    let long: Vec<f64> = (0..=4000).map(|i| 0.1 * i as f64).collect();
    g.bench_function("spherical h_3 escape, tau 0..400 on a 4001-point grid", |b| {
        b.iter(|| h3.solve_sphere(black_box(0.03), &long).expect("solve"))
    });
    let o0 = Overlaps {
        k: 2,
        m: 2,
        q: vec![0.2, 0.0, 0.0, 0.2],
        r: vec![0.01, 0.0, 0.0, 0.01],
        t: vec![1.0, 0.0, 0.0, 1.0],
    };
    g.bench_function("Saad-Solla committee K = M = 2, tau 0..10", |b| {
        b.iter(|| solve_committee_erf(black_box(&o0), 0.5, 0.0, &grid).expect("solve"))
    });
    g.finish();
}

criterion_group!(benches, online_sgd, limit_odes);
criterion_main!(benches);
