//! The closed forms of paper 06 against each other, against their limits and claims, and
//! against worst cases computed independently on quadratics.

use gradus_dist::compression::Method;
use gradus_dist::compression::theory::{
    FunctionClass, ef21_richtarik, eta_star_cgd, eta_star_ef, gd_rate, iteration_ratio, rho_cgd,
    rho_cgd_scalar, rho_ef, rho_ef_kappa,
};
use gradus_dist::compression::worst_case::{Grid, cgd_one_step_2d, one_step_lyapunov, spectral};

const KAPPAS: [f64; 6] = [1.5, 2.0, 4.0, 10.0, 37.0, 100.0];

fn eps_grid() -> impl Iterator<Item = f64> {
    (1..=49).map(|i| i as f64 / 50.0)
}

fn fc(kappa: f64) -> FunctionClass {
    FunctionClass::with_kappa(kappa).unwrap()
}

#[test]
fn the_two_forms_of_the_tight_rate_agree() {
    for kappa in KAPPAS {
        for eps in eps_grid() {
            let a = rho_ef(&fc(kappa), eps).unwrap();
            let b = rho_ef_kappa(kappa, eps).unwrap();
            assert!((a - b).abs() < 1e-13, "kappa {kappa} eps {eps}: {a} vs {b}");
            // Rates depend on mu and L only through kappa.
            let scaled = FunctionClass::new(3.0 / kappa, 3.0).unwrap();
            assert!((rho_ef(&scaled, eps).unwrap() - a).abs() < 1e-13);
        }
    }
}

#[test]
fn limits_and_monotonicity() {
    for kappa in KAPPAS {
        let f = fc(kappa);
        // eps = 0: gradient descent with step 2/(L + mu).
        assert!((rho_ef(&f, 0.0).unwrap() - gd_rate(&f).unwrap()).abs() < 1e-15);
        assert!((rho_cgd(&f, 0.0).unwrap() - gd_rate(&f).unwrap()).abs() < 1e-15);
        assert!((eta_star_ef(&f, 0.0).unwrap() - 2.0 / (f.l + f.mu)).abs() < 1e-15);
        // eps -> 1: the step vanishes and the rate tends to 1.
        assert!(eta_star_ef(&f, 1.0 - 1e-12).unwrap() < 1e-5);
        assert!(rho_ef(&f, 1.0 - 1e-12).unwrap() > 1.0 - 1e-5);
        let mut prev = gd_rate(&f).unwrap();
        for eps in eps_grid() {
            let r = rho_ef(&f, eps).unwrap();
            assert!(r > prev && r < 1.0, "rho not increasing in eps at kappa {kappa} eps {eps}");
            prev = r;
        }
    }
    for eps in eps_grid() {
        let mut prev = 0.0;
        for kappa in KAPPAS {
            let r = rho_ef(&fc(kappa), eps).unwrap();
            assert!(r > prev, "rho not increasing in kappa at eps {eps}");
            prev = r;
        }
    }
}

#[test]
fn cgd_beats_ef_and_the_old_ef21_bound_is_loose() {
    for kappa in KAPPAS {
        let f = fc(kappa);
        for eps in eps_grid() {
            let (ef, cgd) = (rho_ef(&f, eps).unwrap(), rho_cgd(&f, eps).unwrap());
            assert!(cgd < ef, "kappa {kappa} eps {eps}: CGD {cgd} vs EF {ef}");
            assert!(iteration_ratio(ef, cgd).unwrap() < 1.0);
            let (_, old) = ef21_richtarik(&f, eps).unwrap();
            assert!(old > ef, "previous bound below the tight rate at kappa {kappa} eps {eps}");
            assert!(iteration_ratio(old, ef).unwrap() < 1.0);
        }
        // Paper 06, claim 3 (derived): ln rho_EF / ln rho_CGD -> kappa/(kappa + 1) as eps -> 1.
        let eps = 1.0 - 1e-8;
        let ratio = iteration_ratio(rho_ef(&f, eps).unwrap(), rho_cgd(&f, eps).unwrap()).unwrap();
        assert!((ratio - kappa / (kappa + 1.0)).abs() < 1e-3, "kappa {kappa}: {ratio}");
    }
}

#[test]
fn quadratics_attain_the_tight_rate_at_the_optimal_step() {
    // The one-step worst case of the optimal Lyapunov functions over quadratics (exact 2x2
    // generalised eigenvalues) and the asymptotic rate of a fixed scalar compressor both
    // meet the closed form at eta*: the closed form is tight, and attained by quadratics.
    for kappa in [2.0, 4.0, 10.0] {
        let f = fc(kappa);
        for eps in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            let eta = eta_star_ef(&f, eps).unwrap();
            let rho = rho_ef(&f, eps).unwrap();
            for m in [Method::Ef, Method::Ef21] {
                let one = one_step_lyapunov(m, &f, eps, eta, 201).unwrap();
                assert!(
                    (one.rate - rho).abs() < 1e-12,
                    "{m:?} kappa {kappa} eps {eps}: {} vs {rho}",
                    one.rate
                );
                let sp = spectral(m, &f, eps, eta, Grid::default()).unwrap();
                assert!((sp.rate - rho).abs() < 1e-12, "{m:?} spectral: {} vs {rho}", sp.rate);
            }
        }
    }
}

#[test]
fn ef_and_ef21_have_identical_worst_cases_on_quadratics() {
    for kappa in [2.0, 4.0, 10.0] {
        let f = fc(kappa);
        for eps in [0.1, 0.5, 0.9] {
            for i in 1..=40 {
                let eta = 2.0 / (f.l + f.mu) * i as f64 / 30.0;
                let g = Grid { lambdas: 21, ts: 11, alternating: 5 };
                let a = spectral(Method::Ef, &f, eps, eta, g).unwrap().rate;
                let b = spectral(Method::Ef21, &f, eps, eta, g).unwrap().rate;
                assert!((a - b).abs() <= 1e-12 * a.max(1.0), "eta {eta}: EF {a} vs EF21 {b}");
            }
        }
    }
}

#[test]
fn the_optimal_step_minimises_the_worst_case() {
    // Paper 06, Fig 11: a grid search of the best step lands on eta*.
    for (mu, l) in [(0.1, 1.0), (0.25, 5.0), (0.5, 10.0)] {
        let f = FunctionClass::new(mu, l).unwrap();
        for eps in [0.2, 0.6] {
            let star = eta_star_ef(&f, eps).unwrap();
            let g = Grid { lambdas: 41, ts: 21, alternating: 0 };
            let n = 200;
            let (mut best, mut arg) = (f64::INFINITY, 0.0);
            for i in 1..=n {
                let eta = 2.0 / (mu + l) * i as f64 / n as f64;
                let r = spectral(Method::Ef, &f, eps, eta, g).unwrap().rate;
                if r < best {
                    (best, arg) = (r, eta);
                }
            }
            let rho = rho_ef(&f, eps).unwrap();
            assert!(best >= rho - 1e-12, "found {best} below the tight rate {rho}");
            assert!(
                (arg - star).abs() <= 2.0 / (mu + l) / n as f64,
                "best eta {arg} vs eta* {star}"
            );
        }
    }
}

#[test]
fn cgd_worst_cases() {
    for kappa in [2.0, 4.0, 10.0] {
        let f = fc(kappa);
        for eps in [0.1, 0.5, 0.9] {
            let star = eta_star_cgd(&f, eps).unwrap();
            let rho = rho_cgd(&f, eps).unwrap();
            assert!((rho_cgd_scalar(&f, eps, star).unwrap() - rho).abs() < 1e-14);
            for i in 1..=20 {
                let eta = star * i as f64 / 10.0;
                let sp = spectral(Method::Cgd, &f, eps, eta, Grid::default()).unwrap().rate;
                let formula = rho_cgd_scalar(&f, eps, eta).unwrap();
                assert!(
                    (sp - formula).abs() < 1e-12 * formula.max(1.0),
                    "eta {eta}: {sp} vs {formula}"
                );
            }
            // Two dimensions and any error direction do no worse than the tight rate at eta*,
            // and the grid search comes within its resolution of it.
            let two = cgd_one_step_2d(&f, eps, star, 180).unwrap().rate;
            assert!(two <= rho * (1.0 + 1e-12) && two > rho - 1e-3, "2-D {two} vs {rho}");
        }
    }
}

#[test]
fn invalid_arguments_are_errors() {
    let f = fc(4.0);
    for eps in [-0.1, 1.0, f64::NAN] {
        assert!(rho_ef(&f, eps).is_err());
        assert!(eta_star_ef(&f, eps).is_err());
        assert!(rho_cgd(&f, eps).is_err());
    }
    assert!(FunctionClass::new(2.0, 1.0).is_err());
    assert!(FunctionClass::new(0.0, 1.0).is_err());
    assert!(FunctionClass::with_kappa(0.5).is_err());
    assert!(rho_cgd_scalar(&f, 0.5, 0.0).is_err());
    assert!(one_step_lyapunov(Method::Ef, &f, 0.0, 0.1, 11).is_err());
    assert!(one_step_lyapunov(Method::Cgd, &f, 0.5, 0.1, 11).is_err());
    assert!(
        spectral(Method::Ef, &f, 0.5, 0.1, Grid { lambdas: 1, ts: 3, alternating: 0 }).is_err()
    );
}

#[test]
fn function_classes_built_by_hand_are_validated() {
    let bad = [
        FunctionClass { mu: 0.0, l: 1.0 },
        FunctionClass { mu: 2.0, l: 1.0 },
        FunctionClass { mu: f64::NAN, l: 1.0 },
        FunctionClass { mu: 0.5, l: f64::INFINITY },
        FunctionClass { mu: -1.0, l: 1.0 },
    ];
    for fc in bad {
        assert!(rho_ef(&fc, 0.5).is_err(), "{fc:?}");
        assert!(eta_star_ef(&fc, 0.5).is_err(), "{fc:?}");
        assert!(rho_cgd(&fc, 0.5).is_err(), "{fc:?}");
        assert!(eta_star_cgd(&fc, 0.5).is_err(), "{fc:?}");
        assert!(rho_cgd_scalar(&fc, 0.5, 0.1).is_err(), "{fc:?}");
        assert!(ef21_richtarik(&fc, 0.5).is_err(), "{fc:?}");
        assert!(cgd_one_step_2d(&fc, 0.5, 0.1, 4).is_err(), "{fc:?}");
        assert!(one_step_lyapunov(Method::Ef, &fc, 0.5, 0.1, 4).is_err(), "{fc:?}");
        let grid = Grid { lambdas: 3, ts: 3, alternating: 0 };
        assert!(spectral(Method::Ef, &fc, 0.5, 0.1, grid).is_err(), "{fc:?}");
        assert!(gd_rate(&fc).is_err(), "{fc:?}");
    }
}

#[test]
fn iteration_ratios_need_rates_in_the_open_unit_interval() {
    let r = iteration_ratio(0.25, 0.5).unwrap();
    assert!((r - 2.0).abs() < 1e-15, "ln(1/4) / ln(1/2) = 2");
    for (a, b) in [(0.0, 0.5), (0.5, 1.0), (1.5, 0.5), (0.5, f64::NAN), (-0.1, 0.5)] {
        assert!(iteration_ratio(a, b).is_err(), "{a} {b}");
    }
}
