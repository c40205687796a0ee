//! The parameter space of `p_theta(G)`: which logits exist and where they live in the flat
//! parameter vector.

use gradus_core::{Error, Layout, Result};

use crate::graph::{Graph, MAX_NODES, Role};

/// Number of roles a node beyond the first layer chooses from ([`Role::ALL`]).
pub const ROLES: usize = Role::ALL.len();

/// One random choice behind a graph (see [`GraphSpace::visit_choices`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// A categorical with logits `theta[offset..offset + len]` took outcome `outcome`.
    Categorical {
        /// Offset of its logits.
        offset: usize,
        /// Number of outcomes.
        len: usize,
        /// Outcome drawn.
        outcome: usize,
    },
    /// The edge with logit `theta[index]` was drawn present or absent.
    Edge {
        /// Index of its logit.
        index: usize,
        /// Whether the edge exists.
        present: bool,
    },
}

/// The set of graphs `p_theta` ranges over and the layout of `theta` (RECONSTRUCTED
/// parameterisation of paper 04, generalising GPTSwarm's Bernoulli edges):
///
/// | block | shape | meaning |
/// |---|---|---|
/// | `depth` | `D` | logits of the depth `1..=D` |
/// | `width` | `D x W` | per layer, logits of its width `1..=W` |
/// | `family` | `D W x F` | per node slot `(d, i)`, logits of its model family |
/// | `size` | `D W x S` | per node slot, logits of its model size |
/// | `role` | `(D-1) W x 3` | per slot of layers `2..=D`, logits of its role |
/// | `edge` | `(D-1) W x W` | per slot pair `(d, i) -> (d+1, j)`, the Bernoulli logit |
///
/// (`role` and `edge` are absent when `D = 1`.) First-layer nodes are generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphSpace {
    max_depth: usize,
    max_width: usize,
    families: usize,
    sizes: usize,
}

impl GraphSpace {
    /// Graphs of at most `max_depth` layers of at most `max_width` nodes over a pool of
    /// `families x sizes` models.
    pub fn new(max_depth: usize, max_width: usize, families: usize, sizes: usize) -> Result<Self> {
        for (field, v) in [
            ("max_depth", max_depth),
            ("max_width", max_width),
            ("families", families),
            ("sizes", sizes),
        ] {
            if v == 0 {
                return Err(Error::hyper(field, 0.0, "must be at least 1"));
            }
        }
        if max_depth.saturating_mul(max_width) > MAX_NODES {
            return Err(Error::InvalidShape {
                what: "graph space",
                detail: format!(
                    "{max_depth} layers x {max_width} slots exceed the {MAX_NODES}-node limit"
                ),
            });
        }
        Ok(GraphSpace { max_depth, max_width, families, sizes })
    }

    /// Most layers.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Most nodes per layer.
    pub fn max_width(&self) -> usize {
        self.max_width
    }

    /// Model families.
    pub fn families(&self) -> usize {
        self.families
    }

    /// Model sizes per family.
    pub fn sizes(&self) -> usize {
        self.sizes
    }

    /// Number of logits.
    pub fn dim(&self) -> usize {
        let (d, w) = (self.max_depth, self.max_width);
        d + d * w + d * w * (self.families + self.sizes) + (d - 1) * w * (ROLES + w)
    }

    /// The named blocks of `theta` (for per-block optimizer settings and checkpoints).
    pub fn layout(&self) -> Result<Layout> {
        let (d, w) = (self.max_depth, self.max_width);
        let mut l = Layout::new()
            .vector("depth", d)?
            .matrix("width", d, w)?
            .matrix("family", d * w, self.families)?
            .matrix("size", d * w, self.sizes)?;
        if d > 1 {
            l = l.matrix("role", (d - 1) * w, ROLES)?.matrix("edge", (d - 1) * w, w)?;
        }
        Ok(l)
    }

    /// Offset of the depth logits (`D` of them, depth `k + 1` at `k`).
    pub fn depth_offset(&self) -> usize {
        0
    }

    /// Offset of the width logits of layer `d` (`W` of them, width `k + 1` at `k`).
    pub fn width_offset(&self, d: usize) -> usize {
        self.max_depth + d * self.max_width
    }

    fn slot(&self, d: usize, i: usize) -> usize {
        d * self.max_width + i
    }

    /// Offset of the family logits of slot `(d, i)`.
    pub fn family_offset(&self, d: usize, i: usize) -> usize {
        self.max_depth * (1 + self.max_width) + self.slot(d, i) * self.families
    }

    /// Offset of the size logits of slot `(d, i)`.
    pub fn size_offset(&self, d: usize, i: usize) -> usize {
        let start = self.max_depth * (1 + self.max_width * (1 + self.families));
        start + self.slot(d, i) * self.sizes
    }

    /// Offset of the role logits of slot `(d, i)`, `d >= 1`.
    pub fn role_offset(&self, d: usize, i: usize) -> usize {
        let (dd, w) = (self.max_depth, self.max_width);
        let start = dd * (1 + w * (1 + self.families + self.sizes));
        start + ((d - 1) * w + i) * ROLES
    }

    /// Index of the logit of edge `(d, i) -> (d + 1, j)`.
    pub fn edge_index(&self, d: usize, i: usize, j: usize) -> usize {
        let (dd, w) = (self.max_depth, self.max_width);
        let start = dd * (1 + w * (1 + self.families + self.sizes)) + (dd - 1) * w * ROLES;
        start + (d * w + i) * w + j
    }

    /// Range of all edge logits.
    pub fn edge_range(&self) -> std::ops::Range<usize> {
        let (dd, w) = (self.max_depth, self.max_width);
        let start = dd * (1 + w * (1 + self.families + self.sizes)) + (dd - 1) * w * ROLES;
        start..self.dim()
    }

    /// Errors unless `g` lies in this space (depth, widths and models within bounds).
    pub fn check(&self, g: &Graph) -> Result<()> {
        let bad = |detail: String| Err(Error::InvalidShape { what: "graph", detail });
        if g.depth() > self.max_depth {
            return bad(format!("depth {} exceeds the space's {}", g.depth(), self.max_depth));
        }
        if g.max_width() > self.max_width {
            return bad(format!("width {} exceeds the space's {}", g.max_width(), self.max_width));
        }
        if let Some(v) =
            g.nodes().iter().find(|v| v.family >= self.families || v.size >= self.sizes)
        {
            return bad(format!(
                "node ({}, {}) uses model ({}, {}) outside {} families x {} sizes",
                v.layer, v.slot, v.family, v.size, self.families, self.sizes
            ));
        }
        Ok(())
    }

    /// Walks the random choices that produce `g` (which must lie in the space), in drawing
    /// order: depth, widths, per node family, size and role, then edges.
    pub fn visit_choices(&self, g: &Graph, mut f: impl FnMut(Choice)) {
        let cat = |offset, len, outcome| Choice::Categorical { offset, len, outcome };
        let depth = g.depth();
        f(cat(self.depth_offset(), self.max_depth, depth - 1));
        for (d, &wd) in g.widths().iter().enumerate() {
            f(cat(self.width_offset(d), self.max_width, wd - 1));
        }
        for v in g.nodes() {
            f(cat(self.family_offset(v.layer, v.slot), self.families, v.family));
            f(cat(self.size_offset(v.layer, v.slot), self.sizes, v.size));
            if v.layer > 0 {
                f(cat(self.role_offset(v.layer, v.slot), ROLES, v.role.index()));
            }
        }
        let mut k = 0;
        for d in 0..depth.saturating_sub(1) {
            let (w1, w2) = (g.widths()[d], g.widths()[d + 1]);
            for i in 0..w1 {
                for j in 0..w2 {
                    f(Choice::Edge { index: self.edge_index(d, i, j), present: g.edges()[k] });
                    k += 1;
                }
            }
        }
    }

    /// Calls `f(offset, len)` for every categorical block of `theta`: depth, the width of
    /// each layer, and each slot's family, size and (beyond the first layer) role.
    pub fn for_each_categorical(&self, mut f: impl FnMut(usize, usize)) {
        f(self.depth_offset(), self.max_depth);
        for d in 0..self.max_depth {
            f(self.width_offset(d), self.max_width);
        }
        for d in 0..self.max_depth {
            for i in 0..self.max_width {
                f(self.family_offset(d, i), self.families);
                f(self.size_offset(d, i), self.sizes);
                if d > 0 {
                    f(self.role_offset(d, i), ROLES);
                }
            }
        }
    }

    /// `log10` of the number of graphs in the space (every depth, width, model, role and
    /// edge choice), by the recursion `c_{d+1}(w') = sum_w c_d(w) 2^{w w'} (F S R)^{w'}`.
    pub fn log10_size(&self) -> f64 {
        let (f, s, r) = (self.families as f64, self.sizes as f64, ROLES as f64);
        let w_max = self.max_width;
        let ln2 = std::f64::consts::LN_2;
        // ln c_d(w), w = 1..=W.
        let mut c: Vec<f64> = (1..=w_max).map(|w| w as f64 * (f * s).ln()).collect();
        let mut total = log_sum_exp(&c);
        for _ in 1..self.max_depth {
            let next: Vec<f64> = (1..=w_max)
                .map(|w2| {
                    let terms: Vec<f64> = (1..=w_max)
                        .map(|w1| c[w1 - 1] + (w1 * w2) as f64 * ln2 + w2 as f64 * (f * s * r).ln())
                        .collect();
                    log_sum_exp(&terms)
                })
                .collect();
            total = log_sum_exp(&[total, log_sum_exp(&next)]);
            c = next;
        }
        total / std::f64::consts::LN_10
    }
}

fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}
