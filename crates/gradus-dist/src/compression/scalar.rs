//! The float types a compressor can put on the wire.

use gradus_kernels::SimdFloat;

/// A float type compressors can send: its width on the wire, the width of its exponent, and
/// an integer key that orders magnitudes.
///
/// The key of a finite `x` is its IEEE bit pattern with the sign bit cleared: for
/// non-negative floats the bit patterns are ordered like the values, so selection (top-k)
/// can run on integers and ties are exact. Keys at or above [`WireScalar::NON_FINITE_KEY`]
/// belong to infinities and NaNs.
pub trait WireScalar: SimdFloat {
    /// Bits of one value on the wire (32 for `f32`, 64 for `f64`).
    const VALUE_BITS: u64;
    /// Bits of the exponent field (8 / 11): natural compression sends sign and exponent only.
    const EXPONENT_BITS: u64;
    /// Number of significant bits of [`WireScalar::magnitude_key`] (31 / 63).
    const KEY_BITS: u32;
    /// Smallest key of a non-finite value (the key of infinity).
    const NON_FINITE_KEY: u64;
    /// `|x|` as an integer key (see the trait documentation).
    fn magnitude_key(self) -> u64;
    /// The non-negative value whose key is `key` (inverse of [`WireScalar::magnitude_key`]
    /// on non-negative values).
    fn from_magnitude_key(key: u64) -> Self;
}

impl WireScalar for f32 {
    const VALUE_BITS: u64 = 32;
    const EXPONENT_BITS: u64 = 8;
    const KEY_BITS: u32 = 31;
    const NON_FINITE_KEY: u64 = 0x7f80_0000;
    #[inline(always)]
    fn magnitude_key(self) -> u64 {
        (self.to_bits() & 0x7fff_ffff) as u64
    }
    #[inline(always)]
    fn from_magnitude_key(key: u64) -> Self {
        f32::from_bits(key as u32 & 0x7fff_ffff)
    }
}

impl WireScalar for f64 {
    const VALUE_BITS: u64 = 64;
    const EXPONENT_BITS: u64 = 11;
    const KEY_BITS: u32 = 63;
    const NON_FINITE_KEY: u64 = 0x7ff0_0000_0000_0000;
    #[inline(always)]
    fn magnitude_key(self) -> u64 {
        self.to_bits() & 0x7fff_ffff_ffff_ffff
    }
    #[inline(always)]
    fn from_magnitude_key(key: u64) -> Self {
        f64::from_bits(key & 0x7fff_ffff_ffff_ffff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_magnitudes_and_flag_non_finite() {
        let xs = [0.0f32, -0.0, 1e-45, 1e-38, 0.5, -0.75, 1.0, 3e38];
        for w in xs.windows(2) {
            let (a, b) = (w[0].abs(), w[1].abs());
            assert_eq!(a.partial_cmp(&b), w[0].magnitude_key().partial_cmp(&w[1].magnitude_key()));
        }
        assert!(f32::INFINITY.magnitude_key() >= f32::NON_FINITE_KEY);
        assert!(f32::NAN.magnitude_key() >= f32::NON_FINITE_KEY);
        assert!(f32::MAX.magnitude_key() < f32::NON_FINITE_KEY);
        assert!(f64::NEG_INFINITY.magnitude_key() >= f64::NON_FINITE_KEY);
        assert!(f64::MAX.magnitude_key() < f64::NON_FINITE_KEY);
        assert!((-2.0f64).magnitude_key() > 1.5f64.magnitude_key());
    }
}
