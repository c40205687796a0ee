use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;

use crate::{Error, Result};

/// Shape of one parameter block. Matrices are stored row-major (`rows x cols`, the PyTorch
/// `out x in` convention), so row `i` is the contiguous range `i*cols .. (i+1)*cols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// A vector of `len` entries (biases, scalars, flat parameters).
    Vector { len: usize },
    /// A row-major matrix.
    Matrix { rows: usize, cols: usize },
}

impl Shape {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Vector { len } => len,
            Shape::Matrix { rows, cols } => rows * cols,
        }
    }

    /// Whether the block has no entries (never true for a block inside a [`Layout`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Vector { len } => write!(f, "[{len}]"),
            Shape::Matrix { rows, cols } => write!(f, "[{rows}x{cols}]"),
        }
    }
}

/// Per-block hyperparameter overrides (the "param groups" of other frameworks).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BlockHyper {
    /// Multiplies the optimizer's (scheduled) learning rate on this block; `0` freezes it.
    pub lr_scale: f64,
    /// Replaces the optimizer's weight decay on this block when set.
    pub weight_decay: Option<f64>,
}

impl Default for BlockHyper {
    fn default() -> Self {
        BlockHyper { lr_scale: 1.0, weight_decay: None }
    }
}

/// One named block of the flat parameter buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Unique name, e.g. `"layer1.weight"`.
    pub name: String,
    /// Index of the block's first entry in the flat buffer.
    pub offset: usize,
    /// Shape of the block.
    pub shape: Shape,
    /// Hyperparameter overrides.
    pub hyper: BlockHyper,
}

impl Block {
    /// Range of the block in the flat buffer.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.shape.len()
    }
}

/// A flat parameter buffer cut into named, shaped blocks.
///
/// Optimizers partition their statistics along it (Adam-mini: one scalar per block; Adalayer:
/// one per layer; Shampoo: Kronecker factors per matrix block) and read per-block learning-rate
/// scales and weight decays from it. Blocks are laid out back to back in insertion order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "LayoutRepr")]
pub struct Layout {
    blocks: Vec<Block>,
    len: usize,
}

impl Layout {
    /// An empty layout; add blocks with [`Layout::vector`] and [`Layout::matrix`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A layout with one vector block named `"params"` of length `len`.
    pub fn flat(len: usize) -> Result<Self> {
        Self::new().vector("params", len)
    }

    /// Appends a vector block.
    pub fn vector(self, name: &str, len: usize) -> Result<Self> {
        self.push(name, Shape::Vector { len })
    }

    /// Appends a row-major `rows x cols` matrix block.
    pub fn matrix(self, name: &str, rows: usize, cols: usize) -> Result<Self> {
        self.push(name, Shape::Matrix { rows, cols })
    }

    fn push(mut self, name: &str, shape: Shape) -> Result<Self> {
        if shape.is_empty() {
            return Err(Error::InvalidShape {
                what: "layout block",
                detail: format!("block `{name}` has shape {shape} with no entries"),
            });
        }
        if self.blocks.iter().any(|b| b.name == name) {
            return Err(Error::InvalidShape {
                what: "layout block",
                detail: format!("duplicate block name `{name}`"),
            });
        }
        let overflow = || Error::InvalidShape {
            what: "layout block",
            detail: format!("block `{name}` overflows usize"),
        };
        let n = match shape {
            Shape::Vector { len } => len,
            Shape::Matrix { rows, cols } => rows.checked_mul(cols).ok_or_else(overflow)?,
        };
        let end = self.len.checked_add(n).ok_or_else(overflow)?;
        self.blocks.push(Block {
            name: name.to_string(),
            offset: self.len,
            shape,
            hyper: BlockHyper::default(),
        });
        self.len = end;
        Ok(self)
    }

    /// Sets the hyperparameter overrides of the block called `name`.
    pub fn with_hyper(mut self, name: &str, hyper: BlockHyper) -> Result<Self> {
        if !(hyper.lr_scale.is_finite() && hyper.lr_scale >= 0.0) {
            return Err(Error::hyper("lr_scale", hyper.lr_scale, "must be finite and >= 0"));
        }
        if let Some(wd) = hyper.weight_decay {
            crate::validate::non_negative("weight_decay", wd)?;
        }
        let block = self.blocks.iter_mut().find(|b| b.name == name).ok_or_else(|| {
            Error::InvalidShape { what: "layout", detail: format!("no block named `{name}`") }
        })?;
        block.hyper = hyper;
        Ok(self)
    }

    /// Total number of parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the layout has no blocks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The blocks in buffer order.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The block called `name`.
    pub fn block(&self, name: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// A one-line description of names and shapes, stored in checkpoints to detect a state
    /// loaded into the wrong model.
    pub fn signature(&self) -> String {
        let parts: Vec<String> =
            self.blocks.iter().map(|b| format!("{}{}", b.name, b.shape)).collect();
        parts.join(",")
    }
}

/// The serialised form, rebuilt through the validating constructors on load so a corrupt file
/// cannot produce overlapping blocks or inconsistent offsets.
#[derive(Deserialize)]
struct LayoutRepr {
    blocks: Vec<Block>,
    len: usize,
}

impl TryFrom<LayoutRepr> for Layout {
    type Error = Error;

    fn try_from(repr: LayoutRepr) -> Result<Self> {
        let mut layout = Layout::new();
        for b in &repr.blocks {
            if b.offset != layout.len {
                return Err(Error::InvalidShape {
                    what: "layout",
                    detail: format!(
                        "block `{}` at offset {} should start at {}",
                        b.name, b.offset, layout.len
                    ),
                });
            }
            layout = layout.push(&b.name, b.shape)?.with_hyper(&b.name, b.hyper)?;
        }
        if layout.len != repr.len {
            return Err(Error::InvalidShape {
                what: "layout",
                detail: format!("stated length {} but blocks cover {}", repr.len, layout.len),
            });
        }
        Ok(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_contiguous() {
        let l = Layout::new().matrix("w", 3, 4).unwrap().vector("b", 3).unwrap();
        assert_eq!(l.len(), 15);
        assert_eq!(l.blocks()[1].range(), 12..15);
        assert_eq!(l.signature(), "w[3x4],b[3]");
    }

    #[test]
    fn deserialisation_validates() {
        let l = Layout::new().matrix("w", 3, 4).unwrap().vector("b", 3).unwrap();
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<Layout>(&json).unwrap(), l);
        let bad = json.replace("\"offset\":12", "\"offset\":11");
        assert!(serde_json::from_str::<Layout>(&bad).is_err());
        let bad = json.replace("\"len\":15", "\"len\":16");
        assert!(serde_json::from_str::<Layout>(&bad).is_err());
    }

    #[test]
    fn bad_layouts_are_errors() {
        assert!(Layout::new().vector("a", 0).is_err());
        assert!(Layout::new().vector("a", 1).unwrap().vector("a", 2).is_err());
        assert!(Layout::new().matrix("m", usize::MAX, 2).is_err());
        let l = Layout::flat(3).unwrap();
        assert!(l.clone().with_hyper("nope", BlockHyper::default()).is_err());
        let bad = BlockHyper { lr_scale: f64::NAN, weight_decay: None };
        assert!(l.with_hyper("params", bad).is_err());
    }
}
