//! Throughput of every kernel at N = 1e4, 1e6, 1e7 (bytes moved per second).
//! Run: `cargo bench --bench kernels` (filter with e.g. `-- adam/f32`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradus::core::Par;
use gradus::kernels::{
    self as k, AdagradConsts, AdamConsts, Bf16Vec, RmsPropConsts, RmsPropState, SgdConsts,
};

const SIZES: [usize; 3] = [10_000, 1_000_000, 10_000_000];

fn vecs(n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let p = (0..n).map(|i| (i as f32 * 1e-3).sin()).collect();
    let g = (0..n).map(|i| (i as f32 * 7e-4).cos()).collect();
    (p, g, vec![0.0; n], vec![0.0; n])
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g
}

fn updates(c: &mut Criterion) {
    let par = Par::Rayon;
    let mut g = configure(c, "update");
    for &n in &SIZES {
        let ac = AdamConsts::<f32>::new(1e-3, 0.9, 0.999, 1e-8, 10, true);
        let (mut p, gr, mut m, mut v) = vecs(n);
        g.throughput(Throughput::Bytes(28 * n as u64));
        g.bench_with_input(BenchmarkId::new("adam/f32", n), &n, |b, _| {
            b.iter(|| k::adam_step(par, &ac, &mut p, black_box(&gr), &mut m, &mut v, None).unwrap())
        });
        let (mut mb, mut vb) = (Bf16Vec::zeros(n), Bf16Vec::zeros(n));
        g.throughput(Throughput::Bytes(20 * n as u64));
        g.bench_with_input(BenchmarkId::new("adam/bf16", n), &n, |b, _| {
            b.iter(|| {
                k::adam_step_bf16(par, &ac, &mut p, black_box(&gr), &mut mb, &mut vb, None).unwrap()
            })
        });
        let mut ams = ac;
        ams.amsgrad = true;
        let mut vm = vec![0.0f32; n];
        g.throughput(Throughput::Bytes(36 * n as u64));
        g.bench_with_input(BenchmarkId::new("amsgrad/f32", n), &n, |b, _| {
            b.iter(|| {
                k::adam_step(par, &ams, &mut p, black_box(&gr), &mut m, &mut v, Some(&mut vm))
                    .unwrap()
            })
        });
        let sc = SgdConsts { momentum: 0.9, nesterov: true, ..SgdConsts::<f32>::plain(1e-3) };
        g.throughput(Throughput::Bytes(20 * n as u64));
        g.bench_with_input(BenchmarkId::new("sgd-nesterov/f32", n), &n, |b, _| {
            b.iter(|| k::sgd_step(par, &sc, &mut p, black_box(&gr), Some(&mut m)).unwrap())
        });
        let rc = RmsPropConsts {
            lr: 1e-3f32,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            decay: 1.0,
            l2: 0.0,
            g_scale: 1.0,
        };
        g.throughput(Throughput::Bytes(20 * n as u64));
        g.bench_with_input(BenchmarkId::new("rmsprop/f32", n), &n, |b, _| {
            b.iter(|| {
                k::rmsprop_step(
                    par,
                    &rc,
                    &mut p,
                    black_box(&gr),
                    RmsPropState { v: &mut v, avg: None, buf: None },
                )
                .unwrap()
            })
        });
        let dc = AdagradConsts { lr: 1e-3f32, eps: 1e-10, decay: 1.0, l2: 0.0, g_scale: 1.0 };
        g.bench_with_input(BenchmarkId::new("adagrad/f32", n), &n, |b, _| {
            b.iter(|| k::adagrad_step(par, &dc, &mut p, black_box(&gr), &mut v).unwrap())
        });
    }
    g.finish();
}

fn blas1(c: &mut Criterion) {
    let par = Par::Rayon;
    let mut g = configure(c, "blas1");
    for &n in &SIZES {
        let (mut x, y, mut out, _) = vecs(n);
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_with_input(BenchmarkId::new("dot/f32", n), &n, |b, _| {
            b.iter(|| k::dot(par, black_box(&x), black_box(&y)).unwrap())
        });
        g.throughput(Throughput::Bytes(4 * n as u64));
        g.bench_with_input(BenchmarkId::new("grad_stats/f32", n), &n, |b, _| {
            b.iter(|| k::grad_stats(par, black_box(&y)))
        });
        g.bench_with_input(BenchmarkId::new("sum_squares/f32", n), &n, |b, _| {
            b.iter(|| k::sum_squares(par, black_box(&y)))
        });
        g.throughput(Throughput::Bytes(12 * n as u64));
        g.bench_with_input(BenchmarkId::new("axpy/f32", n), &n, |b, _| {
            b.iter(|| k::axpy(par, 1e-6f32, black_box(&y), &mut x).unwrap())
        });
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_with_input(BenchmarkId::new("scale/f32", n), &n, |b, _| {
            b.iter(|| k::scale(par, 0.999_999f32, &mut x))
        });
        g.bench_with_input(BenchmarkId::new("sign/f32", n), &n, |b, _| {
            b.iter(|| k::sign(par, black_box(&y), &mut out).unwrap())
        });
        let bounds: Vec<usize> = (0..=64).map(|i| i * n / 64).collect();
        let mut means = vec![0.0f32; 64];
        g.throughput(Throughput::Bytes(4 * n as u64));
        g.bench_with_input(BenchmarkId::new("block_mean_squares/f32", n), &n, |b, _| {
            b.iter(|| k::block_mean_squares(par, black_box(&y), &bounds, &mut means).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, updates, blas1);
criterion_main!(benches);
