//! Second-order tools on a [`Differentiable`] model that need only Hessian-vector products:
//! the minimiser by damped Newton with conjugate-gradient solves ([`newton_cg`], through
//! [`gradus_linalg::cg::pcg`]) and the
//! largest Hessian eigenvalue by power iteration ([`hessian_top_eigenvalue`]), used to find
//! `f*` and the smoothness constant `L` of a convex model.

use gradus_core::numeric::dot;
use gradus_core::{Error, Result};
use gradus_linalg::cg::{CgStop, CgWork, no_preconditioner, pcg};

use crate::Differentiable;

/// The minimiser of a convex `f` from `x0` and its value: Newton steps `x <- x + s p` with
/// `H p = -g` solved by conjugate gradients (at most `4 d` products, stopped when the
/// residual is at most `1e-3 min(|g|, 1) |g|`, which keeps Newton's quadratic convergence) and
/// `s` halved until `f` does not increase; stops when `|g| < 1e-14` or after `max_iter`
/// Newton steps.
pub fn newton_cg<D: Differentiable<f64> + ?Sized>(
    f: &mut D,
    x0: &[f64],
    max_iter: usize,
) -> Result<(Vec<f64>, f64)> {
    let d = f.num_params();
    gradus_core::validate::same_len("x0", d, x0.len())?;
    if x0.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what: "x0", index: 0 });
    }
    let (mut x, mut g) = (x0.to_vec(), vec![0.0; d]);
    let mut fx = f.full_loss_grad(&x, &mut g)?;
    let (mut p, mut neg_g, mut work) = (vec![0.0; d], vec![0.0; d], CgWork::new(d));
    let (mut xn, mut gn_new) = (vec![0.0; d], vec![0.0; d]);
    for _ in 0..max_iter {
        let gn = dot(&g, &g).sqrt();
        if gn < 1e-14 {
            break;
        }
        // H p = -g by conjugate gradients from p = 0; an inexact solve at the cap still
        // gives a descent direction, so the cap is not an error here.
        neg_g.iter_mut().zip(&g).for_each(|(r, v)| *r = -v);
        let stop = CgStop { residual: 1e-3 * gn.min(1.0) * gn, max_iter: 4 * d };
        pcg(|v, hv| f.hvp(&x, v, hv), no_preconditioner, &neg_g, &mut p, &mut work, stop)?;
        let mut step = 1.0;
        loop {
            xn.iter_mut().zip(x.iter().zip(&p)).for_each(|(n, (a, b))| *n = a + step * b);
            let fn_new = f.full_loss_grad(&xn, &mut gn_new)?;
            if fn_new <= fx || step < 1e-8 {
                std::mem::swap(&mut x, &mut xn);
                std::mem::swap(&mut g, &mut gn_new);
                fx = fn_new.min(fx);
                break;
            }
            step *= 0.5;
        }
    }
    Ok((x, fx))
}

/// The largest eigenvalue of the Hessian of `f` at `x` (its smoothness constant near `x`
/// for a convex `f`) by `iters` steps of power iteration from the fixed vector
/// `v_i = 1 + sin(i)`: `v <- H v / |v|`, returning the last Rayleigh quotient
/// `v^T H v / v^T v`. Errors if `iters` is 0 or an iterate vanishes (`v` orthogonal to
/// every eigenvector of a nonzero eigenvalue).
pub fn hessian_top_eigenvalue<D: Differentiable<f64> + ?Sized>(
    f: &mut D,
    x: &[f64],
    iters: usize,
) -> Result<f64> {
    let d = f.num_params();
    gradus_core::validate::same_len("x", d, x.len())?;
    if iters == 0 {
        return Err(Error::hyper("iters", 0.0, "need at least one power iteration"));
    }
    let mut v: Vec<f64> = (0..d).map(|i| 1.0 + (i as f64).sin()).collect();
    let mut hv = vec![0.0; d];
    let mut l = 0.0;
    for _ in 0..iters {
        let n = dot(&v, &v).sqrt();
        if !(n > 0.0 && n.is_finite()) {
            return Err(Error::InvalidShape {
                what: "power iteration",
                detail: format!("the iterate's norm is {n}"),
            });
        }
        v.iter_mut().for_each(|a| *a /= n);
        f.hvp(x, &v, &mut hv)?;
        l = dot(&v, &hv);
        v.copy_from_slice(&hv);
    }
    Ok(l)
}
