//! Multinomial logistic (softmax) regression:
//! `f(W, b) = mean_i [logsumexp(W x_i + b) - (W x_i + b)_{y_i}] + l2/2 |W|_F^2`.
//! Parameters are `W` (`k x d`, row-major) then `b` (`k`), so Adam-mini sees two blocks and
//! Adalayer gives each class row of the output layer its own statistic.

use gradus_core::validate::same_len;
use gradus_core::{Error, Layout, Objective, Result, Rng, Scalar};

use crate::data::sample_batch;
use crate::dense::dot;
use crate::{Dense, Differentiable};

/// Softmax regression with `k` classes on a fixed design.
#[derive(Debug, Clone)]
pub struct SoftmaxRegression<T> {
    x: Dense<T>,
    labels: Vec<usize>,
    k: usize,
    l2: T,
    idx: Vec<usize>,
    logits: Vec<T>,
    aux: Vec<T>,
}

impl<T: Scalar> SoftmaxRegression<T> {
    /// Errors unless `k >= 2`, labels lie in `0..k` (one per row), `l2 >= 0`, and
    /// `1 <= batch <= n`.
    pub fn new(x: Dense<T>, labels: Vec<usize>, k: usize, l2: f64, batch: usize) -> Result<Self> {
        same_len("labels", x.rows(), labels.len())?;
        gradus_core::validate::non_negative("l2", l2)?;
        gradus_core::validate::all_finite("design", x.as_slice())?;
        if k < 2 {
            return Err(Error::hyper("classes", k as f64, "need at least 2 classes"));
        }
        if let Some(i) = labels.iter().position(|&y| y >= k) {
            return Err(Error::InvalidShape {
                what: "labels",
                detail: format!("label {i} is not below {k}"),
            });
        }
        if batch == 0 || batch > x.rows() {
            return Err(Error::hyper("batch", batch as f64, "must lie in 1..=n"));
        }
        Ok(SoftmaxRegression {
            x,
            labels,
            k,
            l2: T::from_f64(l2),
            idx: vec![0; batch],
            logits: vec![T::ZERO; k],
            aux: vec![T::ZERO; k],
        })
    }

    /// The parameter layout: `W` (`k x d`) then `b` (`k`).
    pub fn layout(&self) -> Layout {
        Layout::new()
            .matrix("W", self.k, self.x.cols())
            .and_then(|l| l.vector("b", self.k))
            .unwrap_or_default()
    }

    fn check(&self, params: &[T], other: &[T], what: &'static str) -> Result<()> {
        let n = self.k * (self.x.cols() + 1);
        same_len("parameters", n, params.len())?;
        same_len(what, n, other.len())?;
        gradus_core::validate::all_finite("parameters", params)
    }

    /// Writes softmax probabilities of row `i` into `self.logits`; returns `logsumexp`.
    fn probs(&mut self, params: &[T], i: usize) -> T {
        let (d, k) = (self.x.cols(), self.k);
        let xi = self.x.row(i);
        let mut mx = T::from_f64(f64::NEG_INFINITY);
        for c in 0..k {
            let z = dot(&params[c * d..(c + 1) * d], xi) + params[k * d + c];
            self.logits[c] = z;
            mx = mx.max(z);
        }
        let mut s = T::ZERO;
        for z in self.logits.iter_mut() {
            *z = (*z - mx).exp();
            s += *z;
        }
        for z in self.logits.iter_mut() {
            *z /= s;
        }
        mx + s.ln()
    }

    fn eval(&mut self, rows: usize, sampled: bool, params: &[T], grad: &mut [T]) -> Result<T> {
        self.check(params, grad, "gradient")?;
        let (d, k) = (self.x.cols(), self.k);
        grad.iter_mut().for_each(|g| *g = T::ZERO);
        let inv = T::ONE / T::from_usize(rows);
        let mut loss = T::ZERO;
        for r in 0..rows {
            let i = if sampled { self.idx[r] } else { r };
            let lse = self.probs(params, i);
            let y = self.labels[i];
            let zy = dot(&params[y * d..(y + 1) * d], self.x.row(i)) + params[k * d + y];
            loss += lse - zy;
            for c in 0..k {
                let coef = (self.logits[c] - if c == y { T::ONE } else { T::ZERO }) * inv;
                let xi = self.x.row(i);
                for (g, &xv) in grad[c * d..(c + 1) * d].iter_mut().zip(xi) {
                    *g += coef * xv;
                }
                grad[k * d + c] += coef;
            }
        }
        let w = &params[..k * d];
        let reg = w.iter().map(|&v| v * v).sum::<T>() * self.l2 * T::from_f64(0.5);
        for (g, &wv) in grad[..k * d].iter_mut().zip(w) {
            *g += self.l2 * wv;
        }
        Ok(loss * inv + reg)
    }

    /// Fraction of rows whose most probable class is not the label.
    pub fn error_rate(&mut self, params: &[T]) -> Result<f64> {
        self.check(params, params, "parameters")?;
        let n = self.x.rows();
        let mut wrong = 0;
        for i in 0..n {
            self.probs(params, i);
            let best = (0..self.k)
                .max_by(|&a, &b| {
                    self.logits[a].partial_cmp(&self.logits[b]).unwrap_or(std::cmp::Ordering::Equal)
                })
                .unwrap_or(0);
            wrong += usize::from(best != self.labels[i]);
        }
        Ok(wrong as f64 / n as f64)
    }
}

impl<T: Scalar> Objective<T> for SoftmaxRegression<T> {
    fn dim(&self) -> usize {
        self.k * (self.x.cols() + 1)
    }

    fn loss_grad(&mut self, params: &[T], grad: &mut [T], rng: &mut Rng) -> Result<T> {
        let n = self.x.rows();
        sample_batch(&mut self.idx, n, rng);
        let rows = self.idx.len();
        self.eval(rows, true, params, grad)
    }
}

impl<T: Scalar> Differentiable<T> for SoftmaxRegression<T> {
    fn num_params(&self) -> usize {
        self.k * (self.x.cols() + 1)
    }

    fn full_loss_grad(&mut self, params: &[T], grad: &mut [T]) -> Result<T> {
        self.eval(self.x.rows(), false, params, grad)
    }

    /// Per row: with `u = V x + v_b`, `H v` adds `s x^T` to `W` and `s` to `b`, where
    /// `s = p * u - p (p . u)` (the softmax Jacobian `diag(p) - p p^T` applied to `u`).
    fn hvp(&mut self, params: &[T], v: &[T], out: &mut [T]) -> Result<()> {
        self.check(params, v, "direction")?;
        self.check(params, out, "output")?;
        gradus_core::validate::all_finite("direction", v)?;
        let (d, k, n) = (self.x.cols(), self.k, self.x.rows());
        out.iter_mut().for_each(|o| *o = T::ZERO);
        let inv = T::ONE / T::from_usize(n);
        for i in 0..n {
            self.probs(params, i);
            let xi = self.x.row(i);
            let mut pu = T::ZERO;
            for c in 0..k {
                self.aux[c] = dot(&v[c * d..(c + 1) * d], xi) + v[k * d + c];
                pu += self.logits[c] * self.aux[c];
            }
            for c in 0..k {
                let s = self.logits[c] * (self.aux[c] - pu) * inv;
                for (o, &xv) in out[c * d..(c + 1) * d].iter_mut().zip(xi) {
                    *o += s * xv;
                }
                out[k * d + c] += s;
            }
        }
        for (o, &vv) in out[..k * d].iter_mut().zip(v) {
            *o += self.l2 * vv;
        }
        Ok(())
    }
}
