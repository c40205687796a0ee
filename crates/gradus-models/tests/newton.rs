//! `newton_cg` and `hessian_top_eigenvalue` against closed forms (a quadratic's minimiser
//! and spectrum) and, on a logistic regression, against the first-order optimality
//! condition and finite differences of the loss.

use gradus_models::newton::{hessian_top_eigenvalue, newton_cg};
use gradus_models::{Differentiable, LogisticRegression, Quadratic};

#[test]
fn newton_finds_the_quadratic_minimiser() {
    let mut q = Quadratic::<f64>::ill_conditioned(12, 1e3, 5).unwrap();
    let c = q.minimizer().to_vec();
    let (x, f) = newton_cg(&mut q, &vec![0.0; 12], 50).unwrap();
    let err = x.iter().zip(&c).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(err < 1e-9, "max error {err}");
    assert!(f.abs() < 1e-15, "f* = {f}");
}

#[test]
fn power_iteration_finds_the_largest_eigenvalue() {
    // `ill_conditioned` has eigenvalues log-spaced from exactly 1 down to 1 / kappa.
    let mut q = Quadratic::<f64>::ill_conditioned(10, 4.0, 9).unwrap();
    let l = hessian_top_eigenvalue(&mut q, &vec![0.0; 10], 300).unwrap();
    assert!((l - 1.0).abs() < 1e-6, "L = {l}");
}

/// Whether the symmetric `d x d` matrix `a` is positive definite (Cholesky succeeds).
fn positive_definite(a: &[f64], d: usize) -> bool {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = a[i * d + j] - (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return false;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    true
}

#[test]
fn newton_and_power_iteration_on_logistic_regression() {
    let (n, d) = (60, 5);
    let mut r = gradus_core::rng::seeded(3);
    let x: Vec<f64> = (0..n * d).map(|_| gradus_models::data::normal(&mut r)).collect();
    let y: Vec<f64> =
        (0..n).map(|i| if x[i * d] + 0.3 * x[i * d + 1] > 0.2 { 1.0 } else { -1.0 }).collect();
    let a = gradus_models::Dense::from_row_major(n, d, x).unwrap();
    let mut m = LogisticRegression::new(a, y, 1e-2, n).unwrap();
    // Parameters: the weights and a bias.
    let d = m.num_params();
    let (xs, fs) = newton_cg(&mut m, &vec![0.0; d], 50).unwrap();
    let mut g = vec![0.0; d];
    assert_eq!(m.full_loss_grad(&xs, &mut g).unwrap(), fs);
    let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(gn < 1e-10, "|g| = {gn}");
    // No nearby point is lower: a minimum.
    for i in 0..d {
        for s in [-1e-3, 1e-3] {
            let mut p = xs.clone();
            p[i] += s;
            assert!(m.full_loss_grad(&p, &mut g).unwrap() >= fs);
        }
    }
    // The Hessian at the minimum by central differences of the gradient, symmetrised; its
    // largest eigenvalue is bracketed by where `t I - H` stops being positive definite.
    let (h, mut hess) = (1e-5, vec![0.0; d * d]);
    let (mut gp, mut gm) = (vec![0.0; d], vec![0.0; d]);
    for j in 0..d {
        let mut p = xs.clone();
        p[j] += h;
        m.full_loss_grad(&p, &mut gp).unwrap();
        p[j] -= 2.0 * h;
        m.full_loss_grad(&p, &mut gm).unwrap();
        (0..d).for_each(|i| hess[i * d + j] = (gp[i] - gm[i]) / (2.0 * h));
    }
    for i in 0..d {
        for j in 0..i {
            let s = 0.5 * (hess[i * d + j] + hess[j * d + i]);
            (hess[i * d + j], hess[j * d + i]) = (s, s);
        }
    }
    let l = hessian_top_eigenvalue(&mut m, &xs, 2000).unwrap();
    let shifted = |t: f64| {
        let mut s: Vec<f64> = hess.iter().map(|v| -v).collect();
        (0..d).for_each(|i| s[i * d + i] += t);
        s
    };
    let tol = 1e-5 * l;
    assert!(positive_definite(&shifted(l + tol), d), "L = {l} is below the top eigenvalue");
    assert!(!positive_definite(&shifted(l - tol), d), "L = {l} is above the top eigenvalue");
}

#[test]
fn bad_input_is_an_error() {
    let mut q = Quadratic::<f64>::ill_conditioned(3, 2.0, 1).unwrap();
    assert!(newton_cg(&mut q, &[0.0; 2], 10).is_err());
    assert!(newton_cg(&mut q, &[0.0, f64::NAN, 0.0], 10).is_err());
    assert!(hessian_top_eigenvalue(&mut q, &[0.0; 3], 0).is_err());
    assert!(hessian_top_eigenvalue(&mut q, &[0.0; 4], 10).is_err());
}
