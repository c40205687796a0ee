//! Optimizer state stored as bfloat16, packed so that SIMD code converts it without shuffles.
//!
//! A bf16 value is the upper half of an `f32`. Elements are packed two per `u32` word in blocks
//! of [`BF16_BLOCK`] = 32 elements (16 words): element `r` of a block sits in word `r % 16`, in
//! the low half for `r < 16` and the high half otherwise. Loading `L` consecutive words of a
//! block (any lane count `L` dividing 16) therefore yields two *contiguous* runs of `L`
//! elements: shifting left by 16 gives elements `[o, o+L)`, masking the low half gives
//! `[16+o, 16+o+L)`. The layout is internal: [`Bf16Vec::to_bits`] / [`Bf16Vec::from_bits`]
//! exchange plain element order, which is what checkpoints store.
//!
//! Two roundings ([`Bf16Rounding`]):
//! - to nearest, ties to even, by integer arithmetic on the bit pattern (no special case, to
//!   keep the pack at five integer operations): infinities stay infinite and quiet NaNs (every
//!   NaN arithmetic produces) stay NaN; a signalling NaN whose payload lies only in the 16
//!   dropped bits would round to infinity. An update smaller than half a bf16 ulp (relative
//!   2^-9) of the stored value is lost: an Adam second moment with `beta2 = 0.999` moves by
//!   0.1% of its distance to `g²` per step and can stall for good;
//! - stochastic: a uniform random 16-bit integer `r` is added to the bit pattern before the
//!   low half is dropped, so `x` rounds away from zero with probability equal to the dropped
//!   fraction of an ulp and `E[round(x)] = x` (for finite `x` below the largest bf16). Small
//!   updates then accumulate in expectation instead of vanishing. `r` is a hash of a key and
//!   the element's position ([`word_bits`]), never of the thread, so results are
//!   reproducible and independent of the thread count.
//!
//! bf16 state saves memory traffic (20 instead of 28 bytes per parameter for Adam); the
//! choice of state precision and rounding is the user's.

use pulp::Simd;

/// How values are rounded to bf16 when stored (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bf16Rounding {
    /// To nearest, ties to even.
    #[default]
    Nearest,
    /// Stochastic rounding with random bits drawn from `key` and the element position; use a
    /// different key every step (e.g. a hash of seed and step) or the same rounding
    /// decisions repeat.
    Stochastic {
        /// Random-stream key.
        key: u64,
    },
}

/// Keys of the independent random streams of one stochastic-rounding call (one per moment
/// buffer: `m`, `v`, AMSGrad maximum), derived from the user key.
#[inline(always)]
pub(crate) fn stream_key(key: u64, stream: u32) -> u32 {
    let k = (key ^ (key >> 32)) as u32;
    word_bits(k.wrapping_add(0x9E37_79B9u32.wrapping_mul(stream + 1)), stream)
}

/// 32 random bits for packed word `w` under `key`: the `lowbias32` integer hash of `w ^ key`
/// (two multiply-xorshift rounds; consecutive words give unrelated bits). The low half drives
/// the word's low element, the high half its high element.
#[inline(always)]
pub fn word_bits(key: u32, w: u32) -> u32 {
    let mut x = w ^ key;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846C_A68B);
    x ^= x >> 16;
    x
}

/// Stochastic rounding of `x` to bf16 with random bits `r` (only the low 16 are used): the
/// bf16 bits in the upper half of a `u32`, lower half zero.
#[inline(always)]
pub fn round_to_bf16_high_stochastic(x: f32, r: u32) -> u32 {
    x.to_bits().wrapping_add(r & 0xFFFF) & 0xFFFF_0000
}

/// Elements per packed block.
pub const BF16_BLOCK: usize = 32;
const HALF: usize = BF16_BLOCK / 2;

/// Rounds `x` to bf16 (nearest, ties to even) and returns its bits in the upper half of a
/// `u32` (lower half zero).
#[inline(always)]
pub fn round_to_bf16_high(x: f32) -> u32 {
    let b = x.to_bits();
    b.wrapping_add(0x7FFF + ((b >> 16) & 1)) & 0xFFFF_0000
}

/// The `f32` value of bf16 bits held in the upper half of `w`.
#[inline(always)]
fn from_high(w: u32) -> f32 {
    f32::from_bits(w & 0xFFFF_0000)
}

/// The `f32` value of bf16 bits held in the lower half of `w`.
#[inline(always)]
fn from_low(w: u32) -> f32 {
    f32::from_bits(w << 16)
}

#[inline(always)]
fn word_of(e: usize) -> (usize, bool) {
    let r = e % BF16_BLOCK;
    ((e / BF16_BLOCK) * HALF + r % HALF, r >= HALF)
}

/// An owned vector of bf16 values in the packed layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bf16Vec {
    words: Vec<u32>,
    len: usize,
}

impl Bf16Vec {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        Bf16Vec { words: vec![0; len.div_ceil(BF16_BLOCK) * HALF], len }
    }

    /// `len` copies of `x` rounded to bf16.
    pub fn filled(len: usize, x: f32) -> Self {
        let mut v = Self::zeros(len);
        for i in 0..len {
            v.set(i, x);
        }
        v
    }

    /// Rounds each entry of `xs` to bf16.
    pub fn from_f32(xs: &[f32]) -> Self {
        let mut v = Self::zeros(xs.len());
        for (i, &x) in xs.iter().enumerate() {
            v.set(i, x);
        }
        v
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element `i` as `f32` (exact). Panics if `i >= len`, like slice indexing.
    pub fn get(&self, i: usize) -> f32 {
        assert!(i < self.len, "index {i} out of range for Bf16Vec of length {}", self.len);
        let (w, hi) = word_of(i);
        if hi { from_high(self.words[w]) } else { from_low(self.words[w]) }
    }

    /// Stores `x` rounded to bf16 at `i`. Panics if `i >= len`, like slice indexing.
    pub fn set(&mut self, i: usize, x: f32) {
        assert!(i < self.len, "index {i} out of range for Bf16Vec of length {}", self.len);
        set_word(&mut self.words, i, x);
    }

    /// Stores `x` at `i` with `rounding`; `stream` selects one of the independent random
    /// streams of a stochastic key (the Adam kernels use 0 for `m`, 1 for `v`, 2 for the
    /// AMSGrad maximum), so this reproduces the kernels' stores element by element.
    pub fn set_rounded(&mut self, i: usize, x: f32, rounding: Bf16Rounding, stream: u32) {
        match rounding {
            Bf16Rounding::Nearest => self.set(i, x),
            Bf16Rounding::Stochastic { key } => {
                assert!(i < self.len, "index {i} out of range for Bf16Vec of length {}", self.len);
                self.as_mut_slice().set_stochastic(i, x, stream_key(key, stream));
            }
        }
    }

    /// All elements as `f32`, in element order.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        (0..self.len).map(|i| self.get(i)).collect()
    }

    /// The raw bf16 bit patterns in element order (the portable form).
    pub fn to_bits(&self) -> Vec<u16> {
        (0..self.len).map(|i| (self.get(i).to_bits() >> 16) as u16).collect()
    }

    /// Rebuilds a vector from bit patterns in element order.
    pub fn from_bits(bits: &[u16]) -> Self {
        let mut v = Self::zeros(bits.len());
        for (i, &b) in bits.iter().enumerate() {
            let (w, hi) = word_of(i);
            let word = &mut v.words[w];
            *word = if hi {
                (*word & 0x0000_FFFF) | ((b as u32) << 16)
            } else {
                (*word & 0xFFFF_0000) | b as u32
            };
        }
        v
    }

    /// A mutable view, for kernels.
    pub fn as_mut_slice(&mut self) -> Bf16SliceMut<'_> {
        Bf16SliceMut { words: &mut self.words, len: self.len, first_word: 0 }
    }
}

#[inline(always)]
fn set_word(words: &mut [u32], i: usize, x: f32) {
    let (w, hi) = word_of(i);
    let r = round_to_bf16_high(x);
    let word = &mut words[w];
    *word = if hi { (*word & 0x0000_FFFF) | r } else { (*word & 0xFFFF_0000) | (r >> 16) };
}

/// A mutable view of a [`Bf16Vec`] (or of a block-aligned piece of one).
#[derive(Debug)]
pub struct Bf16SliceMut<'a> {
    words: &'a mut [u32],
    len: usize,
    /// Index in the whole vector of this piece's first word (the position stochastic rounding
    /// hashes, so a piece rounds the same whichever way the vector was split).
    first_word: usize,
}

impl<'a> Bf16SliceMut<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Splits at element `mid`, which must be a multiple of [`BF16_BLOCK`].
    pub(crate) fn split_at(self, mid: usize) -> (Self, Self) {
        debug_assert_eq!(mid % BF16_BLOCK, 0);
        let (a, b) = self.words.split_at_mut(mid / 2);
        let first = self.first_word;
        (
            Bf16SliceMut { words: a, len: mid, first_word: first },
            Bf16SliceMut { words: b, len: self.len - mid, first_word: first + mid / 2 },
        )
    }

    /// Index in the whole vector of this piece's first word.
    pub(crate) fn first_word(&self) -> usize {
        self.first_word
    }

    /// Number of whole blocks.
    pub(crate) fn full_blocks(&self) -> usize {
        self.len / BF16_BLOCK
    }

    pub(crate) fn words_mut(&mut self) -> &mut [u32] {
        self.words
    }

    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> f32 {
        let (w, hi) = word_of(i);
        if hi { from_high(self.words[w]) } else { from_low(self.words[w]) }
    }

    #[inline(always)]
    pub(crate) fn set(&mut self, i: usize, x: f32) {
        set_word(self.words, i, x);
    }

    /// Stores `x` at `i` with stochastic rounding under stream key `key`.
    #[inline(always)]
    pub(crate) fn set_stochastic(&mut self, i: usize, x: f32, key: u32) {
        let (w, hi) = word_of(i);
        let r = word_bits(key, (self.first_word + w) as u32);
        let word = &mut self.words[w];
        *word = if hi {
            (*word & 0x0000_FFFF) | round_to_bf16_high_stochastic(x, r >> 16)
        } else {
            (*word & 0xFFFF_0000) | (round_to_bf16_high_stochastic(x, r) >> 16)
        };
    }
}

/// SIMD [`word_bits`] of the words `idx` (one per lane).
#[inline(always)]
pub(crate) fn word_bits_simd<S: Simd>(s: S, key: u32, idx: S::u32s) -> S::u32s {
    let sh = |x, n: u32| s.wrapping_dyn_shr_u32s(x, s.splat_u32s(n));
    let mut x = s.xor_u32s(idx, s.splat_u32s(key));
    x = s.xor_u32s(x, sh(x, 16));
    x = s.widening_mul_u32s(x, s.splat_u32s(0x7FEB_352D)).0;
    x = s.xor_u32s(x, sh(x, 15));
    x = s.widening_mul_u32s(x, s.splat_u32s(0x846C_A68B)).0;
    s.xor_u32s(x, sh(x, 16))
}

/// Stochastic counterpart of [`pack`]: `r` holds one random word per lane (low half for the
/// low run, high half for the high run).
#[inline(always)]
pub(crate) fn pack_stochastic<S: Simd>(s: S, lo: S::f32s, hi: S::f32s, r: S::u32s) -> S::u32s {
    let low16 = s.splat_u32s(0xFFFF);
    let sixteen = s.splat_u32s(16);
    let lo = s.add_u32s(s.transmute_u32s_f32s(lo), s.and_u32s(r, low16));
    let hi = s.add_u32s(s.transmute_u32s_f32s(hi), s.wrapping_dyn_shr_u32s(r, sixteen));
    s.or_u32s(s.wrapping_dyn_shr_u32s(lo, sixteen), s.and_u32s(hi, s.splat_u32s(0xFFFF_0000)))
}

/// Unpacks `L` words into the two element runs they hold: `(low run, high run)`.
#[inline(always)]
pub(crate) fn unpack<S: Simd>(s: S, w: S::u32s) -> (S::f32s, S::f32s) {
    let lo = s.wrapping_dyn_shl_u32s(w, s.splat_u32s(16));
    let hi = s.and_u32s(w, s.splat_u32s(0xFFFF_0000));
    (s.transmute_f32s_u32s(lo), s.transmute_f32s_u32s(hi))
}

/// Rounds two element runs to bf16 and packs them into `L` words (inverse of [`unpack`]).
#[inline(always)]
pub(crate) fn pack<S: Simd>(s: S, lo: S::f32s, hi: S::f32s) -> S::u32s {
    let sixteen = s.splat_u32s(16);
    let lo = s.wrapping_dyn_shr_u32s(round_unmasked(s, lo), sixteen);
    let hi = s.and_u32s(round_unmasked(s, hi), s.splat_u32s(0xFFFF_0000));
    s.or_u32s(lo, hi)
}

/// `bits + 0x7FFF + lsb`: the bf16 rounding of [`round_to_bf16_high`] before the low half is
/// cleared (the caller shifts or masks it away).
#[inline(always)]
fn round_unmasked<S: Simd>(s: S, x: S::f32s) -> S::u32s {
    let b = s.transmute_u32s_f32s(x);
    let lsb = s.and_u32s(s.wrapping_dyn_shr_u32s(b, s.splat_u32s(16)), s.splat_u32s(1));
    s.add_u32s(b, s.add_u32s(lsb, s.splat_u32s(0x7FFF)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rounding() {
        let xs: Vec<f32> = (0..77).map(|i| (i as f32 - 30.0) * 0.37).collect();
        let v = Bf16Vec::from_f32(&xs);
        for (i, &x) in xs.iter().enumerate() {
            let y = v.get(i);
            assert!((y - x).abs() <= x.abs() * 2f32.powi(-8), "{x} -> {y}");
        }
        assert_eq!(Bf16Vec::from_bits(&v.to_bits()), v);
        // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: ties go to even (1).
        assert_eq!(f32::from_bits(round_to_bf16_high(1.0 + 2f32.powi(-8))), 1.0);
        assert!(f32::from_bits(round_to_bf16_high(f32::NAN)).is_nan());
        assert!(f32::from_bits(round_to_bf16_high(-f32::NAN)).is_nan());
        assert_eq!(f32::from_bits(round_to_bf16_high(f32::INFINITY)), f32::INFINITY);
        // Finite values just below f32::MAX round up to infinity, as IEEE rounding does.
        assert_eq!(f32::from_bits(round_to_bf16_high(f32::MAX)), f32::INFINITY);
    }

    #[test]
    fn simd_pack_matches_scalar() {
        let arch = pulp::Arch::new();
        struct K;
        impl pulp::WithSimd for K {
            type Output = ();
            fn with_simd<S: Simd>(self, s: S) {
                let n = S::F32_LANES;
                let lo: Vec<f32> = (0..n).map(|i| 1.0 + i as f32 * 0.001).collect();
                let hi: Vec<f32> = (0..n).map(|i| -3.0 - i as f32 * 1e-5).collect();
                let w = pack(s, s.partial_load_f32s(&lo), s.partial_load_f32s(&hi));
                let mut words = vec![0u32; n];
                s.partial_store_u32s(&mut words, w);
                for i in 0..n {
                    assert_eq!(words[i] >> 16 << 16, round_to_bf16_high(hi[i]));
                    assert_eq!(words[i] << 16, round_to_bf16_high(lo[i]));
                }
                let (l2, h2) = unpack(s, w);
                let mut a = vec![0f32; n];
                s.partial_store_f32s(&mut a, l2);
                assert_eq!(a[0], f32::from_bits(round_to_bf16_high(lo[0])));
                s.partial_store_f32s(&mut a, h2);
                assert_eq!(a[n - 1], f32::from_bits(round_to_bf16_high(hi[n - 1])));
            }
        }
        arch.dispatch(K);
        pulp::WithSimd::with_simd(K, pulp::Scalar);
    }
}
