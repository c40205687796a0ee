//! Regression benches for `gradus-models`: the Toeplitz likelihood + gradient on the structured
//! (Levinson / Gohberg-Semencul) and dense paths, a diagonal-linear-network training step, and
//! one Hutchinson `tr(H)` probe. Run: `cargo bench --bench models`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradus::Objective;
use gradus::core::rng;
use gradus::models::data::gaussian_matrix;
use gradus::models::sharpness::hutchinson_trace;
use gradus::models::toeplitz_cov::data::{random_caratheodory, sample};
use gradus::models::toeplitz_cov::estimators::initial_theta;
use gradus::models::toeplitz_cov::{DataKind, EvalPath, Init, SinusoidModel, ToeplitzNll};
use gradus::models::{DiagParam, DiagonalNet, LabelNoise, Regression};

fn toeplitz_likelihood(c: &mut Criterion) {
    let mut g = c.benchmark_group("toeplitz likelihood+gradient (K = 2P, N = 50)");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let n = 50;
    for &p in &[64usize, 256] {
        let x = sample(&random_caratheodory(p, 1).unwrap(), n, DataKind::Complex, 2).unwrap();
        let model = SinusoidModel::new(p, 2 * p, DataKind::Complex).unwrap();
        for (path, name) in [(EvalPath::Structured, "structured"), (EvalPath::Dense, "dense")] {
            let mut nll = ToeplitzNll::new(model, &x, n, path).unwrap();
            let theta = initial_theta(&model, nll.trace_s(), Init::Spec, 3);
            let mut grad = vec![0.0; theta.len()];
            g.bench_with_input(BenchmarkId::new(name, p), &p, |b, _| {
                b.iter(|| nll.loss_grad_theta(black_box(&theta), &mut grad).unwrap())
            });
        }
    }
    g.finish();
}

fn diagonal_net(c: &mut Criterion) {
    let mut g = c.benchmark_group("diagonal net (n = 40)");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let n = 40;
    for &d in &[10_000usize, 100_000] {
        let mut r = rng::seeded(1);
        let net = DiagonalNet::new(
            gaussian_matrix::<f64>(n, d, &mut r),
            vec![0.5; n],
            DiagParam::SquareDifference,
        )
        .unwrap();
        let mut reg = Regression::new(net, n, LabelNoise::PlusMinus(0.5)).unwrap();
        let params = vec![0.5f64; 2 * d];
        let mut grad = vec![0.0f64; 2 * d];
        g.throughput(Throughput::Elements((n * d) as u64));
        g.bench_with_input(BenchmarkId::new("label-noise gradient", d), &d, |b, _| {
            b.iter(|| reg.loss_grad(black_box(&params), &mut grad, &mut r).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("hutchinson tr(H), 2 probes", d), &d, |b, _| {
            b.iter(|| hutchinson_trace(&mut reg, black_box(&params), 2, &mut r).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, toeplitz_likelihood, diagonal_net);
criterion_main!(benches);
