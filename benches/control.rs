//! Paper 10's control machinery: one step of the action optimisation (the notebooks' gradient
//! step, and a Newton step), Riccati solves, and the derived rules' optimizer steps against
//! Adam's in the same run. Run: `cargo bench --bench control`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradus::Optimizer;
use gradus::core::Layout;
use gradus::optim::Agm;
use gradus::optim::control::{
    Boundary, ControlProblem, ControlRule, ControlRuleConfig, DiscreteAction, DoubleWell, Law,
    LqProblem, PathSettings, QuadraticLoss, TimeGrid, linear_path, minimise_path,
};

fn action_steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("action-step");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let well = DoubleWell::notebook();
    let problem = ControlProblem::new(2, 1.0, 1.0, 0.1).unwrap();
    for points in [50usize, 1000] {
        let grid = TimeGrid::new(4.0, points - 1).unwrap();
        let init = linear_path(grid, &[-0.6, 0.55], &[1.0625, 0.0]).unwrap();
        let mut action = DiscreteAction::new(&problem, &well, grid).unwrap();
        // One gradient step of the notebooks' optimiser: the exact gradient plus the update.
        let mut path = init.clone();
        let mut grad = vec![0.0; path.len()];
        // The notebooks' step 1e-2 on the mean action, capped at a quarter of the stability
        // limit η Δt T / 2 of the kinetic term on finer grids.
        let scale = 1e-2f64.min(0.25 * grid.dt() * grid.horizon()) / grid.horizon();
        g.bench_with_input(
            BenchmarkId::new("gradient step, double well", points),
            &points,
            |b, _| {
                b.iter(|| {
                    action.value_grad(black_box(&path), &mut grad).unwrap();
                    for i in 2..path.len() - 2 {
                        path[i] -= scale * grad[i];
                    }
                })
            },
        );
        let one = PathSettings { max_steps: 1, ..PathSettings::newton() };
        g.bench_with_input(
            BenchmarkId::new("Newton step, double well", points),
            &points,
            |b, _| {
                b.iter(|| {
                    minimise_path(&mut action, black_box(&init), Boundary::FixedEnd, &one).unwrap()
                })
            },
        );
    }
    g.finish();
}

/// A dense SPD matrix `Q diag(λ) Qᵀ` with eigenvalues spread over `[lo, hi]`, from rotations.
fn spd(d: usize, lo: f64, hi: f64, phase: f64) -> Vec<f64> {
    let mut q = vec![0.0; d * d];
    for i in 0..d {
        q[i * d + i] = 1.0;
    }
    for k in 0..d.saturating_sub(1) {
        let (s, c) = (phase + k as f64 * 0.7).sin_cos();
        for r in 0..d {
            let (a, b) = (q[r * d + k], q[r * d + k + 1]);
            q[r * d + k] = c * a - s * b;
            q[r * d + k + 1] = s * a + c * b;
        }
    }
    let lam: Vec<f64> = (0..d).map(|i| lo + (hi - lo) * i as f64 / (d.max(2) - 1) as f64).collect();
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            out[i * d + j] = (0..d).map(|k| q[i * d + k] * lam[k] * q[j * d + k]).sum();
        }
    }
    for i in 0..d {
        for j in 0..i {
            let m = 0.5 * (out[i * d + j] + out[j * d + i]);
            out[i * d + j] = m;
            out[j * d + i] = m;
        }
    }
    out
}

fn lqr(c: &mut Criterion) {
    let mut g = c.benchmark_group("lqr-solve");
    g.sample_size(15)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for d in [2usize, 10, 50] {
        let a: Vec<f64> =
            (0..d * d).map(|k| 0.1 * ((k * 7 % 13) as f64 - 6.0) / d as f64).collect();
        let problem = ControlProblem::new(d, 1.0, 1.0, 0.5)
            .unwrap()
            .with_metric(spd(d, 0.5, 2.0, 0.3))
            .unwrap()
            .with_dynamics(a)
            .unwrap();
        let lq = LqProblem::new(
            problem,
            QuadraticLoss::new(spd(d, 0.1, 10.0, 1.1), vec![1.0; d]).unwrap(),
        )
        .unwrap();
        g.bench_with_input(BenchmarkId::new("infinite horizon (sign function)", d), &d, |b, _| {
            b.iter(|| lq.solve().unwrap())
        });
        let grid = TimeGrid::new(10.0, 1000).unwrap();
        let theta0 = vec![0.5; d];
        if d <= 10 {
            g.bench_with_input(
                BenchmarkId::new("finite horizon, 1000 steps (discrete Riccati)", d),
                &d,
                |b, _| b.iter(|| lq.solve_discrete(grid, black_box(&theta0)).unwrap()),
            );
        }
    }
    g.finish();
}

fn rule_steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("rule-step");
    g.sample_size(15)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for n in [100_000usize, 1_000_000] {
        let layout = Layout::flat(n).unwrap();
        let grads: Vec<f32> = (0..n).map(|i| (i as f32 * 1e-3).sin()).collect();
        let mut p = vec![0.5f32; n];
        g.throughput(Throughput::Elements(n as u64));
        let mut adam = Agm::<f32>::adam(layout.clone(), 1e-3).unwrap();
        g.bench_with_input(BenchmarkId::new("adam (Agm::adam)", n), &n, |b, _| {
            b.iter(|| adam.step(&mut p, black_box(&grads)).unwrap())
        });
        let curvature: Vec<f64> = (0..n).map(|i| 0.1 + (i % 7) as f64).collect();
        let rules = [
            ("control gd", ControlRuleConfig::gd(1e-3)),
            ("ballistic", ControlRuleConfig::ballistic(1e-3, 0.999, 1e-8)),
            (
                "adaptive (gamma, decay, hazard)",
                ControlRuleConfig::adaptive(1e-3, 0.5, 0.999, 1e-8)
                    .with_decay(1e-2)
                    .with_hazard(0.1),
            ),
            ("sqrt-curvature (diagonal h)", ControlRuleConfig::sqrt_curvature(1e-3, curvature)),
            ("momentum (inertial, h0)", ControlRuleConfig::momentum(1e-3, 0.5, 1.0)),
            (
                "adaptive inertial",
                ControlRuleConfig {
                    law: Law::Inertial,
                    ..ControlRuleConfig::adaptive(1e-3, 0.5, 0.999, 1e-8)
                },
            ),
        ];
        for (name, cfg) in rules {
            let mut rule = ControlRule::<f32>::new(name, cfg, layout.clone()).unwrap();
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| rule.step(&mut p, black_box(&grads)).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, action_steps, lqr, rule_steps);
criterion_main!(benches);
