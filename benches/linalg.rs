//! Regression benches for `gradus-linalg` and Shampoo: symmetric eigendecomposition, inverse
//! 4th roots (eigendecomposition and coupled Newton), Levinson solve, FFT Toeplitz matvec,
//! circulant-preconditioned CG, and a Shampoo step with and without root recomputation.
//! Run: `cargo bench --bench linalg`. Peer comparisons: `benches/peers/linalg.py`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradus::Optimizer;
use gradus::core::{Layout, Par};
use gradus::linalg::toeplitz::{
    LevinsonWorkspace, Preconditioner, RealToeplitzOp, levinson_solve, pcg_solve,
};
use gradus::linalg::{
    EighWorkspace, Mat, RootMethod, RootParams, RootWorkspace, eigh_into, inverse_root,
};
use gradus::optim::{Grafting, Shampoo, ShampooConfig};

/// A well-conditioned SPD matrix `G G^T / n + I / 2` from a deterministic pseudo-random `G`.
fn spd(n: usize) -> Mat<f64> {
    let g =
        Mat::<f64>::from_fn(n, n, |i, j| ((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0 - 0.5);
    Mat::from_fn(n, n, |i, j| {
        let s: f64 = (0..n).map(|k| g[(i, k)] * g[(j, k)]).sum();
        s / n as f64 + if i == j { 0.5 } else { 0.0 }
    })
}

/// First column of a symmetric positive-definite Toeplitz matrix with `t_k ~ k^-1.5` decay.
fn toeplitz_column(n: usize) -> Vec<f64> {
    (0..n).map(|k| if k == 0 { 2.0 } else { 1.0 / ((1 + k) as f64).powf(1.5) }).collect()
}

fn dense(c: &mut Criterion) {
    let mut g = c.benchmark_group("dense");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for &n in &[128usize, 512] {
        let a = spd(n);
        let mut ws = EighWorkspace::<f64>::new(n, Par::Seq);
        let (mut w, mut u) = (vec![0.0; n], Mat::<f64>::zeros(n, n));
        g.bench_with_input(BenchmarkId::new("eigh f64", n), &n, |b, _| {
            b.iter(|| eigh_into(black_box(a.as_ref()), &mut w, u.as_mut(), &mut ws).unwrap())
        });
        let mut rws = RootWorkspace::<f64>::new(n, Par::Seq);
        let mut out = Mat::<f64>::zeros(n, n);
        for (name, method) in [
            ("inverse 4th root (eigh)", RootMethod::Eigh),
            ("inverse 4th root (Newton)", RootMethod::Newton),
        ] {
            let p = RootParams::default().with_method(method).with_residual(false);
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| inverse_root(black_box(a.as_ref()), out.as_mut(), &p, &mut rws).unwrap())
            });
        }
    }
    g.finish();
}

fn toeplitz(c: &mut Criterion) {
    let mut g = c.benchmark_group("toeplitz");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for &n in &[1024usize, 4096] {
        let t = toeplitz_column(n);
        let rhs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.1).sin()).collect();
        let (mut x, mut ws) = (vec![0.0; n], LevinsonWorkspace::new(n));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("levinson solve", n), &n, |b, _| {
            b.iter(|| levinson_solve(&t, black_box(&rhs), &mut x, &mut ws).unwrap())
        });
    }
    for &n in &[10_000usize, 100_000] {
        let t = toeplitz_column(n);
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.1).sin()).collect();
        let mut op = RealToeplitzOp::symmetric(&t).unwrap();
        let mut y = vec![0.0; n];
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("fft matvec", n), &n, |b, _| {
            b.iter(|| op.apply(black_box(&x), &mut y).unwrap())
        });
    }
    let n = 100_000;
    let t = toeplitz_column(n);
    let rhs: Vec<f64> = (0..n).map(|i| ((i % 7) as f64 - 3.0) / 3.0).collect();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(BenchmarkId::new("pcg (T. Chan)", n), &n, |b, _| {
        b.iter(|| pcg_solve(&t, black_box(&rhs), Preconditioner::Chan, 1e-8, 1000).unwrap())
    });
    g.finish();
}

fn shampoo(c: &mut Criterion) {
    let mut g = c.benchmark_group("shampoo");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3));
    let n = 256;
    let layout = Layout::new().matrix("w", n, n).unwrap();
    let grad: Vec<f32> = (0..n * n).map(|i| (i % 1013) as f32 / 1013.0 - 0.5).collect();
    for (freq, name) in [(1u64, "step with roots"), (u64::MAX, "step, roots cached")] {
        let cfg = ShampooConfig::new(1e-3)
            .with_precondition_frequency(freq)
            .with_start_preconditioning_step(1)
            .with_grafting(Grafting::Adam { beta2: 0.999 });
        let mut opt = Shampoo::<f32>::new(cfg, layout.clone()).unwrap();
        let mut p = vec![0.0f32; n * n];
        // The first step computes the roots (with frequency u64::MAX, the only time it does).
        opt.step(&mut p, &grad).unwrap();
        g.throughput(Throughput::Elements((n * n) as u64));
        g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
            b.iter(|| opt.step(&mut p, black_box(&grad)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, dense, toeplitz, shampoo);
criterion_main!(benches);
