//! The learning rules of paper 10 as optimizers: each named setting of `ControlRule` against
//! its textbook form, the feedback law against the Riccati solution, and the limits (short
//! and long horizon, time step to zero, large discount, task hazard).

use gradus_core::{Error, Layout, Par};
use gradus_optim::control::{
    ControlProblem, ControlRule, ControlRuleConfig, Curvature, Law, LqProblem, QuadraticLoss,
    closed_form, feedback, friction,
};
use gradus_optim::{Agm, AgmConfig, Momentum, Optimizer};

fn flat(n: usize) -> Layout {
    Layout::flat(n).unwrap()
}

/// Gradients of `1/2 Σ h_i (θ_i - μ_i)²`.
fn quad_grad(h: &[f64], mu: &[f64], x: &[f64], g: &mut [f64]) {
    for i in 0..x.len() {
        g[i] = h[i] * (x[i] - mu[i]);
    }
}

fn noisy_grads(n: usize, step: usize) -> Vec<f64> {
    (0..n).map(|i| ((i * 7 + step * 13) as f64 * 0.37).sin() * (1.0 + i as f64 * 0.1)).collect()
}

#[test]
fn gd_setting_is_sgd_bit_for_bit() {
    let n = 37;
    let mut a = ControlRule::<f32>::gd(flat(n), 0.05).unwrap();
    let mut b = Agm::<f32>::sgd(flat(n), 0.05).unwrap();
    let (mut xa, mut xb) = (vec![0.3f32; n], vec![0.3f32; n]);
    for s in 0..20 {
        let g: Vec<f32> = noisy_grads(n, s).iter().map(|&v| v as f32).collect();
        a.step(&mut xa, &g).unwrap();
        b.step(&mut xb, &g).unwrap();
    }
    assert_eq!(xa, xb);
}

#[test]
fn natural_gradient_setting_divides_by_the_metric() {
    let n = 5;
    let metric = vec![0.5, 1.0, 2.0, 4.0, 0.02];
    let mut rule = ControlRule::<f64>::new(
        "ng",
        ControlRuleConfig::natural_gradient(0.1, metric.clone()),
        flat(n),
    )
    .unwrap();
    let mut x = vec![1.0; n];
    let mut reference = x.clone();
    for s in 0..10 {
        let g = noisy_grads(n, s);
        rule.step(&mut x, &g).unwrap();
        for i in 0..n {
            reference[i] -= 0.1 * g[i] / metric[i];
        }
    }
    for (a, b) in x.iter().zip(&reference) {
        assert!((a - b).abs() < 1e-13);
    }
}

#[test]
fn ballistic_setting_is_the_official_ballistic_optimizer() {
    // The repo's optimizer: v = β2 v + (1 - β2) g², p -= lr g / sqrt(v + eps), after global
    // clipping at 5 (its training loop), no bias correction.
    let n = 11;
    let (lr, beta2, eps) = (5e-4, 0.999, 1e-8);
    let cfg = ControlRuleConfig::ballistic(lr, beta2, eps).with_clipping(5.0);
    let mut rule = ControlRule::<f64>::new("ballistic", cfg, flat(n)).unwrap();
    let mut x = vec![0.2; n];
    let (mut rx, mut rv) = (x.clone(), vec![0.0; n]);
    for s in 0..30 {
        let g: Vec<f64> = noisy_grads(n, s).iter().map(|v| v * 3.0).collect();
        let info = rule.step(&mut x, &g).unwrap();
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        let clip = if norm > 5.0 { 5.0 / norm } else { 1.0 };
        assert!((info.clip_scale - clip).abs() < 1e-15);
        for i in 0..n {
            let gi = g[i] * clip;
            rv[i] = beta2 * rv[i] + (1.0 - beta2) * gi * gi;
            rx[i] -= lr * gi / (rv[i] + eps).sqrt();
        }
    }
    for (a, b) in x.iter().zip(&rx) {
        assert!((a - b).abs() < 1e-14 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn momentum_setting_is_heavy_ball_with_the_derived_coefficients() {
    // m = μ m + (1 - μ) g, θ -= Δt (c/φ) m with φ = sqrt(γ² + 4 c h₀), μ = e^{-φ Δt}: PyTorch's
    // heavy ball with dampening μ and learning rate Δt c / φ.
    let n = 9;
    for (gamma, h0) in [(0.0, 2.0), (1.5, 0.5)] {
        let dt = 0.05;
        let phi = friction(1.0, gamma, h0);
        let mu = (-phi * dt).exp();
        let mut rule = ControlRule::<f64>::momentum(flat(n), dt, gamma, h0).unwrap();
        let cfg = AgmConfig::sgd(dt / phi).with_momentum(Momentum::HeavyBall {
            mu,
            dampening: mu,
            nesterov: false,
        });
        let mut agm = Agm::<f64>::new("hb", cfg, flat(n)).unwrap();
        let (mut x, mut y) = (vec![0.7; n], vec![0.7; n]);
        for s in 0..25 {
            let g = noisy_grads(n, s);
            rule.step(&mut x, &g).unwrap();
            agm.step(&mut y, &g).unwrap();
        }
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-13, "gamma {gamma}: {a} vs {b}");
        }
    }
}

#[test]
fn feedback_law_is_the_riccati_feedback() {
    // θ̇ = -α h (θ - μ) - β θ must be the closed loop K θ + c of the Riccati solution with
    // default dynamics -j θ, for any discount, decay, curvature and metric.
    let mu = 0.8;
    for gamma in [0.0, 0.2, 1.0, 5.0] {
        for j in [0.0, 0.7] {
            for (h, g) in [(0.5, 1.0), (3.0, 0.25)] {
                if gamma == 0.0 && j == 0.0 && h == 0.0 {
                    continue;
                }
                let (eta, k) = (0.9, 1.3);
                let problem = ControlProblem::new(1, eta, k, gamma)
                    .unwrap()
                    .with_diagonal_metric(&[g])
                    .unwrap()
                    .with_weight_decay(j)
                    .unwrap();
                let sol = LqProblem::new(problem, QuadraticLoss::diagonal(&[h], &[mu]).unwrap())
                    .unwrap()
                    .solve()
                    .unwrap();
                let f = feedback(eta * k / g, gamma, j, 0.0, h);
                let (k_want, c_want) = (-(f.gain * h + f.decay), f.gain * h * mu);
                assert!(
                    (sol.closed_loop[0] - k_want).abs() < 1e-12,
                    "K: gamma {gamma} j {j} h {h}"
                );
                assert!((sol.offset[0] - c_want).abs() < 1e-12, "c: gamma {gamma} j {j} h {h}");
                assert!((f.rate + sol.closed_loop[0]).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn hazard_decay_is_the_self_consistent_riccati_solution() {
    // Tasks end at rate λ and continue with a fresh one (prior mean 0), worth P/2 θ² + const:
    // the current task is an LQ problem with discount γ + λ and extra running cost λ P/2 θ²,
    // where P must equal its own solution. Solve that fixed point by iterating the Riccati
    // solver, independently of the closed form, and compare the feedback laws.
    let (eta, k, h, mu) = (1.0, 1.0, 2.0, 1.5);
    for (gamma, j, hazard) in [(0.0, 0.0, 0.5), (0.3, 0.0, 2.0), (0.5, 0.8, 1.0)] {
        let mut p = 0.0;
        let mut sol = None;
        for _ in 0..200 {
            let h_eff = h + hazard * p / k;
            let mu_eff = h * mu / h_eff;
            let problem = ControlProblem::new(1, eta, k, gamma + hazard)
                .unwrap()
                .with_weight_decay(j)
                .unwrap();
            let s = LqProblem::new(problem, QuadraticLoss::diagonal(&[h_eff], &[mu_eff]).unwrap())
                .unwrap()
                .solve()
                .unwrap();
            let next = s.p[0];
            let done = (next - p).abs() < 1e-15;
            p = next;
            sol = Some(s);
            if done {
                break;
            }
        }
        let sol = sol.unwrap();
        let f = feedback(eta * k, gamma, j, hazard, h);
        assert!((sol.closed_loop[0] + f.gain * h + f.decay).abs() < 1e-12, "K, hazard {hazard}");
        assert!((sol.offset[0] - f.gain * h * mu).abs() < 1e-12, "c, hazard {hazard}");
        // The shrinkage target: the optimum settles at B μ with B < 1.
        let target = f.gain * h * mu / (f.gain * h + f.decay);
        assert!(target < mu && target > 0.0);
    }
}

#[test]
fn discrete_feedback_rule_converges_to_the_closed_form_as_the_step_shrinks() {
    // The rule with known curvature, stepped with Δt, follows θ(t) = μ + (θ₀ - μ) e^{-r t}
    // to O(Δt) (explicit Euler on the optimal feedback law), for the ballistic γ = 0 and a
    // discounted γ.
    let h = [0.25, 1.0, 4.0];
    let mu = [1.0, -0.5, 0.2];
    let theta0 = [0.0, 1.0, -1.0];
    for gamma in [0.0, 2.0] {
        let mut errors = Vec::new();
        for dt in [0.02, 0.01, 0.005] {
            let cfg = ControlRuleConfig::discounted(dt, gamma, Curvature::Diagonal(h.to_vec()));
            let mut rule = ControlRule::<f64>::new("rule", cfg, flat(3)).unwrap();
            let mut x = theta0.to_vec();
            let mut g = vec![0.0; 3];
            let steps = (3.0 / dt) as usize;
            let mut err: f64 = 0.0;
            for s in 1..=steps {
                quad_grad(&h, &mu, &x, &mut g);
                rule.step(&mut x, &g).unwrap();
                for i in 0..3 {
                    let want =
                        closed_form::trajectory(1.0, gamma, h[i], mu[i], theta0[i], s as f64 * dt);
                    err = err.max((x[i] - want).abs());
                }
            }
            errors.push(err);
        }
        assert!(errors[2] < 1e-2, "gamma {gamma}: {errors:?}");
        for w in errors.windows(2) {
            assert!(
                (1.8..2.2).contains(&(w[0] / w[1])),
                "gamma {gamma}: not first order {errors:?}"
            );
        }
    }
}

#[test]
fn momentum_rule_has_the_optimal_slow_mode() {
    // Started at rest, the heavy ball tuned to h is θ - μ = C₁ e^{-r t} + C₂ e^{-(r + γ) t}
    // with C₁ = (r + γ)/γ (θ₀ - μ), C₂ = -r/γ (θ₀ - μ): the slow mode decays at the optimal
    // rate r. The discrete rule matches it to O(Δt).
    let (h, mu, theta0, gamma) = (2.0, 1.0, -1.0, 1.0);
    let r = closed_form::rate(1.0, gamma, h);
    let exact = |t: f64| {
        let d = theta0 - mu;
        mu + d * ((r + gamma) / gamma * (-r * t).exp() - r / gamma * (-(r + gamma) * t).exp())
    };
    let mut errors = Vec::new();
    for dt in [0.01, 0.005] {
        let mut rule = ControlRule::<f64>::momentum(flat(1), dt, gamma, h).unwrap();
        let mut x = vec![theta0];
        let mut err: f64 = 0.0;
        for s in 1..=(4.0 / dt) as usize {
            let g = [h * (x[0] - mu)];
            rule.step(&mut x, &g).unwrap();
            err = err.max((x[0] - exact(s as f64 * dt)).abs());
        }
        errors.push(err);
    }
    assert!(errors[1] < 5e-3 && (1.8..2.2).contains(&(errors[0] / errors[1])), "{errors:?}");
}

#[test]
fn large_discount_limits_are_gradient_descent() {
    // Feedback with curvature h: α = c/(γ + r) → c/γ with relative error about c h / γ².
    // Inertial: φ → γ, and with φ Δt large the ball moves by Δt (c/φ) g.
    for gamma in [10.0, 100.0, 1000.0] {
        let f = feedback(1.0, gamma, 0.0, 0.0, 3.0);
        let err = (f.gain * gamma - 1.0).abs();
        assert!(err <= 3.0 / (gamma * gamma) * 1.01, "gamma {gamma}: {err:e}");
        let dt = 0.1;
        let mut hb = ControlRule::<f64>::momentum(flat(1), dt, gamma, 3.0).unwrap();
        let mut x = vec![0.0];
        hb.step(&mut x, &[1.0]).unwrap();
        let gd = -dt / gamma;
        let rel = (x[0] - gd).abs() / gd.abs();
        // φ = γ (1 + 6/γ² + ...), and 1 - e^{-φ Δt} ≈ 1 for φ Δt ≥ 1.
        assert!(rel < 7.0 / (gamma * gamma) + (-gamma * dt).exp() * 1.01, "gamma {gamma}: {rel:e}");
    }
    // The inferred-curvature rule: SGD with rate Δt c/γ, relative error about c v / γ², with
    // v = (1 - β₂) g² after one step.
    let (dt, gamma, beta2) = (0.1, 1e3, 0.9);
    let cfg = ControlRuleConfig::adaptive(dt, gamma, beta2, 1e-8);
    let mut rule = ControlRule::<f64>::new("adaptive", cfg, flat(2)).unwrap();
    let mut x = vec![0.0, 0.0];
    let g = [0.5, -2.0];
    rule.step(&mut x, &g).unwrap();
    for i in 0..2 {
        let rel = (x[i] / (-dt * g[i] / gamma) - 1.0).abs();
        let v = (1.0 - beta2) * g[i] * g[i];
        assert!(rel <= 1.01 * v / (gamma * gamma), "coordinate {i}: {rel:e}");
    }
}

#[test]
fn small_discount_adaptive_rule_is_ballistic_and_known_curvature_is_the_square_root_rule() {
    let n = 6;
    let mut general =
        ControlRule::<f64>::new("a", ControlRuleConfig::adaptive(0.01, 1e-12, 0.99, 1e-8), flat(n))
            .unwrap();
    let mut ballistic = ControlRule::<f64>::ballistic(flat(n), 0.01, 0.99, 1e-8).unwrap();
    let (mut x, mut y) = (vec![0.4; n], vec![0.4; n]);
    for s in 0..15 {
        let g = noisy_grads(n, s);
        general.step(&mut x, &g).unwrap();
        ballistic.step(&mut y, &g).unwrap();
    }
    for (a, b) in x.iter().zip(&y) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
    // Known curvature at γ = 0: θ -= Δt sqrt(η k / h) g.
    let h = vec![0.25, 1.0, 4.0];
    let mut rule =
        ControlRule::<f64>::new("sqrt", ControlRuleConfig::sqrt_curvature(0.1, h.clone()), flat(3))
            .unwrap();
    let mut x = vec![0.0; 3];
    rule.step(&mut x, &[1.0, 1.0, 1.0]).unwrap();
    for i in 0..3 {
        assert!((x[i] + 0.1 / h[i].sqrt()).abs() < 1e-15);
    }
}

#[test]
fn task_switch_response_is_the_riccati_relaxation_to_the_prior_mean() {
    // Nothing known about the new task: its expected loss has minimum at the prior mean 0, and
    // the optimum relaxes toward it; after τ the Riccati trajectory with μ = 0 is the response.
    let (h, gamma, j, tau) = (vec![0.5, 3.0], 0.4, 0.3, 0.7);
    let cfg =
        ControlRuleConfig::discounted(0.1, gamma, Curvature::Diagonal(h.clone())).with_decay(j);
    let mut rule = ControlRule::<f64>::new("switch", cfg, flat(2)).unwrap();
    let theta = [1.2, -0.8];
    let mut x = theta.to_vec();
    rule.respond_to_task_switch(&mut x, tau).unwrap();
    let problem = ControlProblem::new(2, 1.0, 1.0, gamma).unwrap().with_weight_decay(j).unwrap();
    let want = LqProblem::new(problem, QuadraticLoss::diagonal(&h, &[0.0, 0.0]).unwrap())
        .unwrap()
        .solve()
        .unwrap()
        .trajectory(&theta, &[tau])
        .unwrap();
    for i in 0..2 {
        assert!((x[i] - want[i]).abs() < 1e-12, "{} vs {}", x[i], want[i]);
    }
    assert!(rule.respond_to_task_switch(&mut x, -1.0).is_err());
    let before = x.clone();
    assert!(rule.respond_to_task_switch(&mut x[..1], 1.0).is_err());
    assert_eq!(x, before);
}

#[test]
fn parallel_and_sequential_steps_are_bit_identical() {
    let n = 200_003;
    let configs = [
        ControlRuleConfig::ballistic(1e-3, 0.999, 1e-8),
        ControlRuleConfig::adaptive(1e-3, 0.5, 0.99, 1e-8).with_hazard(0.1).with_decay(0.01),
        ControlRuleConfig::momentum(1e-2, 0.5, 1.0),
        ControlRuleConfig {
            law: Law::Inertial,
            ..ControlRuleConfig::adaptive(1e-2, 0.5, 0.9, 1e-8)
        },
        ControlRuleConfig::sqrt_curvature(1e-2, (0..n).map(|i| 0.1 + (i % 7) as f64).collect()),
    ];
    for cfg in configs {
        let mut a = ControlRule::<f32>::new(
            "p",
            ControlRuleConfig { par: Par::Rayon, ..cfg.clone() },
            flat(n),
        )
        .unwrap();
        let mut b =
            ControlRule::<f32>::new("p", ControlRuleConfig { par: Par::Seq, ..cfg }, flat(n))
                .unwrap();
        let (mut x, mut y) = (vec![0.5f32; n], vec![0.5f32; n]);
        for s in 0..3 {
            let g: Vec<f32> = (0..n).map(|i| ((i + s * 31) as f32 * 1e-3).sin()).collect();
            a.step(&mut x, &g).unwrap();
            b.step(&mut y, &g).unwrap();
        }
        assert!(x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()));
        assert!(x.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn invalid_hyperparameters_name_the_field() {
    let field = |cfg: ControlRuleConfig| match ControlRule::<f32>::new("x", cfg, flat(3)) {
        Err(Error::InvalidHyperparameter { field, .. }) => field,
        Err(Error::LengthMismatch { what, .. }) => what,
        other => panic!("expected a named error, got {other:?}"),
    };
    let gd = ControlRuleConfig::gd;
    assert_eq!(field(gd(0.0)), "lr");
    assert_eq!(field(gd(f64::NAN)), "lr");
    assert_eq!(field(ControlRuleConfig { eta: -1.0, ..gd(0.1) }), "eta");
    assert_eq!(field(ControlRuleConfig { k: 0.0, ..gd(0.1) }), "k");
    assert_eq!(field(ControlRuleConfig { gamma: -0.5, ..gd(0.1) }), "gamma");
    assert_eq!(field(gd(0.1).with_decay(-1.0)), "decay");
    assert_eq!(field(gd(0.1).with_hazard(f64::INFINITY)), "hazard");
    assert_eq!(field(ControlRuleConfig::natural_gradient(0.1, vec![1.0, 0.0, 1.0])), "metric");
    assert_eq!(field(ControlRuleConfig::natural_gradient(0.1, vec![1.0; 2])), "metric");
    assert_eq!(field(ControlRuleConfig::sqrt_curvature(0.1, vec![1.0, -1.0, 1.0])), "curvature");
    assert_eq!(
        field(ControlRuleConfig::discounted(0.1, 0.5, Curvature::Scale(f64::NAN))),
        "curvature"
    );
    assert_eq!(field(ControlRuleConfig::ballistic(0.1, 1.0, 1e-8)), "beta2");
    assert_eq!(field(ControlRuleConfig::ballistic(0.1, 0.9, 0.0)), "eps");
    assert_eq!(field(gd(0.1).with_clipping(0.0)), "max_grad_norm");
    // Zero curvature with no discount, decay or hazard: infinite gain.
    assert_eq!(field(ControlRuleConfig { gamma: 0.0, ..gd(0.1) }), "gamma");
    assert_eq!(field(ControlRuleConfig::sqrt_curvature(0.1, vec![1.0, 0.0, 1.0])), "gamma");
    assert_eq!(field(ControlRuleConfig::momentum(0.1, 0.0, 0.0)), "gamma");
    assert!(matches!(
        ControlRule::<f32>::new(
            "x",
            ControlRuleConfig::momentum(0.1, 1.0, 1.0).with_decay(0.1),
            flat(3)
        ),
        Err(Error::Unsupported(_))
    ));
    let mut rule = ControlRule::<f32>::gd(flat(3), 0.1).unwrap();
    assert!(rule.set_lr(-1.0).is_err());
    assert!(rule.set_config(ControlRuleConfig::ballistic(0.1, 0.9, 1e-8)).is_err());
    rule.set_config(ControlRuleConfig { gamma: 2.0, ..gd(0.3) }).unwrap();
    assert_eq!(rule.lr(), 0.3);
}
