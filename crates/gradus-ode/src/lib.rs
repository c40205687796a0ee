//! ODE integration for `y' = f(t, y)`, `y in R^d`: the limit equations of paper 02 (online SGD
//! order parameters) and anything else with a smooth right-hand side.
//!
//! Two integrators, both reporting the solution on a caller-chosen time grid:
//! - [`rk4`]: classical fourth-order Runge-Kutta with a fixed step (global error `O(h^4)`);
//! - [`dopri5`]: Dormand-Prince 5(4) with embedded error control, step rejection and the
//!   first-same-as-last property; steps are shortened to land exactly on every grid time, so
//!   the reported states carry the full fifth-order accuracy (no interpolation error).
//!
//! The right-hand side is any `FnMut(t, y, dy) -> Result<()>`, so a vector field that can fail
//! (e.g. leaves its domain) reports its own error. A non-finite state or derivative is an
//! [`gradus_core::Error::NonFinite`]; invalid tolerances or grids are
//! [`gradus_core::Error::InvalidHyperparameter`] / [`gradus_core::Error::InvalidShape`].

mod dopri;
mod grid;
mod rk4;
mod solution;

pub use dopri::{DopriParams, DopriStats, dopri5};
pub use rk4::rk4;
pub use solution::Solution;
