//! The discretised action of paper 10: exact gradient and Hessian against finite differences,
//! the notebooks' double-well optimisation (their printed action values are the reference),
//! and the path minimiser against the exact discrete Riccati solution on quadratics.

use gradus_optim::control::{
    Boundary, ControlProblem, DiscreteAction, DoubleWell, DoubleWellSetup, LqProblem, Method,
    PathSettings, Potential, QuadraticLoss, TimeGrid, closed_form, linear_path, minimise_path,
};

/// A problem with every term switched on: anisotropic metric, non-normal dynamics, discount.
fn rich_problem() -> ControlProblem {
    ControlProblem::new(2, 0.7, 1.3, 0.4)
        .unwrap()
        .with_metric(vec![2.0, 0.3, 0.3, 0.5])
        .unwrap()
        .with_dynamics(vec![-0.2, 0.9, -0.4, 0.1])
        .unwrap()
}

fn wiggly_path(points: usize) -> Vec<f64> {
    (0..points)
        .flat_map(|n| {
            let t = n as f64 / (points - 1) as f64;
            [-0.6 + 1.6 * t + 0.2 * (7.0 * t).sin(), 0.55 - 0.5 * t + 0.1 * (5.0 * t).cos()]
        })
        .collect()
}

#[test]
fn action_gradient_matches_central_differences() {
    let problem = rich_problem();
    let well = DoubleWell::notebook();
    let grid = TimeGrid::new(4.0, 12).unwrap();
    let mut action = DiscreteAction::new(&problem, &well, grid).unwrap();
    let path = wiggly_path(grid.points());
    let mut grad = vec![0.0; path.len()];
    action.value_grad(&path, &mut grad).unwrap();
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    for i in 0..path.len() {
        let (mut up, mut dn) = (path.clone(), path.clone());
        up[i] += h;
        dn[i] -= h;
        let fd = (action.parts(&up).unwrap().total - action.parts(&dn).unwrap().total) / (2.0 * h);
        worst = worst.max((fd - grad[i]).abs() / (1.0 + grad[i].abs()));
    }
    assert!(worst < 1e-7, "relative gradient error {worst:e}");
}

#[test]
fn action_hessian_blocks_match_differences_of_the_gradient() {
    let problem = rich_problem();
    let well = DoubleWell::notebook();
    let grid = TimeGrid::new(2.0, 6).unwrap();
    let mut action = DiscreteAction::new(&problem, &well, grid).unwrap();
    let path = wiggly_path(grid.points());
    let (d, pts) = (2, grid.points());
    let mut diag = vec![0.0; pts * 4];
    let mut upper = vec![0.0; (pts - 1) * 4];
    action.hessian_blocks(&path, &mut diag, &mut upper).unwrap();
    let h = 1e-6;
    let mut g_up = vec![0.0; path.len()];
    let mut g_dn = vec![0.0; path.len()];
    let mut worst: f64 = 0.0;
    for col in 0..path.len() {
        let (mut up, mut dn) = (path.clone(), path.clone());
        up[col] += h;
        dn[col] -= h;
        action.value_grad(&up, &mut g_up).unwrap();
        action.value_grad(&dn, &mut g_dn).unwrap();
        for row in 0..path.len() {
            let fd = (g_up[row] - g_dn[row]) / (2.0 * h);
            let (rn, cn) = (row / d, col / d);
            let (ri, ci) = (row % d, col % d);
            let exact = if rn == cn {
                diag[rn * 4 + ri * d + ci]
            } else if cn == rn + 1 {
                upper[rn * 4 + ri * d + ci]
            } else if rn == cn + 1 {
                upper[cn * 4 + ci * d + ri]
            } else {
                0.0
            };
            worst = worst.max((fd - exact).abs() / (1.0 + exact.abs()));
        }
    }
    assert!(worst < 1e-6, "relative Hessian error {worst:e}");
}

fn notebook_setup() -> (ControlProblem, DoubleWell, TimeGrid, Vec<f64>) {
    let s = DoubleWellSetup::notebook().unwrap();
    let init = s.initial_path().unwrap();
    (s.problem, s.well, s.grid, init)
}

#[test]
fn double_well_first_step_action_is_the_notebooks() {
    // The notebook prints S = 6.3151e-01 for "step 0", after the first gradient step (its
    // print follows the update) from the straight line (mean over intervals).
    let (problem, well, grid, init) = notebook_setup();
    let mut action = DiscreteAction::new(&problem, &well, grid).unwrap();
    let one = PathSettings { max_steps: 1, record_every: 1, ..PathSettings::notebook() };
    let sol = minimise_path(&mut action, &init, Boundary::FixedEnd, &one).unwrap();
    assert_eq!(sol.steps, 1);
    assert!((sol.mean_action - 0.63151).abs() < 5e-6, "mean action {}", sol.mean_action);
    assert!(!sol.converged);
}

#[test]
fn double_well_optimum_with_the_notebooks_settings_converges_to_its_printed_action() {
    let (problem, well, grid, init) = notebook_setup();
    let mut action = DiscreteAction::new(&problem, &well, grid).unwrap();
    let gd =
        minimise_path(&mut action, &init, Boundary::FixedEnd, &PathSettings::notebook()).unwrap();
    let newton =
        minimise_path(&mut action, &init, Boundary::FixedEnd, &PathSettings::newton()).unwrap();
    assert!(newton.converged, "Newton: {} steps, |g| {:e}", newton.steps, newton.grad_norm);
    assert!(gd.converged, "GD: {} steps, |g| {:e}", gd.steps, gd.grad_norm);
    // The notebook's converged value (printed from step 19321 to 59536): 1.6957e-01.
    assert!((newton.mean_action - 0.16957).abs() < 5e-6, "mean action {}", newton.mean_action);
    assert!((gd.mean_action - newton.mean_action).abs() < 1e-10);
    let max_dev = gd.path.iter().zip(&newton.path).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(max_dev < 1e-7, "GD and Newton paths differ by {max_dev:e}");
    // The optimum crosses the barrier (x > 0 at the end) and the loss rises first.
    let v: Vec<f64> = newton.path.chunks(2).map(|z| well.value(z[0], z[1])).collect();
    let peak = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(peak > v[0] + 0.1, "loss along the optimum peaks at {peak}, starts at {}", v[0]);
    println!(
        "double well: Newton {} steps S/T = {:.12}, GD {} steps S/T = {:.12}",
        newton.steps, newton.mean_action, gd.steps, gd.mean_action
    );
}

fn quadratic_problem(gamma: f64) -> (ControlProblem, QuadraticLoss) {
    let problem = ControlProblem::new(2, 0.8, 1.5, gamma)
        .unwrap()
        .with_metric(vec![1.5, 0.2, 0.2, 0.7])
        .unwrap()
        .with_dynamics(vec![-0.3, 0.5, -0.5, -0.1])
        .unwrap();
    let loss = QuadraticLoss::new(vec![2.0, 0.4, 0.4, 0.5], vec![0.3, -0.8]).unwrap();
    (problem, loss)
}

#[test]
fn discrete_riccati_is_the_minimiser_of_the_discretised_action() {
    // Two independent routes to the same quadratic minimiser: the backward Riccati recursion,
    // and Newton / gradient descent on the action. Free end.
    for gamma in [0.0, 0.7] {
        let (problem, loss) = quadratic_problem(gamma);
        let grid = TimeGrid::new(3.0, 30).unwrap();
        let theta0 = [1.2, 0.9];
        let lq = LqProblem::new(problem.clone(), loss.clone()).unwrap();
        let riccati = lq.solve_discrete(grid, &theta0).unwrap();
        let mut action = DiscreteAction::new(&problem, &loss, grid).unwrap();
        let init = linear_path(grid, &theta0, &theta0).unwrap();
        let newton =
            minimise_path(&mut action, &init, Boundary::FreeEnd, &PathSettings::newton()).unwrap();
        let gd_settings = PathSettings {
            method: Method::GradientDescent { step: 0.02 },
            max_steps: 400_000,
            grad_tol: 1e-11,
            record_every: 1000,
        };
        let gd = minimise_path(&mut action, &init, Boundary::FreeEnd, &gd_settings).unwrap();
        assert!(newton.converged && gd.converged, "gd {} steps", gd.steps);
        let dev =
            |p: &[f64]| p.iter().zip(&riccati).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(
            dev(&newton.path) < 1e-10,
            "gamma {gamma}: Newton vs Riccati {:e}",
            dev(&newton.path)
        );
        assert!(dev(&gd.path) < 1e-8, "gamma {gamma}: GD vs Riccati {:e}", dev(&gd.path));
    }
}

#[test]
fn discrete_optimum_converges_to_the_closed_form_as_the_grid_refines() {
    // Spec oracle: θ(t) = μ + (θ₀ - μ) e^{-r t}; compare on the first half of a long horizon
    // (the free end bends the path near T). The error is O(Δt): halving Δt halves it.
    let (c, gamma, h, mu, th0) = (1.0, 0.5, 1.0, 1.0, 0.0);
    let problem = ControlProblem::new(1, 1.0, 1.0, gamma).unwrap();
    let loss = QuadraticLoss::diagonal(&[h], &[mu]).unwrap();
    let lq = LqProblem::new(problem, loss).unwrap();
    let horizon = 24.0;
    let mut errors = Vec::new();
    for intervals in [480, 960, 1920] {
        let grid = TimeGrid::new(horizon, intervals).unwrap();
        let path = lq.solve_discrete(grid, &[th0]).unwrap();
        let err = (0..=intervals / 2)
            .map(|n| (path[n] - closed_form::trajectory(c, gamma, h, mu, th0, grid.time(n))).abs())
            .fold(0.0, f64::max);
        errors.push(err);
    }
    assert!(errors[2] < 2e-3, "errors {errors:?}");
    for w in errors.windows(2) {
        let ratio = w[0] / w[1];
        assert!((1.8..2.2).contains(&ratio), "not first order: {errors:?}");
    }
}

#[test]
fn short_horizon_optimum_is_natural_gradient_descent() {
    // Horizon T → 0 (free end): the first velocity is -η k T G⁻¹ ∇L(θ₀) + A θ₀ to O(T²).
    let (problem, loss) = quadratic_problem(0.3);
    let lq = LqProblem::new(problem.clone(), loss.clone()).unwrap();
    let theta0 = [1.2, 0.9];
    let mut g = [0.0; 2];
    loss.value_grad(&theta0, &mut g);
    let gm = problem.metric_dense();
    let det = gm[0] * gm[3] - gm[1] * gm[2];
    let ginv_g = [(gm[3] * g[0] - gm[1] * g[1]) / det, (-gm[2] * g[0] + gm[0] * g[1]) / det];
    let a = problem.dynamics_dense();
    let drift = [a[0] * theta0[0] + a[1] * theta0[1], a[2] * theta0[0] + a[3] * theta0[1]];
    let mut rel = Vec::new();
    for horizon in [0.1, 0.05, 0.025] {
        let grid = TimeGrid::new(horizon, 4000).unwrap();
        let path = lq.solve_discrete(grid, &theta0).unwrap();
        // Velocity of the control part, u_0 = (x_1 - x_0)/Δt - A x_0, over η k T.
        let scale = problem.eta() * problem.k() * horizon;
        let u: Vec<f64> = (0..2).map(|i| (path[2 + i] - path[i]) / grid.dt() - drift[i]).collect();
        let err = ((u[0] / scale + ginv_g[0]).powi(2) + (u[1] / scale + ginv_g[1]).powi(2)).sqrt()
            / (ginv_g[0].powi(2) + ginv_g[1].powi(2)).sqrt();
        rel.push(err);
    }
    assert!(rel[2] < 0.05, "relative error {rel:?}");
    for w in rel.windows(2) {
        assert!(w[0] / w[1] > 1.7, "error not O(T): {rel:?}");
    }
}
