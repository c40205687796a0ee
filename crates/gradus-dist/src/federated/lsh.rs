//! LSHGM: random-hyperplane (sign) hashing of gradients, layer by layer (paper 05 §2).
//!
//! A layer block is viewed as a matrix `G` (`n x c`): a [`Shape::Matrix`] block as stored
//! (`rows x cols`, the PyTorch `out x in` layout), a vector block of length `n` as one column
//! (`n x 1`). With `r` fixed hyperplanes `v_1..v_r ~ N(0, I_n)`, shared by every party and
//! drawn once per row length `n` from `rng::stream(seed, n)`, the layer's code is the
//! `r * c` bits
//!
//! ```text
//! b_{k,j} = 1[(G^T v_k)_j > 0]      (strict: exact zeros give 0)
//! ```
//!
//! computed as one matrix product `V^T G` per layer. Codes are packed into `u64` words,
//! layer after layer (within a layer, hyperplane-major), and compared by popcount Hamming
//! distance over all layers. For one column pair `(g, g')` a bit differs with probability
//! `angle(g, g') / pi`, and a sign code ignores any positive scaling of `G`.

use faer::{Accum, Mat, MatRef};
use gradus_core::{Error, Layout, Par, Result, Shape, rng, validate};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::Updates;

/// A packed bit code (`bits` valid bits, the rest of the last word zero).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LshCode {
    words: Vec<u64>,
    bits: usize,
}

impl LshCode {
    /// An all-zero code of `bits` bits.
    pub fn zeros(bits: usize) -> Self {
        LshCode { words: vec![0; bits.div_ceil(64)], bits }
    }

    /// Number of bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Bytes needed on the wire: `ceil(bits / 8)`.
    pub fn bytes(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// The packed words (bit `i` is bit `i % 64` of word `i / 64`).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Bit `i` (false past the end).
    pub fn bit(&self, i: usize) -> bool {
        i < self.bits && (self.words[i / 64] >> (i % 64)) & 1 == 1
    }
}

/// Hamming distance `d_H(a, b)`: the number of differing bits (paper 05 §2.4). Errors if
/// the codes have different lengths.
pub fn hamming(a: &LshCode, b: &LshCode) -> Result<usize> {
    validate::same_len("LSH code bits", a.bits, b.bits)?;
    Ok(a.words.iter().zip(&b.words).map(|(x, y)| (x ^ y).count_ones() as usize).sum())
}

#[derive(Debug, Clone)]
struct LayerPlan {
    offset: usize,
    rows: usize,
    cols: usize,
    /// Index into `LshHasher::planes`.
    planes: usize,
    bit_offset: usize,
}

/// Hashes parameter-shaped vectors with `r` hyperplanes per layer row length.
#[derive(Debug, Clone)]
pub struct LshHasher {
    r: usize,
    dim: usize,
    bits: usize,
    layers: Vec<LayerPlan>,
    /// `(n, V)`: `V` is `n x r` column-major (hyperplane `k` is `V[k n .. (k + 1) n]`).
    planes: Vec<(usize, Vec<f64>)>,
}

impl LshHasher {
    /// A hasher for vectors laid out as `layout`, with `r >= 1` hyperplanes per layer and
    /// hyperplanes drawn from `seed` (the same seed gives every party the same planes).
    pub fn new(layout: &Layout, r: usize, seed: u64) -> Result<Self> {
        if r == 0 {
            return Err(Error::hyper("r", 0.0, "need at least one hyperplane"));
        }
        if layout.is_empty() {
            return Err(Error::InvalidShape { what: "layout", detail: "no parameters".into() });
        }
        let too_many = || Error::hyper("r", r as f64, "too many hyperplanes for this layout");
        let mut planes: Vec<(usize, Vec<f64>)> = Vec::new();
        let mut layers = Vec::new();
        let mut bits: usize = 0;
        for b in layout.blocks() {
            let (rows, cols) = match b.shape {
                Shape::Vector { len } => (len, 1),
                Shape::Matrix { rows, cols } => (rows, cols),
            };
            let layer_bits = r.checked_mul(cols).ok_or_else(too_many)?;
            let idx = match planes.iter().position(|(n, _)| *n == rows) {
                Some(i) => i,
                None => {
                    // `r` is caller-controlled: check the size and ask for the memory before
                    // drawing, so a huge `r` is an error rather than an abort.
                    let len = rows.checked_mul(r).ok_or_else(too_many)?;
                    let mut v = Vec::new();
                    v.try_reserve_exact(len).map_err(|_| too_many())?;
                    let mut g = rng::stream(seed, rows as u64);
                    v.extend((0..len).map(|_| -> f64 { StandardNormal.sample(&mut g) }));
                    planes.push((rows, v));
                    planes.len() - 1
                }
            };
            layers.push(LayerPlan { offset: b.offset, rows, cols, planes: idx, bit_offset: bits });
            bits = bits.checked_add(layer_bits).ok_or_else(too_many)?;
        }
        Ok(LshHasher { r, dim: layout.len(), bits, layers, planes })
    }

    /// A hasher for flat vectors of length `d` (one layer, one column: `r` bits in all).
    pub fn flat(d: usize, r: usize, seed: u64) -> Result<Self> {
        Self::new(&Layout::flat(d)?, r, seed)
    }

    /// The hyperplanes for row length `n` (`n x r`, column-major: plane `k` is
    /// `[k n .. (k + 1) n]`), if a layer has that row length.
    pub fn planes(&self, n: usize) -> Option<&[f64]> {
        self.planes.iter().find(|(m, _)| *m == n).map(|(_, v)| v.as_slice())
    }

    /// Hyperplanes per layer.
    pub fn r(&self) -> usize {
        self.r
    }

    /// Length of the vectors hashed.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Bits per code: `r * sum_layers c_l`.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Bytes of one code on the wire.
    pub fn code_bytes(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// Bytes of the full vector sent as float32 (the paper's baseline).
    pub fn full_bytes_f32(&self) -> usize {
        4 * self.dim
    }

    /// The code of `v`. Errors if `v` has the wrong length or a non-finite entry.
    pub fn hash(&self, v: &[f64]) -> Result<LshCode> {
        let mut code = LshCode::zeros(self.bits);
        self.hash_into(v, &mut code)?;
        Ok(code)
    }

    /// Writes the code of `v` into `code` (which must have [`LshHasher::bits`] bits). On
    /// error `code` is unspecified.
    ///
    /// A finite `v` whose projections overflow (entries near `f64::MAX`) is hashed as its
    /// layer scaled by an exact power of two that brings the largest entry into `[1/2, 1)`:
    /// scaling by a power of two scales every product and partial sum exactly, so the signs,
    /// and the code, are those of `v` (paper 05: a sign code ignores positive scaling).
    pub fn hash_into(&self, v: &[f64], code: &mut LshCode) -> Result<()> {
        validate::same_len("vector to hash", self.dim, v.len())?;
        validate::same_len("LSH code bits", self.bits, code.bits)?;
        code.words.iter_mut().for_each(|w| *w = 0);
        let mut proj = Vec::new();
        let mut scaled = Vec::new();
        for l in &self.layers {
            let g = &v[l.offset..l.offset + l.rows * l.cols];
            self.project(l, g, &mut proj)?;
            if proj.iter().any(|p| !p.is_finite()) {
                // Non-finite input is an error; a finite one overflowed and is rescaled.
                validate::all_finite("vector to hash", v)?;
                let max = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                scaled.clear();
                scaled.extend_from_slice(g);
                scale_by_pow2(&mut scaled, -(exponent(max) + 1));
                self.project(l, &scaled, &mut proj)?;
            }
            for (idx, &p) in proj.iter().enumerate() {
                if p > 0.0 {
                    let bit = l.bit_offset + idx;
                    code.words[bit / 64] |= 1 << (bit % 64);
                }
            }
        }
        Ok(())
    }

    /// The projections `(G^T v_k)_j` of layer `l` into `out`, hyperplane-major (entry
    /// `k * cols + j`).
    fn project(&self, l: &LayerPlan, g: &[f64], out: &mut Vec<f64>) -> Result<()> {
        let planes = &self.planes[l.planes].1;
        out.clear();
        if l.cols == 1 {
            for k in 0..self.r {
                out.push(gradus_kernels::dot(Par::Seq, &planes[k * l.rows..(k + 1) * l.rows], g)?);
            }
        } else {
            let vt = MatRef::from_column_major_slice(planes.as_slice(), l.rows, self.r);
            let gm = MatRef::from_row_major_slice(g, l.rows, l.cols);
            let mut proj = Mat::<f64>::zeros(self.r, l.cols);
            faer::linalg::matmul::matmul(
                proj.as_mut(),
                Accum::Replace,
                vt.transpose(),
                gm,
                1.0,
                faer::Par::Seq,
            );
            for k in 0..self.r {
                out.extend((0..l.cols).map(|j| proj[(k, j)]));
            }
        }
        Ok(())
    }

    /// Codes of every row of `u` (rows hashed in parallel under `Par::Rayon`; each code is
    /// computed the same way whatever the thread count).
    ///
    /// Errors name the first failing row in index order, whatever the thread count: a
    /// non-finite row is [`Error::NonFinite`] with the row as index.
    pub fn hash_rows(&self, u: Updates<'_>, par: Par) -> Result<Vec<LshCode>> {
        let one = |i: usize| {
            self.hash(u.row(i)).map_err(|e| match e {
                Error::NonFinite { .. } => {
                    Error::NonFinite { what: "client vector to hash (index is the row)", index: i }
                }
                e => e,
            })
        };
        let codes: Vec<Result<LshCode>> = if par.is_parallel() {
            (0..u.n()).into_par_iter().map(one).collect()
        } else {
            (0..u.n()).map(one).collect()
        };
        codes.into_iter().collect()
    }
}

/// The binary exponent `e` of a positive finite `x`: `2^e <= x < 2^(e + 1)` (subnormals
/// report the smallest normal exponent, which only makes the rescaling below milder).
fn exponent(x: f64) -> i32 {
    ((x.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

/// `v *= 2^e`, exact for results in the normal range; applied as two factors so that each
/// stays a normal number for every `e` in `[-2046, 2046]`.
fn scale_by_pow2(v: &mut [f64], e: i32) {
    let pow2 = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    let (a, b) = (e / 2, e - e / 2);
    v.iter_mut().for_each(|x| *x = *x * pow2(a) * pow2(b));
}
