//! Collaboration graphs (paper 04, "problem setting"): layered DAGs whose nodes carry a role
//! and a model assignment (a family and a size), with edges `u -> v` from one layer to the
//! next meaning that `v`'s prompt contains `u`'s answer. Edges only go forward, so every
//! graph is acyclic by construction, and a layer's nodes run in parallel.
//!
//! Parallel scaling (one wide layer, answers combined by the final vote) and sequential
//! scaling (a chain of refiners) are special cases: [`Graph::parallel`], [`Graph::chain`].

use gradus_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Most nodes a graph may have; simulators keep per-node state in stack arrays of this size.
pub const MAX_NODES: usize = 128;

/// What a node does with the answers of its predecessors. A node without predecessors
/// answers from scratch whatever its role; nodes of the first layer always carry
/// [`Role::Generate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Answers from scratch. Its inputs are in its prompt (they cost tokens) but unused.
    Generate,
    /// An assistant: reviews the plurality answer of its inputs and may correct it.
    Refine,
    /// Fuses its inputs: picks one of their answers.
    Aggregate,
}

impl Role {
    /// Every role, in the order of the role logits of [`crate::GraphSpace`].
    pub const ALL: [Role; 3] = [Role::Generate, Role::Refine, Role::Aggregate];

    /// Position in [`Role::ALL`].
    pub fn index(self) -> usize {
        match self {
            Role::Generate => 0,
            Role::Refine => 1,
            Role::Aggregate => 2,
        }
    }

    /// Lower-case name, as used in agent replies.
    pub fn name(self) -> &'static str {
        match self {
            Role::Generate => "generate",
            Role::Refine => "refine",
            Role::Aggregate => "aggregate",
        }
    }
}

/// One LLM call: its place in the graph and what runs there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Node {
    /// Layer (depth level), 0 for the first.
    pub layer: usize,
    /// Position inside the layer.
    pub slot: usize,
    /// Model family index.
    pub family: usize,
    /// Model size index within the family.
    pub size: usize,
    /// Role.
    pub role: Role,
}

/// A layered collaboration graph. Nodes are stored layer by layer; the edges between layer
/// `d` and `d + 1` form a `w_d x w_{d+1}` boolean matrix (row = source slot), and the
/// matrices of successive layer pairs are concatenated. The final answer is the plurality
/// vote over the last layer's answers (rule-based, no LLM call).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Graph {
    widths: Vec<usize>,
    nodes: Vec<Node>,
    edges: Vec<bool>,
}

impl Graph {
    /// A graph from its layer widths, nodes (layer-major) and edges (see the type docs).
    /// Errors if the parts do not fit together, a layer is empty, a first-layer node is not
    /// a generator, or the graph exceeds [`MAX_NODES`].
    pub fn new(widths: Vec<usize>, nodes: Vec<Node>, edges: Vec<bool>) -> Result<Self> {
        let g = Graph { widths, nodes, edges };
        g.check_structure()?;
        Ok(g)
    }

    /// `n` independent generators of one model whose answers are combined by the final
    /// plurality vote: best-of-N with majority voting (self-consistency).
    pub fn parallel(family: usize, size: usize, n: usize) -> Result<Self> {
        let nodes = (0..n)
            .map(|slot| Node { layer: 0, slot, family, size, role: Role::Generate })
            .collect();
        Graph::new(vec![n], nodes, Vec::new())
    }

    /// A generator followed by `depth - 1` refiners of the same model, each refining the
    /// previous answer: sequential self-refinement.
    pub fn chain(family: usize, size: usize, depth: usize) -> Result<Self> {
        let nodes = (0..depth)
            .map(|layer| Node {
                layer,
                slot: 0,
                family,
                size,
                role: if layer == 0 { Role::Generate } else { Role::Refine },
            })
            .collect();
        Graph::new(vec![1; depth], nodes, vec![true; depth.saturating_sub(1)])
    }

    /// A `width x depth` grid of one model: `width` generators, then `depth - 1` layers of
    /// `width` nodes with role `role`, each connected to every node of the layer before.
    pub fn grid(
        family: usize,
        size: usize,
        width: usize,
        depth: usize,
        role: Role,
    ) -> Result<Self> {
        let mut nodes = Vec::with_capacity(width * depth);
        for layer in 0..depth {
            let role = if layer == 0 { Role::Generate } else { role };
            nodes.extend((0..width).map(|slot| Node { layer, slot, family, size, role }));
        }
        let edges = vec![true; width * width * depth.saturating_sub(1)];
        Graph::new(vec![width; depth], nodes, edges)
    }

    fn check_structure(&self) -> Result<()> {
        let bad = |detail: String| Err(Error::InvalidShape { what: "graph", detail });
        if self.widths.is_empty() {
            return bad("a graph needs at least one layer".into());
        }
        if let Some(d) = self.widths.iter().position(|&w| w == 0) {
            return bad(format!("layer {d} is empty"));
        }
        let n: usize = self.widths.iter().sum();
        if n > MAX_NODES {
            return bad(format!("{n} nodes exceed the maximum of {MAX_NODES}"));
        }
        if self.nodes.len() != n {
            return bad(format!(
                "widths sum to {n} nodes but {} nodes were given",
                self.nodes.len()
            ));
        }
        let mut k = 0;
        for (layer, &w) in self.widths.iter().enumerate() {
            for slot in 0..w {
                let v = &self.nodes[k];
                if v.layer != layer || v.slot != slot {
                    return bad(format!(
                        "node {k} is at (layer {}, slot {}), expected ({layer}, {slot})",
                        v.layer, v.slot
                    ));
                }
                if layer == 0 && v.role != Role::Generate {
                    return bad(format!("first-layer node {slot} has role {:?}", v.role));
                }
                k += 1;
            }
        }
        let e: usize = self.widths.windows(2).map(|p| p[0] * p[1]).sum();
        if self.edges.len() != e {
            return bad(format!("expected {e} edge indicators, got {}", self.edges.len()));
        }
        Ok(())
    }

    /// Number of layers.
    pub fn depth(&self) -> usize {
        self.widths.len()
    }

    /// Width of each layer.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// Widest layer.
    pub fn max_width(&self) -> usize {
        self.widths.iter().copied().max().unwrap_or(0)
    }

    /// Nodes, layer by layer.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Edge indicators (see the type docs for the order).
    pub fn edges(&self) -> &[bool] {
        &self.edges
    }

    /// Number of edges present.
    pub fn edge_count(&self) -> usize {
        self.edges.iter().filter(|&&e| e).count()
    }

    /// Index of the first node of layer `d` (`d <= depth`).
    pub fn layer_start(&self, d: usize) -> usize {
        self.widths[..d].iter().sum()
    }

    /// Offset of the edge matrix between layers `d` and `d + 1`.
    pub fn edge_offset(&self, d: usize) -> usize {
        self.widths[..d + 1].windows(2).map(|p| p[0] * p[1]).sum()
    }

    /// Whether slot `i` of layer `d` feeds slot `j` of layer `d + 1`.
    pub fn edge(&self, d: usize, i: usize, j: usize) -> bool {
        self.edges[self.edge_offset(d) + i * self.widths[d + 1] + j]
    }

    /// Calls `f(u)` for the index of every predecessor `u` of node index `v`, in slot order.
    pub fn for_each_input(&self, v: usize, mut f: impl FnMut(usize)) {
        let node = self.nodes[v];
        if node.layer == 0 {
            return;
        }
        let d = node.layer - 1;
        let (start, off, w_next) = (self.layer_start(d), self.edge_offset(d), self.widths[d + 1]);
        for i in 0..self.widths[d] {
            if self.edges[off + i * w_next + node.slot] {
                f(start + i);
            }
        }
    }

    /// Number of predecessors of node index `v`.
    pub fn in_degree(&self, v: usize) -> usize {
        let mut k = 0;
        self.for_each_input(v, |_| k += 1);
        k
    }

    /// Empties the graph, keeping its allocations (for samplers that refill it).
    pub(crate) fn clear(&mut self) {
        self.widths.clear();
        self.nodes.clear();
        self.edges.clear();
    }

    pub(crate) fn push_layer(&mut self, width: usize) {
        self.widths.push(width);
    }

    pub(crate) fn push_node(&mut self, node: Node) {
        self.nodes.push(node);
    }

    pub(crate) fn push_edge(&mut self, e: bool) {
        self.edges.push(e);
    }

    /// A one-line description, e.g. `[3x Qwen-7B gen] -> [1x Qwen-7B agg] (3/3 edges)`;
    /// `name(family, size)` names a model.
    pub fn describe(&self, name: impl Fn(usize, usize) -> String) -> String {
        let mut layers = Vec::with_capacity(self.depth());
        for d in 0..self.depth() {
            let start = self.layer_start(d);
            // Runs of identical (model, role) within a layer, in slot order.
            let mut parts: Vec<(usize, usize, usize, Role)> = Vec::new();
            for v in &self.nodes[start..start + self.widths[d]] {
                match parts.last_mut() {
                    Some(p) if (p.1, p.2, p.3) == (v.family, v.size, v.role) => p.0 += 1,
                    _ => parts.push((1, v.family, v.size, v.role)),
                }
            }
            let text: Vec<String> = parts
                .iter()
                .map(|&(n, f, s, r)| format!("{n}x {} {}", name(f, s), &r.name()[..3]))
                .collect();
            layers.push(format!("[{}]", text.join(", ")));
        }
        let possible: usize = self.widths.windows(2).map(|p| p[0] * p[1]).sum();
        let mut out = layers.join(" -> ");
        if possible > 0 {
            out.push_str(&format!(" ({}/{possible} edges)", self.edge_count()));
        }
        out
    }
}

/// Per-call cost and latency of the models of a pool on one task (paper 04's budget is in
/// FLOPs per query).
///
/// A call of a model with `N` parameters whose prompt holds the task prompt plus the answers
/// of `k` predecessors costs `2 N (prompt + k * output + output)` FLOPs (the usual forward
/// cost of 2 FLOPs per parameter per token). Its latency is
/// `overhead + N (prefill * (prompt + k * output) + decode * output)` seconds: decoding is
/// memory-bound (every weight read once per token), prefill compute-bound. A graph's
/// latency is the longest path through it (a layer's calls run in parallel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    families: usize,
    sizes: usize,
    /// Parameters in billions, row-major `families x sizes`.
    params_b: Vec<f64>,
    /// Tokens of the task prompt.
    pub prompt_tokens: f64,
    /// Tokens each call generates (also what a successor reads per input).
    pub output_tokens: f64,
    /// Decode seconds per generated token per billion parameters.
    pub decode_s: f64,
    /// Prefill seconds per prompt token per billion parameters.
    pub prefill_s: f64,
    /// Fixed seconds per call (scheduling, network).
    pub overhead_s: f64,
}

impl CostModel {
    /// Default hardware: batch-1 decoding of bf16 weights at 3 TB/s (2 bytes per parameter
    /// per token: 6.7e-4 s per token per billion parameters), prefill at 200 TFLOP/s
    /// effective (1e-5 s per token per billion parameters), 5 ms per call.
    pub fn new(
        families: usize,
        sizes: usize,
        params_b: Vec<f64>,
        prompt_tokens: f64,
        output_tokens: f64,
    ) -> Result<Self> {
        if families == 0 || sizes == 0 {
            return Err(Error::InvalidShape {
                what: "model pool",
                detail: format!("{families} families x {sizes} sizes: the pool is empty"),
            });
        }
        gradus_core::validate::same_len(
            "model parameter counts",
            families * sizes,
            params_b.len(),
        )?;
        gradus_core::validate::all_finite("model parameter counts", &params_b)?;
        if let Some(&p) = params_b.iter().find(|&&p| p <= 0.0) {
            return Err(Error::hyper("params_b", p, "parameter counts must be > 0"));
        }
        gradus_core::validate::non_negative("prompt_tokens", prompt_tokens)?;
        gradus_core::validate::positive("output_tokens", output_tokens)?;
        Ok(CostModel {
            families,
            sizes,
            params_b,
            prompt_tokens,
            output_tokens,
            decode_s: 2.0e9 / 3.0e12,
            prefill_s: 2.0e9 / 2.0e14,
            overhead_s: 0.005,
        })
    }

    /// Number of families.
    pub fn families(&self) -> usize {
        self.families
    }

    /// Number of sizes per family.
    pub fn sizes(&self) -> usize {
        self.sizes
    }

    /// Parameters (billions) of `(family, size)`.
    pub fn params_b(&self, family: usize, size: usize) -> f64 {
        self.params_b[family * self.sizes + size]
    }

    /// FLOPs of one call of `(family, size)` reading `in_degree` predecessor answers.
    pub fn call_flops(&self, family: usize, size: usize, in_degree: usize) -> f64 {
        let tokens = self.prompt_tokens + (in_degree as f64 + 1.0) * self.output_tokens;
        2.0e9 * self.params_b(family, size) * tokens
    }

    /// Seconds of one call of `(family, size)` reading `in_degree` predecessor answers.
    pub fn call_latency(&self, family: usize, size: usize, in_degree: usize) -> f64 {
        let prompt = self.prompt_tokens + in_degree as f64 * self.output_tokens;
        self.overhead_s
            + self.params_b(family, size)
                * (self.prefill_s * prompt + self.decode_s * self.output_tokens)
    }

    /// The cheapest possible graph: one call of the smallest model.
    pub fn min_graph_flops(&self) -> f64 {
        let min = self.params_b.iter().copied().fold(f64::INFINITY, f64::min);
        2.0e9 * min * (self.prompt_tokens + self.output_tokens)
    }

    fn check(&self, g: &Graph) -> Result<()> {
        match g.nodes.iter().position(|v| v.family >= self.families || v.size >= self.sizes) {
            None => Ok(()),
            Some(k) => Err(Error::InvalidShape {
                what: "graph",
                detail: format!(
                    "node {k} uses model ({}, {}) outside the pool of {} families x {} sizes",
                    g.nodes[k].family, g.nodes[k].size, self.families, self.sizes
                ),
            }),
        }
    }

    /// Cost of `g` in FLOPs per query: the sum over its calls.
    pub fn flops(&self, g: &Graph) -> Result<f64> {
        self.check(g)?;
        Ok(self.flops_unchecked(g))
    }

    pub(crate) fn flops_unchecked(&self, g: &Graph) -> f64 {
        (0..g.nodes.len())
            .map(|v| {
                let n = g.nodes[v];
                self.call_flops(n.family, n.size, g.in_degree(v))
            })
            .sum()
    }

    /// Latency of `g` in seconds: the longest path of call latencies ending in the last layer.
    pub fn latency(&self, g: &Graph) -> Result<f64> {
        self.check(g)?;
        let mut finish = [0.0f64; MAX_NODES];
        for v in 0..g.nodes.len() {
            let mut start: f64 = 0.0;
            let mut k = 0;
            g.for_each_input(v, |u| {
                start = start.max(finish[u]);
                k += 1;
            });
            let n = g.nodes[v];
            finish[v] = start + self.call_latency(n.family, n.size, k);
        }
        let last = g.layer_start(g.depth() - 1);
        Ok(finish[last..g.nodes.len()].iter().copied().fold(0.0, f64::max))
    }
}
