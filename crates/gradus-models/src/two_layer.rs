//! A two-layer network `f(x) = sum_k a_k tanh(w_k . x)`, parameters `W` (`m x d`, row-major)
//! then `a` (a `1 x m` matrix: the output layer, which Adalayer splits by output row).

use gradus_core::{Error, Layout, Result, validate::same_len};

use crate::Dense;
use crate::regression::{SquaredLossModel, finite_data};

/// A tanh network with `m` hidden units on a fixed design.
#[derive(Debug, Clone)]
pub struct TwoLayerNet {
    x: Dense<f64>,
    y: Vec<f64>,
    m: usize,
}

impl TwoLayerNet {
    /// Errors unless there is one finite target per row and `m >= 1`.
    pub fn new(x: Dense<f64>, y: Vec<f64>, hidden: usize) -> Result<Self> {
        same_len("targets", x.rows(), y.len())?;
        finite_data("design", x.as_slice())?;
        finite_data("targets", &y)?;
        if hidden == 0 {
            return Err(Error::InvalidShape {
                what: "two-layer net",
                detail: "no hidden units".into(),
            });
        }
        Ok(TwoLayerNet { x, y, m: hidden })
    }

    /// Blocks `W` (`m x d`) and `a` (`1 x m`).
    pub fn layout(&self) -> Layout {
        Layout::new()
            .matrix("W", self.m, self.x.cols())
            .and_then(|l| l.matrix("a", 1, self.m))
            .unwrap_or_default()
    }

    #[inline]
    fn pre(&self, theta: &[f64], k: usize, x: &[f64]) -> f64 {
        let d = self.x.cols();
        crate::dense::dot(&theta[k * d..(k + 1) * d], x)
    }
}

impl SquaredLossModel for TwoLayerNet {
    fn num_params(&self) -> usize {
        self.m * (self.x.cols() + 1)
    }
    fn num_samples(&self) -> usize {
        self.x.rows()
    }
    fn target(&self, j: usize) -> f64 {
        self.y[j]
    }
    fn output(&self, theta: &[f64], j: usize) -> f64 {
        let x = self.x.row(j);
        let a0 = self.m * self.x.cols();
        (0..self.m).map(|k| theta[a0 + k] * self.pre(theta, k, x).tanh()).sum()
    }
    fn add_output_grad(&self, theta: &[f64], j: usize, scale: f64, out: &mut [f64]) {
        let (d, x) = (self.x.cols(), self.x.row(j));
        let a0 = self.m * d;
        for k in 0..self.m {
            let h = self.pre(theta, k, x).tanh();
            out[a0 + k] += scale * h;
            let c = scale * theta[a0 + k] * (1.0 - h * h);
            for (o, &xi) in out[k * d..(k + 1) * d].iter_mut().zip(x) {
                *o += c * xi;
            }
        }
    }
    fn output_grad_dot(&self, theta: &[f64], j: usize, v: &[f64]) -> f64 {
        let (d, x) = (self.x.cols(), self.x.row(j));
        let a0 = self.m * d;
        (0..self.m)
            .map(|k| {
                let h = self.pre(theta, k, x).tanh();
                h * v[a0 + k]
                    + theta[a0 + k] * (1.0 - h * h) * crate::dense::dot(&v[k * d..(k + 1) * d], x)
            })
            .sum()
    }
    /// `d2f/da_k dw_k = (1 - h^2) x`, `d2f/dw_k^2 = -2 a_k h (1 - h^2) x x^T`, others zero.
    fn add_output_hvp(&self, theta: &[f64], j: usize, v: &[f64], scale: f64, out: &mut [f64]) {
        let (d, x) = (self.x.cols(), self.x.row(j));
        let a0 = self.m * d;
        for k in 0..self.m {
            let h = self.pre(theta, k, x).tanh();
            let s = 1.0 - h * h;
            let xv = crate::dense::dot(&v[k * d..(k + 1) * d], x);
            out[a0 + k] += scale * s * xv;
            let c = scale * (s * v[a0 + k] - 2.0 * theta[a0 + k] * h * s * xv);
            for (o, &xi) in out[k * d..(k + 1) * d].iter_mut().zip(x) {
                *o += c * xi;
            }
        }
    }
}
