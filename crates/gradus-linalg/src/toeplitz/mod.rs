//! Toeplitz matrices: `T_ij = t_{i-j}` (first column `t_0, t_1, ...`) and, above the diagonal,
//! the first row (`conj(t_{j-i})` for Hermitian matrices).
//!
//! - [`levinson`]: Levinson-Durbin for Hermitian positive-definite `T` in `O(n^2)`: solves,
//!   reflection coefficients, prediction errors and `log det T` (the Gaussian likelihood of a
//!   stationary process needs all three); a reflection coefficient of modulus `>= 1` is
//!   [`gradus_core::Error::NotPositiveDefinite`].
//! - [`levinson_general`]: the non-symmetric Levinson (Zohar-Trench) solver.
//! - [`gohberg_semencul`]: `T^{-1}` as a difference of products of triangular Toeplitz
//!   matrices, applied in `O(n log n)`.
//! - [`circulant`]: `T x` in `O(n log n)` by circulant embedding and FFT.
//! - [`pcg`]: preconditioned conjugate gradients with Strang or T. Chan circulant
//!   preconditioners, for large SPD systems.

pub mod circulant;
mod field;
pub mod gohberg_semencul;
pub mod levinson;
pub mod levinson_general;
pub mod pcg;

pub use circulant::{ComplexToeplitzOp, RealToeplitzOp};
pub use field::ToeplitzField;
pub use gohberg_semencul::GohbergSemencul;
pub use levinson::{Durbin, LevinsonWorkspace, durbin, levinson_solve};
pub use levinson_general::toeplitz_solve_general;
pub use pcg::{CirculantPreconditioner, PcgInfo, Preconditioner, ToeplitzPcg, pcg_solve};
