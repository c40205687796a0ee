//! Criterion benches of gradus-ot: one DRAG step, power-cell queries (k-d tree against a
//! scan), one SVGD step.

use criterion::{Criterion, criterion_group, criterion_main};
use gradus_core::{Par, rng};
use gradus_ot::flows::{Bandwidth, Flow, GaussianTarget, Particles, Svgd};
use gradus_ot::semidiscrete::{Drag, DragConfig, SemiDiscrete};
use gradus_ot::{DiscreteMeasure, SampleSet, UniformBox};

fn problem(d: usize, m: usize) -> SemiDiscrete<UniformBox> {
    let cube = UniformBox::cube(d, 0.0, 1.0).unwrap();
    let pts = SampleSet::draw(&cube, m, 1).points().to_vec();
    SemiDiscrete::new(cube, DiscreteMeasure::uniform(d, pts).unwrap()).unwrap()
}

fn drag_step(c: &mut Criterion) {
    for &(d, m) in &[(2usize, 1_000usize), (10, 1_000), (2, 10_000), (10, 10_000)] {
        let pb = problem(d, m);
        let mut drag = Drag::new(&pb, DragConfig::paper(1.0, 4.0), None).unwrap();
        let mut r = rng::seeded(2);
        c.bench_function(&format!("drag_step/d{d}/m{m}"), |b| {
            b.iter(|| drag.step(&mut r).unwrap())
        });
    }
}

fn power_cell(c: &mut Criterion) {
    for d in [2usize, 3, 5, 8] {
        let pb = problem(d, 10_000);
        let g = vec![0.0; 10_000];
        let samples = SampleSet::draw(pb.source(), 1000, 3);
        c.bench_function(&format!("power_cell/batch/d{d}"), |b| {
            b.iter(|| pb.assign(&g, &samples, Par::Seq).unwrap())
        });
        c.bench_function(&format!("power_cell/scan/d{d}"), |b| {
            b.iter(|| {
                for x in samples.points().chunks_exact(d) {
                    std::hint::black_box(pb.power_cell(x, &g).unwrap());
                }
            })
        });
    }
}

fn svgd_step(c: &mut Criterion) {
    for &(n, d) in &[(1000usize, 2usize), (1000, 50)] {
        let target = GaussianTarget::isotropic(vec![0.0; d], 1.0).unwrap();
        let cube = UniformBox::cube(d, -1.0, 1.0).unwrap();
        let mut p = Particles::new(d, SampleSet::draw(&cube, n, 4).points().to_vec()).unwrap();
        let mut svgd = Svgd::new(1e-3, Bandwidth::Median, 1.0).unwrap();
        let mut r = rng::seeded(5);
        c.bench_function(&format!("svgd_step/n{n}/d{d}"), |b| {
            b.iter(|| svgd.step(&mut p, &target, &mut r, Par::Rayon).unwrap())
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = drag_step, power_cell, svgd_step
}
criterion_main!(benches);
