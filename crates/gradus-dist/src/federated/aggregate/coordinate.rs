//! Coordinate-wise rules: median and trimmed mean.
//!
//! Columns are processed in tiles held in a small buffer. The median transposes a tile of
//! [`TILE`] columns and selects the middle of each column. The trimmed mean copies a tile of
//! [`SORT_TILE`] columns (one client per buffer row) and sorts every column at once with a
//! Batcher odd-even merge network whose compare-exchanges are SIMD `min` / `max` across the
//! tile's columns, then sums each column's middle in sorted order. Both rules therefore
//! return exactly the same bits for any order of the clients. (Signed zeros compare equal,
//! so the network may place `-0` and `+0` either way, or duplicate one over the other; the
//! sums start at `+0`, where `+0 + -0 = +0`, so this never shows in the output.)

use gradus_core::Par;
use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use crate::federated::Updates;

/// Columns per tile: `m * TILE` doubles (200 KB at m = 100) stay in L2.
const TILE: usize = 256;

fn by_tiles(
    u: Updates<'_>,
    kept: &[usize],
    par: Par,
    col: impl Fn(&mut [f64]) -> f64 + Sync,
) -> Vec<f64> {
    let m = kept.len();
    let mut out = vec![0.0; u.d()];
    let tile = |buf: &mut Vec<f64>, (t, o): (usize, &mut [f64])| {
        let lo = t * TILE;
        let w = o.len();
        buf.resize(m * w, 0.0);
        for (i, &r) in kept.iter().enumerate() {
            for (j, &x) in u.row(r)[lo..lo + w].iter().enumerate() {
                buf[j * m + i] = x;
            }
        }
        for (j, oj) in o.iter_mut().enumerate() {
            *oj = col(&mut buf[j * m..(j + 1) * m]);
        }
    };
    if par.is_parallel() {
        out.par_chunks_mut(TILE).enumerate().for_each_init(Vec::new, tile);
    } else {
        let mut buf = Vec::new();
        out.chunks_mut(TILE).enumerate().for_each(|x| tile(&mut buf, x));
    }
    out
}

/// Median of `v` (non-empty, finite): the middle value, or the mean of the two middle
/// values for an even length.
pub(crate) fn median_of(v: &mut [f64]) -> f64 {
    let m = v.len();
    let (lower, hi, _) = v.select_nth_unstable_by(m / 2, f64::total_cmp);
    let hi = *hi;
    if m % 2 == 1 {
        hi
    } else {
        let lo = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lo + hi)
    }
}

/// Coordinate-wise median of the kept rows.
pub(crate) fn median(u: Updates<'_>, kept: &[usize], par: Par) -> Vec<f64> {
    by_tiles(u, kept, par, median_of)
}

/// Columns per tile of the sorting network: `m * SORT_TILE` doubles (100 KB at m = 100).
const SORT_TILE: usize = 128;

/// Compare-exchange pairs `(a, b)`, `a < b < m`, of Batcher's odd-even merge sort for `m`
/// keys (the network for the next power of two, minus the comparators that touch the
/// padding, which would hold `+inf` and never move).
pub(crate) fn batcher_pairs(m: usize) -> Vec<(usize, usize)> {
    let n = m.next_power_of_two();
    let mut pairs = Vec::new();
    let mut p = 1;
    while p < n {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < n {
                for i in 0..k.min(n - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) && i + j + k < m {
                        pairs.push((i + j, i + j + k));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    pairs
}

/// Sorts every column of the row-major `rows x w` tile `buf` with the network `pairs`.
struct SortColumns<'a> {
    buf: &'a mut [f64],
    w: usize,
    pairs: &'a [(usize, usize)],
}

impl WithSimd for SortColumns<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let w = self.w;
        for &(a, b) in self.pairs {
            let (left, right) = self.buf.split_at_mut(b * w);
            let ra = &mut left[a * w..(a + 1) * w];
            let rb = &mut right[..w];
            let (ha, ta) = S::as_mut_simd_f64s(ra);
            let (hb, tb) = S::as_mut_simd_f64s(rb);
            for (x, y) in ha.iter_mut().zip(hb.iter_mut()) {
                let (lo, hi) = (s.min_f64s(*x, *y), s.max_f64s(*x, *y));
                *x = lo;
                *y = hi;
            }
            for (x, y) in ta.iter_mut().zip(tb.iter_mut()) {
                let (lo, hi) = if *y < *x { (*y, *x) } else { (*x, *y) };
                *x = lo;
                *y = hi;
            }
        }
    }
}

/// Coordinate-wise trimmed mean: sort each column, average entries `b .. m - b`. The caller
/// has checked `2b < m`.
pub(crate) fn trimmed_mean(u: Updates<'_>, kept: &[usize], b: usize, par: Par) -> Vec<f64> {
    let m = kept.len();
    debug_assert!(b < m.div_ceil(2));
    let inv = 1.0 / (m - b - b) as f64;
    let pairs = batcher_pairs(m);
    let arch = pulp::Arch::new();
    let mut out = vec![0.0; u.d()];
    let tile = |buf: &mut Vec<f64>, (t, o): (usize, &mut [f64])| {
        let lo = t * SORT_TILE;
        let w = o.len();
        buf.clear();
        for &r in kept {
            buf.extend_from_slice(&u.row(r)[lo..lo + w]);
        }
        arch.dispatch(SortColumns { buf, w, pairs: &pairs });
        // The sums start at +0, so a column whose middle is all zeros gives +0 whatever the
        // signs of those zeros (which the SIMD min / max may order either way).
        o.iter_mut().for_each(|x| *x = 0.0);
        for row in buf[b * w..(m - b) * w].chunks_exact(w) {
            for (x, v) in o.iter_mut().zip(row) {
                *x += v;
            }
        }
        o.iter_mut().for_each(|x| *x *= inv);
    };
    if par.is_parallel() {
        out.par_chunks_mut(SORT_TILE).enumerate().for_each_init(Vec::new, tile);
    } else {
        let mut buf = Vec::new();
        out.chunks_mut(SORT_TILE).enumerate().for_each(|x| tile(&mut buf, x));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::batcher_pairs;

    #[test]
    fn batcher_network_sorts_every_size() {
        let mut state = 0x1234_5678_u64;
        for m in 1..=130 {
            let pairs = batcher_pairs(m);
            for _ in 0..20 {
                let mut v: Vec<f64> = (0..m)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((state >> 33) % 50) as f64 - 25.0
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_by(f64::total_cmp);
                for &(a, b) in &pairs {
                    if v[b] < v[a] {
                        v.swap(a, b);
                    }
                }
                assert_eq!(v, want, "m = {m}");
            }
        }
    }
}
