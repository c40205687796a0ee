//! The identity (no compression) and the scaled identity `C(v) = a v`, the compressor for
//! which the contraction bound of paper 06 holds with equality.

use gradus_core::{Error, Result, Rng};

use super::compressor::{Class, Compressor, Message, check_dim, check_io, message_bits};
use super::scalar::WireScalar;

/// `C(v) = v`: contractive with `eps = 0`; every value is sent.
#[derive(Debug, Clone)]
pub struct Identity {
    d: usize,
}

impl Identity {
    /// The identity on `R^d`; errors if `d = 0`.
    pub fn new(d: usize) -> Result<Self> {
        check_dim(d)?;
        Ok(Identity { d })
    }
}

impl<T: WireScalar> Compressor<T> for Identity {
    fn name(&self) -> String {
        "identity".into()
    }
    fn dim(&self) -> usize {
        self.d
    }
    fn class(&self) -> Class {
        Class::Contractive { eps: 0.0, in_expectation: false }
    }
    fn is_random(&self) -> bool {
        false
    }
    fn compress(&mut self, v: &[T], out: &mut [T], _rng: &mut Rng) -> Result<Message> {
        check_io(self.d, v, out)?;
        for (i, (o, &x)) in out.iter_mut().zip(v).enumerate() {
            if x.magnitude_key() >= T::NON_FINITE_KEY {
                return Err(super::compressor::non_finite(i));
            }
            *o = x;
        }
        Ok(Message { nnz: self.d, bits: message_bits(self.d, self.d, T::VALUE_BITS, 0) })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}

/// `C(v) = a v` with `0 < a < 2`: `||C(v) - v||^2 = (1 - a)^2 ||v||^2`, so it is contractive
/// with `eps = (1 - a)^2` and the bound is attained for every `v` (paper 06, "Examples":
/// `a = 1 - sqrt(eps)` shrinks, `a = 1 + sqrt(eps)` overshoots). Not a real compressor (it
/// sends every value); it is the tight case of the theory.
#[derive(Debug, Clone)]
pub struct ScaledIdentity {
    d: usize,
    a: f64,
}

impl ScaledIdentity {
    /// `C(v) = a v` on `R^d`; errors unless `0 < a < 2` and `d >= 1`.
    pub fn new(d: usize, a: f64) -> Result<Self> {
        check_dim(d)?;
        if !(a > 0.0 && a < 2.0) {
            return Err(Error::hyper("a", a, "must lie in (0, 2)"));
        }
        Ok(ScaledIdentity { d, a })
    }

    /// The factor `a`.
    pub fn factor(&self) -> f64 {
        self.a
    }
}

impl<T: WireScalar> Compressor<T> for ScaledIdentity {
    fn name(&self) -> String {
        format!("scaled-identity(a={})", self.a)
    }
    fn dim(&self) -> usize {
        self.d
    }
    fn class(&self) -> Class {
        Class::Contractive { eps: (1.0 - self.a).powi(2), in_expectation: false }
    }
    fn is_random(&self) -> bool {
        false
    }
    fn compress(&mut self, v: &[T], out: &mut [T], _rng: &mut Rng) -> Result<Message> {
        check_io(self.d, v, out)?;
        let a = T::from_f64(self.a);
        for (i, (o, &x)) in out.iter_mut().zip(v).enumerate() {
            if x.magnitude_key() >= T::NON_FINITE_KEY {
                return Err(super::compressor::non_finite(i));
            }
            *o = a * x;
        }
        Ok(Message { nnz: self.d, bits: message_bits(self.d, self.d, T::VALUE_BITS, 0) })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}
