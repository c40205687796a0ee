//! The Riccati solution of paper 10's linear-quadratic problems against the spec's closed
//! forms (rates, fixed points, spirals, costs), and the limits they contain.

use gradus_core::Error;
use gradus_optim::control::{
    ControlProblem, DiscreteAction, LqProblem, Potential, QuadraticLoss, TimeGrid, closed_form,
};

fn lq(problem: ControlProblem, loss: QuadraticLoss) -> LqProblem {
    LqProblem::new(problem, loss).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn riccati_rates_and_values_match_the_closed_form_with_a_diagonal_metric() {
    let (h, mu, g) = ([0.3, 1.0, 4.0], [1.0, -1.0, 0.5], [1.0, 2.0, 0.5]);
    let (eta, k) = (0.8, 1.25);
    let theta0 = [0.2, 0.7, -1.1];
    for gamma in [0.0, 0.5, 3.0, 30.0] {
        let problem =
            ControlProblem::new(3, eta, k, gamma).unwrap().with_diagonal_metric(&g).unwrap();
        let sol = lq(problem, QuadraticLoss::diagonal(&h, &mu).unwrap()).solve().unwrap();
        assert!(sol.residual < 1e-12, "residual {:e}", sol.residual);
        let mut value = 0.0;
        for i in 0..3 {
            let r = closed_form::rate(eta * k / g[i], gamma, h[i]);
            assert!(rel(-sol.closed_loop[i * 3 + i], r) < 1e-12, "gamma {gamma}, coordinate {i}");
            for j in (0..3).filter(|&j| j != i) {
                assert!(sol.closed_loop[i * 3 + j].abs() < 1e-13);
            }
            value += closed_form::cost(eta, k, g[i], gamma, h[i], theta0[i] - mu[i], f64::INFINITY);
        }
        let star = sol.fixed_point().unwrap();
        assert!(star.iter().zip(&mu).all(|(a, b)| (a - b).abs() < 1e-12));
        assert!(rel(sol.value(&theta0).unwrap(), value) < 1e-11, "gamma {gamma}");
    }
}

#[test]
fn natural_gradient_equals_the_identity_metric_in_rescaled_coordinates() {
    // Spec: the optimum with metric G equals the G = I optimum in θ' = G^{1/2} θ, where the
    // curvature becomes G^{-1/2} H G^{-1/2}.
    let (h, mu, g) = ([4.0, 4.0], [0.0, -0.5], [1.0 / 50.0, 1.0]);
    let theta0 = [1.5, 1.5];
    let times = [0.02, 0.1, 0.5, 2.0];
    for gamma in [0.0, 1.0] {
        let with_g = lq(
            ControlProblem::new(2, 1.0, 1.0, gamma).unwrap().with_diagonal_metric(&g).unwrap(),
            QuadraticLoss::diagonal(&h, &mu).unwrap(),
        );
        let s: Vec<f64> = g.iter().map(|x| x.sqrt()).collect();
        let rescaled = lq(
            ControlProblem::new(2, 1.0, 1.0, gamma).unwrap(),
            QuadraticLoss::diagonal(&[h[0] / g[0], h[1] / g[1]], &[mu[0] * s[0], mu[1] * s[1]])
                .unwrap(),
        );
        let a = with_g.solve().unwrap().trajectory(&theta0, &times).unwrap();
        let b = rescaled
            .solve()
            .unwrap()
            .trajectory(&[theta0[0] * s[0], theta0[1] * s[1]], &times)
            .unwrap();
        for (n, pair) in a.chunks(2).enumerate() {
            for i in 0..2 {
                assert!(
                    (pair[i] - b[2 * n + i] / s[i]).abs() < 1e-10,
                    "gamma {gamma}, t {}",
                    times[n]
                );
            }
        }
    }
}

#[test]
fn weight_decay_converges_to_the_shifted_fixed_point_at_the_closed_form_rate() {
    let (h, mu, j) = (4.0, -0.5, 1.5);
    for gamma in [0.0, 0.5, 2.0] {
        for (dynamics, jj) in [(-j, j), (j, -j)] {
            // dynamics = -j: weight decay (our sign); +j: the notebook's formula j (j - γ).
            let problem = ControlProblem::new(1, 1.0, 1.0, gamma)
                .unwrap()
                .with_dynamics(vec![dynamics])
                .unwrap();
            let sol = lq(problem, QuadraticLoss::diagonal(&[h], &[mu]).unwrap()).solve().unwrap();
            assert!(rel(-sol.closed_loop[0], closed_form::decay_rate(1.0, gamma, h, jj)) < 1e-12);
            let b = closed_form::decay_fixed_point_factor(1.0, gamma, h, jj);
            assert!(rel(sol.fixed_point().unwrap()[0], b * mu) < 1e-12);
            if dynamics > 0.0 {
                // The notebook's expression for B, with (j - γ) j.
                let notebook = h / (h + (j - gamma) * j);
                assert!(rel(b, notebook) < 1e-14);
            }
        }
    }
}

#[test]
fn rotation_spirals_to_the_shifted_fixed_point() {
    let (h, q, mu) = (4.0, 10.0, [0.0, -0.5]);
    let theta0 = [1.5, 1.5];
    for gamma in [0.0, 0.7] {
        let problem = ControlProblem::new(2, 1.0, 1.0, gamma).unwrap().with_rotation(q).unwrap();
        let sol = lq(problem, QuadraticLoss::diagonal(&[h, h], &mu).unwrap()).solve().unwrap();
        let rot = closed_form::Rotation::new(1.0, gamma, h, q, mu);
        let star = sol.fixed_point().unwrap();
        assert!((star[0] - rot.fixed_point[0]).abs() < 1e-12);
        assert!((star[1] - rot.fixed_point[1]).abs() < 1e-12);
        // Eigenvalues -λ ± i q: trace -2λ, determinant λ² + q².
        let k = &sol.closed_loop;
        assert!(rel(-(k[0] + k[3]), 2.0 * rot.lambda) < 1e-12);
        assert!(rel(k[0] * k[3] - k[1] * k[2], rot.lambda.powi(2) + q * q) < 1e-12);
        let times = [0.05, 0.3, 1.0, 3.0];
        let path = sol.trajectory(&theta0, &times).unwrap();
        for (n, &t) in times.iter().enumerate() {
            let want = rot.trajectory(theta0, t);
            assert!(
                (path[2 * n] - want[0]).abs() < 1e-9 && (path[2 * n + 1] - want[1]).abs() < 1e-9
            );
        }
        // Closer to the origin than μ: the loss minimum is not reached.
        let norm = |p: [f64; 2]| (p[0] * p[0] + p[1] * p[1]).sqrt();
        assert!(norm(rot.fixed_point) < norm(mu));
    }
}

#[test]
fn energy_is_conserved_along_the_undiscounted_optimum() {
    // γ = 0, f = 0, min L = 0, infinite horizon: (1/(2η)) θ̇ᵀ G θ̇ = k L(θ) along the optimum.
    let h = vec![2.0, 0.6, 0.0, 0.6, 1.0, 0.3, 0.0, 0.3, 0.5];
    let g = vec![1.5, 0.2, 0.1, 0.2, 0.8, 0.0, 0.1, 0.0, 2.0];
    let loss = QuadraticLoss::new(h, vec![0.4, -0.2, 1.0]).unwrap();
    let problem = ControlProblem::new(3, 0.7, 1.4, 0.0).unwrap().with_metric(g.clone()).unwrap();
    let sol = lq(problem.clone(), loss.clone()).solve().unwrap();
    let theta0 = [1.0, 1.0, -1.0];
    let times = [0.0, 0.2, 1.0, 3.0];
    let path = sol.trajectory(&theta0, &times).unwrap();
    for x in path.chunks(3) {
        let mut v = [0.0; 3];
        sol.velocity(x, &mut v).unwrap();
        let kinetic: f64 =
            (0..3).map(|i| (0..3).map(|j| v[i] * g[i * 3 + j] * v[j]).sum::<f64>()).sum::<f64>()
                / (2.0 * problem.eta());
        let mut grad = [0.0; 3];
        let potential = problem.k() * loss.value_grad(x, &mut grad);
        assert!(
            (kinetic - potential).abs() < 1e-12 * (1.0 + potential),
            "{kinetic} vs {potential}"
        );
    }
}

#[test]
fn curvature_scaling_of_the_rate_by_discount() {
    // Spec Fig 2d: r(4)/r(1) = 2 at γ = 0 (square root of curvature), close to 4 at γ = 10
    // (linear, as GD); doubling the curvature multiplies the ballistic rate by sqrt(2).
    let ratio =
        |gamma: f64, h: f64| closed_form::rate(1.0, gamma, h) / closed_form::rate(1.0, gamma, 1.0);
    assert!((ratio(0.0, 4.0) - 2.0).abs() < 1e-14);
    assert!((ratio(0.0, 2.0) - 2f64.sqrt()).abs() < 1e-14);
    let r10 = ratio(10.0, 4.0);
    assert!(
        (r10 - (29f64.sqrt() - 5.0) / (26f64.sqrt() - 5.0)).abs() < 1e-12 && r10 > 3.8 && r10 < 4.0
    );
}

#[test]
fn large_discount_gives_natural_gradient_flow() {
    // γ >> 1: K → -(η k / γ) G⁻¹ H, relative error about |η k G⁻¹ H| / γ².
    let h = vec![2.0, 0.5, 0.5, 1.0];
    let g = vec![1.5, -0.3, -0.3, 0.6];
    let (eta, k) = (0.9, 1.1);
    // G⁻¹ H for the 2 x 2 case.
    let det = g[0] * g[3] - g[1] * g[2];
    let gi = [g[3] / det, -g[1] / det, -g[2] / det, g[0] / det];
    let gih = [
        gi[0] * h[0] + gi[1] * h[2],
        gi[0] * h[1] + gi[1] * h[3],
        gi[2] * h[0] + gi[3] * h[2],
        gi[2] * h[1] + gi[3] * h[3],
    ];
    let norm = |m: &[f64]| m.iter().map(|x| x * x).sum::<f64>().sqrt();
    for gamma in [10.0, 100.0, 1000.0] {
        let problem =
            ControlProblem::new(2, eta, k, gamma).unwrap().with_metric(g.clone()).unwrap();
        let sol =
            lq(problem, QuadraticLoss::new(h.clone(), vec![1.0, 2.0]).unwrap()).solve().unwrap();
        let scaled: Vec<f64> = sol.closed_loop.iter().map(|x| -x * gamma / (eta * k)).collect();
        let err =
            norm(&scaled.iter().zip(&gih).map(|(a, b)| a - b).collect::<Vec<_>>()) / norm(&gih);
        let bound = eta * k * norm(&gih) / (gamma * gamma);
        assert!(err <= 1.5 * bound, "gamma {gamma}: error {err:e} vs bound {bound:e}");
    }
}

#[test]
fn dense_curvature_closed_loop_is_the_rate_function_of_the_hessian() {
    // G = I, f = 0: K = -r(H) with r applied to the eigenvalues of H.
    let (c, s) = (0.6f64.cos(), 0.6f64.sin());
    let (l1, l2) = (0.5, 3.0);
    let h = vec![
        l1 * c * c + l2 * s * s,
        (l1 - l2) * c * s,
        (l1 - l2) * c * s,
        l1 * s * s + l2 * c * c,
    ];
    let gamma = 0.8;
    let sol = lq(
        ControlProblem::new(2, 1.0, 1.0, gamma).unwrap(),
        QuadraticLoss::new(h, vec![0.0, 0.0]).unwrap(),
    )
    .solve()
    .unwrap();
    let (r1, r2) = (closed_form::rate(1.0, gamma, l1), closed_form::rate(1.0, gamma, l2));
    let want = [
        -(r1 * c * c + r2 * s * s),
        -(r1 - r2) * c * s,
        -(r1 - r2) * c * s,
        -(r1 * s * s + r2 * c * c),
    ];
    for (a, b) in sol.closed_loop.iter().zip(want) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn value_equals_the_action_of_the_discrete_optimum_in_the_limit() {
    // With dynamics, metric and discount, W(θ₀) (from P, b, c₀) against J_Δ of the exact
    // discrete optimum over a long horizon: first-order agreement, and the Richardson
    // extrapolation 2 J(Δt/2) - J(Δt) removes the O(Δt) term.
    let problem = ControlProblem::new(2, 0.8, 1.5, 0.9)
        .unwrap()
        .with_metric(vec![1.5, 0.2, 0.2, 0.7])
        .unwrap()
        .with_dynamics(vec![-0.3, 0.5, -0.5, -0.1])
        .unwrap();
    let loss = QuadraticLoss::new(vec![2.0, 0.4, 0.4, 0.5], vec![0.3, -0.8]).unwrap();
    let lq = lq(problem.clone(), loss.clone());
    let theta0 = [1.2, 0.9];
    let w = lq.solve().unwrap().value(&theta0).unwrap();
    let mut values = Vec::new();
    for intervals in [2000, 4000] {
        let grid = TimeGrid::new(40.0, intervals).unwrap();
        let path = lq.solve_discrete(grid, &theta0).unwrap();
        let mut action = DiscreteAction::new(&problem, &loss, grid).unwrap();
        values.push(action.parts(&path).unwrap().total);
    }
    let (e0, e1) = (rel(values[0], w), rel(values[1], w));
    assert!((1.9..2.1).contains(&(e0 / e1)), "not first order: {e0:e}, {e1:e}");
    let extrapolated = 2.0 * values[1] - values[0];
    assert!(rel(extrapolated, w) < 1e-4, "extrapolated {extrapolated} vs {w}");
}

#[test]
fn degenerate_problems_are_named_errors() {
    // A flat direction without discount: the optimum never settles.
    let flat = QuadraticLoss::diagonal(&[1.0, 0.0], &[1.0, 1.0]).unwrap();
    let undiscounted = lq(ControlProblem::new(2, 1.0, 1.0, 0.0).unwrap(), flat.clone());
    assert!(matches!(undiscounted.solve(), Err(Error::Singular { .. })));
    // With discount the flat direction simply does not move: every point on it is fixed.
    let discounted = lq(ControlProblem::new(2, 1.0, 1.0, 0.5).unwrap(), flat).solve().unwrap();
    assert!(discounted.closed_loop[3].abs() < 1e-14);
    assert!(matches!(discounted.fixed_point(), Err(Error::Singular { .. })));
    // Undiscounted with decay: holding the shifted fixed point costs forever.
    let decay = ControlProblem::new(1, 1.0, 1.0, 0.0).unwrap().with_weight_decay(1.0).unwrap();
    let sol = lq(decay.clone(), QuadraticLoss::diagonal(&[2.0], &[1.0]).unwrap()).solve().unwrap();
    assert!(matches!(sol.value(&[0.0]), Err(Error::Unsupported(_))));
    let at_origin = lq(decay, QuadraticLoss::diagonal(&[2.0], &[0.0]).unwrap()).solve().unwrap();
    assert!(at_origin.value(&[1.0]).unwrap().is_finite());
    // Invalid inputs name themselves.
    assert!(matches!(
        ControlProblem::new(2, 1.0, 1.0, -0.1),
        Err(Error::InvalidHyperparameter { field: "gamma", .. })
    ));
    assert!(matches!(
        ControlProblem::new(2, 0.0, 1.0, 0.1),
        Err(Error::InvalidHyperparameter { field: "eta", .. })
    ));
    assert!(matches!(
        ControlProblem::new(2, 1.0, 1.0, 0.1).unwrap().with_metric(vec![1.0, 2.0, 2.0, 1.0]),
        Err(Error::NotPositiveDefinite { .. })
    ));
    assert!(matches!(
        ControlProblem::new(2, 1.0, 1.0, 0.1).unwrap().with_metric(vec![1.0, 0.5, 0.0, 1.0]),
        Err(Error::NotSymmetric { .. })
    ));
    assert!(matches!(
        QuadraticLoss::new(vec![1.0, 0.0, 0.0, -1.0], vec![0.0, 0.0]),
        Err(Error::NotPositiveDefinite { .. })
    ));
    assert!(matches!(
        QuadraticLoss::diagonal(&[1.0, f64::NAN], &[0.0, 0.0]),
        Err(Error::NonFinite { .. })
    ));
}
