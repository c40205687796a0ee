//! Diagonal linear networks (paper 01): `f_j = <w, x_j>` with effective weights `w = u*u - v*v`
//! (or `w = u*v`), parameters `[u, v]`.
//!
//! On the manifold of interpolating solutions, with `c_i = 1/n sum_j x_ji^2` (DERIVED in the
//! spec): `tr(H) = 4 sum_i c_i (u_i^2 + v_i^2)` (minimised at fixed `w` by `4 sum c_i |w_i|`, a
//! weighted l1 norm: SGD's bias) and `tr(Diag(H)^{1/2}) = 2 sum_i sqrt(c_i) (|u_i| + |v_i|)`
//! (minimised by `2 sum sqrt(c_i) sqrt|w_i|`, an l1/2 quasi-norm: Adam's bias).

use gradus_core::{Error, Layout, Par, Result, validate::same_len};
use rayon::prelude::*;

use crate::Dense;
use crate::regression::{SquaredLossModel, finite_data};

/// Columns per work unit of the batched passes over the design: 4096 f64 of `w` and of the row
/// sum stay in L1/L2 while the rows stream past.
const COL_CHUNK: usize = 4096;

/// Designs with fewer entries than this run the batched passes on the calling thread (the same
/// arithmetic, so the same result): below it, fork-join costs more than it saves.
const PARALLEL_FROM: usize = 1 << 20;

/// One column chunk of the gradient pass: (chunk index, ((row sum, d/du), d/dv)).
type GradChunk<'a> = (usize, ((&'a mut [f64], &'a mut [f64]), &'a mut [f64]));

/// The parametrisation of the effective weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagParam {
    /// `w = u*u - v*v`.
    SquareDifference,
    /// `w = u*v`.
    Product,
}

/// A diagonal linear network on a fixed design.
#[derive(Debug, Clone)]
pub struct DiagonalNet {
    x: Dense<f64>,
    y: Vec<f64>,
    param: DiagParam,
    c: Vec<f64>,
}

impl DiagonalNet {
    /// Errors unless there is at least one row and one finite target per row.
    pub fn new(x: Dense<f64>, y: Vec<f64>, param: DiagParam) -> Result<Self> {
        if x.rows() == 0 {
            return Err(Error::InvalidShape {
                what: "diagonal net design",
                detail: "no rows (the second moments c_i are undefined)".into(),
            });
        }
        same_len("targets", x.rows(), y.len())?;
        finite_data("design", x.as_slice())?;
        finite_data("targets", &y)?;
        let (n, d) = (x.rows(), x.cols());
        let c =
            (0..d).map(|i| (0..n).map(|j| x.row(j)[i].powi(2)).sum::<f64>() / n as f64).collect();
        Ok(DiagonalNet { x, y, param, c })
    }

    /// Dimension `d` of `w`.
    pub fn dim(&self) -> usize {
        self.x.cols()
    }

    /// Blocks `u` and `v`.
    pub fn layout(&self) -> Layout {
        let d = self.dim();
        Layout::new().vector("u", d).and_then(|l| l.vector("v", d)).unwrap_or_default()
    }

    /// Effective weights `w(theta)`. Errors unless `theta` has `2d` entries and `w` has `d`.
    pub fn weights(&self, theta: &[f64], w: &mut [f64]) -> Result<()> {
        let d = self.dim();
        same_len("parameters", 2 * d, theta.len())?;
        same_len("weights", d, w.len())?;
        for i in 0..d {
            let (u, v) = (theta[i], theta[d + i]);
            w[i] = match self.param {
                DiagParam::SquareDifference => u * u - v * v,
                DiagParam::Product => u * v,
            };
        }
        Ok(())
    }

    fn parallel(&self, batch: usize) -> bool {
        batch * self.dim() >= PARALLEL_FROM && self.dim() > COL_CHUNK
    }

    /// `(dw/du, dw/dv)` at `(u, v)`.
    #[inline]
    fn weight_grad(&self, u: f64, v: f64) -> (f64, f64) {
        match self.param {
            DiagParam::SquareDifference => (2.0 * u, -2.0 * v),
            DiagParam::Product => (v, u),
        }
    }

    /// The (constant) Hessian of `w(u, v)` applied to the direction `(du, dv)`.
    #[inline]
    fn weight_hvp(&self, du: f64, dv: f64) -> (f64, f64) {
        match self.param {
            DiagParam::SquareDifference => (2.0 * du, -2.0 * dv),
            DiagParam::Product => (dv, du),
        }
    }

    /// `out[k] = <x_{rows_k}, z>` where `fill(lo, chunk)` writes the columns `lo..` of `z`:
    /// SIMD partial dots over fixed column chunks (in parallel once the design is large),
    /// summed in chunk order, so the result does not depend on the thread count.
    fn chunked_dots(
        &self,
        rows: &[usize],
        scratch: &mut [f64],
        out: &mut [f64],
        fill: impl Fn(usize, &mut [f64]) + Sync,
    ) {
        let d = self.dim();
        let b = rows.len();
        if b == 0 {
            return;
        }
        let (z, partial) = scratch.split_at_mut(d);
        let partial = &mut partial[..d.div_ceil(COL_CHUNK) * b];
        let chunk = |(c, (part, z)): (usize, (&mut [f64], &mut [f64]))| {
            let lo = c * COL_CHUNK;
            fill(lo, z);
            for (pk, &j) in part.iter_mut().zip(rows) {
                *pk = gradus_kernels::dot(Par::Seq, z, &self.x.row(j)[lo..lo + z.len()])
                    .unwrap_or(f64::NAN);
            }
        };
        if self.parallel(b) {
            partial.par_chunks_mut(b).zip(z.par_chunks_mut(COL_CHUNK)).enumerate().for_each(chunk);
        } else {
            partial.chunks_mut(b).zip(z.chunks_mut(COL_CHUNK)).enumerate().for_each(chunk);
        }
        out[..b].iter_mut().for_each(|o| *o = 0.0);
        for part in partial.chunks(b) {
            for (o, p) in out.iter_mut().zip(part) {
                *o += p;
            }
        }
    }

    /// `out_u[i] += a_i s_i`, `out_v[i] += b_i s_i` with `s = sum_k weights_k x_{rows_k}` and
    /// `(a_i, b_i) = pair(i)`, one column chunk at a time. Chunks are disjoint, so running
    /// them in parallel (once the design is large) changes nothing.
    fn chunked_row_sums(
        &self,
        rows: &[usize],
        weights: &[f64],
        scratch: &mut [f64],
        out: &mut [f64],
        pair: impl Fn(usize) -> (f64, f64) + Sync,
    ) {
        let d = self.dim();
        let (ou, ov) = out.split_at_mut(d);
        let chunk = |(c, ((s, ou), ov)): GradChunk<'_>| {
            let lo = c * COL_CHUNK;
            s.iter_mut().for_each(|v| *v = 0.0);
            for (&wk, &j) in weights.iter().zip(rows) {
                // Lengths agree by construction (one chunk of d columns).
                let _ = gradus_kernels::axpy(Par::Seq, wk, &self.x.row(j)[lo..lo + s.len()], s);
            }
            for (i, ((si, ou), ov)) in s.iter().zip(ou.iter_mut()).zip(ov.iter_mut()).enumerate() {
                let (a, b) = pair(lo + i);
                *ou += a * si;
                *ov += b * si;
            }
        };
        let s = &mut scratch[..d];
        if self.parallel(rows.len()) {
            s.par_chunks_mut(COL_CHUNK)
                .zip(ou.par_chunks_mut(COL_CHUNK))
                .zip(ov.par_chunks_mut(COL_CHUNK))
                .enumerate()
                .for_each(chunk);
        } else {
            s.chunks_mut(COL_CHUNK)
                .zip(ou.chunks_mut(COL_CHUNK))
                .zip(ov.chunks_mut(COL_CHUNK))
                .enumerate()
                .for_each(chunk);
        }
    }

    /// `c_i = 1/n sum_j x_ji^2`.
    pub fn feature_second_moments(&self) -> &[f64] {
        &self.c
    }

    /// Closed-form Gauss-Newton `tr(H)`: `4 sum c_i (u_i^2 + v_i^2)` (`sum c_i (u^2 + v^2)` for
    /// `w = u v`).
    /// Errors unless `theta` has `2d` entries.
    pub fn trace_closed_form(&self, theta: &[f64]) -> Result<f64> {
        let d = self.dim();
        same_len("parameters", 2 * d, theta.len())?;
        let k = if self.param == DiagParam::SquareDifference { 4.0 } else { 1.0 };
        Ok((0..d).map(|i| k * self.c[i] * (theta[i].powi(2) + theta[d + i].powi(2))).sum())
    }

    /// Closed-form `tr(Diag(H)^{1/2})` on the manifold: `2 sum sqrt(c_i) (|u_i| + |v_i|)`
    /// (`sum sqrt(c_i)(|u_i| + |v_i|)` for `w = u v`).
    /// Errors unless `theta` has `2d` entries.
    pub fn sqrt_diag_closed_form(&self, theta: &[f64]) -> Result<f64> {
        let d = self.dim();
        same_len("parameters", 2 * d, theta.len())?;
        let k = if self.param == DiagParam::SquareDifference { 2.0 } else { 1.0 };
        Ok((0..d).map(|i| k * self.c[i].sqrt() * (theta[i].abs() + theta[d + i].abs())).sum())
    }

    /// `min_{u,v : w(u,v) = w}` of the two measures: `(4 sum c_i |w_i|, 2 sum sqrt(c_i |w_i|))`
    /// (spec property (f); for `u v`: `(2 sum c_i |w_i|, 2 sum sqrt(c_i |w_i|))`).
    /// Errors unless `w` has `d` entries.
    pub fn measures_minimum(&self, w: &[f64]) -> Result<(f64, f64)> {
        same_len("weights", self.dim(), w.len())?;
        let k = if self.param == DiagParam::SquareDifference { 4.0 } else { 2.0 };
        let l1: f64 = w.iter().zip(&self.c).map(|(w, c)| k * c * w.abs()).sum();
        let half: f64 = w.iter().zip(&self.c).map(|(w, c)| 2.0 * (c * w.abs()).sqrt()).sum();
        Ok((l1, half))
    }
}

impl SquaredLossModel for DiagonalNet {
    fn num_params(&self) -> usize {
        2 * self.dim()
    }
    fn num_samples(&self) -> usize {
        self.x.rows()
    }
    fn target(&self, j: usize) -> f64 {
        self.y[j]
    }
    fn output(&self, theta: &[f64], j: usize) -> f64 {
        let d = self.dim();
        let x = self.x.row(j);
        (0..d)
            .map(|i| {
                let (u, v) = (theta[i], theta[d + i]);
                x[i] * match self.param {
                    DiagParam::SquareDifference => u * u - v * v,
                    DiagParam::Product => u * v,
                }
            })
            .sum()
    }
    fn add_output_grad(&self, theta: &[f64], j: usize, scale: f64, out: &mut [f64]) {
        let d = self.dim();
        let x = self.x.row(j);
        for i in 0..d {
            let (gu, gv) = self.weight_grad(theta[i], theta[d + i]);
            out[i] += scale * gu * x[i];
            out[d + i] += scale * gv * x[i];
        }
    }
    fn output_grad_dot(&self, theta: &[f64], j: usize, dir: &[f64]) -> f64 {
        let d = self.dim();
        let x = self.x.row(j);
        (0..d)
            .map(|i| {
                let (gu, gv) = self.weight_grad(theta[i], theta[d + i]);
                x[i] * (gu * dir[i] + gv * dir[d + i])
            })
            .sum()
    }
    fn scratch_len(&self) -> usize {
        // One d-vector, then one partial dot per (column chunk, sample).
        self.dim() + self.dim().div_ceil(COL_CHUNK) * self.num_samples()
    }

    /// All outputs from one computation of `w`: `f_j = <w, x_j>`.
    fn outputs(&self, theta: &[f64], rows: &[usize], scratch: &mut [f64], out: &mut [f64]) {
        let d = self.dim();
        self.chunked_dots(rows, scratch, out, |lo, w| {
            for (i, wi) in w.iter_mut().enumerate() {
                let (u, v) = (theta[lo + i], theta[d + lo + i]);
                *wi = match self.param {
                    DiagParam::SquareDifference => u * u - v * v,
                    DiagParam::Product => u * v,
                };
            }
        });
    }

    /// `grad f_j . dir = <x_j, a>` with `a = (dw/du) dir_u + (dw/dv) dir_v`, for all rows at once.
    fn output_grad_dots(
        &self,
        theta: &[f64],
        rows: &[usize],
        dir: &[f64],
        scratch: &mut [f64],
        out: &mut [f64],
    ) {
        let d = self.dim();
        self.chunked_dots(rows, scratch, out, |lo, a| {
            for (i, ai) in a.iter_mut().enumerate() {
                let (gu, gv) = self.weight_grad(theta[lo + i], theta[d + lo + i]);
                *ai = gu * dir[lo + i] + gv * dir[d + lo + i];
            }
        });
    }

    /// `s = sum_k weights_k x_{rows_k}`, then the chain rule through `w(u, v)`.
    fn add_grads(
        &self,
        theta: &[f64],
        rows: &[usize],
        weights: &[f64],
        scratch: &mut [f64],
        out: &mut [f64],
    ) {
        let d = self.dim();
        self.chunked_row_sums(rows, weights, scratch, out, |i| {
            self.weight_grad(theta[i], theta[d + i])
        });
    }

    /// `sum_k weights_k (hess f_k) dir`: `hess f_j` is `x_j` times the constant Hessian of
    /// `w(u, v)`, so one weighted row sum serves every sample.
    fn add_hvps(
        &self,
        _: &[f64],
        rows: &[usize],
        dir: &[f64],
        weights: &[f64],
        scratch: &mut [f64],
        out: &mut [f64],
    ) {
        let d = self.dim();
        self.chunked_row_sums(rows, weights, scratch, out, |i| self.weight_hvp(dir[i], dir[d + i]));
    }

    fn add_output_hvp(&self, _: &[f64], j: usize, dir: &[f64], scale: f64, out: &mut [f64]) {
        let d = self.dim();
        let x = self.x.row(j);
        for i in 0..d {
            let (hu, hv) = self.weight_hvp(dir[i], dir[d + i]);
            out[i] += scale * x[i] * hu;
            out[d + i] += scale * x[i] * hv;
        }
    }
}
