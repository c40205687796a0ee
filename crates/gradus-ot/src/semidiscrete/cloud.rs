//! The target points laid out for the per-sample hot loop: scores `g_j - c(x, y_j)` for all
//! `j`, their softmax and their argmax, in fixed chunks of targets.

use rayon::prelude::*;

use crate::measure::DiscreteMeasure;
use pulp::Simd;

use crate::vectorized::{self, Kernel, exp_nonpos, max_lanes, sum_lanes};

/// Targets per parallel piece. Fixed, so chunk-wise reductions (and therefore results) do not
/// depend on the thread count.
pub(crate) const CHUNK: usize = 4096;
/// Targets per inner block: the block of scores stays in L1 while the `d` coordinate rows
/// stream through it.
const BLOCK: usize = 256;

/// Target atoms stored coordinate-major (`coords[k*m + j]` is coordinate `k` of `y_j`) so the
/// score loop runs over contiguous lanes of targets, with `|y_j|^2 / 2` and `ln w_j`
/// precomputed.
#[derive(Debug, Clone)]
pub(crate) struct Cloud {
    pub m: usize,
    pub d: usize,
    pub coords: Vec<f64>,
    pub half_sq: Vec<f64>,
    pub log_w: Vec<f64>,
    pub w: Vec<f64>,
    /// `Some(w)` when every weight equals `w`: the hot loops then skip the weight arrays.
    pub uniform: Option<f64>,
}

/// Range of chunk `c`.
pub(crate) fn chunk_range(m: usize, c: usize) -> (usize, usize) {
    (c * CHUNK, ((c + 1) * CHUNK).min(m))
}

/// Number of chunks covering `m` targets.
pub(crate) fn chunks(m: usize) -> usize {
    m.div_ceil(CHUNK)
}

struct Scores<'a> {
    cloud: &'a Cloud,
    x: &'a [f64],
    g: &'a [f64],
    lo: usize,
    /// `Some(1/eps)`: `z_j = s_j / eps + ln w_j`; `None`: the raw scores `s_j`.
    inv_eps: Option<f64>,
    out: &'a mut [f64],
    /// Replace the scores by `exp(z_j - max)` and return their sum too.
    exponentiate: bool,
}

/// Largest dimension of the register-blocked score loop.
const REG_DIM: usize = 16;

/// The read-only inputs of the score loop.
#[derive(Clone, Copy)]
struct ScoreArgs<'a> {
    cloud: &'a Cloud,
    x: &'a [f64],
    g: &'a [f64],
    inv_eps: Option<f64>,
}

impl ScoreArgs<'_> {
    /// Scores of the block `[a, b)` into `out` with one register accumulator per SIMD lane
    /// group and the `d` coordinate rows streamed through it (`d <= 16`). Returns the max.
    #[inline(always)]
    fn block_registers<S: Simd>(&self, simd: S, a: usize, b: usize, out: &mut [f64]) -> f64 {
        let c = self.cloud;
        let mut rows: [&[S::f64s]; REG_DIM] = [&[]; REG_DIM];
        let mut xs = [simd.splat_f64s(0.0); REG_DIM];
        for k in 0..c.d {
            rows[k] = S::as_simd_f64s(&c.coords[k * c.m + a..k * c.m + b]).0;
            xs[k] = simd.splat_f64s(self.x[k]);
        }
        let (gh, gt) = S::as_simd_f64s(&self.g[a..b]);
        let (hh, ht) = S::as_simd_f64s(&c.half_sq[a..b]);
        let (lh, lt) = S::as_simd_f64s(&c.log_w[a..b]);
        let (oh, ot) = S::as_mut_simd_f64s(out);
        let ie = self.inv_eps.unwrap_or(1.0);
        let iev = simd.splat_f64s(ie);
        let weighted = self.inv_eps.is_some() && c.uniform.is_none();
        let mut vmax = simd.splat_f64s(f64::NEG_INFINITY);
        for i in 0..oh.len() {
            let mut acc = simd.sub_f64s(gh[i], hh[i]);
            for k in 0..c.d {
                acc = simd.mul_add_f64s(xs[k], rows[k][i], acc);
            }
            acc =
                if weighted { simd.mul_add_f64s(acc, iev, lh[i]) } else { simd.mul_f64s(acc, iev) };
            oh[i] = acc;
            vmax = simd.max_f64s(vmax, acc);
        }
        let mut max = simd.reduce_max_f64s(vmax);
        let base = oh.len() * S::F64_LANES;
        for (t, o) in ot.iter_mut().enumerate() {
            let j = a + base + t;
            let mut v = gt[t] - ht[t];
            for k in 0..c.d {
                v = self.x[k].mul_add(c.coords[k * c.m + j], v);
            }
            v = if weighted { v.mul_add(ie, lt[t]) } else { v * ie };
            *o = v;
            max = max.max(v);
        }
        max
    }

    /// The same for any `d`: one pass over the block per coordinate (the block stays in L1).
    #[inline(always)]
    fn block_passes(&self, a: usize, b: usize, out: &mut [f64]) -> f64 {
        let c = self.cloud;
        for ((o, g), h) in out.iter_mut().zip(&self.g[a..b]).zip(&c.half_sq[a..b]) {
            *o = g - h;
        }
        for k in 0..c.d {
            let xk = self.x[k];
            let row = &c.coords[k * c.m + a..k * c.m + b];
            for (o, y) in out.iter_mut().zip(row) {
                *o = xk.mul_add(*y, *o);
            }
        }
        match (self.inv_eps, c.uniform) {
            (Some(ie), None) => {
                for (o, lw) in out.iter_mut().zip(&c.log_w[a..b]) {
                    *o = o.mul_add(ie, *lw);
                }
            }
            (Some(ie), Some(_)) => {
                for o in out.iter_mut() {
                    *o *= ie;
                }
            }
            (None, _) => {}
        }
        max_lanes(out)
    }
}

impl Kernel for Scores<'_> {
    type Output = (f64, f64);
    #[inline(always)]
    fn run<S: Simd>(self, simd: S) -> (f64, f64) {
        let Scores { cloud: c, x, g, lo, inv_eps, out, exponentiate } = self;
        let args = ScoreArgs { cloud: c, x, g, inv_eps };
        let n = out.len();
        let mut max = f64::NEG_INFINITY;
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let (a, b) = (lo + start, lo + end);
            let block_max = if c.d <= REG_DIM {
                args.block_registers(simd, a, b, &mut out[start..end])
            } else {
                args.block_passes(a, b, &mut out[start..end])
            };
            max = max.max(block_max);
            start = end;
        }
        // With equal weights `ln w` is one constant: added to the maximum only.
        let offset = match (inv_eps, c.uniform) {
            (Some(_), Some(w)) => w.ln(),
            _ => 0.0,
        };
        if !exponentiate {
            return (max + offset, 0.0);
        }
        for v in out.iter_mut() {
            *v = exp_nonpos(*v - max);
        }
        (max + offset, sum_lanes(out))
    }
}

impl Cloud {
    pub fn new(target: &DiscreteMeasure) -> Self {
        let (m, d) = (target.len(), target.dim());
        let mut coords = vec![0.0; m * d];
        let mut half_sq = vec![0.0; m];
        for j in 0..m {
            let y = target.point(j);
            for k in 0..d {
                coords[k * m + j] = y[k];
            }
            half_sq[j] = 0.5 * y.iter().map(|v| v * v).sum::<f64>();
        }
        let w = target.weights().to_vec();
        let log_w = w.iter().map(|w| w.ln()).collect();
        let uniform = w.iter().all(|&v| v == w[0]).then_some(w[0]);
        Cloud { m, d, coords, half_sq, log_w, w, uniform }
    }

    /// Scores of targets `lo .. lo + out.len()` into `out`: `s_j = g_j - |y_j|^2/2 + <x, y_j>`
    /// (that is `g_j - c(x, y_j) + |x|^2/2`), or `z_j = s_j / eps + ln w_j` with `inv_eps`.
    /// Returns the maximum.
    pub fn scores(
        &self,
        x: &[f64],
        g: &[f64],
        lo: usize,
        inv_eps: Option<f64>,
        out: &mut [f64],
    ) -> f64 {
        vectorized::run(Scores { cloud: self, x, g, lo, inv_eps, out, exponentiate: false }).0
    }

    /// Softmax pieces of one chunk: `out_j = exp(z_j - m_c)` with `z_j = s_j/eps + ln w_j`;
    /// returns `(m_c, sum_j out_j)`.
    pub fn softmax_chunk(
        &self,
        x: &[f64],
        g: &[f64],
        lo: usize,
        inv_eps: f64,
        out: &mut [f64],
    ) -> (f64, f64) {
        vectorized::run(Scores {
            cloud: self,
            x,
            g,
            lo,
            inv_eps: Some(inv_eps),
            out,
            exponentiate: true,
        })
    }

    /// The whole softmax for one sample: `work_j = exp(z_j - m_c(j))` chunk by chunk with the
    /// chunk maxima and sums in `stats`; returns `(m, S)` with `m = max_j z_j` and
    /// `S = sum_j exp(z_j - m)`, so `chi_j = work_j * exp(m_c(j) - m) / S` and
    /// `log sum_j exp(z_j) = m + ln S`.
    pub fn softmax(
        &self,
        x: &[f64],
        g: &[f64],
        inv_eps: f64,
        work: &mut [f64],
        stats: &mut [(f64, f64)],
        parallel: bool,
    ) -> (f64, f64) {
        let body = |(c, (piece, st)): (usize, (&mut [f64], &mut (f64, f64)))| {
            *st = self.softmax_chunk(x, g, c * CHUNK, inv_eps, piece);
        };
        if parallel {
            work.par_chunks_mut(CHUNK).zip(stats.par_iter_mut()).enumerate().for_each(body);
        } else {
            work.chunks_mut(CHUNK).zip(stats.iter_mut()).enumerate().for_each(body);
        }
        combine_chunks(stats)
    }

    /// `argmax_j s_j` (the first maximiser) and the maximal score, by a full scan.
    pub fn argmax(
        &self,
        x: &[f64],
        g: &[f64],
        work: &mut [f64],
        stats: &mut [(f64, f64)],
        parallel: bool,
    ) -> (usize, f64) {
        let body = |(c, (piece, st)): (usize, (&mut [f64], &mut (f64, f64)))| {
            st.0 = self.scores(x, g, c * CHUNK, None, piece);
        };
        if parallel {
            work.par_chunks_mut(CHUNK).zip(stats.par_iter_mut()).enumerate().for_each(body);
        } else {
            work.chunks_mut(CHUNK).zip(stats.iter_mut()).enumerate().for_each(body);
        }
        let (mut best_c, mut best) = (0, f64::NEG_INFINITY);
        for (c, st) in stats.iter().enumerate() {
            if st.0 > best {
                (best_c, best) = (c, st.0);
            }
        }
        let (lo, hi) = chunk_range(self.m, best_c);
        let j = work[lo..hi].iter().position(|&v| v == best).map_or(lo, |p| lo + p);
        (j, best)
    }
}

/// `(m, S)` from chunk pieces `(m_c, S_c)`: `m = max m_c`, `S = sum_c S_c exp(m_c - m)`.
pub(crate) fn combine_chunks(stats: &[(f64, f64)]) -> (f64, f64) {
    let m = stats.iter().fold(f64::NEG_INFINITY, |a, s| a.max(s.0));
    let s = stats.iter().map(|&(mc, sc)| sc * exp_nonpos(mc - m)).sum();
    (m, s)
}
