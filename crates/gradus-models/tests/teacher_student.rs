//! Teacher-student online SGD and its limit ODEs (paper 02) against independent references:
//! Monte Carlo for the erf integrals, quadrature for the closed forms, the linear model's
//! closed-form ODE, finite differences of the population risk, and the simulator itself at
//! large N.

use gradus_core::rng::seeded;
use gradus_models::teacher_student::erf_integrals::{Overlaps, generalisation_error, i2, i3, i4};
use gradus_models::teacher_student::ode::{Expectations, committee_erf_drift};
use gradus_models::teacher_student::{
    Activation, Init, OnlineSgd, SgdConfig, SingleIndexOde, for_seeds, lyapunov_2x2,
    solve_committee_erf,
};
use rand_distr::{Distribution, StandardNormal};

fn erf_g(z: f64) -> f64 {
    Activation::Erf.value(z)
}
fn erf_d(z: f64) -> f64 {
    Activation::Erf.deriv(z)
}

/// Samples of a Gaussian vector with covariance `c` (Cholesky by hand, d <= 4).
fn gaussian_samples<const D: usize>(c: &[[f64; D]; D], n: usize, seed: u64) -> Vec<[f64; D]> {
    let mut l = [[0.0; D]; D];
    for i in 0..D {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            l[i][j] = if i == j { (c[i][i] - s).sqrt() } else { (c[i][j] - s) / l[j][j] };
        }
    }
    let mut rng = seeded(seed);
    (0..n)
        .map(|_| {
            let z: [f64; D] = std::array::from_fn(|_| StandardNormal.sample(&mut rng));
            std::array::from_fn(|i| (0..=i).map(|k| l[i][k] * z[k]).sum())
        })
        .collect()
}

/// Monte-Carlo mean and standard error of `f` over the samples.
fn mc<const D: usize>(xs: &[[f64; D]], f: impl Fn(&[f64; D]) -> f64) -> (f64, f64) {
    let n = xs.len() as f64;
    let vals: Vec<f64> = xs.iter().map(f).collect();
    let mean = vals.iter().sum::<f64>() / n;
    let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn erf_integrals_match_monte_carlo() {
    let c3 = [[1.3, 0.4, -0.3], [0.4, 0.8, 0.25], [-0.3, 0.25, 1.1]];
    let xs = gaussian_samples(&c3, 400_000, 11);
    let (m, se) = mc(&xs, |x| erf_d(x[0]) * x[1] * erf_g(x[2]));
    let want = i3(&c3);
    assert!((m - want).abs() < 4.0 * se, "I3: MC {m} +- {se}, closed form {want}");
    let (m, se) = mc(&xs, |x| erf_d(x[0]) * erf_d(x[2]));
    let want = i2(c3[0][0], c3[2][2], c3[0][2]);
    assert!((m - want).abs() < 4.0 * se, "I2: MC {m} +- {se}, closed form {want}");
    let c4 =
        [[1.0, 0.2, 0.5, 0.1], [0.2, 0.7, 0.3, -0.2], [0.5, 0.3, 1.0, 0.0], [0.1, -0.2, 0.0, 1.0]];
    let xs = gaussian_samples(&c4, 400_000, 12);
    let (m, se) = mc(&xs, |x| erf_d(x[0]) * erf_d(x[1]) * erf_g(x[2]) * erf_g(x[3]));
    let want = i4(&c4);
    assert!((m - want).abs() < 4.0 * se, "I4: MC {m} +- {se}, closed form {want}");
    // eps_g = 1/2 E(g(rho) - g(lambda))^2 for one unit.
    let o = Overlaps::single(0.4, 0.9);
    let c2 = [[0.9, 0.4], [0.4, 1.0]];
    let xs = gaussian_samples(&c2, 400_000, 13);
    let (m, se) = mc(&xs, |x| 0.5 * (erf_g(x[1]) - erf_g(x[0])).powi(2));
    let want = generalisation_error(&o);
    assert!((m - want).abs() < 4.0 * se, "eps_g: MC {m} +- {se}, closed form {want}");
}

#[test]
fn closed_form_drift_equals_quadrature() {
    for &(kappa, noise) in &[(0.0, 0.0), (1.0, 0.0), (0.7, 0.25)] {
        let cf = SingleIndexOde::new(Activation::Erf, kappa, noise, 60).unwrap();
        let qd = cf.clone().with_method(Expectations::Quadrature).unwrap();
        for &(m, q) in &[(0.0, 1.0), (0.3, 0.5), (0.9, 1.0), (-0.4, 2.0), (0.2, 0.04)] {
            let a = cf.drift(m, q).unwrap();
            let b = qd.drift(m, q).unwrap();
            for i in 0..2 {
                assert!(
                    (a[i] - b[i]).abs() < 1e-8,
                    "kappa {kappa} (m, Q) = ({m}, {q}): {a:?} vs {b:?}"
                );
            }
            assert!((cf.risk(m, q).unwrap() - qd.risk(m, q).unwrap()).abs() < 1e-9);
        }
    }
}

#[test]
fn linear_model_has_its_closed_form_drift_and_fixed_point() {
    // sigma(z) = z (h_1): dm = 1 - m, dQ = 2 (m - Q) + kappa (1 - 2m + Q + Delta).
    let (kappa, noise) = (0.8, 0.3);
    let ode = SingleIndexOde::new(Activation::Hermite(1), kappa, noise, 20).unwrap();
    for &(m, q) in &[(0.0, 1.0), (0.5, 0.7), (-0.3, 2.0)] {
        let d = ode.drift(m, q).unwrap();
        assert!((d[0] - (1.0 - m)).abs() < 1e-12);
        assert!((d[1] - (2.0 * (m - q) + kappa * (1.0 - 2.0 * m + q + noise))).abs() < 1e-12);
    }
    // Fixed point m* = 1, Q* = 1 + kappa Delta / (2 - kappa).
    let fp = ode.fixed_point(0.1, 1.0, 40.0).unwrap();
    assert!((fp[0] - 1.0).abs() < 1e-10);
    assert!((fp[1] - (1.0 + kappa * noise / (2.0 - kappa))).abs() < 1e-10);
    // The ODE solution is m(tau) = 1 - (1 - m0) e^{-tau}.
    let sol = ode.solve(0.2, 0.5, &[0.0, 0.5, 1.0, 3.0]).unwrap();
    for (i, &t) in sol.times.iter().enumerate() {
        assert!((sol.state(i)[0] - (1.0 - 0.8 * (-t as f64).exp())).abs() < 1e-8);
    }
}

#[test]
fn gradient_flow_is_minus_the_risk_gradient() {
    // kappa = 0: x' = -grad Phi, Phi(x) = Phi(m, Q), so dm = -(Phi_m + 2 Phi_Q m) and
    // dQ = -2 (Phi_m m + 2 Phi_Q Q). Phi by quadrature, derivatives by central differences.
    for act in [Activation::Tanh, Activation::Erf, Activation::Hermite(3)] {
        let ode = SingleIndexOde::new(act, 0.0, 0.0, 60).unwrap();
        let (m, q) = (0.35, 0.8);
        let h = 1e-5;
        let pm = (ode.risk(m + h, q).unwrap() - ode.risk(m - h, q).unwrap()) / (2.0 * h);
        let pq = (ode.risk(m, q + h).unwrap() - ode.risk(m, q - h).unwrap()) / (2.0 * h);
        let d = ode.drift(m, q).unwrap();
        assert!((d[0] + pm + 2.0 * pq * m).abs() < 1e-7, "{act:?}: {d:?}");
        assert!((d[1] + 2.0 * (pm * m + 2.0 * pq * q)).abs() < 1e-7, "{act:?}: {d:?}");
    }
}

#[test]
fn equator_is_invariant_for_information_exponent_above_one() {
    for k in [2, 3, 4] {
        let ode = SingleIndexOde::new(Activation::Hermite(k), 0.5, 0.0, 40).unwrap();
        let d = ode.drift(0.0, 0.9).unwrap();
        assert!(d[0].abs() < 1e-12, "h{k}: dm = {}", d[0]);
    }
    let ode = SingleIndexOde::new(Activation::Hermite(1), 0.5, 0.0, 40).unwrap();
    assert!(ode.drift(0.0, 0.9).unwrap()[0] > 0.5);
}

#[test]
fn committee_at_the_teacher_is_a_fixed_point_without_noise() {
    let id = vec![1.0, 0.0, 0.0, 1.0];
    let o = Overlaps { k: 2, m: 2, q: id.clone(), r: id.clone(), t: id };
    let (mut dq, mut dr) = (vec![0.0; 4], vec![0.0; 4]);
    committee_erf_drift(&o, 1.3, 0.0, &mut dq, &mut dr);
    assert!(dq.iter().chain(&dr).all(|x| x.abs() < 1e-14), "{dq:?} {dr:?}");
    // With label noise only the corrector moves Q (up), R stays.
    committee_erf_drift(&o, 1.3, 0.1, &mut dq, &mut dr);
    assert!(dq[0] > 0.0 && dr.iter().all(|x| x.abs() < 1e-14));
}

#[test]
fn lyapunov_solution_satisfies_its_equation() {
    let j = [[-1.3, 0.4], [-0.7, -0.5]];
    let s = [[0.9, 0.2], [0.2, 0.4]];
    let p = lyapunov_2x2(&j, &s).unwrap();
    for a in 0..2 {
        for b in 0..2 {
            let jp: f64 = (0..2).map(|c| j[a][c] * p[c][b] + p[a][c] * j[b][c]).sum();
            assert!((jp + s[a][b]).abs() < 1e-12);
        }
    }
    // Diagonal drift: P = S_ii / (2 a_i).
    let p = lyapunov_2x2(&[[-2.0, 0.0], [0.0, -0.5]], &[[1.0, 0.0], [0.0, 1.0]]).unwrap();
    assert!((p[0][0] - 0.25).abs() < 1e-14 && (p[1][1] - 1.0).abs() < 1e-14);
    assert!(lyapunov_2x2(&[[1.0, 0.0], [0.0, -1.0]], &s).is_err());
}

#[test]
fn simulator_is_deterministic_and_exact_at_the_start() {
    let cfg = SgdConfig::single_index(500, Activation::Erf, 1.0, 0.1);
    let init = Init::Aligned { r0: 0.3, q0: 0.6 };
    let o0 = OnlineSgd::new(cfg, init, 5).unwrap().overlaps().unwrap();
    assert!((o0.r[0] - 0.3).abs() < 1e-12 && (o0.q[0] - 0.6).abs() < 1e-12);
    assert!((o0.t[0] - 1.0).abs() < 1e-12);
    let run = |seed: u64| -> gradus_core::Result<Vec<f64>> {
        let mut s = OnlineSgd::new(cfg, init, seed)?;
        s.run(700)?;
        Ok(s.students().to_vec())
    };
    let par = for_seeds(&[1, 2, 3], run).unwrap();
    let seq: Vec<Vec<f64>> = [1, 2, 3].iter().map(|&s| run(s).unwrap()).collect();
    assert_eq!(par, seq);
    assert_ne!(par[0], par[1]);
}

#[test]
fn bad_configurations_are_errors() {
    let ok = SgdConfig::single_index(100, Activation::Tanh, 1.0, 0.0);
    assert!(OnlineSgd::new(SgdConfig { c: -1.0, ..ok }, Init::Random { scale: 1.0 }, 0).is_err());
    assert!(
        OnlineSgd::new(SgdConfig { c: f64::NAN, ..ok }, Init::Random { scale: 1.0 }, 0).is_err()
    );
    assert!(OnlineSgd::new(SgdConfig { dim: 1, ..ok }, Init::Random { scale: 1.0 }, 0).is_err());
    assert!(
        OnlineSgd::new(SgdConfig { noise_var: -0.1, ..ok }, Init::Random { scale: 1.0 }, 0)
            .is_err()
    );
    let h0 = SgdConfig { activation: Activation::Hermite(0), ..ok };
    assert!(OnlineSgd::new(h0, Init::Random { scale: 1.0 }, 0).is_err());
    assert!(OnlineSgd::new(ok, Init::Aligned { r0: 0.9, q0: 0.5 }, 0).is_err());
    assert!(SingleIndexOde::new(Activation::Erf, -1.0, 0.0, 20).is_err());
    let ode = SingleIndexOde::new(Activation::Tanh, 1.0, 0.0, 20).unwrap();
    assert!(ode.drift(0.9, 0.5).is_err());
    assert!(ode.drift(f64::NAN, 0.5).is_err());
    assert!(ode.clone().with_method(Expectations::ClosedForm).is_err());
}

#[test]
fn divergence_is_reported_and_leaves_the_weights() {
    // A huge step on a ReLU model overflows within a few steps.
    let cfg =
        SgdConfig { c: 1e150, ..SgdConfig::single_index(64, Activation::Hermite(3), 1.0, 0.0) };
    let mut s = OnlineSgd::new(cfg, Init::Aligned { r0: 0.5, q0: 1.0 }, 1).unwrap();
    let mut err = None;
    for _ in 0..50 {
        let before = s.students().to_vec();
        if let Err(e) = s.step() {
            assert_eq!(s.students(), &before[..]);
            err = Some(e);
            break;
        }
    }
    assert!(err.is_some());
}

/// The single-index simulation follows the ODE at large N: the gap is a fluctuation of size
/// `sqrt(P / N)` with `P = O(1)` (variance of the OU-like deviation, of order kappa tau
/// Var(increment) <= 1 here), plus `O(1/N)` bias. With 4 seeds at N = 4000, a mean gap above
/// `3 / sqrt(N)` would be a > 5 s.d. event.
#[test]
fn single_index_simulation_follows_the_ode() {
    let n = 4000;
    let cfg = SgdConfig::single_index(n, Activation::Erf, 1.0, 0.0);
    let (r0, q0) = (0.2, 0.5);
    let times: Vec<f64> = (0..=8).map(|i| 0.5 * i as f64).collect();
    let ode = SingleIndexOde::new(Activation::Erf, cfg.kappa(), 0.0, 40).unwrap();
    let sol = ode.solve(r0, q0, &times).unwrap();
    let runs = for_seeds(&[1, 2, 3, 4], |seed| {
        OnlineSgd::new(cfg, Init::Aligned { r0, q0 }, seed)?.record(&times)
    })
    .unwrap();
    let tol = 3.0 / (n as f64).sqrt();
    for (i, _) in times.iter().enumerate() {
        let m: f64 = runs.iter().map(|r| r[i].r[0]).sum::<f64>() / 4.0;
        let q: f64 = runs.iter().map(|r| r[i].q[0]).sum::<f64>() / 4.0;
        assert!((m - sol.state(i)[0]).abs() < tol, "t {}: m {m} vs {}", times[i], sol.state(i)[0]);
        assert!((q - sol.state(i)[1]).abs() < tol, "t {}: Q {q} vs {}", times[i], sol.state(i)[1]);
    }
    // The ODE has moved by much more than the tolerance, so the test can fail.
    assert!((sol.last()[0] - r0).abs() > 10.0 * tol);
}

/// Saad-Solla committee (K = M = 2, erf) against its ODE at N = 2000, same tolerance logic.
#[test]
fn committee_simulation_follows_the_saad_solla_ode() {
    let n = 2000;
    let cfg = SgdConfig {
        dim: n,
        students: 2,
        teachers: 2,
        activation: Activation::Erf,
        c: 1.0,
        alpha: 1.0,
        noise_var: 0.0,
        spherical: false,
    };
    let times: Vec<f64> = (0..=12).map(|i| 0.5 * i as f64).collect();
    let runs = for_seeds(&[7, 8, 9, 10], |seed| {
        let mut s = OnlineSgd::new(cfg, Init::Aligned { r0: 0.3, q0: 0.4 }, seed)?;
        s.record(&times)
    })
    .unwrap();
    let ode = solve_committee_erf(&runs[0][0], cfg.kappa(), 0.0, &times).unwrap();
    let tol = 3.0 / (n as f64).sqrt();
    for (i, o) in ode.iter().enumerate() {
        for (e, want) in o.q.iter().chain(&o.r).enumerate() {
            let got: f64 = runs
                .iter()
                .map(|r| r[i].q.iter().chain(&r[i].r).nth(e).copied().unwrap_or(f64::NAN))
                .sum::<f64>()
                / 4.0;
            assert!((got - want).abs() < tol, "t {}: entry {e}: {got} vs {want}", times[i]);
        }
    }
    let (first, last) = (&ode[0], ode.last().unwrap());
    let moved = first
        .q
        .iter()
        .chain(&first.r)
        .zip(last.q.iter().chain(&last.r))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(moved > 4.0 * tol, "the ODE moved by only {moved}");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn erf_closed_form_and_quadrature_agree(m in -0.9f64..0.9, extra in 0.01f64..2.0, kappa in 0.0f64..2.0) {
            let q = m * m + extra;
            let cf = SingleIndexOde::new(Activation::Erf, kappa, 0.1, 64).unwrap();
            let qd = cf.clone().with_method(Expectations::Quadrature).unwrap();
            let (a, b) = (cf.drift(m, q).unwrap(), qd.drift(m, q).unwrap());
            prop_assert!((a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6);
        }
    }
}

#[test]
fn sphere_drift_is_the_hermite_gradient_plus_the_corrector() {
    for k in 1..=3u32 {
        let flow = SingleIndexOde::new(Activation::Hermite(k), 0.0, 0.0, 40).unwrap();
        for &m in &[0.0f64, 0.2, -0.5, 0.9] {
            let want = k as f64 * m.powi(k as i32 - 1) * (1.0 - m * m);
            let got = flow.sphere_drift(m).unwrap();
            assert!((got - want).abs() < 1e-11, "h{k}, m {m}: {got} vs {want}");
        }
    }
    // Corrector slope at the equator: -(kappa/2) (E[h_k'^2] + E[h_k^2 h_k'^2]) by hand:
    // k = 2: 2 + 10, k = 3: 3 + 93 (moments of z^10 ... z^2 of He_3^2 He_2^2 / 12, times 3).
    let kappa = 0.05;
    for (k, s) in [(2u32, 12.0), (3, 96.0)] {
        let ode = SingleIndexOde::new(Activation::Hermite(k), kappa, 0.0, 40).unwrap();
        assert!(ode.sphere_drift(0.0).unwrap().abs() < 1e-13);
        let h = 1e-6;
        let slope = (ode.sphere_drift(h).unwrap() - ode.sphere_drift(-h).unwrap()) / (2.0 * h);
        let want = (if k == 2 { 2.0 } else { 0.0 }) - 0.5 * kappa * s;
        assert!((slope - want).abs() < 1e-6, "h{k}: slope {slope} vs {want}");
    }
    assert!(
        SingleIndexOde::new(Activation::Tanh, 0.1, 0.0, 20).unwrap().sphere_drift(1.5).is_err()
    );
}

#[test]
fn spherical_simulation_stays_on_the_sphere_and_follows_its_ode() {
    let n = 4000;
    let cfg = SgdConfig {
        spherical: true,
        ..SgdConfig::single_index(n, Activation::Hermite(2), 0.1, 0.0)
    };
    let times: Vec<f64> = (0..=6).map(|i| 0.25 * i as f64).collect();
    let ode = SingleIndexOde::new(Activation::Hermite(2), cfg.kappa(), 0.0, 40).unwrap();
    let sol = ode.solve_sphere(0.2, &times).unwrap();
    let runs = for_seeds(&[1, 2, 3, 4], |seed| {
        OnlineSgd::new(cfg, Init::Aligned { r0: 0.2, q0: 1.0 }, seed)?.record(&times)
    })
    .unwrap();
    let tol = 3.0 / (n as f64).sqrt();
    for (i, &t) in times.iter().enumerate() {
        let m: f64 = runs.iter().map(|r| r[i].r[0]).sum::<f64>() / 4.0;
        assert!((m - sol.state(i)[0]).abs() < tol, "t {t}: m {m} vs {}", sol.state(i)[0]);
        assert!(runs.iter().all(|r| (r[i].q[0] - 1.0).abs() < 1e-12));
    }
    assert!((sol.last()[0] - 0.2).abs() > 4.0 * tol);
}

#[test]
fn linear_sphere_fixed_point_and_ou_have_their_closed_forms() {
    // sigma(z) = z on the sphere: drift (1 - m)(1 + m) - (kappa/2) m (2 (1 - m) + Delta),
    // increment g lambda_v - m g lambda_x with g = lambda_v - lambda_x + eps.
    let (kappa, noise) = (0.4, 0.5);
    let ode = SingleIndexOde::new(Activation::Hermite(1), kappa, noise, 30).unwrap();
    for &m in &[0.0f64, 0.3, 0.8] {
        let want = (1.0 - m) * (1.0 + m) - 0.5 * kappa * m * (2.0 * (1.0 - m) + noise);
        assert!((ode.sphere_drift(m).unwrap() - want).abs() < 1e-12);
    }
    // Root of (1 - m^2) - (kappa/2) m (2 - 2m + Delta) = 0: (kappa - 1) m^2 - kappa (1 + Delta/2) m + 1 = 0.
    let (a2, b2) = (kappa - 1.0, -kappa * (1.0 + 0.5 * noise));
    let root = (-b2 - (b2 * b2 - 4.0 * a2).sqrt()) / (2.0 * a2);
    let m = ode.sphere_fixed_point(0.2, 50.0).unwrap();
    assert!((m - root).abs() < 1e-10, "{m} vs {root}");
    let (a, b, v) = ode.sphere_ou(m).unwrap();
    // a = -(d/dm) drift = 2m + (kappa/2)(2 - 4m + Delta).
    assert!((a - (2.0 * m + 0.5 * kappa * (2.0 - 4.0 * m + noise))).abs() < 1e-6);
    // Increment I = g lv - m g lx - (kappa/2) m g^2, g = lv - lx + e; its variance by Monte Carlo.
    let c2 = [[1.0, m], [m, 1.0]];
    let xs = gaussian_samples(&c2, 400_000, 21);
    let mut rng = seeded(22);
    let vals: Vec<f64> = xs
        .iter()
        .map(|x| {
            let e: f64 = StandardNormal.sample(&mut rng);
            let g = x[0] - x[1] + noise.sqrt() * e;
            x[0] * g - m * x[1] * g - 0.5 * kappa * m * g * g
        })
        .collect();
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (vals.len() - 1) as f64;
    assert!((b / kappa - var).abs() < 0.02 * var, "{} vs MC {var}", b / kappa);
    assert!((v - b / (2.0 * a)).abs() < 1e-15);
}

/// The spherical drift by a direct 2-D Gauss-Hermite sum, written out here as the reference.
fn sphere_drift_reference(a: Activation, kappa: f64, noise: f64, m: f64) -> f64 {
    let g = gradus_models::teacher_student::hermite::GaussHermite::new(48).unwrap();
    let rp = (1.0 - m * m).max(0.0).sqrt();
    let mut s = 0.0;
    for (&z1, &w1) in g.nodes.iter().zip(&g.weights) {
        for (&z2, &w2) in g.nodes.iter().zip(&g.weights) {
            let (lv, lx) = (z1, m * z1 + rp * z2);
            let (e, d) = (a.value(lv) - a.value(lx), a.deriv(lx));
            s += w1 * w2 * (e * d * (lv - m * lx) - 0.5 * kappa * m * (e * e + noise) * d * d);
        }
    }
    s
}

#[test]
fn hermite_sphere_drift_interpolant_equals_the_direct_quadrature() {
    for k in 1..=4u32 {
        let a = Activation::Hermite(k);
        for &(kappa, noise) in &[(0.0, 0.0), (0.3, 0.0), (0.1, 0.7)] {
            let ode = SingleIndexOde::new(a, kappa, noise, 40).unwrap();
            for i in 0..=40 {
                let m = (-0.99 + 1.98 * i as f64 / 40.0 + 1e-3f64).clamp(-1.0, 1.0);
                let (got, want) =
                    (ode.sphere_drift(m).unwrap(), sphere_drift_reference(a, kappa, noise, m));
                assert!(
                    (got - want).abs() < 1e-10 * (1.0 + want.abs()),
                    "h{k} m {m}: {got} vs {want}"
                );
            }
        }
    }
    // A field changed after construction is honoured (the cached interpolant is keyed on it).
    let mut ode = SingleIndexOde::new(Activation::Hermite(2), 0.0, 0.0, 40).unwrap();
    ode.kappa = 0.2;
    let want = sphere_drift_reference(Activation::Hermite(2), 0.2, 0.0, 0.4);
    assert!((ode.sphere_drift(0.4).unwrap() - want).abs() < 1e-10);
    assert!((want - 2.0 * 0.4 * (1.0 - 0.16)).abs() > 1e-3, "the corrector moves the drift");
}
