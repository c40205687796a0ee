//! The RBF kernel `k(a, b) = exp(-|a - b|^2 / (2 h^2))` between particles: the median
//! bandwidth rule and the `n^2` weighted kernel sums, computed in blocks of rows with
//! matrix products (faer) and a vectorised `exp`, parallel over blocks.

use faer::{Accum, MatMut, MatRef};
use gradus_core::{Error, Par, Result};
use pulp::Simd;
use rayon::prelude::*;

use crate::vectorized::{self, Kernel, exp_nonpos};

/// Rows per block of the kernel sums (fixed: results do not depend on the thread count).
const ROWS: usize = 64;
/// The median rule looks at the pairwise distances of at most this many particles.
pub const MEDIAN_SUBSAMPLE: usize = 1024;
/// Dimension from which the Gram term `<y_i, y_j>` goes through a matrix product.
const GEMM_DIM: usize = 8;

/// The kernel bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bandwidth {
    /// `h^2 = med / ln n` with `med` the median squared distance over all ordered pairs,
    /// zero diagonal included (the GFS-DRO code's rule, `n >= 2`), plus `1e-8`. Beyond
    /// [`MEDIAN_SUBSAMPLE`] particles the median is taken over an evenly strided subset.
    Median,
    /// A fixed `h > 0`.
    Fixed(f64),
}

impl Bandwidth {
    /// `h^2` for the particles `pos` (row-major, `dim` columns).
    pub fn squared(&self, pos: &[f64], dim: usize) -> Result<f64> {
        self.squared_in(pos, dim, &mut KernelWork::default())
    }

    /// [`Self::squared`] with reusable scratch (no heap allocation once `work` has grown).
    pub fn squared_in(&self, pos: &[f64], dim: usize, work: &mut KernelWork) -> Result<f64> {
        match *self {
            Bandwidth::Fixed(h) => {
                gradus_core::validate::positive("bandwidth", h)?;
                Ok(h * h)
            }
            Bandwidth::Median => {
                let n = pos.len() / dim.max(1);
                if n < 2 {
                    return Err(Error::InvalidShape {
                        what: "median bandwidth",
                        detail: "needs at least 2 particles".into(),
                    });
                }
                Ok(median_in(pos, dim, work) / (n as f64).ln() + 1e-8)
            }
        }
    }
}

/// One parallel slot's work: its index, its runs of sums and products, its block buffer.
type SlotRun<'a> = (usize, ((&'a mut [f64], &'a mut [f64]), &'a mut Vec<f64>));

/// The lower median of `|y_i - y_j|^2` over all `n^2` ordered pairs (diagonal zeros
/// included), over the particles `i * n / 1024` when `n > 1024`.
pub fn median_sq_distance(pos: &[f64], dim: usize) -> f64 {
    median_in(pos, dim, &mut KernelWork::default())
}

/// Reusable scratch of the kernel routines: after the first call with a given particle count
/// (and thread count), [`rbf_weighted_sums_in`] and [`Bandwidth::squared_in`] allocate nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelWork {
    cols: Vec<f64>,
    upper: Vec<f64>,
    sq: Vec<f64>,
    /// One distance/kernel block buffer per parallel slot.
    blocks: Vec<Vec<f64>>,
    unused: Vec<f64>,
}

fn median_in(pos: &[f64], dim: usize, work: &mut KernelWork) -> f64 {
    let n_all = pos.len() / dim.max(1);
    let n = n_all.min(MEDIAN_SUBSAMPLE);
    if n < 2 {
        return 0.0;
    }
    // Coordinate-major copy of the subsample, so each row of distances is a vector loop.
    let cols = &mut work.cols;
    cols.clear();
    cols.resize(dim * n, 0.0);
    for a in 0..n {
        let src = a * n_all / n;
        for k in 0..dim {
            cols[k * n + a] = pos[src * dim + k];
        }
    }
    let upper = &mut work.upper;
    upper.clear();
    for a in 0..n - 1 {
        let start = upper.len();
        upper.resize(start + n - 1 - a, 0.0);
        vectorized::run(RowDistances {
            cols: &cols[..],
            n,
            row: a,
            first: a + 1,
            out: &mut upper[start..],
        });
    }
    // Sorted ordered pairs: n zeros, then every upper-triangle value twice.
    let rank = (n * n - 1) / 2;
    if rank < n {
        return 0.0;
    }
    let k = (rank - n) / 2;
    let (_, v, _) = upper.select_nth_unstable_by(k, f64::total_cmp);
    *v
}

/// `out[j - first] = |y_row - y_j|^2` for `j` in `first..first + out.len()`, from
/// coordinate-major `cols` (`cols[k * n + j]`).
struct RowDistances<'a> {
    cols: &'a [f64],
    n: usize,
    row: usize,
    first: usize,
    out: &'a mut [f64],
}

impl Kernel for RowDistances<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self, _simd: S) {
        let len = self.out.len();
        self.out.fill(0.0);
        for col in self.cols.chunks_exact(self.n) {
            let yi = col[self.row];
            for (o, yj) in self.out.iter_mut().zip(&col[self.first..self.first + len]) {
                let diff = yi - yj;
                *o = diff.mul_add(diff, *o);
            }
        }
    }
}

struct KernelRows<'a> {
    /// Squared distances on input, `w_j k_ij` on output.
    block: &'a mut [f64],
    n: usize,
    w: &'a [f64],
    inv_two_h2: f64,
    sums: &'a mut [f64],
}

impl Kernel for KernelRows<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self, _simd: S) {
        for (row, s) in self.block.chunks_exact_mut(self.n).zip(self.sums.iter_mut()) {
            for (v, w) in row.iter_mut().zip(self.w) {
                // Rounding in |a|^2 + |b|^2 - 2<a,b> can go slightly negative.
                let d2 = if *v > 0.0 { *v } else { 0.0 };
                *v = w * exp_nonpos(-d2 * self.inv_two_h2);
            }
            *s = vectorized::sum_lanes(row);
        }
    }
}

/// For every particle `i`: `sums[i] = sum_j w_j k(y_i, y_j)` and, when `p > 0`,
/// `out[i, :] = sum_j w_j k(y_i, y_j) v[j, :]` (`v` and `out` row-major `n x p`), with the
/// RBF kernel of bandwidth `h^2 = h2`. O(n^2 (d + p)) work, O(64 n) memory per thread.
/// Up to 64 particles the sums are direct loops and allocate nothing once `work` has grown;
/// beyond, the Gram and product terms are faer products, whose packing buffers are
/// allocated inside faer on every call.
#[allow(clippy::too_many_arguments)]
pub fn rbf_weighted_sums(
    pos: &[f64],
    dim: usize,
    w: &[f64],
    h2: f64,
    v: &[f64],
    p: usize,
    sums: &mut [f64],
    out: &mut [f64],
    par: Par,
) -> Result<()> {
    rbf_weighted_sums_in(pos, dim, w, h2, v, p, sums, out, par, &mut KernelWork::default())
}

/// [`rbf_weighted_sums`] with reusable scratch. Row blocks are split into contiguous runs,
/// one per parallel slot (at most the pool's thread count), each with its own block buffer,
/// so the scratch does not grow with the number of blocks and the result does not depend on
/// the thread count.
#[allow(clippy::too_many_arguments)]
pub fn rbf_weighted_sums_in(
    pos: &[f64],
    dim: usize,
    w: &[f64],
    h2: f64,
    v: &[f64],
    p: usize,
    sums: &mut [f64],
    out: &mut [f64],
    par: Par,
    work: &mut KernelWork,
) -> Result<()> {
    let n = w.len();
    if dim == 0 || n == 0 {
        return Err(Error::InvalidShape { what: "kernel sums", detail: "no particles".into() });
    }
    gradus_core::validate::same_len("particle positions", n * dim, pos.len())?;
    gradus_core::validate::same_len("kernel values v", n * p, v.len())?;
    gradus_core::validate::same_len("kernel sums", n, sums.len())?;
    gradus_core::validate::same_len("kernel products", n * p, out.len())?;
    gradus_core::validate::positive("h^2", h2)?;
    let KernelWork { cols, sq, blocks, unused, .. } = work;
    sq.clear();
    sq.extend(pos.chunks_exact(dim).map(|y| y.iter().map(|a| a * a).sum::<f64>()));
    let sq = &sq[..];
    // Coordinate-major positions for the direct (small-d) distance rows.
    // A single block of rows (`n <= 64`, e.g. the few particles per point of the DRO
    // samplers) goes through direct loops, not faer: its products would allocate packing
    // buffers on every call, and at this size the loops are as fast.
    let direct = n <= ROWS;
    cols.clear();
    if dim < GEMM_DIM || direct {
        cols.resize(dim * n, 0.0);
        for (j, y) in pos.chunks_exact(dim).enumerate() {
            for (k, v) in y.iter().enumerate() {
                cols[k * n + j] = *v;
            }
        }
    }
    let inv_two_h2 = 0.5 / h2;
    let cols = &cols[..];
    let body = |buf: &mut Vec<f64>, (b, (s, o)): (usize, (&mut [f64], &mut [f64]))| {
        let r0 = b * ROWS;
        let rows = s.len();
        buf.clear();
        buf.resize(rows * n, 0.0);
        if dim >= GEMM_DIM && !direct {
            let lhs = MatRef::from_row_major_slice(&pos[r0 * dim..(r0 + rows) * dim], rows, dim);
            let rhs = MatRef::from_row_major_slice(pos, n, dim).transpose();
            let dst = MatMut::from_row_major_slice_mut(&mut buf[..], rows, n);
            faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, -2.0, faer::Par::Seq);
            for (r, row) in buf.chunks_exact_mut(n).enumerate() {
                let si = sq[r0 + r];
                for (v, sj) in row.iter_mut().zip(sq) {
                    *v += si + sj;
                }
            }
        } else {
            for (r, row) in buf.chunks_exact_mut(n).enumerate() {
                vectorized::run(RowDistances { cols, n, row: r0 + r, first: 0, out: row });
            }
        }
        vectorized::run(KernelRows { block: &mut buf[..], n, w, inv_two_h2, sums: s });
        if p > 0 && direct {
            for (orow, krow) in o.chunks_exact_mut(p).zip(buf.chunks_exact(n)) {
                orow.fill(0.0);
                for (kij, vrow) in krow.iter().zip(v.chunks_exact(p)) {
                    for (oc, vc) in orow.iter_mut().zip(vrow) {
                        *oc = kij.mul_add(*vc, *oc);
                    }
                }
            }
        } else if p > 0 {
            let lhs = MatRef::from_row_major_slice(&buf[..], rows, n);
            let rhs = MatRef::from_row_major_slice(v, n, p);
            let dst = MatMut::from_row_major_slice_mut(o, rows, p);
            faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, 1.0, faer::Par::Seq);
        }
    };
    // With p = 0 there are no products: pair each row block with one unused slot instead.
    let blocks_n = n.div_ceil(ROWS);
    let (out_buf, out_rows): (&mut [f64], usize) = if p > 0 {
        (out, ROWS * p)
    } else {
        unused.resize(blocks_n, 0.0);
        (&mut unused[..], 1)
    };
    let slots = if par.is_parallel() { rayon::current_num_threads().clamp(1, blocks_n) } else { 1 };
    if blocks.len() < slots {
        blocks.resize_with(slots, Vec::new);
    }
    // Slot `s` takes the contiguous run of `per` blocks starting at block `s * per`.
    let per = blocks_n.div_ceil(slots);
    let run = |(s, ((sums, outs), buf)): SlotRun<'_>| {
        for (k, item) in sums.chunks_mut(ROWS).zip(outs.chunks_mut(out_rows)).enumerate() {
            body(buf, (s * per + k, item));
        }
    };
    if slots > 1 {
        sums.par_chunks_mut(per * ROWS)
            .zip(out_buf.par_chunks_mut(per * out_rows))
            .zip(blocks.par_iter_mut())
            .enumerate()
            .for_each(run);
    } else {
        run((0, ((sums, out_buf), &mut blocks[0])));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradus_core::rng;
    use rand::Rng as _;

    fn naive(
        pos: &[f64],
        d: usize,
        w: &[f64],
        h2: f64,
        v: &[f64],
        p: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let n = w.len();
        let (mut s, mut o) = (vec![0.0; n], vec![0.0; n * p]);
        for i in 0..n {
            for j in 0..n {
                let d2: f64 = (0..d).map(|k| (pos[i * d + k] - pos[j * d + k]).powi(2)).sum();
                let k = w[j] * (-d2 / (2.0 * h2)).exp();
                s[i] += k;
                for c in 0..p {
                    o[i * p + c] += k * v[j * p + c];
                }
            }
        }
        (s, o)
    }

    #[test]
    fn blocked_sums_match_the_double_loop_and_threads_agree() {
        let mut r = rng::seeded(9);
        for &(n, d, p) in &[(1usize, 2usize, 3usize), (70, 2, 4), (150, 12, 5), (130, 3, 0)] {
            let pos: Vec<f64> = (0..n * d).map(|_| r.random::<f64>() * 2.0).collect();
            let w: Vec<f64> = (0..n).map(|_| r.random::<f64>()).collect();
            let v: Vec<f64> = (0..n * p).map(|_| r.random::<f64>() - 0.5).collect();
            let h2 = 0.7;
            let (es, eo) = naive(&pos, d, &w, h2, &v, p);
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    let (mut s, mut o) = (vec![0.0; n], vec![0.0; n * p]);
                    rbf_weighted_sums(&pos, d, &w, h2, &v, p, &mut s, &mut o, Par::Rayon).unwrap();
                    (s, o)
                })
            };
            let (s1, o1) = run(1);
            let (s3, o3) = run(3);
            assert_eq!((&s1, &o1), (&s3, &o3));
            for (a, b) in s1.iter().zip(&es).chain(o1.iter().zip(&eo)) {
                assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "n={n} d={d}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn median_of_ordered_pairs() {
        // Points 0, 1, 3 on a line: ordered-pair distances {0,0,0,1,1,4,4,9,9}; median 1.
        assert_eq!(median_sq_distance(&[0.0, 1.0, 3.0], 1), 1.0);
        // Two points: {0, 0, 4, 4}, lower median 0.
        assert_eq!(median_sq_distance(&[0.0, 2.0], 1), 0.0);
        assert!(Bandwidth::Median.squared(&[1.0], 1).is_err());
        assert!(Bandwidth::Fixed(-1.0).squared(&[1.0, 2.0], 1).is_err());
    }
}
