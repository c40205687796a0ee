//! Linear algebra for gradus.
//!
//! - [`eigh`]: symmetric eigendecomposition on faer (allocation-free low tier with a reusable
//!   [`EighWorkspace`], owning convenience tier), optionally through LAPACK/OpenBLAS
//!   (feature `openblas-system`, [`Backend::Lapack`]).
//! - [`cg`]: preconditioned conjugate gradients for any SPD operator on a reusable workspace.
//! - [`matfn`]: inverse `p`-th roots of SPD matrices by eigendecomposition (regularised and
//!   floored) and by the coupled inverse Newton iteration, with residual diagnostics and
//!   batches over rayon (Shampoo's preconditioners).
//! - [`toeplitz`]: structured solves for Toeplitz systems: Levinson-Durbin (Hermitian PD,
//!   with reflection coefficients and log-determinant), general Levinson, the
//!   Gohberg-Semencul representation of the inverse, FFT matrix-vector products by circulant
//!   embedding, and preconditioned conjugate gradients with circulant preconditioners.
//!
//! Inputs are validated (square, finite, symmetric within a tolerance, positive definite
//! where required): faer itself does not check, and a NaN would otherwise come back as `Ok`.

// `!(x > 0.0)` is deliberate throughout: it is true for NaN, which must be rejected too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod cg;
mod check;
pub mod eigh;
#[cfg(feature = "openblas-system")]
mod lapack;
pub mod matfn;
mod scalar;
pub mod toeplitz;

pub use eigh::{Backend, Eigh, EighWorkspace, eigh, eigh_into};
pub use matfn::{RootInfo, RootMethod, RootParams, RootWorkspace, inverse_root};
pub use scalar::LinalgScalar;

/// faer's matrix types, re-exported so users need no direct faer dependency.
pub use faer::{Mat, MatMut, MatRef};
