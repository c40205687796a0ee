//! The quadratic `f(x) = 1/2 (x - c)^T A (x - c)` with symmetric positive semi-definite `A`.

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Objective, Result, Rng, Scalar, rng};

use crate::data::{normal, random_orthogonal};
use crate::{Dense, Differentiable};

/// `f(x) = 1/2 (x - c)^T A (x - c)`, optionally with isotropic Gaussian gradient noise of
/// standard deviation `noise` in [`Objective::loss_grad`].
#[derive(Debug, Clone)]
pub struct Quadratic<T> {
    a: Dense<T>,
    c: Vec<T>,
    noise: f64,
    diff: Vec<T>,
    ad: Vec<T>,
}

impl<T: Scalar> Quadratic<T> {
    /// Errors unless `a` is square, symmetric (to `1e-10` relative), finite and matches `c`.
    pub fn new(a: Dense<T>, c: Vec<T>) -> Result<Self> {
        let d = c.len();
        if a.rows() != d || a.cols() != d {
            return Err(Error::InvalidShape {
                what: "quadratic matrix",
                detail: format!("{} x {} for {d} parameters", a.rows(), a.cols()),
            });
        }
        all_finite("quadratic matrix", a.as_slice())?;
        all_finite("quadratic centre", &c)?;
        let scale = a.as_slice().iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
        for i in 0..d {
            for j in 0..i {
                let asym = (a.row(i)[j].to_f64() - a.row(j)[i].to_f64()).abs();
                if asym > 1e-10 * scale.max(f64::MIN_POSITIVE) {
                    return Err(Error::NotSymmetric { asymmetry: asym, tolerance: 1e-10 * scale });
                }
            }
        }
        Ok(Quadratic { a, c, noise: 0.0, diff: vec![T::ZERO; d], ad: vec![T::ZERO; d] })
    }

    /// `A = Q diag(lambda) Q^T` with Haar-random `Q`, eigenvalues log-spaced from 1 down to
    /// `1 / kappa` (so the smoothness constant is 1 and the condition number `kappa`), and a
    /// standard normal centre.
    pub fn ill_conditioned(d: usize, kappa: f64, seed: u64) -> Result<Self> {
        gradus_core::validate::positive("kappa", kappa)?;
        if d == 0 {
            return Err(Error::InvalidShape { what: "quadratic", detail: "dimension 0".into() });
        }
        let mut r = rng::seeded(seed);
        let q = random_orthogonal(d, &mut r);
        let lam: Vec<f64> =
            (0..d).map(|i| kappa.powf(-(i as f64) / (d.max(2) - 1) as f64)).collect();
        let mut a = vec![T::ZERO; d * d];
        for i in 0..d {
            for j in 0..d {
                let v: f64 = (0..d).map(|k| q[k * d + i] * lam[k] * q[k * d + j]).sum();
                a[i * d + j] = T::from_f64(v);
            }
        }
        // Exact symmetry despite rounding in the sum above.
        for i in 0..d {
            for j in 0..i {
                a[j * d + i] = a[i * d + j];
            }
        }
        let c = (0..d).map(|_| T::from_f64(normal(&mut r))).collect();
        Self::new(Dense::from_row_major(d, d, a)?, c)
    }

    /// Adds Gaussian noise of standard deviation `sigma` to each stochastic gradient entry.
    pub fn with_noise(mut self, sigma: f64) -> Result<Self> {
        gradus_core::validate::non_negative("noise", sigma)?;
        self.noise = sigma;
        Ok(self)
    }

    /// The minimiser `c`.
    pub fn minimizer(&self) -> &[T] {
        &self.c
    }

    fn eval(&mut self, x: &[T], grad: &mut [T]) -> Result<T> {
        let d = self.c.len();
        same_len("parameters", d, x.len())?;
        same_len("gradient", d, grad.len())?;
        all_finite("parameters", x)?;
        for ((o, &xi), &ci) in self.diff.iter_mut().zip(x).zip(&self.c) {
            *o = xi - ci;
        }
        self.a.matvec(&self.diff, grad)?;
        let f = crate::dense::dot(&self.diff, grad) * T::from_f64(0.5);
        Ok(f)
    }
}

impl<T: Scalar> Objective<T> for Quadratic<T> {
    fn dim(&self) -> usize {
        self.c.len()
    }

    fn loss_grad(&mut self, params: &[T], grad: &mut [T], rng: &mut Rng) -> Result<T> {
        let f = self.eval(params, grad)?;
        if self.noise > 0.0 {
            for g in grad.iter_mut() {
                *g += T::from_f64(self.noise * normal(rng));
            }
        }
        Ok(f)
    }
}

impl<T: Scalar> Differentiable<T> for Quadratic<T> {
    fn num_params(&self) -> usize {
        self.c.len()
    }

    fn full_loss_grad(&mut self, params: &[T], grad: &mut [T]) -> Result<T> {
        self.eval(params, grad)
    }

    fn hvp(&mut self, params: &[T], v: &[T], out: &mut [T]) -> Result<()> {
        let d = self.c.len();
        same_len("parameters", d, params.len())?;
        same_len("direction", d, v.len())?;
        same_len("output", d, out.len())?;
        all_finite("direction", v)?;
        self.a.matvec(v, out)?;
        Ok(())
    }
}

impl<T: Scalar> Quadratic<T> {
    /// Scratch-free view of `A`, for tests.
    pub fn matrix(&self) -> &Dense<T> {
        &self.a
    }

    /// The objective value at `x` (no noise).
    pub fn value(&mut self, x: &[T]) -> Result<T> {
        let mut g = std::mem::take(&mut self.ad);
        let f = self.eval(x, &mut g);
        self.ad = g;
        f
    }
}
