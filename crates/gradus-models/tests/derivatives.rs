//! Analytic gradients and Hessian-vector products against central finite differences.

use gradus_core::{Objective, rng};
use gradus_models::data::{classification, gaussian_matrix, normal};
use gradus_models::{
    Differentiable, LogisticRegression, Quadratic, SoftmaxRegression, fd_gradient,
};

fn check_model<M: Differentiable<f64> + Objective<f64>>(model: &mut M, seed: u64, tol: f64) {
    let n = model.num_params();
    let mut r = rng::seeded(seed);
    let x: Vec<f64> = (0..n).map(|_| 0.5 * normal(&mut r)).collect();
    let v: Vec<f64> = (0..n).map(|_| normal(&mut r)).collect();
    let mut g = vec![0.0; n];
    model.full_loss_grad(&x, &mut g).unwrap();
    let fd = fd_gradient(
        &mut |p| {
            let mut gg = vec![0.0; n];
            model.full_loss_grad(p, &mut gg).unwrap()
        },
        &x,
        1e-5,
    );
    for i in 0..n {
        assert!(
            (g[i] - fd[i]).abs() <= tol * (1.0 + fd[i].abs()),
            "grad {i}: {} vs {}",
            g[i],
            fd[i]
        );
    }
    // Hv against the finite difference of gradients along v.
    let mut hv = vec![0.0; n];
    model.hvp(&x, &v, &mut hv).unwrap();
    let h = 1e-5;
    let xp: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a + h * b).collect();
    let xm: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a - h * b).collect();
    let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
    model.full_loss_grad(&xp, &mut gp).unwrap();
    model.full_loss_grad(&xm, &mut gm).unwrap();
    for i in 0..n {
        let want = (gp[i] - gm[i]) / (2.0 * h);
        assert!((hv[i] - want).abs() <= tol * (1.0 + want.abs()), "hvp {i}: {} vs {want}", hv[i]);
    }
}

#[test]
fn quadratic_derivatives() {
    let mut q = Quadratic::<f64>::ill_conditioned(12, 100.0, 1).unwrap();
    check_model(&mut q, 2, 1e-7);
    // The minimiser is a stationary point with value 0.
    let c = q.minimizer().to_vec();
    let mut g = vec![1.0; 12];
    assert!(q.full_loss_grad(&c, &mut g).unwrap().abs() < 1e-14);
    assert!(g.iter().all(|v| v.abs() < 1e-12));
}

#[test]
fn logistic_derivatives() {
    let mut r = rng::seeded(3);
    let x = gaussian_matrix::<f64>(30, 6, &mut r);
    let y: Vec<f64> = (0..30).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }).collect();
    let mut m = LogisticRegression::new(x, y, 0.01, 30).unwrap();
    check_model(&mut m, 4, 1e-6);
}

#[test]
fn softmax_derivatives() {
    let mut r = rng::seeded(5);
    let (x, labels) = classification::<f64>(40, 5, 4, 1.0, 10.0, &mut r).unwrap();
    let mut m = SoftmaxRegression::new(x, labels, 4, 0.01, 40).unwrap();
    check_model(&mut m, 6, 1e-6);
}

#[test]
fn full_batch_objective_equals_full_loss_and_minibatches_are_unbiased() {
    let mut r = rng::seeded(7);
    let (x, labels) = classification::<f64>(25, 3, 3, 1.0, 1.0, &mut r).unwrap();
    let mut full = SoftmaxRegression::new(x.clone(), labels.clone(), 3, 0.0, 25).unwrap();
    let mut mini = SoftmaxRegression::new(x, labels, 3, 0.0, 5).unwrap();
    let p: Vec<f64> = (0..12).map(|i| (i as f64 * 0.3).sin()).collect();
    let (mut g1, mut g2) = (vec![0.0; 12], vec![0.0; 12]);
    let f1 = full.loss_grad(&p, &mut g1, &mut r).unwrap();
    let f2 = full.full_loss_grad(&p, &mut g2).unwrap();
    assert_eq!(f1, f2);
    assert_eq!(g1, g2);
    // The average of many minibatch gradients approaches the full gradient.
    let mut acc = [0.0; 12];
    let reps = 20000;
    for _ in 0..reps {
        mini.loss_grad(&p, &mut g1, &mut r).unwrap();
        acc.iter_mut().zip(&g1).for_each(|(a, g)| *a += g / reps as f64);
    }
    for (a, g) in acc.iter().zip(&g2) {
        assert!((a - g).abs() < 0.02, "{a} vs {g}");
    }
}

#[test]
fn bad_inputs_are_errors() {
    let mut r = rng::seeded(8);
    let x = gaussian_matrix::<f64>(4, 2, &mut r);
    assert!(LogisticRegression::new(x.clone(), vec![1.0, -1.0, 0.5, 1.0], 0.0, 4).is_err());
    assert!(LogisticRegression::new(x.clone(), vec![1.0; 3], 0.0, 3).is_err());
    assert!(LogisticRegression::new(x.clone(), vec![1.0; 4], 0.0, 5).is_err());
    assert!(SoftmaxRegression::new(x.clone(), vec![0, 1, 2, 3], 3, 0.0, 4).is_err());
    assert!(Quadratic::<f64>::ill_conditioned(0, 10.0, 1).is_err());
    let mut m = LogisticRegression::new(x, vec![1.0; 4], 0.0, 4).unwrap();
    let mut g = vec![0.0; 2];
    assert!(m.full_loss_grad(&[0.0; 3], &mut g).is_err());
}
