//! `worst_case::stability_limit` against closed forms: CGD on 1-D quadratics with
//! `C(v) = (1 - t) v`, `|t| <= sqrt(eps)`, iterates `x <- (1 - (1 - t) eta lambda) x`, whose
//! worst factor reaches -1 first at `lambda = L`, `t = -sqrt(eps)`: the limit is
//! `2 / ((1 + sqrt(eps)) L)`, lost through an eigenvalue -1. Without compression (eps = 0)
//! EF is gradient descent too (its error stays 0): limit `2 / L`.

use gradus_dist::compression::Method;
use gradus_dist::compression::theory::FunctionClass;
use gradus_dist::compression::worst_case::{Grid, Instability, spectral, stability_limit};

#[test]
fn cgd_limit_is_two_over_one_plus_s_times_l() {
    for (mu, l) in [(1.0, 4.0), (0.1, 1.0)] {
        let fc = FunctionClass { mu, l };
        for eps in [0.0, 0.09, 0.5] {
            let stable = 0.5 / l;
            let (limit, kind) =
                stability_limit(Method::Cgd, &fc, eps, stable, Grid::default()).unwrap();
            let exact = 2.0 / ((1.0 + f64::sqrt(eps)) * l);
            assert!((limit - exact).abs() < 1e-12 * exact, "eps {eps}: {limit} vs {exact}");
            assert_eq!(kind, Instability::MinusOne);
            // The limit is stable, a step just above is not.
            let g = Grid::default();
            assert!(spectral(Method::Cgd, &fc, eps, limit, g).unwrap().rate < 1.0);
            assert!(spectral(Method::Cgd, &fc, eps, limit * (1.0 + 1e-9), g).unwrap().rate > 1.0);
        }
    }
}

#[test]
fn uncompressed_ef_is_gradient_descent() {
    let fc = FunctionClass { mu: 0.5, l: 2.0 };
    let (limit, _) = stability_limit(Method::Ef, &fc, 0.0, 0.1, Grid::default()).unwrap();
    assert!((limit - 1.0).abs() < 1e-12, "{limit}");
}

#[test]
fn an_unstable_start_is_an_error() {
    let fc = FunctionClass { mu: 0.5, l: 2.0 };
    assert!(stability_limit(Method::Cgd, &fc, 0.1, 5.0, Grid::default()).is_err());
    assert!(stability_limit(Method::Cgd, &fc, 0.1, f64::NAN, Grid::default()).is_err());
    assert!(stability_limit(Method::Cgd, &fc, 1.5, 0.1, Grid::default()).is_err());
}
