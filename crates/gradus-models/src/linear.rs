//! Linear regression `f_j(w) = <w, x_j>`.

use gradus_core::{Layout, Result, validate::same_len};

use crate::Dense;
use crate::dense::dot;
use crate::regression::{SquaredLossModel, finite_data};

/// `f_j(w) = <w, x_j>` on a fixed design.
#[derive(Debug, Clone)]
pub struct Linear {
    x: Dense<f64>,
    y: Vec<f64>,
}

impl Linear {
    /// Errors unless there is one finite target per row.
    pub fn new(x: Dense<f64>, y: Vec<f64>) -> Result<Self> {
        same_len("targets", x.rows(), y.len())?;
        finite_data("design", x.as_slice())?;
        finite_data("targets", &y)?;
        Ok(Linear { x, y })
    }

    /// One vector block `w`.
    pub fn layout(&self) -> Layout {
        Layout::flat(self.x.cols()).unwrap_or_default()
    }
}

impl SquaredLossModel for Linear {
    fn num_params(&self) -> usize {
        self.x.cols()
    }
    fn num_samples(&self) -> usize {
        self.x.rows()
    }
    fn target(&self, j: usize) -> f64 {
        self.y[j]
    }
    fn output(&self, w: &[f64], j: usize) -> f64 {
        dot(w, self.x.row(j))
    }
    fn add_output_grad(&self, _: &[f64], j: usize, scale: f64, out: &mut [f64]) {
        for (o, &x) in out.iter_mut().zip(self.x.row(j)) {
            *o += scale * x;
        }
    }
    fn output_grad_dot(&self, _: &[f64], j: usize, v: &[f64]) -> f64 {
        dot(self.x.row(j), v)
    }
    fn add_output_hvp(&self, _: &[f64], _: usize, _: &[f64], _: f64, _: &mut [f64]) {}
}
