//! The [`Compressor`] trait, the classes of compressors, and how messages are counted in bits.

use gradus_core::validate::same_len;
use gradus_core::{Error, Result, Rng};
use serde::{Deserialize, Serialize};

use super::scalar::WireScalar;

/// The class of a compressor `C: R^d -> R^d` and its parameter (paper 06, "Setting").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Class {
    /// `||C(v) - v||^2 <= eps ||v||^2` for every `v` (paper 06 writes `eps = 1 - delta`);
    /// with `in_expectation` the bound holds for the mean over the compressor's randomness,
    /// `E ||C(v) - v||^2 <= eps ||v||^2`.
    Contractive {
        /// The contraction parameter, in `[0, 1)`.
        eps: f64,
        /// Whether the bound holds only in expectation.
        in_expectation: bool,
    },
    /// `E C(v) = v` and `E ||C(v) - v||^2 <= omega ||v||^2`.
    Unbiased {
        /// The variance parameter, `>= 0`.
        omega: f64,
    },
}

impl Class {
    /// The contraction parameter `eps`, if the class is contractive.
    pub fn eps(&self) -> Option<f64> {
        match *self {
            Class::Contractive { eps, .. } => Some(eps),
            Class::Unbiased { .. } => None,
        }
    }

    /// The variance parameter `omega`, if the compressor is unbiased (the identity, a
    /// deterministic contraction with `eps = 0`, counts as unbiased with `omega = 0`).
    pub fn omega(&self) -> Option<f64> {
        match *self {
            Class::Unbiased { omega } => Some(omega),
            Class::Contractive { eps: 0.0, in_expectation: false } => Some(0.0),
            Class::Contractive { .. } => None,
        }
    }

    /// Whether the contraction bound holds for every draw, not only on average.
    pub fn is_deterministic_bound(&self) -> bool {
        matches!(self, Class::Contractive { in_expectation: false, .. })
    }
}

/// What one call of [`Compressor::compress`] sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Message {
    /// Number of transmitted values (non-zero entries, or selected entries for sparsifiers;
    /// a composition that sends two messages counts both).
    pub nnz: usize,
    /// Size of the message on the wire, in bits (see [`message_bits`]).
    pub bits: u64,
}

/// `ceil(log2 d)`: bits of one coordinate index in `0..d` (at least 1).
pub fn index_bits(d: usize) -> u64 {
    (usize::BITS - d.max(2).saturating_sub(1).leading_zeros()) as u64
}

/// Bits of a message of `nnz` values out of `d`, each `value_bits` wide, after a header of
/// `header_bits`: the smaller of the dense encoding (`d` values) and the sparse one (`nnz`
/// index-value pairs). Every compressor counts its messages with this one rule, so bit
/// counts of different compressors compare fairly.
pub fn message_bits(d: usize, nnz: usize, value_bits: u64, header_bits: u64) -> u64 {
    let dense = d as u64 * value_bits;
    let sparse = nnz as u64 * (value_bits + index_bits(d));
    header_bits + dense.min(sparse)
}

/// A compression operator `C: R^d -> R^d`, as used by CGD, EF and EF21 (paper 06).
///
/// `compress` writes the decompressed vector `C(v)` (what the receiver reconstructs) into a
/// caller-owned buffer and returns the [`Message`] that was sent. Randomness comes only from
/// the `rng` argument, so a compressor is a deterministic function of its input and the
/// generator state; scratch space is allocated at construction and `compress` does not
/// allocate. Inputs must be finite: a NaN or infinite entry, or a length other than
/// [`Compressor::dim`], is an error, after which `out` holds unspecified values.
pub trait Compressor<T: WireScalar>: Send {
    /// Short description with parameters, e.g. `top-k(k=10)`.
    fn name(&self) -> String;

    /// The dimension `d` of the vectors it compresses.
    fn dim(&self) -> usize;

    /// Its class and parameter.
    fn class(&self) -> Class;

    /// Whether `compress` draws from the random number generator.
    fn is_random(&self) -> bool;

    /// Whether `C(v)` always keeps a subset of the coordinates of `v` unchanged and zeroes
    /// the others (top-k, unscaled rand-k). Then `C(v)` and `v - C(v)` are orthogonal, which
    /// compositions use for a tighter class.
    fn is_projection(&self) -> bool {
        false
    }

    /// Writes `C(v)` into `out` and returns the message sent.
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message>;

    /// A boxed copy (with its own scratch space), so `Box<dyn Compressor<T>>` is `Clone`.
    fn boxed_clone(&self) -> Box<dyn Compressor<T>>;
}

impl<T: WireScalar> Compressor<T> for Box<dyn Compressor<T>> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn class(&self) -> Class {
        (**self).class()
    }
    fn is_random(&self) -> bool {
        (**self).is_random()
    }
    fn is_projection(&self) -> bool {
        (**self).is_projection()
    }
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message> {
        (**self).compress(v, out, rng)
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        (**self).boxed_clone()
    }
}

impl<T: WireScalar> Clone for Box<dyn Compressor<T>> {
    fn clone(&self) -> Self {
        (**self).boxed_clone()
    }
}

/// Checks the lengths of a compressor's input and output against its dimension.
pub(crate) fn check_io<T>(d: usize, v: &[T], out: &[T]) -> Result<()> {
    same_len("compressor input", d, v.len())?;
    same_len("compressor output", d, out.len())
}

/// The error for a non-finite compressor input at `index`.
pub(crate) fn non_finite(index: usize) -> Error {
    Error::NonFinite { what: "compressor input", index }
}

/// Index of the first NaN or infinite entry of `v`.
pub(crate) fn first_non_finite<T: WireScalar>(v: &[T]) -> Option<usize> {
    v.iter().position(|x| x.magnitude_key() >= T::NON_FINITE_KEY)
}

/// Validates a dimension `d >= 1`.
pub(crate) fn check_dim(d: usize) -> Result<()> {
    if d == 0 {
        return Err(Error::InvalidShape { what: "compressor", detail: "dimension 0".into() });
    }
    Ok(())
}

/// `||v||_2` accumulated in `f64`, rescaled by `max |v_i|` when the plain sum overflows.
pub(crate) fn norm2_f64<T: WireScalar>(v: &[T]) -> f64 {
    let ss: f64 = v.iter().map(|x| x.to_f64() * x.to_f64()).sum();
    if ss.is_finite() {
        return ss.sqrt();
    }
    let amax = v.iter().fold(0.0f64, |m, x| m.max(x.to_f64().abs()));
    let scaled: f64 = v.iter().map(|x| (x.to_f64() / amax).powi(2)).sum();
    amax * scaled.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_message_bits() {
        assert_eq!(index_bits(1), 1);
        assert_eq!(index_bits(2), 1);
        assert_eq!(index_bits(3), 2);
        assert_eq!(index_bits(1024), 10);
        assert_eq!(index_bits(1025), 11);
        assert_eq!(index_bits(1_000_000), 20);
        // 10 of 1000 values at 32 bits: sparse 10 * (32 + 10) beats dense 32000.
        assert_eq!(message_bits(1000, 10, 32, 0), 420);
        assert_eq!(message_bits(1000, 900, 32, 32), 32 + 32_000);
    }

    #[test]
    fn class_parameters() {
        let c = Class::Contractive { eps: 0.0, in_expectation: false };
        assert_eq!((c.eps(), c.omega()), (Some(0.0), Some(0.0)));
        let c = Class::Contractive { eps: 0.5, in_expectation: true };
        assert_eq!((c.eps(), c.omega(), c.is_deterministic_bound()), (Some(0.5), None, false));
        assert_eq!(Class::Unbiased { omega: 3.0 }.omega(), Some(3.0));
    }

    #[test]
    fn robust_norm() {
        assert_eq!(norm2_f64(&[3.0f32, 4.0]), 5.0);
        let big = [1e300f64, 1e300];
        assert!((norm2_f64(&big) / (1e300 * 2f64.sqrt()) - 1.0).abs() < 1e-15);
    }
}
