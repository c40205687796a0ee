//! Test-time attacks for robustness curves (paper 03, Sec. 6.1): FGSM and `l_inf` PGD.

use gradus_core::{Error, Result};
use rayon::prelude::*;

use super::data::Dataset;
use super::loss::Classifier;

fn check<C: Classifier + ?Sized>(
    model: &C,
    theta: &[f64],
    data: &Dataset,
    radius: f64,
) -> Result<()> {
    gradus_core::validate::same_len("theta", model.num_params(), theta.len())?;
    gradus_core::validate::same_len("data dimension", model.dim(), data.dim())?;
    gradus_core::validate::non_negative("attack radius", radius)
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
    check(model, theta, data, radius)?;
    gradus_core::validate::non_negative("attack step", step)?;
    let d = data.dim();
    let correct: usize = (0..data.len())
        .into_par_iter()
        .map(|i| {
            let (x, label) = (data.point(i), data.label(i));
            let mut y = x.to_vec();
            let mut g = vec![0.0; d];
            for _ in 0..iters {
                model.loss_grad_y(theta, label, &y, &mut g);
                for k in 0..d {
                    let s = if g[k] > 0.0 {
                        1.0
                    } else if g[k] < 0.0 {
                        -1.0
                    } else {
                        0.0
                    };
                    y[k] = (y[k] + step * s).max(x[k] - radius).min(x[k] + radius);
                }
            }
            usize::from(model.predict(theta, &y) == label)
        })
        .sum();
    if data.is_empty() {
        return Err(Error::InvalidShape { what: "test data", detail: "empty".into() });
    }
    Ok(correct as f64 / data.len() as f64)
}
