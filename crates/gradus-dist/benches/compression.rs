//! Compressor throughput (bytes of input per second) and method steps.
//! Run: `cargo bench -p gradus-dist --bench compression` (filter with e.g. `-- top-k`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradus_core::{Layout, rng};
use gradus_dist::compression::{
    Compressor, Ef21, Ef21Init, NaturalCompression, NaturalDithering, Qsgd, RandK, ScaledSign, TopK,
};
use gradus_models::data::normal;
use gradus_optim::Optimizer;

const SIZES: [usize; 2] = [100_000, 1_000_000];

fn input(n: usize) -> Vec<f32> {
    let mut r = rng::seeded(1);
    (0..n).map(|_| normal(&mut r) as f32).collect()
}

fn compressors(c: &mut Criterion) {
    let mut g = c.benchmark_group("compress");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for &n in &SIZES {
        let v = input(n);
        let k = n / 100;
        let mut out = vec![0.0f32; n];
        g.throughput(Throughput::Bytes(4 * n as u64));
        let all: Vec<(&str, Box<dyn Compressor<f32>>)> = vec![
            ("top-k 1%", Box::new(TopK::new(n, k).unwrap())),
            ("rand-k 1%", Box::new(RandK::unbiased(n, k).unwrap())),
            ("scaled-sign", Box::new(ScaledSign::new(n).unwrap())),
            ("qsgd s=4", Box::new(Qsgd::new(n, 4).unwrap())),
            ("natural-dithering s=4", Box::new(NaturalDithering::new(n, 4).unwrap())),
            ("natural", Box::new(NaturalCompression::new(n).unwrap())),
        ];
        for (name, mut comp) in all {
            let mut r = rng::seeded(2);
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| comp.compress(black_box(&v), &mut out, &mut r).unwrap())
            });
        }
    }
    g.finish();
}

fn steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("method-step");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for &n in &SIZES {
        let grad = input(n);
        let mut x = vec![0.0f32; n];
        let layout = Layout::flat(n).unwrap();
        let mut opt =
            Ef21::new(layout, TopK::new(n, n / 100).unwrap(), 1e-3, Ef21Init::Compressed, 0)
                .unwrap();
        g.throughput(Throughput::Bytes(4 * n as u64));
        g.bench_with_input(BenchmarkId::new("ef21 top-k 1%", n), &n, |b, _| {
            b.iter(|| opt.step(&mut x, black_box(&grad)).unwrap())
        });
        // The same recursion as one dedicated loop (no finiteness checks, no inner
        // optimizer): the floor the `Compressed` wrapper over SGD is measured against.
        let mut comp = TopK::new(n, n / 100).unwrap();
        let (mut r, mut d, mut u, mut c) =
            (rng::seeded(0), vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
        g.bench_with_input(BenchmarkId::new("ef21 top-k 1%, dedicated loop", n), &n, |b, _| {
            b.iter(|| {
                let grad = black_box(&grad);
                u.iter_mut().zip(grad).zip(&d).for_each(|((u, &g), &d)| *u = g - d);
                comp.compress(&u, &mut c, &mut r).unwrap();
                d.iter_mut().zip(&c).for_each(|(d, &c)| *d += c);
                x.iter_mut().zip(&d).for_each(|(x, &d)| *x = (-1e-3f32).mul_add(d, *x));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, compressors, steps);
criterion_main!(benches);
