//! Classical fourth-order Runge-Kutta with a fixed step.

use gradus_core::validate::positive;
use gradus_core::{Error, Result};

use crate::Solution;
use crate::grid::{check_problem, check_state};

/// Integrates `y' = f(t, y)` from `y(grid[0]) = y0` with the classical RK4 scheme, reporting
/// the state at every time of `grid`.
///
/// Each grid interval `[a, b]` is crossed in `ceil((b - a) / h)` equal steps no longer than
/// `h`, so the grid times are hit exactly. Global error is `O(h^4)` for smooth `f`. Errors:
/// `h <= 0` or non-finite, an invalid grid or `y0`, a non-finite state or derivative
/// (`NonFinite` naming it), or any error returned by `f`.
pub fn rk4<F>(mut f: F, y0: &[f64], grid: &[f64], h: f64) -> Result<Solution>
where
    F: FnMut(f64, &[f64], &mut [f64]) -> Result<()>,
{
    positive("rk4 step h", h)?;
    check_problem(y0, grid)?;
    let d = y0.len();
    let mut y = y0.to_vec();
    let mut states = Vec::with_capacity(grid.len() * d);
    states.extend_from_slice(&y);
    // One buffer for the four stages and the stage argument.
    let mut work = vec![0.0; 5 * d];
    for w in grid.windows(2) {
        let (a, b) = (w[0], w[1]);
        let n = ((b - a) / h).ceil();
        if !(n < 1e12) {
            return Err(Error::hyper("rk4 step h", h, "too small for the grid span"));
        }
        let n = (n as u64).max(1);
        let step = (b - a) / n as f64;
        for i in 0..n {
            let t = a + i as f64 * step;
            rk4_step(&mut f, t, step, &mut y, &mut work)?;
        }
        check_state("ODE state", &y)?;
        states.extend_from_slice(&y);
    }
    Ok(Solution { times: grid.to_vec(), dim: d, states })
}

/// One RK4 step of length `h` from `(t, y)`, in place; `work` holds `5 d` scratch values.
fn rk4_step<F>(f: &mut F, t: f64, h: f64, y: &mut [f64], work: &mut [f64]) -> Result<()>
where
    F: FnMut(f64, &[f64], &mut [f64]) -> Result<()>,
{
    let d = y.len();
    let (k1, rest) = work.split_at_mut(d);
    let (k2, rest) = rest.split_at_mut(d);
    let (k3, rest) = rest.split_at_mut(d);
    let (k4, arg) = rest.split_at_mut(d);
    f(t, y, k1)?;
    check_state("ODE derivative", k1)?;
    for i in 0..d {
        arg[i] = y[i] + 0.5 * h * k1[i];
    }
    f(t + 0.5 * h, arg, k2)?;
    for i in 0..d {
        arg[i] = y[i] + 0.5 * h * k2[i];
    }
    f(t + 0.5 * h, arg, k3)?;
    for i in 0..d {
        arg[i] = y[i] + h * k3[i];
    }
    f(t + h, arg, k4)?;
    check_state("ODE derivative", k4)?;
    for i in 0..d {
        y[i] += h / 6.0 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
    }
    Ok(())
}
