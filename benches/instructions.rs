//! Instruction-count benches (gungraun + valgrind's callgrind) of the hot paths, at sizes that
//! stay in cache: the count is exact for a given binary, so a change of a few percent is
//! visible on a noisy shared machine, where wall-time benches are not.
//!
//! Run: `benches/compare.sh` (runs this file, then compares every count with
//! `benches/baseline/instructions.json` and fails above +2%), or directly
//! `cargo bench --bench instructions` (needs valgrind and `gungraun-runner` of the same version
//! as the `gungraun` dev-dependency; see docs/benchmarks.md).
//!
//! Every bench runs single-threaded (`Par::Seq`): rayon's work stealing would make the count
//! depend on scheduling. Inputs are built in `setup` functions, which callgrind does not
//! count; each benchmark returns its state so that freeing it is not counted either. Kernels
//! are called once in `setup` first, so the count is that of a steady-state call (pulp's CPU
//! feature detection and first-step state allocation happen outside the measurement).

use std::hint::black_box;

use gradus::core::{Layout, Par, rng};
use gradus::dist::compression::{Compressor, TopK};
use gradus::dist::federated::aggregate::{Aggregate, Aggregator, Krum, Weiszfeld};
use gradus::dist::federated::{NonFinitePolicy, Updates};
use gradus::kernels::{self as k, AdamConsts, Bf16Vec, GradStats, SgdConsts};
use gradus::linalg::toeplitz::{LevinsonWorkspace, levinson_solve};
use gradus::linalg::{
    EighWorkspace, Mat, RootMethod, RootParams, RootWorkspace, eigh_into, inverse_root,
};
use gradus::models::data::{classification, normal};
use gradus::models::{Dense, SoftmaxRegression};
use gradus::optim::{Agm, AgmConfig, Trainer};
use gradus::ot::semidiscrete::{Drag, DragConfig, SemiDiscrete};
use gradus::ot::{DiscreteMeasure, SampleSet, UniformBox};
use gungraun::{
    Callgrind, LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main,
};

/// Elementwise kernels: 16384 f32 parameters, four arrays of 64 KiB (L2-resident).
const N: usize = 16_384;

fn wave(n: usize, f: f32) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * f).sin()).collect()
}

// ---------------------------------------------------------------- elementwise kernels

struct Adam {
    c: AdamConsts<f32>,
    p: Vec<f32>,
    g: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

fn adam_setup(n: usize) -> Adam {
    let mut s = Adam {
        c: AdamConsts::new(1e-3, 0.9, 0.999, 1e-8, 10, true),
        p: wave(n, 1e-3),
        g: wave(n, 7e-4),
        m: vec![0.0; n],
        v: vec![0.0; n],
    };
    k::adam_step(Par::Seq, &s.c, &mut s.p, &s.g, &mut s.m, &mut s.v, None).expect("adam setup");
    s
}

#[library_benchmark]
#[bench::n16384(args = (N), setup = adam_setup)]
fn adam_f32(mut s: Adam) -> Adam {
    k::adam_step(Par::Seq, &s.c, &mut s.p, black_box(&s.g), &mut s.m, &mut s.v, None)
        .expect("adam step");
    s
}

struct AdamBf16 {
    c: AdamConsts<f32>,
    p: Vec<f32>,
    g: Vec<f32>,
    m: Bf16Vec,
    v: Bf16Vec,
}

fn adam_bf16_setup(n: usize) -> AdamBf16 {
    let mut s = AdamBf16 {
        c: AdamConsts::new(1e-3, 0.9, 0.999, 1e-8, 10, true),
        p: wave(n, 1e-3),
        g: wave(n, 7e-4),
        m: Bf16Vec::zeros(n),
        v: Bf16Vec::zeros(n),
    };
    k::adam_step_bf16(Par::Seq, &s.c, &mut s.p, &s.g, &mut s.m, &mut s.v, None)
        .expect("bf16 setup");
    s
}

#[library_benchmark]
#[bench::n16384(args = (N), setup = adam_bf16_setup)]
fn adam_bf16(mut s: AdamBf16) -> AdamBf16 {
    k::adam_step_bf16(Par::Seq, &s.c, &mut s.p, black_box(&s.g), &mut s.m, &mut s.v, None)
        .expect("bf16 step");
    s
}

struct Sgd {
    c: SgdConsts<f32>,
    p: Vec<f32>,
    g: Vec<f32>,
    buf: Vec<f32>,
}

fn sgd_setup(n: usize) -> Sgd {
    let c = SgdConsts { momentum: 0.9, nesterov: true, ..SgdConsts::<f32>::plain(1e-3) };
    let mut s = Sgd { c, p: wave(n, 1e-3), g: wave(n, 7e-4), buf: vec![0.0; n] };
    k::sgd_step(Par::Seq, &s.c, &mut s.p, &s.g, Some(&mut s.buf)).expect("sgd setup");
    s
}

#[library_benchmark]
#[bench::nesterov_n16384(args = (N), setup = sgd_setup)]
fn sgd_f32(mut s: Sgd) -> Sgd {
    k::sgd_step(Par::Seq, &s.c, &mut s.p, black_box(&s.g), Some(&mut s.buf)).expect("sgd step");
    s
}

fn grad_setup(n: usize) -> Vec<f32> {
    let g = wave(n, 7e-4);
    black_box(k::grad_stats(Par::Seq, &g));
    g
}

// The statistics of a validated optimizer step (finiteness + sum of squares in one pass).
#[library_benchmark]
#[bench::n16384(args = (N), setup = grad_setup)]
fn grad_stats(g: Vec<f32>) -> (Vec<f32>, GradStats<f32>) {
    let st = k::grad_stats(Par::Seq, black_box(&g));
    (g, st)
}

library_benchmark_group!(
    name = kernels;
    benchmarks = adam_f32, adam_bf16, sgd_f32, grad_stats
);

// ---------------------------------------------------------------- linear algebra

struct Levinson {
    t: Vec<f64>,
    b: Vec<f64>,
    x: Vec<f64>,
    ws: LevinsonWorkspace<f64>,
}

/// A symmetric positive-definite Toeplitz column with `t_k ~ k^-1.5` decay, as in `linalg.rs`.
fn levinson_setup(n: usize) -> Levinson {
    let t = (0..n).map(|k| if k == 0 { 2.0 } else { 1.0 / ((1 + k) as f64).powf(1.5) }).collect();
    let b = (0..n).map(|i| (i as f64 * 0.1).sin()).collect();
    Levinson { t, b, x: vec![0.0; n], ws: LevinsonWorkspace::new(n) }
}

#[library_benchmark]
#[bench::n1024(args = (1024), setup = levinson_setup)]
fn levinson(mut s: Levinson) -> Levinson {
    levinson_solve(&s.t, black_box(&s.b), &mut s.x, &mut s.ws).expect("levinson");
    s
}

/// A well-conditioned SPD matrix `G G^T / n + I / 2` from a deterministic `G`.
fn spd(n: usize) -> Mat<f64> {
    let g =
        Mat::<f64>::from_fn(n, n, |i, j| ((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0 - 0.5);
    Mat::from_fn(n, n, |i, j| {
        let s: f64 = (0..n).map(|k| g[(i, k)] * g[(j, k)]).sum();
        s / n as f64 + if i == j { 0.5 } else { 0.0 }
    })
}

struct Eigh {
    a: Mat<f64>,
    w: Vec<f64>,
    u: Mat<f64>,
    ws: EighWorkspace<f64>,
}

fn eigh_setup(n: usize) -> Eigh {
    Eigh { a: spd(n), w: vec![0.0; n], u: Mat::zeros(n, n), ws: EighWorkspace::new(n, Par::Seq) }
}

#[library_benchmark]
#[bench::n256(args = (256), setup = eigh_setup)]
fn eigh(mut s: Eigh) -> Eigh {
    eigh_into(black_box(s.a.as_ref()), &mut s.w, s.u.as_mut(), &mut s.ws).expect("eigh");
    s
}

struct Root {
    a: Mat<f64>,
    out: Mat<f64>,
    ws: RootWorkspace<f64>,
}

fn root_setup(n: usize) -> Root {
    Root { a: spd(n), out: Mat::zeros(n, n), ws: RootWorkspace::new(n, Par::Seq) }
}

// Eigendecomposition plus `U diag(w^-1/4) U^T`: Shampoo's root recomputation.
#[library_benchmark]
#[bench::n256(args = (256), setup = root_setup)]
fn inverse_4th_root(mut s: Root) -> Root {
    let p = RootParams::default().with_method(RootMethod::Eigh).with_residual(false);
    inverse_root(black_box(s.a.as_ref()), s.out.as_mut(), &p, &mut s.ws).expect("root");
    s
}

library_benchmark_group!(name = linalg; benchmarks = levinson, eigh, inverse_4th_root);

// ---------------------------------------------------------------- distributed

struct Compress {
    topk: TopK,
    v: Vec<f32>,
    out: Vec<f32>,
    rng: rng::Rng,
}

fn topk_setup(n: usize) -> Compress {
    let mut r = rng::seeded(1);
    let v = (0..n).map(|_| normal(&mut r) as f32).collect();
    let mut s =
        Compress { topk: TopK::new(n, n / 100).expect("top-k"), v, out: vec![0.0; n], rng: r };
    s.topk.compress(&s.v, &mut s.out, &mut s.rng).expect("top-k setup");
    s
}

// Top-1% of 65536 entries.
#[library_benchmark]
#[bench::n65536_k1pct(args = (65_536), setup = topk_setup)]
fn top_k(mut s: Compress) -> Compress {
    s.topk.compress(black_box(&s.v), &mut s.out, &mut s.rng).expect("top-k");
    s
}

/// `n` client updates of dimension `d` (row-major), standard normal.
fn updates_setup(n: usize, d: usize) -> (Vec<f64>, usize, usize) {
    let mut r = rng::seeded(1);
    ((0..n * d).map(|_| normal(&mut r)).collect(), n, d)
}

fn aggregate(rule: &Aggregator, (x, n, d): &(Vec<f64>, usize, usize)) -> Aggregate {
    let u = Updates::new(black_box(x), *n, *d).expect("updates");
    rule.aggregate(u, NonFinitePolicy::Reject, Par::Seq).expect("aggregate")
}

// Krum with `f = 4` Byzantine clients among 20, `d = 4096`.
#[library_benchmark]
#[bench::n20_d4096(args = (20, 4096), setup = updates_setup)]
fn krum(u: (Vec<f64>, usize, usize)) -> ((Vec<f64>, usize, usize), Aggregate) {
    let a = aggregate(&Aggregator::Krum(Krum::new(4)), &u);
    (u, a)
}

// The geometric median by Weiszfeld's iteration (tolerance 1e-8), 20 clients, `d = 4096`.
#[library_benchmark]
#[bench::n20_d4096(args = (20, 4096), setup = updates_setup)]
fn geometric_median(u: (Vec<f64>, usize, usize)) -> ((Vec<f64>, usize, usize), Aggregate) {
    let rule = Aggregator::GeometricMedian(Weiszfeld { tol: 1e-8, ..Weiszfeld::default() });
    let a = aggregate(&rule, &u);
    (u, a)
}

library_benchmark_group!(name = dist; benchmarks = top_k, krum, geometric_median);

// ---------------------------------------------------------------- optimal transport, training

type DragState = (Drag<'static, UniformBox>, rng::Rng);

/// DRAG on the unit square against `m` uniform atoms; the problem is leaked so the solver
/// can borrow it for the benchmark's lifetime.
fn drag_setup(d: usize, m: usize) -> DragState {
    let cube = UniformBox::cube(d, 0.0, 1.0).expect("cube");
    let pts = SampleSet::draw(&cube, m, 1).points().to_vec();
    let target = DiscreteMeasure::uniform(d, pts).expect("atoms");
    let pb: &'static SemiDiscrete<UniformBox> =
        Box::leak(Box::new(SemiDiscrete::new(cube, target).expect("problem")));
    let mut drag = Drag::new(pb, DragConfig::paper(1.0, 4.0), None).expect("drag");
    let mut r = rng::seeded(2);
    drag.step(&mut r).expect("drag setup");
    (drag, r)
}

#[library_benchmark]
#[bench::d2_m1000(args = (2, 1000), setup = drag_setup)]
fn drag_step((mut drag, mut r): DragState) -> DragState {
    drag.step(black_box(&mut r)).expect("drag step");
    (drag, r)
}

type Train = Trainer<f32, SoftmaxRegression<f32>, Agm<f32>>;

/// Softmax regression (20 features, 5 classes, minibatches of 32 out of 512 samples) trained
/// by Adam, sequential; one step has been taken, so the optimizer state exists.
fn trainer_setup(samples: usize) -> Train {
    let mut r = rng::seeded(42);
    let (x, labels): (Dense<f32>, Vec<usize>) =
        classification(samples, 20, 5, 1.0, 10.0, &mut r).unwrap();
    let model = SoftmaxRegression::new(x, labels, 5, 1e-4, 32).expect("model");
    let layout: Layout = model.layout();
    let cfg = AgmConfig::adam(1e-2).with_par(Par::Seq);
    let opt = Agm::<f32>::new("adam", cfg, layout.clone()).expect("adam");
    let mut t =
        Trainer::new(model, opt, vec![0.0; layout.len()], 7).expect("trainer").with_par(Par::Seq);
    t.run(1).expect("first step");
    t
}

// One `Trainer` step: minibatch loss and gradient, validation, Adam update.
#[library_benchmark]
#[bench::softmax_512x20(args = (512), setup = trainer_setup)]
fn trainer_step(mut t: Train) -> Train {
    black_box(t.run(1).expect("trainer step"));
    t
}

library_benchmark_group!(name = steps; benchmarks = drag_step, trainer_step);

main!(
    // Only the instruction count is compared; the cache simulation would triple the run time.
    config = LibraryBenchmarkConfig::default().tool(Callgrind::with_args(["--cache-sim=no"]));
    library_benchmark_groups = kernels, linalg, dist, steps
);
