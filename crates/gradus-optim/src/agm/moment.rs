//! Storage of one optimizer moment in full precision or bf16.

use std::ops::Range;

use gradus_core::{Layout, Result, Scalar};
use gradus_kernels::{Bf16Rounding, Bf16Vec};

use crate::config::StatePrecision;

use crate::state::BufferData;

/// A moment buffer: one flat vector, or one bf16 vector per layout block (bf16 blocks cannot
/// be sliced at arbitrary offsets, so each layout block owns its own).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Moment<T> {
    Full(Vec<T>),
    Bf16(Vec<Bf16Vec>),
}

/// One layout block's view of a [`Moment`]; bf16 views carry their rounding and the index of
/// their random stream (0 for `m`, 1 for `v`, 2 for the AMSGrad maximum, as in the kernel).
pub(crate) enum MomentSlice<'a, T> {
    Full(&'a mut [T]),
    Bf16(&'a mut Bf16Vec, Bf16Rounding, u32),
}

/// The rounding of bf16 stores of layout block `b` at step `t`: one stochastic key per
/// (step, block), the same in the fused kernel and the generic path.
pub(crate) fn bf16_rounding(precision: StatePrecision, t: u64, b: usize) -> Bf16Rounding {
    match precision {
        StatePrecision::Bf16Stochastic => Bf16Rounding::Stochastic {
            key: t.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (b as u64).rotate_left(40),
        },
        _ => Bf16Rounding::Nearest,
    }
}

impl<T: Scalar> MomentSlice<'_, T> {
    #[inline]
    pub fn get(&self, i: usize) -> T {
        match self {
            MomentSlice::Full(x) => x[i],
            MomentSlice::Bf16(x, ..) => T::from_f64(x.get(i) as f64),
        }
    }

    #[inline]
    pub fn set(&mut self, i: usize, v: T) {
        match self {
            MomentSlice::Full(x) => x[i] = v,
            MomentSlice::Bf16(x, rounding, stream) => {
                x.set_rounded(i, v.to_f64() as f32, *rounding, *stream)
            }
        }
    }

    /// The same view storing with `rounding` on random stream `stream` (no effect on full
    /// precision).
    pub fn rounded(self, rounding: Bf16Rounding, stream: u32) -> Self {
        match self {
            MomentSlice::Bf16(x, ..) => MomentSlice::Bf16(x, rounding, stream),
            full => full,
        }
    }
}

impl<T: Scalar> Moment<T> {
    pub fn empty() -> Self {
        Moment::Full(Vec::new())
    }

    pub fn full(n: usize, value: T) -> Self {
        Moment::Full(vec![value; n])
    }

    pub fn bf16(layout: &Layout, value: f32) -> Self {
        Moment::Bf16(
            layout.blocks().iter().map(|b| Bf16Vec::filled(b.shape.len(), value)).collect(),
        )
    }

    pub fn len(&self) -> usize {
        match self {
            Moment::Full(v) => v.len(),
            Moment::Bf16(vs) => vs.iter().map(|v| v.len()).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The part belonging to layout block `b` spanning `range` of the flat buffer.
    pub fn block(&mut self, b: usize, range: Range<usize>) -> MomentSlice<'_, T> {
        match self {
            // Unused moments are empty; their (never read) view is empty too.
            Moment::Full(v) if v.is_empty() => MomentSlice::Full(&mut []),
            Moment::Full(v) => MomentSlice::Full(&mut v[range]),
            Moment::Bf16(vs) => MomentSlice::Bf16(&mut vs[b], Bf16Rounding::Nearest, 0),
        }
    }

    /// The flat full-precision vector (statistics indexed by partition block are always full).
    pub fn as_full_mut(&mut self) -> &mut [T] {
        match self {
            Moment::Full(v) => v,
            Moment::Bf16(_) => &mut [],
        }
    }

    pub fn to_buffer(&self) -> BufferData {
        match self {
            Moment::Full(v) => BufferData::from_scalars(v),
            Moment::Bf16(vs) => BufferData::from_bf16(vs),
        }
    }

    /// A copy of `self` holding the values of `data`, or an error naming the mismatch.
    pub fn restored(&self, what: &'static str, data: &BufferData) -> Result<Self> {
        data.check_finite(what)?;
        match self {
            Moment::Full(v) => {
                let mut out = v.clone();
                data.copy_to(what, &mut out)?;
                Ok(Moment::Full(out))
            }
            Moment::Bf16(vs) => {
                let BufferData::Bf16(bits) = data else {
                    return Err(gradus_core::Error::mismatch(what, "bf16", data.dtype()));
                };
                if bits.len() != self.len() {
                    return Err(gradus_core::Error::mismatch(
                        what,
                        format!("{} entries", self.len()),
                        bits.len(),
                    ));
                }
                let mut offset = 0;
                let out = vs
                    .iter()
                    .map(|v| {
                        let part = Bf16Vec::from_bits(&bits[offset..offset + v.len()]);
                        offset += v.len();
                        part
                    })
                    .collect();
                Ok(Moment::Bf16(out))
            }
        }
    }
}
