//! Top-k sparsification in `O(d)` with a deterministic tie-break.
//!
//! `C(v)` keeps the `k` entries of largest magnitude and zeroes the rest; among equal
//! magnitudes the lower index wins, so the selected set is a function of `v` alone.
//! `||C(v) - v||^2 <= (1 - k/d) ||v||^2` for every `v` (the dropped entries are the `d - k`
//! smallest, whose mean square is at most the overall mean square), so top-k is contractive
//! with `eps = 1 - k/d` (paper 06, "Examples").
//!
//! Selection works on integer magnitude keys ([`WireScalar::magnitude_key`]):
//! 1. A strided sample of 4096 keys estimates a threshold a little below the k-th largest
//!    key; one pass zeroes the output and collects the entries at or above it. When that
//!    yields between `k` and the candidate capacity, an exact selection among the candidates
//!    finishes the job (the usual case: one read and one write of `d` values).
//! 2. Otherwise (adversarial inputs, heavy ties) an exact radix selection runs: a histogram
//!    of the top 16 key bits finds the bucket holding the k-th key, refined 16 bits at a
//!    time until the bucket fits the candidate buffer or the key is exact.
//!
//! Both paths select the same set, the `k` largest keys with ties to the lower index.

use gradus_core::{Error, Result, Rng};

use super::compressor::{
    Class, Compressor, Message, check_dim, check_io, message_bits, non_finite,
};
use super::scalar::WireScalar;

const SAMPLES: usize = 4096;
const RADIX_BITS: u32 = 16;
const BLOCK: usize = 64;

/// Top-k sparsification (contractive, `eps = 1 - k/d`, deterministic).
#[derive(Debug, Clone)]
pub struct TopK {
    d: usize,
    k: usize,
    /// Rank in the sample whose key is the threshold estimate (`None`: skip the sample).
    sample_rank: Option<usize>,
    sample: Vec<u64>,
    hist: Vec<u32>,
    cand: Vec<(u64, usize)>,
}

impl TopK {
    /// Keeps the `k` largest-magnitude entries of vectors in `R^d`. Errors unless
    /// `1 <= k <= d` and `d < 2^32`.
    pub fn new(d: usize, k: usize) -> Result<Self> {
        check_dim(d)?;
        if d > u32::MAX as usize {
            return Err(Error::InvalidShape {
                what: "top-k",
                detail: format!("dimension {d} exceeds 2^32 - 1"),
            });
        }
        if k == 0 || k > d {
            return Err(Error::hyper("k", k as f64, "must lie in 1..=d"));
        }
        let m = d.min(SAMPLES);
        let r = k as f64 * m as f64 / d as f64;
        // A margin of four standard deviations of the sampled count above the rank: the
        // estimate falls below the true k-th key with overwhelming probability for inputs
        // whose large entries are spread out.
        let q = (r + 4.0 * r.sqrt() + 4.0).ceil() as usize;
        let (sample_rank, expected) =
            if q < m && d > 4 * SAMPLES { (Some(q), q * (d / m)) } else { (None, 0) };
        let cap = d.min((2 * expected).max(k + k / 4) + 4096);
        Ok(TopK {
            d,
            k,
            sample_rank,
            sample: vec![0; if sample_rank.is_some() { m } else { 0 }],
            hist: vec![0; 1 << RADIX_BITS],
            cand: vec![(0, 0); cap],
        })
    }

    /// The number of kept entries.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The sampled threshold path; returns `Ok(true)` when it produced the result.
    fn try_sampled<T: WireScalar>(&mut self, v: &[T], out: &mut [T]) -> Result<bool> {
        let Some(q) = self.sample_rank else { return Ok(false) };
        let (d, m) = (self.d, self.sample.len());
        for (j, s) in self.sample.iter_mut().enumerate() {
            *s = v[((j as u128 * d as u128) / m as u128) as usize].magnitude_key();
        }
        self.sample.select_nth_unstable_by(q - 1, |a, b| b.cmp(a));
        let tau = self.sample[q - 1].min(T::NON_FINITE_KEY);
        let tau_f = T::from_magnitude_key(tau);
        let cap = self.cand.len();
        let mut cnt = 0usize;
        for (b, (vb, ob)) in v.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).enumerate() {
            // Branch-free screen of a block in float compares (vectorises); only blocks
            // holding a candidate or a non-finite value take the scalar path. `tau` is at
            // most the key of infinity, so `|x| >= tau_f` catches infinities; `x != x`
            // catches NaN.
            #[allow(clippy::eq_op)]
            let hit = vb.iter().fold(false, |acc, &x| acc | (x.abs() >= tau_f) | (x != x));
            ob.fill(T::ZERO);
            if !hit {
                continue;
            }
            for (j, x) in vb.iter().enumerate() {
                let key = x.magnitude_key();
                if key >= T::NON_FINITE_KEY {
                    return Err(non_finite(b * BLOCK + j));
                }
                if key >= tau {
                    if cnt < cap {
                        self.cand[cnt] = (key, b * BLOCK + j);
                    }
                    cnt += 1;
                }
            }
        }
        if cnt < self.k || cnt > cap {
            return Ok(false);
        }
        finish(&mut self.cand[..cnt], self.k, v, out);
        Ok(true)
    }

    /// Exact radix selection (see the module documentation).
    fn radix<T: WireScalar>(&mut self, v: &[T], out: &mut [T]) -> Result<()> {
        let cap = self.cand.len();
        let (mut prefix, mut prefix_shift, mut need) = (0u64, T::KEY_BITS, self.k);
        let mut validated = false;
        loop {
            let width = RADIX_BITS.min(prefix_shift);
            let shift = prefix_shift - width;
            let mask = (1u64 << width) - 1;
            let hist = &mut self.hist[..1 << width];
            hist.fill(0);
            for (i, x) in v.iter().enumerate() {
                let key = x.magnitude_key();
                if !validated && key >= T::NON_FINITE_KEY {
                    return Err(non_finite(i));
                }
                if key >> prefix_shift == prefix {
                    hist[((key >> shift) & mask) as usize] += 1;
                }
            }
            validated = true;
            let mut above = 0usize;
            let mut bucket = 0usize;
            for b in (0..hist.len()).rev() {
                let h = hist[b] as usize;
                if above + h >= need {
                    bucket = b;
                    break;
                }
                above += h;
            }
            let h = hist[bucket] as usize;
            need -= above;
            let threshold = (prefix << width) | bucket as u64;
            if h == need || shift == 0 || h <= cap {
                let (mut cnt, mut taken) = (0usize, 0usize);
                for (i, (o, &x)) in out.iter_mut().zip(v).enumerate() {
                    let top = x.magnitude_key() >> shift;
                    *o = T::ZERO;
                    if top > threshold || (top == threshold && h == need) {
                        *o = x;
                    } else if top == threshold && shift == 0 {
                        // Equal keys: the lowest indices win.
                        if taken < need {
                            *o = x;
                            taken += 1;
                        }
                    } else if top == threshold {
                        self.cand[cnt] = (x.magnitude_key(), i);
                        cnt += 1;
                    }
                }
                if cnt > 0 {
                    finish(&mut self.cand[..cnt], need, v, out);
                }
                return Ok(());
            }
            prefix = threshold;
            prefix_shift = shift;
        }
    }
}

/// Keeps the `need` best candidates (largest key, then lowest index).
fn finish<T: WireScalar>(cand: &mut [(u64, usize)], need: usize, v: &[T], out: &mut [T]) {
    let order = |a: &(u64, usize), b: &(u64, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    if need < cand.len() {
        cand.select_nth_unstable_by(need - 1, order);
    }
    for &(_, i) in &cand[..need] {
        out[i] = v[i];
    }
}

impl<T: WireScalar> Compressor<T> for TopK {
    fn name(&self) -> String {
        format!("top-k(k={})", self.k)
    }
    fn dim(&self) -> usize {
        self.d
    }
    fn class(&self) -> Class {
        Class::Contractive { eps: 1.0 - self.k as f64 / self.d as f64, in_expectation: false }
    }
    fn is_random(&self) -> bool {
        false
    }
    fn is_projection(&self) -> bool {
        true
    }
    fn compress(&mut self, v: &[T], out: &mut [T], _rng: &mut Rng) -> Result<Message> {
        check_io(self.d, v, out)?;
        if !self.try_sampled(v, out)? {
            self.radix(v, out)?;
        }
        Ok(Message { nnz: self.k, bits: message_bits(self.d, self.k, T::VALUE_BITS, 0) })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: sort indices by (magnitude desc, index asc) and keep the first k.
    fn brute(v: &[f32], k: usize) -> Vec<f32> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[b].abs().total_cmp(&v[a].abs()).then(a.cmp(&b)));
        let mut out = vec![0.0; v.len()];
        for &i in &idx[..k] {
            out[i] = v[i];
        }
        out
    }

    #[test]
    fn both_paths_match_the_sort_reference() {
        let mut rng = gradus_core::rng::seeded(3);
        for &(d, k) in &[(1, 1), (7, 3), (100, 1), (100, 100), (50_000, 500), (70_000, 9)] {
            let v: Vec<f32> = (0..d)
                .map(|i| {
                    // Many exact ties and a few large entries.
                    let x = ((i * 7919) % 13) as f32 - 6.0;
                    if i % 97 == 0 { 100.0 - x } else { x }
                })
                .collect();
            let mut c = TopK::new(d, k).unwrap();
            let mut out = vec![0.0f32; d];
            Compressor::<f32>::compress(&mut c, &v, &mut out, &mut rng).unwrap();
            assert_eq!(out, brute(&v, k), "d={d} k={k}");
            let mut out2 = vec![1.0f32; d];
            c.radix(&v, &mut out2).unwrap();
            assert_eq!(out2, out, "radix path d={d} k={k}");
        }
    }
}
