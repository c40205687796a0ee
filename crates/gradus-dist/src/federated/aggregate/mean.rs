//! The mean and weighted sums of client vectors, split over fixed column pieces.
//!
//! Each piece of [`CHUNK`] columns is accumulated four client rows at a time
//! (`o += w0 x0 + w1 x1 + w2 x2 + w3 x3` with fused multiply-adds), so the output piece is
//! read and written once per four rows and every client vector is read from memory once.
//! Pieces are fixed whatever the thread count: results are bit-identical under `Par::Seq`
//! and any rayon pool.

use gradus_core::{Error, Par, Result, validate};
use gradus_kernels::SimdFloat;
use gradus_kernels::chunk::CHUNK;
use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use crate::federated::Updates;

/// `o += sum_k w[k] x[k]` over up to four rows, and whether every entry read was finite.
struct Rows4<'a> {
    o: &'a mut [f64],
    x: [&'a [f64]; 4],
    w: [f64; 4],
    k: usize,
}

impl WithSimd for Rows4<'_> {
    type Output = bool;
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) -> bool {
        let Rows4 { o, x, w, k } = self;
        let (oh, ot) = f64::as_simd_mut::<S>(o);
        // Fixed arrays: this runs once per piece and group of four rows, so no allocation.
        let empty: (&[S::f64s], &[f64]) = (&[], &[]);
        let mut xs = [empty; 4];
        let mut wv = [f64::splat(s, 0.0); 4];
        for j in 0..k {
            xs[j] = f64::as_simd::<S>(x[j]);
            wv[j] = f64::splat(s, w[j]);
        }
        let (xs, wv) = (&xs[..k], &wv[..k]);
        let mut poison = f64::splat(s, 0.0);
        for (i, ov) in oh.iter_mut().enumerate() {
            let mut acc = *ov;
            for (r, c) in xs.iter().zip(wv) {
                let v = r.0[i];
                acc = f64::vfma(s, *c, v, acc);
                // v - v is 0 for finite v and NaN otherwise; NaN sticks.
                poison = f64::vadd(s, poison, f64::vsub(s, v, v));
            }
            *ov = acc;
        }
        let mut bad = f64::vsum(s, poison);
        for (i, ov) in ot.iter_mut().enumerate() {
            for (r, &c) in xs.iter().zip(&w[..k]) {
                let v = r.1[i];
                *ov = c.mul_add(v, *ov);
                #[allow(clippy::eq_op)]
                let p = v - v;
                bad += p;
            }
        }
        bad == 0.0
    }
}

/// Accumulates the piece `[lo, lo + o.len())` of `sum_k weights[k] x_{rows[k]}` into `o`;
/// returns the rows (of `rows`) with a non-finite entry in the piece.
fn piece(u: Updates<'_>, rows: &[usize], weights: &[f64], lo: usize, o: &mut [f64]) -> Vec<usize> {
    let arch = pulp::Arch::new();
    let hi = lo + o.len();
    let mut bad = Vec::new();
    for (g, (rs, ws)) in rows.chunks(4).zip(weights.chunks(4)).enumerate() {
        let k = rs.len().min(ws.len());
        let mut x: [&[f64]; 4] = [&[]; 4];
        let mut w = [0.0; 4];
        for j in 0..k {
            x[j] = &u.row(rs[j])[lo..hi];
            w[j] = ws[j];
        }
        if !arch.dispatch(Rows4 { o: &mut *o, x, w, k }) {
            // Rare path: find which of the four rows holds the non-finite entry.
            for (j, xj) in x.iter().enumerate().take(k) {
                if !gradus_kernels::grad_stats(Par::Seq, xj).all_finite {
                    bad.push(4 * g + j);
                }
            }
        }
    }
    bad
}

/// `sum_k weights[k] x_{rows[k]}` and the positions `k` (ascending) whose row holds a
/// non-finite entry (the sum is then meaningless).
fn weighted_sum_checked(
    u: Updates<'_>,
    rows: &[usize],
    weights: &[f64],
    par: Par,
) -> (Vec<f64>, Vec<usize>) {
    let mut out = vec![0.0; u.d()];
    let run = |(p, o): (usize, &mut [f64])| piece(u, rows, weights, p * CHUNK, o);
    let bad: Vec<Vec<usize>> = if par.is_parallel() {
        out.par_chunks_mut(CHUNK).enumerate().map(run).collect()
    } else {
        out.chunks_mut(CHUNK).enumerate().map(run).collect()
    };
    let mut bad: Vec<usize> = bad.into_iter().flatten().collect();
    bad.sort_unstable();
    bad.dedup();
    (out, bad)
}

/// `sum_k weights[k] * x_{rows[k]}`, accumulated per column piece in the order of `rows`.
///
/// Errors if `rows` and `weights` differ in length, a row index is not below `u.n()`, or a
/// weight is not finite. Non-finite entries of the rows propagate into the result.
pub fn weighted_sum(u: Updates<'_>, rows: &[usize], weights: &[f64], par: Par) -> Result<Vec<f64>> {
    validate::same_len("weights (one per row)", rows.len(), weights.len())?;
    if let Some(&bad) = rows.iter().find(|&&r| r >= u.n()) {
        return Err(Error::InvalidShape {
            what: "rows of a weighted sum",
            detail: format!("row {bad} is not below n = {}", u.n()),
        });
    }
    validate::all_finite("weights", weights)?;
    Ok(weighted_sum_rows(u, rows, weights, par))
}

/// [`weighted_sum`] for callers that guarantee its preconditions (equal lengths, rows in
/// range).
pub(crate) fn weighted_sum_rows(
    u: Updates<'_>,
    rows: &[usize],
    weights: &[f64],
    par: Par,
) -> Vec<f64> {
    debug_assert!(rows.len() == weights.len() && rows.iter().all(|&r| r < u.n()));
    weighted_sum_checked(u, rows, weights, par).0
}

/// `(1/m) sum_{i in kept} x_i`, or the positions in `kept` of the clients with a non-finite
/// entry (found in the same single pass over memory).
pub(crate) fn mean_or_bad(
    u: Updates<'_>,
    kept: &[usize],
    par: Par,
) -> Result<Vec<f64>, Vec<usize>> {
    let w = vec![1.0 / kept.len() as f64; kept.len()];
    let (v, bad) = weighted_sum_checked(u, kept, &w, par);
    if bad.is_empty() { Ok(v) } else { Err(bad) }
}
