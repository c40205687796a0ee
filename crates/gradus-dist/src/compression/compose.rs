//! Compositions of compressors, each with the class it provably belongs to.
//!
//! - [`Scaled`]: an unbiased `C` divided by `1 + omega` is contractive in expectation with
//!   `eps = omega / (1 + omega)` (the standard bridge paper 06 mentions; not a paper result).
//! - [`Induced`]: `B(v) + U(v - B(v))`, a contractive `B` corrected by an unbiased `U` on the
//!   residual, is unbiased with `omega = omega_U eps_B` (Horvath and Richtarik 2021, the
//!   "induced compressor").
//! - [`Chain`]: `U(A(v))`, an unbiased `U` applied to the output of `A`, e.g. top-k followed
//!   by natural compression of the kept values. Unbiased `A`: unbiased with
//!   `omega = (1 + omega_A)(1 + omega_U) - 1`. Contractive `A`:
//!   `E ||U(A v) - v||^2 = E ||U(u) - u||^2 + ||u - v||^2 <= omega_U ||u||^2 + ||u - v||^2`
//!   with `u = A(v)`; for a projection (`||u||^2 = ||v||^2 - ||u - v||^2`) and `omega_U <= 1`
//!   this is at most `(eps_A + omega_U (1 - eps_A)) ||v||^2`, otherwise
//!   `||u|| <= (1 + sqrt(eps_A)) ||v||` gives `eps_A + omega_U (1 + sqrt(eps_A))^2`. The
//!   composition is refused when the bound is not below 1.

use gradus_core::validate::same_len;
use gradus_core::{Error, Result, Rng};

use super::compressor::{Class, Compressor, Message};
use super::scalar::WireScalar;

fn unbiased_omega<T: WireScalar>(c: &dyn Compressor<T>, role: &'static str) -> Result<f64> {
    c.class().omega().ok_or_else(|| {
        Error::Unsupported(format!("{role} `{}` must be unbiased, it is {:?}", c.name(), c.class()))
    })
}

/// `C(v) / (1 + omega)` for an unbiased `C`: contractive in expectation,
/// `eps = omega / (1 + omega)`.
#[derive(Debug, Clone)]
pub struct Scaled<C> {
    inner: C,
    omega: f64,
}

impl<C> Scaled<C> {
    /// Wraps an unbiased compressor; errors if `inner` is not unbiased.
    pub fn new<T: WireScalar>(inner: C) -> Result<Self>
    where
        C: Compressor<T>,
    {
        let omega = unbiased_omega(&inner, "scaled compressor")?;
        Ok(Scaled { inner, omega })
    }
}

impl<T: WireScalar, C: Compressor<T> + Clone + 'static> Compressor<T> for Scaled<C> {
    fn name(&self) -> String {
        format!("{}/(1+omega)", self.inner.name())
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn class(&self) -> Class {
        Class::Contractive { eps: self.omega / (1.0 + self.omega), in_expectation: true }
    }
    fn is_random(&self) -> bool {
        self.inner.is_random()
    }
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message> {
        let msg = self.inner.compress(v, out, rng)?;
        let f = T::from_f64(1.0 / (1.0 + self.omega));
        out.iter_mut().for_each(|o| *o *= f);
        Ok(msg)
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}

/// The induced compressor `B(v) + U(v - B(v))`: unbiased with `omega = omega_U eps_B`.
#[derive(Debug, Clone)]
pub struct Induced<B, U, T> {
    b: B,
    u: U,
    omega: f64,
    b_out: Vec<T>,
    residual: Vec<T>,
}

impl<B, U, T: WireScalar> Induced<B, U, T> {
    /// Errors unless `b` is contractive, `u` unbiased, and their dimensions agree.
    pub fn new(b: B, u: U) -> Result<Self>
    where
        B: Compressor<T>,
        U: Compressor<T>,
    {
        same_len("induced compressor dimensions", b.dim(), u.dim())?;
        let eps = b.class().eps().ok_or_else(|| {
            Error::Unsupported(format!("induced compressor: `{}` must be contractive", b.name()))
        })?;
        let omega = unbiased_omega(&u, "induced compressor's correction")? * eps;
        let d = b.dim();
        Ok(Induced { b, u, omega, b_out: vec![T::ZERO; d], residual: vec![T::ZERO; d] })
    }
}

impl<T, B, U> Compressor<T> for Induced<B, U, T>
where
    T: WireScalar,
    B: Compressor<T> + Clone + 'static,
    U: Compressor<T> + Clone + 'static,
{
    fn name(&self) -> String {
        format!("induced({} + {})", self.b.name(), self.u.name())
    }
    fn dim(&self) -> usize {
        self.b.dim()
    }
    fn class(&self) -> Class {
        Class::Unbiased { omega: self.omega }
    }
    fn is_random(&self) -> bool {
        self.b.is_random() || self.u.is_random()
    }
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message> {
        let mb = self.b.compress(v, &mut self.b_out, rng)?;
        for ((r, &x), &y) in self.residual.iter_mut().zip(v).zip(&self.b_out) {
            *r = x - y;
        }
        let mu = self.u.compress(&self.residual, out, rng)?;
        for (o, &y) in out.iter_mut().zip(&self.b_out) {
            *o += y;
        }
        Ok(Message { nnz: mb.nnz + mu.nnz, bits: mb.bits + mu.bits })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}

/// `U(A(v))` with `U` unbiased (see the module documentation for its class).
#[derive(Debug, Clone)]
pub struct Chain<A, U, T> {
    a: A,
    u: U,
    class: Class,
    mid: Vec<T>,
}

impl<A, U, T: WireScalar> Chain<A, U, T> {
    /// Errors unless `u` is unbiased, the dimensions agree, and the composed bound is a
    /// contraction (`eps < 1`) when `a` is contractive.
    pub fn new(a: A, u: U) -> Result<Self>
    where
        A: Compressor<T>,
        U: Compressor<T>,
    {
        same_len("chained compressor dimensions", a.dim(), u.dim())?;
        let wu = unbiased_omega(&u, "second compressor of a chain")?;
        let class = match a.class() {
            Class::Unbiased { omega } => {
                Class::Unbiased { omega: (1.0 + omega) * (1.0 + wu) - 1.0 }
            }
            Class::Contractive { eps, in_expectation } => {
                let bound = if a.is_projection() && wu <= 1.0 {
                    eps + wu * (1.0 - eps)
                } else {
                    eps + wu * (1.0 + eps.sqrt()).powi(2)
                };
                if bound >= 1.0 {
                    return Err(Error::Unsupported(format!(
                        "chain {} then {}: the composed error bound {bound} is not below 1",
                        a.name(),
                        u.name()
                    )));
                }
                Class::Contractive { eps: bound, in_expectation: in_expectation || u.is_random() }
            }
        };
        let d = a.dim();
        Ok(Chain { a, u, class, mid: vec![T::ZERO; d] })
    }
}

impl<T, A, U> Compressor<T> for Chain<A, U, T>
where
    T: WireScalar,
    A: Compressor<T> + Clone + 'static,
    U: Compressor<T> + Clone + 'static,
{
    fn name(&self) -> String {
        format!("{} then {}", self.a.name(), self.u.name())
    }
    fn dim(&self) -> usize {
        self.a.dim()
    }
    fn class(&self) -> Class {
        self.class
    }
    fn is_random(&self) -> bool {
        self.a.is_random() || self.u.is_random()
    }
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message> {
        self.a.compress(v, &mut self.mid, rng)?;
        // The second stage encodes only what the first kept; its own bit rule sees the
        // sparsity and counts index-value pairs.
        self.u.compress(&self.mid, out, rng)
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}
