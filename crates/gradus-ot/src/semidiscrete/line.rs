//! Exact semi-discrete quantities on a line: a uniform source on `[lo, hi]` and targets
//! `y_j` in `R`. Power cells of `c(x, y) = (x - y)^2 / 2` are intervals (the upper envelope of
//! the lines `x y_j + g_j - y_j^2 / 2`), so `H_0(g)`, the cell masses and the `L^2(mu)`
//! distance between two maps are finite sums. This gives noise-free error curves for the
//! paper's Examples 1 and 3 and an independent check of the Monte-Carlo estimators.

use gradus_core::{Error, Result};

/// A uniform source on `[lo, hi]` and a discrete target on the real line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineProblem {
    lo: f64,
    hi: f64,
    y: Vec<f64>,
    w: Vec<f64>,
    /// Target indices sorted by position (ties by index).
    order: Vec<usize>,
}

/// One piece of the power diagram: target `j` owns `[a, b]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    /// Target index.
    pub j: usize,
    /// Left end.
    pub a: f64,
    /// Right end.
    pub b: f64,
}

impl LineProblem {
    /// `mu = U([lo, hi])`, `nu = sum_j w_j delta_{y_j}` with `w` normalised.
    pub fn new(lo: f64, hi: f64, positions: Vec<f64>, weights: Vec<f64>) -> Result<Self> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::hyper("interval length", hi - lo, "need finite lo < hi"));
        }
        let nu = crate::DiscreteMeasure::new(1, positions, weights)?;
        let y = nu.points().to_vec();
        let w = nu.weights().to_vec();
        let mut order: Vec<usize> = (0..y.len()).collect();
        order.sort_by(|&a, &b| y[a].total_cmp(&y[b]).then(a.cmp(&b)));
        Ok(LineProblem { lo, hi, y, w, order })
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Always false (at least one target).
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The power cells of `g` inside `[lo, hi]`, left to right (empty cells omitted).
    pub fn pieces(&self, g: &[f64]) -> Result<Vec<Piece>> {
        gradus_core::validate::same_len("potential g", self.y.len(), g.len())?;
        gradus_core::validate::all_finite("potential g", g)?;
        // Upper envelope of lines slope y_j, intercept g_j - y_j^2/2, slopes increasing.
        let slope = |j: usize| self.y[j];
        let icpt = |j: usize| g[j] - 0.5 * self.y[j] * self.y[j];
        let cross = |i: usize, j: usize| (icpt(i) - icpt(j)) / (slope(j) - slope(i));
        let mut hull: Vec<usize> = Vec::with_capacity(self.y.len());
        for &j in &self.order {
            if let Some(&t) = hull.last() {
                if slope(t) == slope(j) {
                    if icpt(j) > icpt(t) {
                        hull.pop();
                    } else {
                        continue;
                    }
                }
            }
            while hull.len() >= 2 {
                let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
                if cross(a, j) <= cross(a, b) {
                    hull.pop();
                } else {
                    break;
                }
            }
            hull.push(j);
        }
        let mut out = Vec::with_capacity(hull.len());
        for (k, &j) in hull.iter().enumerate() {
            let a = if k == 0 { f64::NEG_INFINITY } else { cross(hull[k - 1], j) };
            let b = if k + 1 == hull.len() { f64::INFINITY } else { cross(j, hull[k + 1]) };
            let (a, b) = (a.max(self.lo), b.min(self.hi));
            if b > a {
                out.push(Piece { j, a, b });
            }
        }
        Ok(out)
    }

    /// `H_0(g) = -E[g^c(X)] - sum_j g_j w_j` exactly (paper 08, semi-dual, eps = 0).
    pub fn semi_dual(&self, g: &[f64]) -> Result<f64> {
        let len = self.hi - self.lo;
        let mut integral = 0.0;
        for p in self.pieces(g)? {
            let y = self.y[p.j];
            let quad = ((p.b - y).powi(3) - (p.a - y).powi(3)) / 6.0;
            integral += quad - g[p.j] * (p.b - p.a);
        }
        let gw: f64 = g.iter().zip(&self.w).map(|(g, w)| g * w).sum();
        Ok(-integral / len - gw)
    }

    /// `mu(L_j(g))` for every target.
    pub fn cell_masses(&self, g: &[f64]) -> Result<Vec<f64>> {
        let len = self.hi - self.lo;
        let mut out = vec![0.0; self.y.len()];
        for p in self.pieces(g)? {
            out[p.j] += (p.b - p.a) / len;
        }
        Ok(out)
    }

    /// `||T(g) - T(g_ref)||^2_{L^2(mu)}` for the power-cell maps `T(g)(x) = y_{j(x)}`.
    pub fn map_distance(&self, g: &[f64], g_ref: &[f64]) -> Result<f64> {
        let (p, q) = (self.pieces(g)?, self.pieces(g_ref)?);
        let len = self.hi - self.lo;
        let (mut i, mut k, mut total) = (0, 0, 0.0);
        while i < p.len() && k < q.len() {
            let a = p[i].a.max(q[k].a);
            let b = p[i].b.min(q[k].b);
            if b > a {
                let diff = self.y[p[i].j] - self.y[q[k].j];
                total += diff * diff * (b - a);
            }
            if p[i].b < q[k].b {
                i += 1;
            } else {
                k += 1;
            }
        }
        Ok(total / len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voronoi_cells_of_a_grid() {
        let m = 4;
        let y: Vec<f64> = (0..m).map(|j| (j as f64 + 0.5) / m as f64).collect();
        let lp = LineProblem::new(0.0, 1.0, y, vec![1.0; m]).unwrap();
        let masses = lp.cell_masses(&[0.0; 4]).unwrap();
        for v in masses {
            assert!((v - 0.25).abs() < 1e-15);
        }
        // Semi-dual at g = 0 is minus the quantisation cost 1 / (24 M^2).
        let h = lp.semi_dual(&[0.0; 4]).unwrap();
        assert!((h + 1.0 / (24.0 * 16.0)).abs() < 1e-15);
        // A large potential on one target makes it take everything.
        let pieces = lp.pieces(&[0.0, 0.0, 10.0, 0.0]).unwrap();
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].j, 2);
        assert!(lp.map_distance(&[0.0; 4], &[0.0; 4]).unwrap() == 0.0);
    }
}
