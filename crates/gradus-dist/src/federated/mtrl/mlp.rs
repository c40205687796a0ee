//! A multilayer perceptron representation `phi(x) = a_L`, `a_l = act(W_l a_{l-1} + b_l)`,
//! `a_0 = x`: every layer is shared, the output (the last hidden layer) feeds the clients'
//! heads, as FedRep / BR-MTRL cut a network below its last linear layer (paper 09 §1; the
//! paper's AlexNet-style convolutional body is replaced by this small network, spec §3).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef};
use gradus_core::{Error, Layout, Result, Rng, validate::same_len};
use gradus_models::data::normal;

use super::representation::{Representation, check_batch};

/// The hidden-layer nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// `max(0, h)` (spec §3).
    #[default]
    Relu,
    /// `tanh(h)`.
    Tanh,
}

impl Activation {
    #[inline]
    fn apply(self, h: f64) -> f64 {
        match self {
            Activation::Relu => h.max(0.0),
            Activation::Tanh => h.tanh(),
        }
    }

    /// The derivative at the pre-activation, from the activation `a = act(h)` (what the
    /// cache keeps): ReLU `1[a > 0]`, tanh `1 - a^2`.
    #[inline]
    fn slope(self, a: f64) -> f64 {
        match self {
            Activation::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - a * a,
        }
    }
}

/// A fully connected network `d -> w_1 -> ... -> w_L` with the same activation on every
/// layer; parameters per layer `W_l` (`w_l x w_{l-1}`, row-major) then `b_l`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    dims: Vec<usize>,
    activation: Activation,
    len: usize,
}

impl Mlp {
    /// Layers of widths `widths` on inputs of dimension `input`; the output dimension is the
    /// last width. Errors if `input` or a width is zero, `widths` is empty, or the parameter
    /// count overflows.
    pub fn new(input: usize, widths: &[usize], activation: Activation) -> Result<Self> {
        if input == 0 || widths.is_empty() || widths.contains(&0) {
            return Err(Error::InvalidShape {
                what: "mlp widths",
                detail: format!(
                    "need input >= 1 and at least one layer of width >= 1, got {input} -> \
                     {widths:?}"
                ),
            });
        }
        let mut dims = vec![input];
        dims.extend_from_slice(widths);
        let mut len = 0usize;
        for w in dims.windows(2) {
            let layer = w[1].checked_mul(w[0] + 1).and_then(|l| len.checked_add(l));
            len = layer.ok_or_else(|| Error::InvalidShape {
                what: "mlp widths",
                detail: "the parameter count overflows".into(),
            })?;
        }
        Ok(Mlp { dims, activation, len })
    }

    fn layers(&self) -> usize {
        self.dims.len() - 1
    }

    /// Offsets of `W_l` and `b_l` (0-based `l`) in the parameter vector.
    fn offsets(&self, l: usize) -> (usize, usize) {
        let w: usize = self.dims.windows(2).take(l).map(|p| p[1] * (p[0] + 1)).sum();
        (w, w + self.dims[l + 1] * self.dims[l])
    }

    /// Offset of layer `l`'s activations in the cache of a `rows`-row batch.
    fn cache_offset(&self, l: usize, rows: usize) -> usize {
        rows * self.dims[1..=l].iter().sum::<usize>()
    }
}

impl Representation for Mlp {
    fn input_dim(&self) -> usize {
        self.dims[0]
    }
    fn output_dim(&self) -> usize {
        self.dims[self.layers()]
    }
    fn num_params(&self) -> usize {
        self.len
    }
    fn layout(&self) -> Result<Layout> {
        let mut l = Layout::new();
        for (i, p) in self.dims.windows(2).enumerate() {
            l = l
                .matrix(&format!("W{}", i + 1), p[1], p[0])?
                .vector(&format!("b{}", i + 1), p[1])?;
        }
        Ok(l)
    }
    fn cache_per_row(&self) -> usize {
        self.dims[1..].iter().sum()
    }
    fn scratch_per_row(&self) -> usize {
        2 * self.dims.iter().copied().max().unwrap_or(0)
    }

    /// `W_l ~ N(0, gain / w_{l-1})` (He: gain 2 for ReLU; LeCun: 1 for tanh), `b_l = 0`.
    fn init(&self, rng: &mut Rng, params: &mut [f64]) -> Result<()> {
        same_len("representation parameters", self.len, params.len())?;
        let gain = match self.activation {
            Activation::Relu => 2.0,
            Activation::Tanh => 1.0,
        };
        for l in 0..self.layers() {
            let (fan_in, out) = (self.dims[l], self.dims[l + 1]);
            let (w, b) = self.offsets(l);
            let s = (gain / fan_in as f64).sqrt();
            params[w..b].iter_mut().for_each(|v| *v = s * normal(rng));
            params[b..b + out].iter_mut().for_each(|v| *v = 0.0);
        }
        Ok(())
    }

    fn forward(
        &self,
        params: &[f64],
        x: &[f64],
        rows: usize,
        z: &mut [f64],
        cache: &mut [f64],
    ) -> Result<()> {
        check_batch(self, params, x, rows, z.len(), cache.len())?;
        for l in 0..self.layers() {
            let (fan_in, out) = (self.dims[l], self.dims[l + 1]);
            let (w, b) = self.offsets(l);
            let off = self.cache_offset(l, rows);
            let (done, rest) = cache.split_at_mut(off);
            let a_prev = if l == 0 { x } else { &done[self.cache_offset(l - 1, rows)..] };
            let h = &mut rest[..rows * out];
            matmul(
                MatMut::from_row_major_slice_mut(h, rows, out),
                Accum::Replace,
                MatRef::from_row_major_slice(a_prev, rows, fan_in),
                MatRef::from_row_major_slice(&params[w..b], out, fan_in).transpose(),
                1.0,
                faer::Par::Seq,
            );
            let bias = &params[b..b + out];
            for row in h.chunks_exact_mut(out) {
                for (v, bi) in row.iter_mut().zip(bias) {
                    *v = self.activation.apply(*v + bi);
                }
            }
        }
        let last = self.cache_offset(self.layers() - 1, rows);
        z.copy_from_slice(&cache[last..last + z.len()]);
        Ok(())
    }

    /// Backpropagation: `delta_L = gz * act'`, `grad W_l = delta_l^T a_{l-1}`,
    /// `grad b_l = sum_rows delta_l`, `delta_{l-1} = (delta_l W_l) * act'(a_{l-1})`.
    fn backward(
        &self,
        params: &[f64],
        x: &[f64],
        rows: usize,
        cache: &[f64],
        gz: &[f64],
        grad: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()> {
        check_batch(self, params, x, rows, gz.len(), cache.len())?;
        same_len("representation gradient", self.len, grad.len())?;
        let need = rows.saturating_mul(self.scratch_per_row());
        if scratch.len() < need {
            return Err(Error::LengthMismatch {
                what: "backward scratch (rows * scratch_per_row)",
                expected: need,
                got: scratch.len(),
            });
        }
        let act = self.activation;
        let (mut cur, mut next) = scratch[..need].split_at_mut(need / 2);
        let top = self.layers() - 1;
        let a_top = &cache[self.cache_offset(top, rows)..][..gz.len()];
        for ((d, &g), &a) in cur.iter_mut().zip(gz).zip(a_top) {
            *d = g * act.slope(a);
        }
        for l in (0..self.layers()).rev() {
            let (fan_in, out) = (self.dims[l], self.dims[l + 1]);
            let (w, b) = self.offsets(l);
            let a_prev = if l == 0 { x } else { &cache[self.cache_offset(l - 1, rows)..] };
            let a_prev = &a_prev[..rows * fan_in];
            let delta = &cur[..rows * out];
            let (gw, gb) = grad[w..b + out].split_at_mut(b - w);
            matmul(
                MatMut::from_row_major_slice_mut(gw, out, fan_in),
                Accum::Replace,
                MatRef::from_row_major_slice(delta, rows, out).transpose(),
                MatRef::from_row_major_slice(a_prev, rows, fan_in),
                1.0,
                faer::Par::Seq,
            );
            gb.iter_mut().for_each(|v| *v = 0.0);
            for row in delta.chunks_exact(out) {
                for (g, dv) in gb.iter_mut().zip(row) {
                    *g += dv;
                }
            }
            if l > 0 {
                let prev = &mut next[..rows * fan_in];
                matmul(
                    MatMut::from_row_major_slice_mut(prev, rows, fan_in),
                    Accum::Replace,
                    MatRef::from_row_major_slice(delta, rows, out),
                    MatRef::from_row_major_slice(&params[w..b], out, fan_in),
                    1.0,
                    faer::Par::Seq,
                );
                for (d, &a) in prev.iter_mut().zip(a_prev) {
                    *d *= act.slope(a);
                }
                std::mem::swap(&mut cur, &mut next);
            }
        }
        Ok(())
    }
}
