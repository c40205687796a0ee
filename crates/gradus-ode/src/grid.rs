//! Validation shared by both integrators.

use gradus_core::validate::all_finite;
use gradus_core::{Error, Result};

/// Checks that the grid is non-empty, finite and strictly increasing, and that `y0` is finite
/// and non-empty.
pub(crate) fn check_problem(y0: &[f64], grid: &[f64]) -> Result<()> {
    if y0.is_empty() {
        return Err(Error::InvalidShape { what: "ODE initial state", detail: "empty".into() });
    }
    all_finite("ODE initial state", y0)?;
    if grid.is_empty() {
        return Err(Error::InvalidShape { what: "ODE time grid", detail: "empty".into() });
    }
    all_finite("ODE time grid", grid)?;
    if let Some(i) = grid.windows(2).position(|w| w[1] <= w[0]) {
        return Err(Error::InvalidShape {
            what: "ODE time grid",
            detail: format!("not strictly increasing at index {}", i + 1),
        });
    }
    Ok(())
}

/// Errors at the first non-finite entry of a state or derivative produced while integrating.
pub(crate) fn check_state(what: &'static str, y: &[f64]) -> Result<()> {
    all_finite(what, y)
}
