//! Power (Laguerre) cell queries `j(x) = argmax_j (g_j - |x - y_j|^2 / 2)` with a k-d tree:
//! branch and bound on `max_{j in node} g_j - dist(x, box)^2 / 2`, which bounds every score
//! in a node. For small `d` a query touches a few leaves instead of all `M` targets.

/// Points per leaf.
const LEAF: usize = 8;
/// Depth bound of the explicit search stack (median splits give depth `<= log2 M + 1`).
const STACK: usize = 128;

#[derive(Debug, Clone, Copy)]
struct Node {
    start: usize,
    end: usize,
    /// Index of the left child; 0 for a leaf (the root is never a child).
    left: usize,
    right: usize,
}

/// A k-d tree over target points with per-node bounding boxes.
#[derive(Debug, Clone)]
pub(crate) struct KdTree {
    dim: usize,
    /// `perm[k]`: original index of the k-th point in tree order.
    perm: Vec<usize>,
    /// Points in tree order, row-major.
    pts: Vec<f64>,
    nodes: Vec<Node>,
    /// Per node: `dim` lower bounds then `dim` upper bounds.
    bbox: Vec<f64>,
}

impl KdTree {
    /// Builds the tree over `points` (row-major, `dim` columns, finite), splitting each node
    /// at the median of its widest side.
    pub fn build(points: &[f64], dim: usize) -> Self {
        let n = points.len() / dim;
        let mut perm: Vec<usize> = (0..n).collect();
        let mut nodes = Vec::with_capacity(2 * n / LEAF + 2);
        let mut bbox = Vec::new();
        nodes.push(Node { start: 0, end: n, left: 0, right: 0 });
        let mut todo = vec![0usize];
        while let Some(id) = todo.pop() {
            let Node { start, end, .. } = nodes[id];
            let mut lo = vec![f64::INFINITY; dim];
            let mut hi = vec![f64::NEG_INFINITY; dim];
            for &p in &perm[start..end] {
                for k in 0..dim {
                    let v = points[p * dim + k];
                    lo[k] = lo[k].min(v);
                    hi[k] = hi[k].max(v);
                }
            }
            if bbox.len() < (id + 1) * 2 * dim {
                bbox.resize((id + 1) * 2 * dim, 0.0);
            }
            bbox[id * 2 * dim..id * 2 * dim + dim].copy_from_slice(&lo);
            bbox[id * 2 * dim + dim..(id + 1) * 2 * dim].copy_from_slice(&hi);
            if end - start <= LEAF {
                continue;
            }
            let axis = (0..dim).max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])));
            let axis = axis.unwrap_or(0);
            let mid = (start + end) / 2;
            perm[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
                points[a * dim + axis].total_cmp(&points[b * dim + axis])
            });
            let left = nodes.len();
            nodes.push(Node { start, end: mid, left: 0, right: 0 });
            nodes.push(Node { start: mid, end, left: 0, right: 0 });
            nodes[id].left = left;
            nodes[id].right = left + 1;
            todo.push(left);
            todo.push(left + 1);
        }
        bbox.resize(nodes.len() * 2 * dim, 0.0);
        let mut pts = Vec::with_capacity(n * dim);
        for &p in &perm {
            pts.extend_from_slice(&points[p * dim..(p + 1) * dim]);
        }
        KdTree { dim, perm, pts, nodes, bbox }
    }

    /// `out[node] = max_{j in node} g_j` (children have larger indices than their parent, so
    /// one backward sweep suffices).
    pub fn node_max(&self, g: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.nodes.len(), f64::NEG_INFINITY);
        for id in (0..self.nodes.len()).rev() {
            let nd = self.nodes[id];
            out[id] = if nd.left == 0 {
                self.perm[nd.start..nd.end].iter().fold(f64::NEG_INFINITY, |m, &p| m.max(g[p]))
            } else {
                out[nd.left].max(out[nd.right])
            };
        }
    }

    fn bound(&self, id: usize, x: &[f64], node_max: &[f64]) -> f64 {
        let d = self.dim;
        let b = &self.bbox[id * 2 * d..(id + 1) * 2 * d];
        let mut dist2 = 0.0;
        for k in 0..d {
            let v = x[k];
            let gap = if v < b[k] {
                b[k] - v
            } else if v > b[d + k] {
                v - b[d + k]
            } else {
                0.0
            };
            dist2 += gap * gap;
        }
        node_max[id] - 0.5 * dist2
    }

    /// `argmax_j (g_j - |x - y_j|^2 / 2)` with the smallest original index among exact ties,
    /// given `node_max` from [`KdTree::node_max`] for the same `g`.
    pub fn query(&self, x: &[f64], g: &[f64], node_max: &[f64]) -> usize {
        let d = self.dim;
        let mut best = f64::NEG_INFINITY;
        let mut best_j = usize::MAX;
        let mut stack = [0usize; STACK];
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let id = stack[top];
            if self.bound(id, x, node_max) < best {
                continue;
            }
            let nd = self.nodes[id];
            if nd.left == 0 {
                for k in nd.start..nd.end {
                    let p = &self.pts[k * d..(k + 1) * d];
                    let mut dist2 = 0.0;
                    for (a, b) in x.iter().zip(p) {
                        dist2 += (a - b) * (a - b);
                    }
                    let j = self.perm[k];
                    let s = g[j] - 0.5 * dist2;
                    if s > best || (s == best && j < best_j) {
                        (best, best_j) = (s, j);
                    }
                }
                continue;
            }
            let (bl, br) = (self.bound(nd.left, x, node_max), self.bound(nd.right, x, node_max));
            // Visit the more promising child first: push it last.
            let (first, second) = if bl >= br { (nd.left, nd.right) } else { (nd.right, nd.left) };
            if top + 2 > STACK {
                // Unreachable for median splits; degrade to a scan of this subtree.
                for k in nd.start..nd.end {
                    let p = &self.pts[k * d..(k + 1) * d];
                    let dist2: f64 = x.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
                    let j = self.perm[k];
                    let s = g[j] - 0.5 * dist2;
                    if s > best || (s == best && j < best_j) {
                        (best, best_j) = (s, j);
                    }
                }
                continue;
            }
            stack[top] = second;
            stack[top + 1] = first;
            top += 2;
        }
        best_j
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradus_core::rng;
    use rand::Rng as _;

    fn brute(points: &[f64], d: usize, g: &[f64], x: &[f64]) -> usize {
        let mut best = (f64::NEG_INFINITY, 0);
        for (j, y) in points.chunks_exact(d).enumerate() {
            let s = g[j] - 0.5 * x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
            if s > best.0 {
                best = (s, j);
            }
        }
        best.1
    }

    #[test]
    fn tree_query_equals_brute_force() {
        let mut r = rng::seeded(3);
        for &(d, m) in &[(1usize, 1usize), (1, 37), (2, 500), (3, 300), (5, 200)] {
            let pts: Vec<f64> = (0..m * d).map(|_| r.random::<f64>()).collect();
            let g: Vec<f64> = (0..m).map(|_| 0.05 * r.random::<f64>()).collect();
            let tree = KdTree::build(&pts, d);
            let mut nm = Vec::new();
            tree.node_max(&g, &mut nm);
            for _ in 0..300 {
                let x: Vec<f64> = (0..d).map(|_| 1.4 * r.random::<f64>() - 0.2).collect();
                assert_eq!(tree.query(&x, &g, &nm), brute(&pts, d, &g, &x), "d={d} m={m}");
            }
        }
    }
}
