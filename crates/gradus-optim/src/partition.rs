//! Resolving a [`Partition`] against a [`Layout`] into statistic blocks.
//!
//! A statistic block may span several layout blocks ([`Partition::Global`]) and a layout block
//! may hold several statistic blocks (rows). Updates need both the block's learning-rate scale
//! and its statistic, so the buffer is cut into *segments*: maximal ranges inside one layout
//! block and one statistic block.

use std::ops::Range;

use gradus_core::{Error, Layout, Result, Shape};

use crate::config::Partition;

/// One piece of the parameter buffer with a single layout block and a single statistic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Range in the flat buffer.
    pub range: Range<usize>,
    /// Index of the layout block.
    pub layout_block: usize,
    /// Index of the statistic.
    pub stat: usize,
}

/// Statistic blocks (`bounds[j] .. bounds[j+1]`) and the segments that intersect them with
/// the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPartition {
    /// Offsets of the statistic blocks, from 0 to the buffer length.
    pub bounds: Vec<usize>,
    /// Segments in buffer order.
    pub segments: Vec<Segment>,
}

impl BlockPartition {
    /// Number of statistic blocks.
    pub fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    /// Whether there are no statistic blocks (never true for a valid layout).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Statistic-block offsets for `partition`; `None` for [`Partition::Coordinates`] (one
/// statistic per coordinate needs no table).
pub fn resolve(partition: &Partition, layout: &Layout) -> Result<Option<BlockPartition>> {
    let n = layout.len();
    if n == 0 {
        return Err(Error::InvalidShape { what: "layout", detail: "no parameters".into() });
    }
    let bounds: Vec<usize> = match partition {
        Partition::Coordinates => return Ok(None),
        Partition::Global => vec![0, n],
        Partition::LayoutBlocks => layout_bounds(layout, &[])?,
        Partition::LayoutBlocksWithRows { row_blocks } => layout_bounds(layout, row_blocks)?,
    };
    let mut layout_cuts: Vec<usize> = layout.blocks().iter().map(|b| b.offset).collect();
    layout_cuts.push(n);
    let mut cuts: Vec<usize> = bounds.iter().chain(&layout_cuts).copied().collect();
    cuts.sort_unstable();
    cuts.dedup();
    let segments = cuts
        .windows(2)
        .map(|w| Segment {
            range: w[0]..w[1],
            layout_block: layout_cuts.partition_point(|&c| c <= w[0]) - 1,
            stat: bounds.partition_point(|&c| c <= w[0]) - 1,
        })
        .collect();
    Ok(Some(BlockPartition { bounds, segments }))
}

fn layout_bounds(layout: &Layout, row_blocks: &[String]) -> Result<Vec<usize>> {
    for name in row_blocks {
        match layout.block(name) {
            Some(b) if matches!(b.shape, Shape::Matrix { .. }) => {}
            Some(b) => {
                return Err(Error::InvalidShape {
                    what: "row partition",
                    detail: format!("block `{name}` has shape {} but rows need a matrix", b.shape),
                });
            }
            None => {
                return Err(Error::InvalidShape {
                    what: "row partition",
                    detail: format!("no layout block named `{name}`"),
                });
            }
        }
    }
    let mut bounds = vec![0];
    for b in layout.blocks() {
        if let (true, Shape::Matrix { rows, cols }) = (row_blocks.contains(&b.name), b.shape) {
            bounds.extend((1..=rows).map(|r| b.offset + r * cols));
        } else {
            bounds.push(b.offset + b.shape.len());
        }
    }
    Ok(bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_global_partitions() {
        let l = Layout::new().matrix("w1", 2, 3).unwrap().vector("b1", 2).unwrap();
        let rows = Partition::LayoutBlocksWithRows { row_blocks: vec!["w1".into()] };
        let p = resolve(&rows, &l).unwrap().unwrap();
        assert_eq!(p.bounds, vec![0, 3, 6, 8]);
        assert_eq!(p.segments.len(), 3);
        let g = resolve(&Partition::Global, &l).unwrap().unwrap();
        assert_eq!(g.bounds, vec![0, 8]);
        assert_eq!(
            g.segments,
            vec![
                Segment { range: 0..6, layout_block: 0, stat: 0 },
                Segment { range: 6..8, layout_block: 1, stat: 0 }
            ]
        );
        let bad = Partition::LayoutBlocksWithRows { row_blocks: vec!["b1".into()] };
        assert!(resolve(&bad, &l).is_err());
        assert!(resolve(&Partition::Coordinates, &l).unwrap().is_none());
    }
}
