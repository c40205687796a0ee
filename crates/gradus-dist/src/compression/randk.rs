//! Random-k sparsification: keep `k` coordinates drawn uniformly without replacement.
//!
//! Unscaled, `C(v) = v` on the drawn coordinates: `E ||C(v) - v||^2 = (1 - k/d) ||v||^2`,
//! contractive in expectation with `eps = 1 - k/d`. Scaled by `d/k`, `E C(v) = v` and
//! `E ||C(v) - v||^2 = (d/k - 1) ||v||^2`: unbiased with `omega = d/k - 1` (paper 06,
//! "Compressor contracts to test").
//!
//! The `k` coordinates come from Floyd's algorithm (`O(k)` draws, each subset equally
//! likely) over a bitmap kept as scratch and cleared after use, so the draw depends only on
//! the generator state, never on earlier calls.

use gradus_core::{Error, Result, Rng};
use rand::Rng as _;

use super::compressor::{
    Class, Compressor, Message, check_dim, check_io, message_bits, non_finite,
};
use super::scalar::WireScalar;

/// Random-k sparsification, unbiased (scaled by `d/k`) or contractive in expectation.
#[derive(Debug, Clone)]
pub struct RandK {
    d: usize,
    k: usize,
    scaled: bool,
    marked: Vec<u64>,
    chosen: Vec<usize>,
}

impl RandK {
    /// Keeps `k` random coordinates of vectors in `R^d`, multiplied by `d/k` when `scaled`.
    /// Errors unless `1 <= k <= d`.
    pub fn new(d: usize, k: usize, scaled: bool) -> Result<Self> {
        check_dim(d)?;
        if k == 0 || k > d {
            return Err(Error::hyper("k", k as f64, "must lie in 1..=d"));
        }
        Ok(RandK { d, k, scaled, marked: vec![0; d.div_ceil(64)], chosen: vec![0; k] })
    }

    /// Unbiased rand-k (`omega = d/k - 1`).
    pub fn unbiased(d: usize, k: usize) -> Result<Self> {
        Self::new(d, k, true)
    }

    /// Contractive-in-expectation rand-k (`eps = 1 - k/d`).
    pub fn contractive(d: usize, k: usize) -> Result<Self> {
        Self::new(d, k, false)
    }

    /// Writes `k` distinct uniformly drawn indices into `self.chosen` (Floyd's algorithm).
    fn draw(&mut self, rng: &mut Rng) {
        let (d, k) = (self.d, self.k);
        for (slot, j) in (d - k..d).enumerate() {
            let t = rng.random_range(0..=j);
            let pick = if self.marked[t / 64] >> (t % 64) & 1 == 1 { j } else { t };
            self.marked[pick / 64] |= 1 << (pick % 64);
            self.chosen[slot] = pick;
        }
        for &i in &self.chosen {
            self.marked[i / 64] = 0;
        }
    }
}

impl<T: WireScalar> Compressor<T> for RandK {
    fn name(&self) -> String {
        format!("rand-k(k={}{})", self.k, if self.scaled { ", scaled" } else { "" })
    }
    fn dim(&self) -> usize {
        self.d
    }
    fn class(&self) -> Class {
        let (d, k) = (self.d as f64, self.k as f64);
        if self.scaled {
            Class::Unbiased { omega: d / k - 1.0 }
        } else {
            Class::Contractive { eps: 1.0 - k / d, in_expectation: true }
        }
    }
    fn is_random(&self) -> bool {
        true
    }
    fn is_projection(&self) -> bool {
        !self.scaled
    }
    fn compress(&mut self, v: &[T], out: &mut [T], rng: &mut Rng) -> Result<Message> {
        check_io(self.d, v, out)?;
        // Validate everything before drawing, so a rejected input leaves the generator as
        // it was.
        if let Some(i) = super::compressor::first_non_finite(v) {
            return Err(non_finite(i));
        }
        out.fill(T::ZERO);
        self.draw(rng);
        let scale = T::from_f64(if self.scaled { self.d as f64 / self.k as f64 } else { 1.0 });
        for &i in &self.chosen {
            out[i] = scale * v[i];
        }
        Ok(Message { nnz: self.k, bits: message_bits(self.d, self.k, T::VALUE_BITS, 0) })
    }
    fn boxed_clone(&self) -> Box<dyn Compressor<T>> {
        Box::new(self.clone())
    }
}
