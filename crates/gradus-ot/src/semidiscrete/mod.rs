//! Semi-discrete optimal transport (paper 08): the entropic semi-dual, its stochastic
//! gradient, the power-cell map, Monte-Carlo and exact evaluation, and DRAG.
//!
//! Notation of the paper: source `mu` (sampled), target `nu = sum_j w_j delta_{y_j}`, cost
//! `c(x, y) = |x - y|^2 / 2`, potential `g in R^M`.
//! - `(c, eps)`-transform: `g^{c,eps}(x) = -eps log sum_j w_j exp((g_j - c(x, y_j)) / eps)`,
//!   and `g^c(x) = min_j (c(x, y_j) - g_j)` for `eps = 0`;
//! - semi-dual (convex, minimised): `H_eps(g) = E[h_eps(X, g)]`,
//!   `h_eps(x, g) = -g^{c,eps}(x) - sum_j g_j w_j`; `min_g H_0 = -OT_0(mu, nu)`;
//! - stochastic gradient: `grad_g h_eps(x, g) = chi^eps(x, g) - w` with the softmax
//!   `chi^eps_j` (the Laguerre-cell indicator for `eps = 0`);
//! - map: `T(g)(x) = y_{j(x)}`, `j(x) = argmin_j (c(x, y_j) - g_j)`.

mod cells;
mod cloud;
mod drag;
mod line;
mod objective;

pub use drag::{Averaging, Drag, DragConfig, EpsilonSchedule, Projection};
pub use line::{LineProblem, Piece};
pub use objective::SemiDualObjective;

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Par, Result};
use rayon::prelude::*;

use crate::measure::DiscreteMeasure;
use crate::source::{SampleSet, Source};
use cells::KdTree;
use cloud::{Cloud, chunks};

/// Largest dimension for which batch power-cell queries go through the k-d tree instead of a
/// scan over all targets. Measured with M = 1e4 uniform targets, 2e4 uniform queries (one
/// thread, a loaded machine): tree 0.65 / 1.3 / 2.2 / 4.1 / 7.1 / 12.7 / 32 / 84 us per
/// query for d = 1, 2, 3, 4, 5, 6, 8, 10, against 15-50 us for a scan.
pub const KD_TREE_MAX_DIM: usize = 5;
/// Fewer targets than this are always scanned.
pub const KD_TREE_MIN_TARGETS: usize = 64;
/// Samples per block of the Monte-Carlo estimators (fixed: thread-count independence).
const EVAL_BLOCK: usize = 1024;

/// A semi-discrete OT problem: a sampled source and a discrete target with their
/// precomputed layout (and a k-d tree over the targets in low dimension).
#[derive(Debug, Clone)]
pub struct SemiDiscrete<S> {
    source: S,
    target: DiscreteMeasure,
    cloud: Cloud,
    tree: Option<KdTree>,
}

/// Per-thread scratch of one softmax or argmax over the targets.
pub(crate) struct Scratch {
    pub work: Vec<f64>,
    pub stats: Vec<(f64, f64)>,
}

impl Scratch {
    pub fn new(m: usize) -> Self {
        Scratch { work: vec![0.0; m], stats: vec![(0.0, 0.0); chunks(m)] }
    }
}

fn check_eps(eps: f64) -> Result<()> {
    gradus_core::validate::non_negative("epsilon", eps)
}

fn half_sq(x: &[f64]) -> f64 {
    0.5 * x.iter().map(|v| v * v).sum::<f64>()
}

impl<S: Source> SemiDiscrete<S> {
    /// The problem of transporting `source` onto `target` (same dimension).
    pub fn new(source: S, target: DiscreteMeasure) -> Result<Self> {
        same_len("target dimension", source.dim(), target.dim())?;
        let cloud = Cloud::new(&target);
        let tree = (target.dim() <= KD_TREE_MAX_DIM && target.len() >= KD_TREE_MIN_TARGETS)
            .then(|| KdTree::build(target.points(), target.dim()));
        Ok(SemiDiscrete { source, target, cloud, tree })
    }

    /// The source `mu`.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The target `nu`.
    pub fn target(&self) -> &DiscreteMeasure {
        &self.target
    }

    /// Number of targets `M`.
    pub fn len(&self) -> usize {
        self.target.len()
    }

    /// Always false (a target has at least one atom).
    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }

    /// Dimension `d`.
    pub fn dim(&self) -> usize {
        self.target.dim()
    }

    /// Whether batch power-cell queries use the k-d tree.
    pub fn uses_tree(&self) -> bool {
        self.tree.is_some()
    }

    pub(crate) fn cloud(&self) -> &Cloud {
        &self.cloud
    }

    pub(crate) fn tree(&self) -> Option<&KdTree> {
        self.tree.as_ref()
    }

    fn check_x(&self, x: &[f64]) -> Result<()> {
        same_len("point x", self.dim(), x.len())?;
        all_finite("point x", x)
    }

    fn check_g(&self, g: &[f64]) -> Result<()> {
        same_len("potential g", self.len(), g.len())?;
        all_finite("potential g", g)
    }

    /// `g^{c,eps}(x)` and the softmax pieces left in `scratch` (`eps > 0`) or the power cell
    /// (`eps = 0`, second value).
    fn transform(&self, x: &[f64], g: &[f64], eps: f64, sc: &mut Scratch) -> (f64, usize) {
        if eps > 0.0 {
            let (m, s) = self.cloud.softmax(x, g, 1.0 / eps, &mut sc.work, &mut sc.stats, false);
            (-eps * (m + s.ln()) + half_sq(x), usize::MAX)
        } else {
            let (j, best) = self.cloud.argmax(x, g, &mut sc.work, &mut sc.stats, false);
            (half_sq(x) - best, j)
        }
    }

    fn finite(what: &'static str, v: f64) -> Result<f64> {
        if v.is_finite() { Ok(v) } else { Err(Error::NonFinite { what, index: 0 }) }
    }

    /// The `(c, eps)`-transform `g^{c,eps}(x)` (paper 08, Sec. 1), stable for every `eps >= 0`
    /// (log-sum-exp with the maximum subtracted; `eps = 0` is the hard minimum).
    pub fn c_transform(&self, x: &[f64], g: &[f64], eps: f64) -> Result<f64> {
        self.check_x(x)?;
        self.check_g(g)?;
        check_eps(eps)?;
        let mut sc = Scratch::new(self.len());
        Self::finite("c-transform", self.transform(x, g, eps, &mut sc).0)
    }

    /// `h_eps(x, g) = -g^{c,eps}(x) - sum_j g_j w_j`, the integrand of the semi-dual.
    pub fn semi_dual_sample(&self, x: &[f64], g: &[f64], eps: f64) -> Result<f64> {
        let gc = self.c_transform(x, g, eps)?;
        Self::finite("semi-dual", -gc - dot(g, &self.cloud.w))
    }

    /// `chi^eps(x, g)`: the softmax `w_j exp((g_j - c_j)/eps) / sum_k (...)`, or the indicator
    /// of the power cell of `x` for `eps = 0`. Sums to one.
    pub fn conditional(&self, x: &[f64], g: &[f64], eps: f64, chi: &mut [f64]) -> Result<()> {
        self.check_x(x)?;
        self.check_g(g)?;
        check_eps(eps)?;
        same_len("output chi", self.len(), chi.len())?;
        let mut sc = Scratch::new(self.len());
        self.fill_chi(x, g, eps, &mut sc, chi);
        Ok(())
    }

    fn fill_chi(&self, x: &[f64], g: &[f64], eps: f64, sc: &mut Scratch, chi: &mut [f64]) {
        let (_, j) = self.transform(x, g, eps, sc);
        if eps > 0.0 {
            let (m, s) = cloud::combine_chunks(&sc.stats);
            for (c, st) in sc.stats.iter().enumerate() {
                let scale = crate::vectorized::exp_nonpos(st.0 - m) / s;
                let (lo, hi) = cloud::chunk_range(self.len(), c);
                for (o, e) in chi[lo..hi].iter_mut().zip(&sc.work[lo..hi]) {
                    *o = e * scale;
                }
            }
        } else {
            chi.fill(0.0);
            chi[j] = 1.0;
        }
    }

    /// The stochastic gradient `grad_g h_eps(x, g) = chi^eps(x, g) - w` written to `grad`;
    /// returns `h_eps(x, g)`.
    pub fn stochastic_gradient(
        &self,
        x: &[f64],
        g: &[f64],
        eps: f64,
        grad: &mut [f64],
    ) -> Result<f64> {
        self.check_x(x)?;
        self.check_g(g)?;
        check_eps(eps)?;
        same_len("output gradient", self.len(), grad.len())?;
        let mut sc = Scratch::new(self.len());
        let (gc, _) = self.transform(x, g, eps, &mut sc);
        let h = Self::finite("semi-dual", -gc - dot(g, &self.cloud.w))?;
        self.fill_chi(x, g, eps, &mut sc, grad);
        for (o, w) in grad.iter_mut().zip(&self.cloud.w) {
            *o -= w;
        }
        Ok(h)
    }

    /// The power (Laguerre) cell `j(x) = argmin_j (c(x, y_j) - g_j)` containing `x`.
    pub fn power_cell(&self, x: &[f64], g: &[f64]) -> Result<usize> {
        self.check_x(x)?;
        self.check_g(g)?;
        let mut sc = Scratch::new(self.len());
        Ok(self.cloud.argmax(x, g, &mut sc.work, &mut sc.stats, false).0)
    }

    /// The OT map of a potential, `T(g)(x) = y_{j(x)}` (the unregularised map DRAG reports).
    pub fn transport(&self, x: &[f64], g: &[f64]) -> Result<&[f64]> {
        Ok(self.target.point(self.power_cell(x, g)?))
    }

    fn check_samples(&self, samples: &SampleSet) -> Result<()> {
        same_len("sample dimension", self.dim(), samples.dim())?;
        if samples.is_empty() {
            return Err(Error::InvalidShape { what: "sample set", detail: "no samples".into() });
        }
        Ok(())
    }

    /// Runs `f` on blocks of samples (in parallel with `Par::Rayon`) and returns the block
    /// results in block order.
    fn blocks<R: Send>(
        &self,
        samples: &SampleSet,
        par: Par,
        f: impl Fn(&[f64], &mut Scratch) -> R + Sync,
    ) -> Vec<R> {
        let d = self.dim();
        let run = |b: &[f64]| f(b, &mut Scratch::new(self.len()));
        if par.is_parallel() {
            samples.points().par_chunks(EVAL_BLOCK * d).map(run).collect()
        } else {
            samples.points().chunks(EVAL_BLOCK * d).map(run).collect()
        }
    }

    /// Monte-Carlo estimate of `H_eps(g)` on `samples`.
    pub fn semi_dual(&self, g: &[f64], eps: f64, samples: &SampleSet, par: Par) -> Result<f64> {
        self.check_g(g)?;
        check_eps(eps)?;
        self.check_samples(samples)?;
        let d = self.dim();
        let gw = dot(g, &self.cloud.w);
        let query = self.tree_query(g, eps == 0.0);
        let sums = self.blocks(samples, par, |b, sc| {
            let mut s = 0.0;
            for x in b.chunks_exact(d) {
                let gc = match &query {
                    Some(q) => {
                        let j = q.0.query(x, g, &q.1);
                        let y = self.target.point(j);
                        0.5 * x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() - g[j]
                    }
                    None => self.transform(x, g, eps, sc).0,
                };
                s += -gc - gw;
            }
            s
        });
        Self::finite("semi-dual estimate", sums.iter().sum::<f64>() / samples.len() as f64)
    }

    /// Monte-Carlo estimate of the OT cost of a potential, `-H_0(g)`; at the optimal `g*`
    /// this is `OT_0(mu, nu)`, and any other `g` gives a lower value (weak duality).
    pub fn ot_cost(&self, g: &[f64], samples: &SampleSet, par: Par) -> Result<f64> {
        Ok(-self.semi_dual(g, 0.0, samples, par)?)
    }

    fn tree_query(&self, g: &[f64], wanted: bool) -> Option<(&KdTree, Vec<f64>)> {
        let tree = self.tree.as_ref().filter(|_| wanted)?;
        let mut nm = Vec::new();
        tree.node_max(g, &mut nm);
        Some((tree, nm))
    }

    /// The power cell of every sample (k-d tree in low dimension, SIMD scan otherwise).
    pub fn assign(&self, g: &[f64], samples: &SampleSet, par: Par) -> Result<Vec<usize>> {
        self.check_g(g)?;
        self.check_samples(samples)?;
        let d = self.dim();
        let query = self.tree_query(g, true);
        let parts = self.blocks(samples, par, |b, sc| {
            b.chunks_exact(d)
                .map(|x| match &query {
                    Some(q) => q.0.query(x, g, &q.1),
                    None => self.cloud.argmax(x, g, &mut sc.work, &mut sc.stats, false).0,
                })
                .collect::<Vec<_>>()
        });
        Ok(parts.concat())
    }

    /// `||T(g) - T(g_ref)||^2_{L^2(mu)}` estimated on `samples`.
    pub fn map_distance(
        &self,
        g: &[f64],
        g_ref: &[f64],
        samples: &SampleSet,
        par: Par,
    ) -> Result<f64> {
        let a = self.assign(g, samples, par)?;
        let b = self.assign(g_ref, samples, par)?;
        Ok(self.assignment_distance(&a, &b))
    }

    /// Mean of `|y_{a_i} - y_{b_i}|^2` over two assignments of the same samples.
    pub fn assignment_distance(&self, a: &[usize], b: &[usize]) -> f64 {
        let n = a.len().min(b.len()).max(1);
        let total: f64 = a
            .iter()
            .zip(b)
            .filter(|(i, j)| i != j)
            .map(|(&i, &j)| {
                let (yi, yj) = (self.target.point(i), self.target.point(j));
                yi.iter().zip(yj).map(|(p, q)| (p - q) * (p - q)).sum::<f64>()
            })
            .sum();
        total / n as f64
    }

    /// Fraction of `samples` in each power cell of `g`: a Monte-Carlo estimate of
    /// `mu(L_j(g))` (equal to `w` at the optimum).
    pub fn cell_masses(&self, g: &[f64], samples: &SampleSet, par: Par) -> Result<Vec<f64>> {
        let cells = self.assign(g, samples, par)?;
        let mut out = vec![0.0; self.len()];
        let unit = 1.0 / cells.len() as f64;
        for j in cells {
            out[j] += unit;
        }
        Ok(out)
    }
}

pub(crate) use gradus_core::numeric::dot;

/// Centres a potential (subtracts its mean): potentials are defined up to an additive
/// constant, so errors are measured between centred vectors.
pub fn centred(g: &[f64]) -> Vec<f64> {
    let mean = g.iter().sum::<f64>() / g.len().max(1) as f64;
    g.iter().map(|v| v - mean).collect()
}

/// `|centred(g) - centred(g_ref)|^2`: the potential error modulo constants.
pub fn potential_error(g: &[f64], g_ref: &[f64]) -> f64 {
    let (a, b) = (centred(g), centred(g_ref));
    a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum()
}
