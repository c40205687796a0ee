//! The optimal Lyapunov functions of paper 06 ("Optimal Lyapunov functions").
//!
//! With them the tight rates of [`super::theory`] read `V_{k+1} <= rho V_k` for every
//! function in `F_{mu,L}`, every state and every compressor in the contraction ball.

use gradus_core::validate::same_len;
use gradus_core::{Error, Result, Scalar};

use super::theory::sqrt_eps;

fn s_positive(eps: f64) -> Result<f64> {
    let s = sqrt_eps(eps)?;
    if s == 0.0 {
        return Err(Error::hyper("eps", eps, "must be > 0 (with eps = 0 EF is gradient descent)"));
    }
    Ok(s)
}

/// `V_EF = ||x - x* - e||^2 + ||e||^2 / s` on the state `(z, e) = (x - x*, e)` of EF
/// (paper 06: `P = [[1, -1], [-1, 1 + 1/s]]`; `x - e` is EF's virtual iterate). Errors
/// unless `0 < eps < 1` and the lengths agree.
pub fn v_ef<T: Scalar>(z: &[T], e: &[T], eps: f64) -> Result<f64> {
    let s = s_positive(eps)?;
    same_len("EF error memory", z.len(), e.len())?;
    let (mut a, mut b) = (0.0f64, 0.0f64);
    for (&zi, &ei) in z.iter().zip(e) {
        let (zi, ei) = (zi.to_f64(), ei.to_f64());
        a += (zi - ei) * (zi - ei);
        b += ei * ei;
    }
    Ok(a + b / s)
}

/// `V_EF21 = ||g - d||^2 + s ||g||^2` on the state `(g, d) = (grad f(x), d)` of EF21
/// (paper 06: `P = [[1 + s, -1], [-1, 1]]`). Errors unless `0 <= eps < 1` and the lengths
/// agree.
pub fn v_ef21<T: Scalar>(g: &[T], d: &[T], eps: f64) -> Result<f64> {
    let s = sqrt_eps(eps)?;
    same_len("EF21 estimate", g.len(), d.len())?;
    let (mut a, mut b) = (0.0f64, 0.0f64);
    for (&gi, &di) in g.iter().zip(d) {
        let (gi, di) = (gi.to_f64(), di.to_f64());
        a += (gi - di) * (gi - di);
        b += gi * gi;
    }
    Ok(a + s * b)
}

/// The matrix `P` of [`v_ef`] on `(x - x*, e)`: `[[1, -1], [-1, 1 + 1/s]]`.
pub fn p_ef(eps: f64) -> Result<[[f64; 2]; 2]> {
    let s = s_positive(eps)?;
    Ok([[1.0, -1.0], [-1.0, 1.0 + 1.0 / s]])
}

/// The matrix `P` of [`v_ef21`] on `(g, d)`: `[[1 + s, -1], [-1, 1]]`.
pub fn p_ef21(eps: f64) -> Result<[[f64; 2]; 2]> {
    let s = sqrt_eps(eps)?;
    Ok([[1.0 + s, -1.0], [-1.0, 1.0]])
}
