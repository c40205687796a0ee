//! A full optimizer step (validation + clipping norm + fused update) against the bare fused
//! kernel, to show what the safety pass costs. Run: `cargo bench --bench optim_step`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradus::Optimizer;
use gradus::core::{Layout, Par};
use gradus::kernels::{self as k, AdamConsts};
use gradus::optim::{Agm, AgmConfig, Partition, StatePrecision};

fn steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("optimizer-step");
    g.sample_size(15)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for &n in &[1_000_000usize, 10_000_000] {
        let grads: Vec<f32> = (0..n).map(|i| (i as f32 * 1e-3).sin()).collect();
        let mut p = vec![0.5f32; n];
        g.throughput(Throughput::Elements(n as u64));
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        let ac = AdamConsts::<f32>::new(1e-3, 0.9, 0.999, 1e-8, 10, true);
        g.bench_with_input(BenchmarkId::new("adam kernel only", n), &n, |b, _| {
            b.iter(|| {
                k::adam_step(Par::Rayon, &ac, &mut p, black_box(&grads), &mut m, &mut v, None)
                    .unwrap()
            })
        });
        let configs = [
            ("adam", AgmConfig::adam(1e-3)),
            ("adam bf16", AgmConfig::adam(1e-3).with_precision(StatePrecision::Bf16)),
            ("adam + clip", AgmConfig::adam(1e-3).with_max_grad_norm(Some(1.0))),
            (
                "adam-mini (64 blocks)",
                AgmConfig::adam(1e-3).with_partition(Partition::LayoutBlocks),
            ),
            ("adam-e (reference path)", AgmConfig::adam(1e-3).with_exponent(0.3)),
        ];
        for (name, cfg) in configs {
            let mut layout = Layout::new();
            for b in 0..64 {
                layout = layout.vector(&format!("b{b}"), n / 64).unwrap();
            }
            let mut opt = Agm::<f32>::new(name, cfg, layout).unwrap();
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| opt.step(&mut p, black_box(&grads)).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
