//! Serialisable optimizer state.

use gradus_core::{Error, Layout, Result, Scalar};
use gradus_kernels::Bf16Vec;
use serde::{Deserialize, Serialize};

/// Version of the state schema; bumped whenever the meaning of a stored field changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The numbers of one state buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BufferData {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// bfloat16 bit patterns in element order.
    Bf16(Vec<u16>),
}

impl BufferData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            BufferData::F32(v) => v.len(),
            BufferData::F64(v) => v.len(),
            BufferData::Bf16(v) => v.len(),
        }
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element type name: `"f32"`, `"f64"` or `"bf16"`.
    pub fn dtype(&self) -> &'static str {
        match self {
            BufferData::F32(_) => "f32",
            BufferData::F64(_) => "f64",
            BufferData::Bf16(_) => "bf16",
        }
    }

    /// Stores `xs` in the format of `T`.
    pub fn from_scalars<T: Scalar>(xs: &[T]) -> Self {
        match T::as_f32_slice(xs) {
            Some(x) => BufferData::F32(x.to_vec()),
            None => BufferData::F64(xs.iter().map(|x| x.to_f64()).collect()),
        }
    }

    /// Copies into `out`, which must have the same length and element type `T`.
    pub fn copy_to<T: Scalar>(&self, what: &'static str, out: &mut [T]) -> Result<()> {
        if self.dtype() != T::NAME {
            return Err(Error::mismatch(what, T::NAME, self.dtype()));
        }
        if self.len() != out.len() {
            return Err(Error::mismatch(what, format!("{} entries", out.len()), self.len()));
        }
        match self {
            BufferData::F32(v) => {
                out.iter_mut().zip(v).for_each(|(o, &x)| *o = T::from_f64(x as f64))
            }
            BufferData::F64(v) => out.iter_mut().zip(v).for_each(|(o, &x)| *o = T::from_f64(x)),
            BufferData::Bf16(_) => unreachable!("dtype checked above"),
        }
        Ok(())
    }

    /// Checks that every value is finite (a state with NaN cannot continue training).
    pub fn check_finite(&self, what: &'static str) -> Result<()> {
        let bad = match self {
            BufferData::F32(v) => v.iter().position(|x| !x.is_finite()),
            BufferData::F64(v) => v.iter().position(|x| !x.is_finite()),
            BufferData::Bf16(v) => v.iter().position(|&b| (b & 0x7F80) == 0x7F80),
        };
        match bad {
            None => Ok(()),
            Some(index) => Err(Error::NonFinite { what, index }),
        }
    }

    /// Concatenated bf16 bit patterns of several vectors.
    pub fn from_bf16(vs: &[Bf16Vec]) -> Self {
        BufferData::Bf16(vs.iter().flat_map(|v| v.to_bits()).collect())
    }
}

/// A named buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedBuffer {
    /// Name, e.g. `"m"`.
    pub name: String,
    /// Values.
    pub data: BufferData,
}

/// Everything needed to resume an optimizer exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Optimizer name ([`crate::Optimizer::name`]).
    pub optimizer: String,
    /// Parameter type (`"f32"` / `"f64"`).
    pub scalar: String,
    /// The layout, with block names and shapes.
    pub layout: Layout,
    /// Steps taken.
    pub step: u64,
    /// Hyperparameters, as the optimizer's own serde form.
    pub config: serde_json::Value,
    /// State buffers.
    pub buffers: Vec<NamedBuffer>,
}

/// The serde form of an optimizer configuration, for [`OptimizerState::config`]: a
/// configuration that cannot be serialised is an error, never a silent JSON `null` that a
/// later load would reject as corrupt.
pub fn config_value<C: Serialize + ?Sized>(config: &C) -> Result<serde_json::Value> {
    serde_json::to_value(config)
        .map_err(|e| Error::corrupt("optimizer configuration", format!("cannot serialise: {e}")))
}

impl OptimizerState {
    /// Checks version, optimizer, scalar type and layout against the loading object.
    pub fn check_header<T: Scalar>(&self, optimizer: &str, layout: &Layout) -> Result<()> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(Error::mismatch("schema version", SCHEMA_VERSION, self.schema_version));
        }
        if self.optimizer != optimizer {
            return Err(Error::mismatch("optimizer", optimizer, &self.optimizer));
        }
        if self.scalar != T::NAME {
            return Err(Error::mismatch("scalar type", T::NAME, &self.scalar));
        }
        if self.layout != *layout {
            return Err(Error::mismatch("layout", layout.signature(), self.layout.signature()));
        }
        Ok(())
    }

    /// The buffer called `name`, or an error naming it.
    pub fn buffer(&self, name: &str) -> Result<&BufferData> {
        self.buffers
            .iter()
            .find(|b| b.name == name)
            .map(|b| &b.data)
            .ok_or_else(|| Error::mismatch("buffers", format!("a buffer `{name}`"), "none"))
    }
}
