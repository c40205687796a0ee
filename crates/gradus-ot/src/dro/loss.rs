//! Per-sample losses `l(theta; y, label)` with gradients in the perturbed input `y` and in the
//! decision `theta`, and the conditional Gibbs target the samplers draw from.

use crate::flows::LogDensity;

/// A loss `l(theta; y, label)` on one (perturbable) input `y` with a fixed label.
///
/// Implementations return NaN (and write nothing) when a slice has the wrong length or the
/// label is out of range, so callers detect misuse without a panic.
pub trait PointLoss: Sync {
    /// Number of decision parameters `theta`.
    fn num_params(&self) -> usize;

    /// Dimension of the input `y`.
    fn dim(&self) -> usize;

    /// `l(theta; y, label)`.
    fn loss(&self, theta: &[f64], label: usize, y: &[f64]) -> f64;

    /// `l(theta; y, label)` with `grad_y l` written to `grad_y`.
    fn loss_grad_y(&self, theta: &[f64], label: usize, y: &[f64], grad_y: &mut [f64]) -> f64;

    /// `l(theta; y, label)`, adding `scale * grad_theta l` to `grad_theta`.
    fn loss_grad_theta(
        &self,
        theta: &[f64],
        label: usize,
        y: &[f64],
        scale: f64,
        grad_theta: &mut [f64],
    ) -> f64;
}

/// A loss whose model also predicts a class.
pub trait Classifier: PointLoss {
    /// The predicted class of input `y` (`usize::MAX` on malformed input).
    fn predict(&self, theta: &[f64], y: &[f64]) -> usize;
}

/// `f(y) = R_theta(x, y) = l(theta; y, label) - lambda |y - x|^2`: sampled at temperature
/// `lambda eps` it is the worst-case conditional law `p_{theta,x}` of paper 03.
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
        let l = self.loss.loss_grad_y(self.theta, self.label, y, grad);
        let mut pen = 0.0;
        for ((g, yk), xk) in grad.iter_mut().zip(y).zip(self.x) {
            let diff = yk - xk;
            pen += diff * diff;
            *g -= 2.0 * self.lambda * diff;
        }
        l - self.lambda * pen
    }
}
