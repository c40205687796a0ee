//! Training objectives with exact gradients and exact Hessian-vector products.
//!
//! Every model implements [`gradus_core::Objective`] (the possibly stochastic loss the
//! optimizer sees) and [`Differentiable`] (the deterministic full-data loss, its gradient and
//! Hessian-vector products, which sharpness measures and tests need). Buffers are caller-owned
//! and scratch space is allocated at construction: evaluating a model never allocates.

// `!(x > 0.0)` is deliberate throughout: it is true for NaN, which must be rejected too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod data;
mod dense;
mod diag_net;
mod linear;
mod logistic;
mod matfac;
pub mod newton;
mod noise;
mod quadratic;
mod regression;
pub mod sharpness;
mod softmax;
mod stopping;
pub mod teacher_student;
pub mod toeplitz_cov;
mod two_layer;

pub use dense::Dense;
pub use diag_net::{DiagParam, DiagonalNet};
pub use linear::Linear;
pub use logistic::LogisticRegression;
pub use matfac::MatrixFactorization;
pub use noise::LabelNoise;
pub use quadratic::Quadratic;
pub use regression::{Regression, SquaredLossModel};
pub use softmax::SoftmaxRegression;
pub use stopping::{EarlyStopping, Observation};
pub use two_layer::TwoLayerNet;

use gradus_core::{Result, Scalar};

/// A model whose full-data loss can be differentiated twice.
pub trait Differentiable<T: Scalar> {
    /// Number of parameters.
    fn num_params(&self) -> usize;

    /// The deterministic full-data loss at `params`, with its gradient written to `grad`.
    fn full_loss_grad(&mut self, params: &[T], grad: &mut [T]) -> Result<T>;

    /// `out = H(params) v`, the exact Hessian of the full-data loss applied to `v`.
    fn hvp(&mut self, params: &[T], v: &[T], out: &mut [T]) -> Result<()>;
}

/// Central finite-difference gradient of `f` (for tests of analytic gradients).
pub fn fd_gradient(f: &mut dyn FnMut(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut x = x.to_vec();
    (0..x.len())
        .map(|i| {
            let x0 = x[i];
            x[i] = x0 + h;
            let fp = f(&x);
            x[i] = x0 - h;
            let fm = f(&x);
            x[i] = x0;
            (fp - fm) / (2.0 * h)
        })
        .collect()
}
