//! Scaled sign compression (Karimireddy et al. 2019, EF-SignSGD):
//! `C(v) = (||v||_1 / d) sign(v)`.
//!
//! With `a = ||v||_1 / d` and `sign(0) = 0`,
//! `||C(v) - v||^2 = ||v||^2 - 2 a ||v||_1 + nnz(v) a^2 <= ||v||^2 - ||v||_1^2 / d` (equality
//! without zero entries), and `||v||_1^2 >= ||v||^2`, so scaled sign is contractive with
//! `eps = 1 - 1/d` for every input (approached by one dominant entry). One bit per coordinate
//! plus the scale is sent.
//!
//! In floating point the scale is `a` rounded to the wire type. For a normal scale the
//! relative rounding `|delta| <= u` (unit roundoff) moves the error by at most
//! `nnz (a delta)^2 <= u^2 ||v||_1^2 / d` beyond the bound, far below the rounding of the
//! norms themselves. A scale that would be subnormal (or round to zero: `v = (1e-45, 0)` in
//! `f32` has `a = 7e-46 -> 0`) has lost that relative precision, so such inputs are sent
//! exactly as top-1 instead (the entry of largest magnitude, one value and its index), whose
//! error `||v||^2 - max_i v_i^2 <= (1 - 1/d) ||v||^2` keeps the same `eps`.

use gradus_core::{Result, Rng};

use super::compressor::{
    Class, Compressor, Message, check_dim, check_io, message_bits, non_finite,
};
use super::scalar::WireScalar;

/// Scaled sign (contractive, `eps = 1 - 1/d`, deterministic).
#[derive(Debug, Clone)]
pub struct ScaledSign {
    d: usize,
}

impl ScaledSign {
    /// Scaled sign on `R^d`; errors if `d = 0`.
    pub fn new(d: usize) -> Result<Self> {
        check_dim(d)?;
        Ok(ScaledSign { d })
    }
}

impl ScaledSign {
    /// Exact top-1 (first index among equal magnitudes): the fallback for scales that
    /// underflow (see the module documentation).
    fn top1<T: WireScalar>(&self, v: &[T], out: &mut [T]) -> Message {
        let mut best = 0;
        for (i, x) in v.iter().enumerate() {
            if x.magnitude_key() > v[best].magnitude_key() {
                best = i;
            }
        }
        out.iter_mut().for_each(|o| *o = T::ZERO);
        out[best] = v[best];
        Message { nnz: 1, bits: message_bits(self.d, 1, T::VALUE_BITS, 0) }
    }
}

impl<T: WireScalar> Compressor<T> for ScaledSign {
    fn name(&self) -> String {
        "scaled-sign".into()
    }
    fn dim(&self) -> usize {
        self.d
    }
    fn class(&self) -> Class {
        Class::Contractive { eps: 1.0 - 1.0 / self.d as f64, in_expectation: false }
    }
    fn is_random(&self) -> bool {
        false
    }
    fn compress(&mut self, v: &[T], out: &mut [T], _rng: &mut Rng) -> Result<Message> {
        check_io(self.d, v, out)?;
        let mut l1 = 0.0f64;
        for (i, x) in v.iter().enumerate() {
            if x.magnitude_key() >= T::NON_FINITE_KEY {
                return Err(non_finite(i));
            }
            l1 += x.to_f64().abs();
        }
        let mut mean = l1 / self.d as f64;
        if !mean.is_finite() {
            // Huge f64 entries: the mean of |v_i| never exceeds max |v_i|, so average directly.
            mean = v.iter().map(|x| x.to_f64().abs() / self.d as f64).sum();
        }
        let scale = T::from_f64(mean);
        let min_normal_key = 1u64 << (T::KEY_BITS as u64 - T::EXPONENT_BITS);
        // `l1 > 0` (some entry is non-zero) rather than `mean > 0`: the mean itself may
        // underflow to zero in f64.
        if l1 > 0.0 && scale.magnitude_key() < min_normal_key {
            return Ok(self.top1(v, out));
        }
        let mut nnz = 0;
        for (o, &x) in out.iter_mut().zip(v) {
            *o = if x > T::ZERO {
                nnz += 1;
                scale
            } else if x < T::ZERO {
                nnz += 1;
                -scale
            } else {
                T::ZERO
            };
        }
        // One sign bit per coordinate; a zero entry needs a third symbol, so a vector with
        // zeros is sent with two bits per coordinate or as (index, sign) pairs.
        let bits = if nnz == self.d {
            T::VALUE_BITS + self.d as u64
        } else {
            T::VALUE_BITS + (2 * self.d as u64).min(message_bits(self.d, nnz, 1, 0))
        };
        Ok(Message { nnz, bits })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}
