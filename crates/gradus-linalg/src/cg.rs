//! Preconditioned conjugate gradients for a symmetric positive-definite operator given as a
//! closure, on a reusable workspace (no allocation per solve once [`CgWork`] is sized).
//!
//! Hestenes & Stiefel (1952), in the preconditioned form of Golub & Van Loan (4th ed.,
//! Alg. 11.5.1): from `x = 0`, `r = b`, `z = M^{-1} r`, `p = z`; each iteration
//! `alpha = r.z / p.Ap`, `x += alpha p`, `r -= alpha Ap`, `z = M^{-1} r`,
//! `p = z + (r.z)_new / (r.z) p`. One implementation serves the Toeplitz solver
//! ([`crate::toeplitz::pcg_solve`], circulant `M`) and Newton-CG on Hessian-vector products
//! (`gradus_models::newton`, `M = I`).

use gradus_core::numeric::dot;
use gradus_core::{Error, Result};

/// The four work vectors of a solve of size `n`.
#[derive(Debug, Clone, Default)]
pub struct CgWork {
    r: Vec<f64>,
    z: Vec<f64>,
    p: Vec<f64>,
    q: Vec<f64>,
}

impl CgWork {
    /// Work vectors for systems of size `n`.
    pub fn new(n: usize) -> Self {
        CgWork { r: vec![0.0; n], z: vec![0.0; n], p: vec![0.0; n], q: vec![0.0; n] }
    }

    /// The system size this workspace serves.
    pub fn len(&self) -> usize {
        self.r.len()
    }

    /// True for the size-0 workspace.
    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }
}

/// When to stop: `|r| <= residual` (absolute, Euclidean) or after `max_iter` iterations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgStop {
    /// Residual norm at which the solve has converged.
    pub residual: f64,
    /// Iteration cap.
    pub max_iter: usize,
}

/// How a solve ended (the cap is not an error here: callers decide, see
/// [`crate::toeplitz::pcg_solve`] which makes it one and Newton-CG which uses the iterate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgOutcome {
    /// Iterations taken.
    pub iterations: usize,
    /// Final residual norm `|b - A x|` (as updated by the recursion).
    pub residual: f64,
    /// Whether `residual <= stop.residual` was reached within the cap.
    pub converged: bool,
}

/// The identity preconditioner (`z = r`): plain conjugate gradients.
pub fn no_preconditioner(r: &[f64], z: &mut [f64]) -> Result<()> {
    z.copy_from_slice(r);
    Ok(())
}

/// Solves `A x = b` into `x` from `x = 0`. `apply(v, out)` writes `A v`, `precond(r, z)`
/// writes `M^{-1} r` (SPD `M`). Errors, with `x` unspecified, on a size mismatch, a
/// non-finite `b`, an operator error, or a non-positive (or NaN) curvature `p.Ap`, which
/// means `A` is not positive definite on the Krylov space.
pub fn pcg(
    mut apply: impl FnMut(&[f64], &mut [f64]) -> Result<()>,
    mut precond: impl FnMut(&[f64], &mut [f64]) -> Result<()>,
    b: &[f64],
    x: &mut [f64],
    work: &mut CgWork,
    stop: CgStop,
) -> Result<CgOutcome> {
    let n = b.len();
    gradus_core::validate::same_len("solution", n, x.len())?;
    gradus_core::validate::same_len("CG workspace", n, work.len())?;
    if let Some(index) = b.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what: "right-hand side", index });
    }
    if !(stop.residual >= 0.0) {
        return Err(Error::hyper("CG residual tolerance", stop.residual, "must be >= 0"));
    }
    let CgWork { r, z, p, q } = work;
    x.iter_mut().for_each(|v| *v = 0.0);
    r.copy_from_slice(b);
    let mut residual = dot(r, r).sqrt();
    if residual <= stop.residual {
        return Ok(CgOutcome { iterations: 0, residual, converged: true });
    }
    precond(r, z)?;
    p.copy_from_slice(z);
    let mut rz = dot(r, z);
    for it in 1..=stop.max_iter {
        apply(p, q)?;
        let pq = dot(p, q);
        if !(pq > 0.0) {
            return Err(Error::NotPositiveDefinite {
                detail: format!("p^T A p = {pq:e} at conjugate-gradient iteration {it}"),
            });
        }
        let alpha = rz / pq;
        for i in 0..n {
            x[i] += alpha * p[i];
            r[i] -= alpha * q[i];
        }
        residual = dot(r, r).sqrt();
        if residual <= stop.residual {
            return Ok(CgOutcome { iterations: it, residual, converged: true });
        }
        precond(r, z)?;
        let rz_new = dot(r, z);
        let beta = rz_new / rz;
        rz = rz_new;
        for i in 0..n {
            p[i] = z[i] + beta * p[i];
        }
    }
    Ok(CgOutcome { iterations: stop.max_iter, residual, converged: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `A = B^T B + I` for a fixed `B`, and its product.
    fn spd(n: usize) -> Vec<f64> {
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let s: f64 =
                    (0..n).map(|k| ((k * n + i) as f64).sin() * ((k * n + j) as f64).sin()).sum();
                a[i * n + j] = s + if i == j { 1.0 } else { 0.0 };
            }
        }
        a
    }

    fn matvec(a: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        let n = v.len();
        for i in 0..n {
            out[i] = dot(&a[i * n..(i + 1) * n], v);
        }
        Ok(())
    }

    #[test]
    fn solves_an_spd_system_in_at_most_n_iterations_and_reuses_its_workspace() {
        let n = 12;
        let a = spd(n);
        let mut work = CgWork::new(n);
        for rhs in 0..3 {
            let b: Vec<f64> = (0..n).map(|i| (i + rhs) as f64 - 4.0).collect();
            let mut x = vec![7.0; n];
            let stop = CgStop { residual: 1e-10, max_iter: 10 * n };
            let out = pcg(|v, o| matvec(&a, v, o), no_preconditioner, &b, &mut x, &mut work, stop)
                .unwrap();
            assert!(out.converged && out.iterations <= n + 2, "{out:?}");
            let mut ax = vec![0.0; n];
            matvec(&a, &x, &mut ax).unwrap();
            let res: f64 = ax.iter().zip(&b).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt();
            assert!(res < 1e-8, "true residual {res}");
            // A Jacobi preconditioner reaches the same solution.
            let d: Vec<f64> = (0..n).map(|i| a[i * n + i]).collect();
            let mut xj = vec![0.0; n];
            let jac = |r: &[f64], z: &mut [f64]| {
                z.iter_mut().zip(r.iter().zip(&d)).for_each(|(z, (r, d))| *z = r / d);
                Ok(())
            };
            pcg(|v, o| matvec(&a, v, o), jac, &b, &mut xj, &mut work, stop).unwrap();
            assert!(x.iter().zip(&xj).all(|(p, q)| (p - q).abs() < 1e-8));
        }
    }

    #[test]
    fn the_cap_is_reported_and_indefinite_operators_are_errors() {
        let n = 8;
        let a = spd(n);
        let b = vec![1.0; n];
        let (mut x, mut work) = (vec![0.0; n], CgWork::new(n));
        let stop = CgStop { residual: 1e-14, max_iter: 1 };
        let out = pcg(|v, o| matvec(&a, v, o), no_preconditioner, &b, &mut x, &mut work, stop);
        assert!(!out.unwrap().converged);
        let neg = |v: &[f64], o: &mut [f64]| {
            o.iter_mut().zip(v).for_each(|(o, v)| *o = -v);
            Ok(())
        };
        let stop = CgStop { residual: 1e-10, max_iter: 5 };
        assert!(matches!(
            pcg(neg, no_preconditioner, &b, &mut x, &mut work, stop),
            Err(Error::NotPositiveDefinite { .. })
        ));
        let mut nan_b = b.clone();
        nan_b[3] = f64::NAN;
        assert!(pcg(neg, no_preconditioner, &nan_b, &mut x, &mut work, stop).is_err());
        assert!(pcg(neg, no_preconditioner, &b, &mut x[..3], &mut work, stop).is_err());
    }
}
