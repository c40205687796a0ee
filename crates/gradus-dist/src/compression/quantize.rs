//! Unbiased stochastic quantisation: QSGD, natural dithering and natural compression.
//!
//! Each rounds a coordinate to one of two neighbouring levels `a <= x <= b`, up with
//! probability `(x - a)/(b - a)`: the mean is `x` and the variance `(b - x)(x - a)`. The
//! classes below bound the sum of those variances by `omega ||v||^2`.

use gradus_core::{Error, Result, Rng};
use rand::Rng as _;

use super::compressor::{
    Class, Compressor, Message, check_dim, check_io, first_non_finite, index_bits, message_bits,
    non_finite, norm2_f64,
};
use super::scalar::WireScalar;

/// Rounds `r` in `[a, b]` to `b` with probability `(r - a)/(b - a)`, else to `a`.
#[inline]
fn round_between(r: f64, a: f64, b: f64, rng: &mut Rng) -> f64 {
    if r <= a || b <= a {
        return a;
    }
    if rng.random::<f64>() < (r - a) / (b - a) { b } else { a }
}

/// The largest power of two `<= x`, for finite `x > 0` (exact, by clearing the mantissa).
#[inline]
fn pow2_floor(x: f64) -> f64 {
    if x >= f64::MIN_POSITIVE {
        f64::from_bits(x.to_bits() & 0xfff0_0000_0000_0000)
    } else {
        // Subnormal: scale into the normal range; powers of two scale exactly.
        let s = 2f64.powi(64);
        f64::from_bits((x * s).to_bits() & 0xfff0_0000_0000_0000) / s
    }
}

fn check_levels(s: u32) -> Result<()> {
    if (1..=32).contains(&s) {
        Ok(())
    } else {
        Err(Error::hyper("levels", s as f64, "must lie in 1..=32"))
    }
}

/// Shared driver: validates, computes the norm, and maps each `|v_i| / ||v||` through
/// `level(r, rng)` (which returns the rounded ratio).
fn quantise_by_norm<T: WireScalar>(
    v: &[T],
    out: &mut [T],
    rng: &mut Rng,
    mut level: impl FnMut(f64, &mut Rng) -> f64,
) -> Result<usize> {
    if let Some(i) = first_non_finite(v) {
        return Err(non_finite(i));
    }
    let norm = norm2_f64(v);
    if !T::from_f64(norm).is_finite() {
        // Levels are fractions of the norm: it must be representable.
        return Err(Error::NonFinite { what: "compressor input norm", index: 0 });
    }
    let mut nnz = 0;
    for (o, &x) in out.iter_mut().zip(v) {
        let xf = x.to_f64();
        if xf == 0.0 || norm == 0.0 {
            *o = T::ZERO;
            continue;
        }
        // Rounding in the norm can put a lone entry a hair above 1.
        let r = (xf.abs() / norm).min(1.0);
        let q = level(r, rng);
        if q != 0.0 {
            nnz += 1;
        }
        *o = T::from_f64(xf.signum() * norm * q);
    }
    Ok(nnz)
}

/// QSGD (Alistarh et al. 2017) with `s` uniform levels: `C(v)_i = ||v|| sign(v_i) xi_i / s`,
/// `xi_i` the stochastic rounding of `s |v_i| / ||v||` to an integer. Unbiased with
/// `omega = min(d / s^2, sqrt(d) / s)` (their Lemma 3.1). Sends the norm and, per coordinate,
/// a sign and a level index.
#[derive(Debug, Clone)]
pub struct Qsgd {
    d: usize,
    s: u32,
}

impl Qsgd {
    /// QSGD with `s` levels on `R^d`; errors unless `1 <= s <= 32`, `d >= 1`.
    pub fn new(d: usize, s: u32) -> Result<Self> {
        check_dim(d)?;
        check_levels(s)?;
        Ok(Qsgd { d, s })
    }
}

impl<T: WireScalar> Compressor<T> for Qsgd {
    fn name(&self) -> String {
        format!("qsgd(s={})", self.s)
    }
    fn dim(&self) -> usize {
        self.d
    }
    fn class(&self) -> Class {
        let (d, s) = (self.d as f64, self.s as f64);
        Class::Unbiased { omega: (d / (s * s)).min(d.sqrt() / s) }
    }
    fn is_random(&self) -> bool {
        true
    }
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message> {
        check_io(self.d, v, out)?;
        let s = self.s as f64;
        let nnz = quantise_by_norm(v, out, rng, |r, rng| {
            let l = (r * s).floor();
            round_between(r * s, l, l + 1.0, rng) / s
        })?;
        let value_bits = 1 + index_bits(self.s as usize + 1);
        Ok(Message { nnz, bits: message_bits(self.d, nnz, value_bits, T::VALUE_BITS) })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}

/// Natural dithering (Horvath et al. 2019) with `s` levels: like QSGD, but the levels of
/// `|v_i| / ||v||` are `0, 2^(1-s), ..., 1/2, 1`. Unbiased with
/// `omega = 1/8 + sqrt(d) 2^(1-s) min(1, sqrt(d) 2^(1-s))` (their Theorem for the 2-norm):
/// between `2^-j` and `2^(1-j)` the variance is at most `r^2 / 8`, below `2^(1-s)` at most
/// `2^(1-s) r`.
#[derive(Debug, Clone)]
pub struct NaturalDithering {
    d: usize,
    s: u32,
}

impl NaturalDithering {
    /// Natural dithering with `s` levels on `R^d`; errors unless `1 <= s <= 32`, `d >= 1`.
    pub fn new(d: usize, s: u32) -> Result<Self> {
        check_dim(d)?;
        check_levels(s)?;
        Ok(NaturalDithering { d, s })
    }
}

impl<T: WireScalar> Compressor<T> for NaturalDithering {
    fn name(&self) -> String {
        format!("natural-dithering(s={})", self.s)
    }
    fn dim(&self) -> usize {
        self.d
    }
    fn class(&self) -> Class {
        let t = (self.d as f64).sqrt() * 2f64.powi(1 - self.s as i32);
        Class::Unbiased { omega: 0.125 + t * t.min(1.0) }
    }
    fn is_random(&self) -> bool {
        true
    }
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message> {
        check_io(self.d, v, out)?;
        let lowest = 2f64.powi(1 - self.s as i32);
        let nnz = quantise_by_norm(v, out, rng, |r, rng| {
            if r < lowest {
                round_between(r, 0.0, lowest, rng)
            } else {
                let a = pow2_floor(r);
                round_between(r, a, (2.0 * a).min(1.0), rng)
            }
        })?;
        let value_bits = 1 + index_bits(self.s as usize + 1);
        Ok(Message { nnz, bits: message_bits(self.d, nnz, value_bits, T::VALUE_BITS) })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}

/// Natural compression (Horvath et al. 2019): each coordinate is rounded stochastically to
/// one of the two powers of two around it, so only sign and exponent are sent. Unbiased
/// with `omega = 1/8` (`(2a - x)(x - a) <= x^2 / 8` for `a <= x <= 2a`).
///
/// The one exception is a value whose upper power of two overflows the float type (above
/// half the largest finite value): it is rounded down, which biases that coordinate.
#[derive(Debug, Clone)]
pub struct NaturalCompression {
    d: usize,
}

impl NaturalCompression {
    /// Natural compression on `R^d`; errors if `d = 0`.
    pub fn new(d: usize) -> Result<Self> {
        check_dim(d)?;
        Ok(NaturalCompression { d })
    }
}

impl<T: WireScalar> Compressor<T> for NaturalCompression {
    fn name(&self) -> String {
        "natural".into()
    }
    fn dim(&self) -> usize {
        self.d
    }
    fn class(&self) -> Class {
        Class::Unbiased { omega: 0.125 }
    }
    fn is_random(&self) -> bool {
        true
    }
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message> {
        check_io(self.d, v, out)?;
        if let Some(i) = first_non_finite(v) {
            return Err(non_finite(i));
        }
        let mut nnz = 0;
        for (o, &x) in out.iter_mut().zip(v) {
            let xf = x.to_f64();
            if xf == 0.0 {
                *o = T::ZERO;
                continue;
            }
            nnz += 1;
            let a = pow2_floor(xf.abs());
            let up = T::from_f64(2.0 * a);
            let r = round_between(xf.abs(), a, 2.0 * a, rng);
            let q = if r > a && up.is_finite() { up } else { T::from_f64(a) };
            *o = if xf < 0.0 { -q } else { q };
        }
        let value_bits = 1 + T::EXPONENT_BITS;
        Ok(Message { nnz, bits: message_bits(self.d, nnz, value_bits, 0) })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_floor_is_exact() {
        for &(x, want) in &[(1.0, 1.0), (1.5, 1.0), (0.75, 0.5), (3e-310, 2f64.powi(-1029))] {
            assert_eq!(pow2_floor(x), want, "x = {x}");
        }
        let tiny = f64::from_bits(1);
        assert_eq!(pow2_floor(tiny), tiny);
    }
}
