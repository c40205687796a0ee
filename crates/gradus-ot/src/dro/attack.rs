//! Test-time attacks for robustness curves: FGSM and `l_inf` PGD (paper 03, Sec. 6.1) and
//! `l_2` PGD (Sec. 6.3).

use gradus_core::{Error, Result};
use rayon::prelude::*;

use super::data::Dataset;
use super::loss::Classifier;

fn check<C: Classifier + ?Sized>(
    model: &C,
    theta: &[f64],
    data: &Dataset,
    radius: f64,
    step: f64,
) -> Result<()> {
    gradus_core::validate::same_len("theta", model.num_params(), theta.len())?;
    gradus_core::validate::all_finite("theta", theta)?;
    gradus_core::validate::same_len("data dimension", model.dim(), data.dim())?;
    gradus_core::validate::non_negative("attack radius", radius)?;
    gradus_core::validate::non_negative("attack step", step)?;
    if let Some(&l) = data.labels().iter().find(|&&l| l >= model.classes()) {
        return Err(super::loss::bad_label(l, model.classes()));
    }
    if data.is_empty() {
        return Err(Error::InvalidShape { what: "test data", detail: "empty".into() });
    }
    Ok(())
}

/// Fraction of `data` a classifier gets right after `attack` moved each point.
fn attacked_accuracy<C: Classifier + ?Sized>(
    model: &C,
    theta: &[f64],
    data: &Dataset,
    attack: impl Fn(&[f64], usize, &mut [f64], &mut [f64]) -> Result<()> + Sync,
) -> Result<f64> {
    let d = data.dim();
    let correct = (0..data.len())
        .into_par_iter()
        .map(|i| {
            let (x, label) = (data.point(i), data.label(i));
            let mut y = x.to_vec();
            let mut g = vec![0.0; d];
            attack(x, label, &mut y, &mut g)?;
            Ok(usize::from(model.predict(theta, &y)? == label))
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    Ok(correct as f64 / data.len() as f64)
}

/// Accuracy on `data` after the FGSM attack `y = x + r sign(grad_x l)`.
pub fn fgsm_accuracy<C: Classifier + ?Sized>(
    model: &C,
    theta: &[f64],
    data: &Dataset,
    radius: f64,
) -> Result<f64> {
    pgd_linf_accuracy(model, theta, data, radius, radius, 1)
}

/// Accuracy on `data` after `iters` steps of `l_inf` projected gradient ascent on the loss,
/// `y <- clip_{[x - r, x + r]}(y + step sign(grad_y l))` from `y = x` (`iters = 0` or
/// `radius = 0`: clean accuracy).
pub fn pgd_linf_accuracy<C: Classifier + ?Sized>(
    model: &C,
    theta: &[f64],
    data: &Dataset,
    radius: f64,
    step: f64,
    iters: usize,
) -> Result<f64> {
    check(model, theta, data, radius, step)?;
    attacked_accuracy(model, theta, data, |x, label, y, g| {
        for _ in 0..iters {
            model.loss_grad_y(theta, label, y, g)?;
            for ((yk, gk), xk) in y.iter_mut().zip(g.iter()).zip(x) {
                let s = if *gk > 0.0 {
                    1.0
                } else if *gk < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                *yk = (*yk + step * s).max(xk - radius).min(xk + radius);
            }
        }
        Ok(())
    })
}

/// `l_2` PGD on one point (paper 03, Sec. 6.3): from `y = x`, `iters` steps of
/// `y <- Proj_{|y - x| <= r}(y + step g / |g|)`, `g = grad_y l(theta; y, label)` (a zero
/// gradient stops the attack). `y` receives the result, `grad` is scratch (both of the input
/// dimension). For a loss convex in `y` every step is non-decreasing: with `P` the projection
/// of `y + d`, `d . (P - y) >= |P - y|^2 >= 0`, so `l(P) >= l(y) + g . (P - y) >= l(y)`.
#[allow(clippy::too_many_arguments)]
pub fn pgd_l2_point<C: Classifier + ?Sized>(
    model: &C,
    theta: &[f64],
    x: &[f64],
    label: usize,
    radius: f64,
    step: f64,
    iters: usize,
    y: &mut [f64],
    grad: &mut [f64],
) -> Result<()> {
    gradus_core::validate::same_len("attack output", x.len(), y.len())?;
    gradus_core::validate::same_len("attack scratch", x.len(), grad.len())?;
    gradus_core::validate::non_negative("attack radius", radius)?;
    gradus_core::validate::non_negative("attack step", step)?;
    y.copy_from_slice(x);
    for _ in 0..iters {
        model.loss_grad_y(theta, label, y, grad)?;
        let norm = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            break;
        }
        let mut dist2 = 0.0;
        for ((yk, gk), xk) in y.iter_mut().zip(grad.iter()).zip(x) {
            *yk += step * gk / norm;
            dist2 += (*yk - xk) * (*yk - xk);
        }
        let dist = dist2.sqrt();
        if dist > radius {
            let shrink = radius / dist;
            for (yk, xk) in y.iter_mut().zip(x) {
                *yk = xk + (*yk - xk) * shrink;
            }
        }
    }
    Ok(())
}

/// Accuracy on `data` after [`pgd_l2_point`] on every point (`iters = 0` or `radius = 0`:
/// clean accuracy).
pub fn pgd_l2_accuracy<C: Classifier + ?Sized>(
    model: &C,
    theta: &[f64],
    data: &Dataset,
    radius: f64,
    step: f64,
    iters: usize,
) -> Result<f64> {
    check(model, theta, data, radius, step)?;
    attacked_accuracy(model, theta, data, |x, label, y, g| {
        pgd_l2_point(model, theta, x, label, radius, step, iters, y, g)
    })
}
