//! Per-sample losses `l(theta; y, label)` with gradients in the perturbed input `y` and in the
//! decision `theta`, and the conditional Gibbs target the samplers draw from.

use gradus_core::{Error, Result};

use crate::flows::LogDensity;

/// A loss `l(theta; y, label)` on one (perturbable) input `y` with a fixed label.
///
/// Every method checks its arguments and returns an error when a slice has the wrong length
/// or the label is out of range (writing nothing), or when the loss is not finite (the
/// models of this module; gradients may then have been written).
pub trait PointLoss: Sync {
    /// Number of decision parameters `theta`.
    fn num_params(&self) -> usize;

    /// Dimension of the input `y`.
    fn dim(&self) -> usize;

    /// `l(theta; y, label)`.
    fn loss(&self, theta: &[f64], label: usize, y: &[f64]) -> Result<f64>;

    /// `l(theta; y, label)` with `grad_y l` written to `grad_y`.
    fn loss_grad_y(
        &self,
        theta: &[f64],
        label: usize,
        y: &[f64],
        grad_y: &mut [f64],
    ) -> Result<f64>;

    /// `l(theta; y, label)`, adding `scale * grad_theta l` to `grad_theta`.
    fn loss_grad_theta(
        &self,
        theta: &[f64],
        label: usize,
        y: &[f64],
        scale: f64,
        grad_theta: &mut [f64],
    ) -> Result<f64>;
}

/// A loss whose model also predicts a class.
pub trait Classifier: PointLoss {
    /// Number of classes (labels are `0..classes()`).
    fn classes(&self) -> usize;

    /// The predicted class of input `y`.
    fn predict(&self, theta: &[f64], y: &[f64]) -> Result<usize>;
}

/// The error for a label outside `0..classes`.
pub(crate) fn bad_label(label: usize, classes: usize) -> Error {
    Error::InvalidShape { what: "label", detail: format!("{label} with {classes} classes") }
}

/// `f(y) = R_theta(x, y) = l(theta; y, label) - lambda |y - x|^2`: sampled at temperature
/// `lambda eps` it is the worst-case conditional law `p_{theta,x}` of paper 03.
///
/// [`LogDensity`] has no error channel: a loss error becomes a NaN value, which every flow
/// reports as [`Error::NonFinite`]. The DRO objectives check `(theta, label, x)` with one
/// loss evaluation before sampling, so that error names the real cause.
pub struct GibbsTarget<'a, L: ?Sized> {
    /// The loss.
    pub loss: &'a L,
    /// Decision `theta`.
    pub theta: &'a [f64],
    /// Nominal point `x`.
    pub x: &'a [f64],
    /// Its label.
    pub label: usize,
    /// Transport penalty `lambda = 1 / (2 tau)`.
    pub lambda: f64,
}

impl<L: PointLoss + ?Sized> LogDensity for GibbsTarget<'_, L> {
    fn dim(&self) -> usize {
        self.x.len()
    }

    fn value_grad(&self, y: &[f64], grad: &mut [f64]) -> f64 {
        let Ok(l) = self.loss.loss_grad_y(self.theta, self.label, y, grad) else {
            return f64::NAN;
        };
        let mut pen = 0.0;
        for ((g, yk), xk) in grad.iter_mut().zip(y).zip(self.x) {
            let diff = yk - xk;
            pen += diff * diff;
            *g -= 2.0 * self.lambda * diff;
        }
        l - self.lambda * pen
    }
}
