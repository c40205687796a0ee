//! The models of paper 03's experiments: uncertain least squares (App. D.2), a one-hidden-
//! layer ReLU network with cross-entropy (circle, two moons) and multinomial logistic
//! regression (Sec. 6.3).

// Index loops mirror the matrix formulas (several arrays indexed together).
#![allow(clippy::needless_range_loop)]

use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Result, Rng};
use rand::Rng as _;

use super::loss::{Classifier, PointLoss, bad_label};
use crate::flows::target::cholesky;
use crate::source::normal;

/// Largest sizes of the stack-allocated models.
const MAX: usize = 64;

/// The loss, or an error when finite inputs overflowed it (so an `Ok` loss is finite).
fn finite_loss(l: f64) -> Result<f64> {
    if l.is_finite() { Ok(l) } else { Err(Error::NonFinite { what: "loss", index: 0 }) }
}

/// Uncertain least squares: `l(theta; z) = |(A0 + z A1) theta - b|^2 / n` with a scalar
/// uncertainty `z` (the input, `dim = 1`) and `A0, A1` of size `n x p`.
#[derive(Debug, Clone, PartialEq)]
pub struct UncertainLeastSquares {
    n: usize,
    p: usize,
    a0: Vec<f64>,
    a1: Vec<f64>,
    b: Vec<f64>,
}

impl UncertainLeastSquares {
    /// From row-major `n x p` matrices and `b` (`n, p <= 64`, finite).
    pub fn new(n: usize, p: usize, a0: Vec<f64>, a1: Vec<f64>, b: Vec<f64>) -> Result<Self> {
        if n == 0 || p == 0 || n > MAX || p > MAX {
            return Err(Error::InvalidShape {
                what: "uncertain least squares",
                detail: format!("{n} x {p} (each side must be in 1..=64)"),
            });
        }
        same_len("A0", n * p, a0.len())?;
        same_len("A1", n * p, a1.len())?;
        same_len("b", n, b.len())?;
        all_finite("A0", &a0)?;
        all_finite("A1", &a1)?;
        all_finite("b", &b)?;
        Ok(UncertainLeastSquares { n, p, a0, a1, b })
    }

    /// The D.2 instance shape: `A0, A1, b` with independent standard normal entries.
    pub fn random(n: usize, p: usize, rng: &mut Rng) -> Result<Self> {
        let a0 = (0..n * p).map(|_| normal(rng)).collect();
        let a1 = (0..n * p).map(|_| normal(rng)).collect();
        let b = (0..n).map(|_| normal(rng)).collect();
        Self::new(n, p, a0, a1, b)
    }

    fn residual(&self, theta: &[f64], z: f64, r: &mut [f64; MAX]) {
        for i in 0..self.n {
            let mut s = -self.b[i];
            for k in 0..self.p {
                s += (self.a0[i * self.p + k] + z * self.a1[i * self.p + k]) * theta[k];
            }
            r[i] = s;
        }
    }

    fn check(&self, theta: &[f64], y: &[f64]) -> Result<()> {
        same_len("theta", self.p, theta.len())?;
        same_len("input y", 1, y.len())
    }

    /// The ERM solution `argmin_theta sum_i l(theta; z_i)` (normal equations, Cholesky).
    pub fn erm_solution(&self, zs: &[f64]) -> Result<Vec<f64>> {
        all_finite("uncertainty samples", zs)?;
        let (n, p) = (self.n, self.p);
        let mut ata = vec![0.0; p * p];
        let mut atb = vec![0.0; p];
        for &z in zs {
            for i in 0..n {
                let row: Vec<f64> =
                    (0..p).map(|k| self.a0[i * p + k] + z * self.a1[i * p + k]).collect();
                for a in 0..p {
                    atb[a] += row[a] * self.b[i];
                    for c in 0..p {
                        ata[a * p + c] += row[a] * row[c];
                    }
                }
            }
        }
        let l = cholesky(&ata, p)?;
        let mut y = vec![0.0; p];
        for i in 0..p {
            let s: f64 = (0..i).map(|k| l[i * p + k] * y[k]).sum();
            y[i] = (atb[i] - s) / l[i * p + i];
        }
        let mut x = vec![0.0; p];
        for i in (0..p).rev() {
            let s: f64 = (i + 1..p).map(|k| l[k * p + i] * x[k]).sum();
            x[i] = (y[i] - s) / l[i * p + i];
        }
        Ok(x)
    }
}

impl PointLoss for UncertainLeastSquares {
    fn num_params(&self) -> usize {
        self.p
    }

    fn dim(&self) -> usize {
        1
    }

    fn loss(&self, theta: &[f64], _label: usize, y: &[f64]) -> Result<f64> {
        self.check(theta, y)?;
        let mut r = [0.0; MAX];
        self.residual(theta, y[0], &mut r);
        finite_loss(r[..self.n].iter().map(|v| v * v).sum::<f64>() / self.n as f64)
    }

    fn loss_grad_y(
        &self,
        theta: &[f64],
        _label: usize,
        y: &[f64],
        grad_y: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, y)?;
        same_len("grad_y", 1, grad_y.len())?;
        let mut r = [0.0; MAX];
        self.residual(theta, y[0], &mut r);
        let mut g = 0.0;
        for i in 0..self.n {
            let vi: f64 = (0..self.p).map(|k| self.a1[i * self.p + k] * theta[k]).sum();
            g += vi * r[i];
        }
        grad_y[0] = 2.0 * g / self.n as f64;
        finite_loss(r[..self.n].iter().map(|v| v * v).sum::<f64>() / self.n as f64)
    }

    fn loss_grad_theta(
        &self,
        theta: &[f64],
        _label: usize,
        y: &[f64],
        scale: f64,
        grad_theta: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, y)?;
        same_len("grad_theta", self.p, grad_theta.len())?;
        let z = y[0];
        let mut r = [0.0; MAX];
        self.residual(theta, z, &mut r);
        let c = 2.0 * scale / self.n as f64;
        for i in 0..self.n {
            for k in 0..self.p {
                grad_theta[k] += c * (self.a0[i * self.p + k] + z * self.a1[i * self.p + k]) * r[i];
            }
        }
        finite_loss(r[..self.n].iter().map(|v| v * v).sum::<f64>() / self.n as f64)
    }
}

/// A one-hidden-layer ReLU network `input -> hidden -> classes` with cross-entropy loss.
/// Parameters: `W1` (`hidden x input`, row-major), `b1`, `W2` (`classes x hidden`), `b2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mlp {
    input: usize,
    hidden: usize,
    classes: usize,
}

struct Forward {
    pre: [f64; MAX],
    logits: [f64; MAX],
    lse: f64,
}

impl Mlp {
    /// A network with the given sizes (each in `1..=64`, at least 2 classes).
    pub fn new(input: usize, hidden: usize, classes: usize) -> Result<Self> {
        let bad = |v: usize| v == 0 || v > MAX;
        if bad(input) || bad(hidden) || bad(classes) || classes < 2 {
            return Err(Error::InvalidShape {
                what: "mlp",
                detail: format!("{input} -> {hidden} -> {classes} (sizes in 1..=64, >= 2 classes)"),
            });
        }
        Ok(Mlp { input, hidden, classes })
    }

    /// PyTorch's default initialisation: every weight and bias uniform in
    /// `[-1/sqrt(fan_in), 1/sqrt(fan_in)]`.
    pub fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let (i, h, k) = (self.input, self.hidden, self.classes);
        let (s1, s2) = (1.0 / (i as f64).sqrt(), 1.0 / (h as f64).sqrt());
        let mut p = Vec::with_capacity(self.num_params());
        p.extend((0..h * i + h).map(|_| s1 * (2.0 * rng.random::<f64>() - 1.0)));
        p.extend((0..k * h + k).map(|_| s2 * (2.0 * rng.random::<f64>() - 1.0)));
        p
    }

    fn check(&self, theta: &[f64], label: Option<usize>, y: &[f64]) -> Result<()> {
        same_len("theta", self.num_params(), theta.len())?;
        same_len("input y", self.input, y.len())?;
        match label {
            Some(l) if l >= self.classes => Err(bad_label(l, self.classes)),
            _ => Ok(()),
        }
    }

    fn forward(&self, theta: &[f64], y: &[f64]) -> Forward {
        let (i, h, k) = (self.input, self.hidden, self.classes);
        let (w1, rest) = theta.split_at(h * i);
        let (b1, rest) = rest.split_at(h);
        let (w2, b2) = rest.split_at(k * h);
        let mut f = Forward { pre: [0.0; MAX], logits: [0.0; MAX], lse: 0.0 };
        for u in 0..h {
            f.pre[u] = b1[u] + (0..i).map(|c| w1[u * i + c] * y[c]).sum::<f64>();
        }
        let mut m = f64::NEG_INFINITY;
        for c in 0..k {
            f.logits[c] = b2[c] + (0..h).map(|u| w2[c * h + u] * f.pre[u].max(0.0)).sum::<f64>();
            m = m.max(f.logits[c]);
        }
        f.lse = m + f.logits[..k].iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        f
    }

    /// `d l / d logits = softmax - e_label`.
    fn dlogits(&self, f: &Forward, label: usize) -> [f64; MAX] {
        let mut d = [0.0; MAX];
        for c in 0..self.classes {
            d[c] = (f.logits[c] - f.lse).exp() - if c == label { 1.0 } else { 0.0 };
        }
        d
    }

    /// `d l / d pre-activation` of the hidden layer.
    fn dpre(&self, theta: &[f64], f: &Forward, dl: &[f64; MAX]) -> [f64; MAX] {
        let (i, h) = (self.input, self.hidden);
        let w2 = &theta[h * i + h..];
        let mut d = [0.0; MAX];
        for u in 0..h {
            if f.pre[u] > 0.0 {
                d[u] = (0..self.classes).map(|c| w2[c * h + u] * dl[c]).sum();
            }
        }
        d
    }
}

impl PointLoss for Mlp {
    fn num_params(&self) -> usize {
        self.hidden * self.input + self.hidden + self.classes * self.hidden + self.classes
    }

    fn dim(&self) -> usize {
        self.input
    }

    fn loss(&self, theta: &[f64], label: usize, y: &[f64]) -> Result<f64> {
        self.check(theta, Some(label), y)?;
        let f = self.forward(theta, y);
        finite_loss(f.lse - f.logits[label])
    }

    fn loss_grad_y(
        &self,
        theta: &[f64],
        label: usize,
        y: &[f64],
        grad_y: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, Some(label), y)?;
        same_len("grad_y", self.input, grad_y.len())?;
        let f = self.forward(theta, y);
        let dl = self.dlogits(&f, label);
        let dp = self.dpre(theta, &f, &dl);
        let (i, h) = (self.input, self.hidden);
        for (c, g) in grad_y.iter_mut().enumerate() {
            *g = (0..h).map(|u| theta[u * i + c] * dp[u]).sum();
        }
        finite_loss(f.lse - f.logits[label])
    }

    fn loss_grad_theta(
        &self,
        theta: &[f64],
        label: usize,
        y: &[f64],
        scale: f64,
        grad_theta: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, Some(label), y)?;
        same_len("grad_theta", theta.len(), grad_theta.len())?;
        let f = self.forward(theta, y);
        let dl = self.dlogits(&f, label);
        let dp = self.dpre(theta, &f, &dl);
        let (i, h, k) = (self.input, self.hidden, self.classes);
        let (gw1, rest) = grad_theta.split_at_mut(h * i);
        let (gb1, rest) = rest.split_at_mut(h);
        let (gw2, gb2) = rest.split_at_mut(k * h);
        for u in 0..h {
            gb1[u] += scale * dp[u];
            for c in 0..i {
                gw1[u * i + c] += scale * dp[u] * y[c];
            }
        }
        for c in 0..k {
            gb2[c] += scale * dl[c];
            for u in 0..h {
                gw2[c * h + u] += scale * dl[c] * f.pre[u].max(0.0);
            }
        }
        finite_loss(f.lse - f.logits[label])
    }
}

impl Classifier for Mlp {
    fn classes(&self) -> usize {
        self.classes
    }

    fn predict(&self, theta: &[f64], y: &[f64]) -> Result<usize> {
        self.check(theta, None, y)?;
        let f = self.forward(theta, y);
        Ok(argmax(&f.logits[..self.classes]))
    }
}

/// Index of the largest entry (the first of ties; 0 for an empty slice).
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (k, x) in v.iter().enumerate() {
        if x.total_cmp(&v[best]).is_gt() {
            best = k;
        }
    }
    best
}

/// Multinomial logistic regression `y -> softmax(W y + b)` with cross-entropy, the model of
/// paper 03, Sec. 6.3 (a linear layer on fixed features). Parameters: `W` (`classes x input`,
/// row-major) then `b`. Gradients: with `p = softmax(W y + b)` and `e` the one-hot label,
/// `grad_W l = (p - e) y^T`, `grad_b l = p - e`, `grad_y l = W^T (p - e)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultinomialLogistic {
    input: usize,
    classes: usize,
}

impl MultinomialLogistic {
    /// `input` features (`1..=4096`) into `classes` (`2..=64`).
    pub fn new(input: usize, classes: usize) -> Result<Self> {
        if input == 0 || input > 4096 || !(2..=MAX).contains(&classes) {
            return Err(Error::InvalidShape {
                what: "multinomial logistic",
                detail: format!("{input} -> {classes} (input in 1..=4096, classes in 2..=64)"),
            });
        }
        Ok(MultinomialLogistic { input, classes })
    }

    /// PyTorch's `Linear` initialisation: uniform in `[-1/sqrt(input), 1/sqrt(input)]`.
    pub fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let s = 1.0 / (self.input as f64).sqrt();
        (0..self.num_params()).map(|_| s * (2.0 * rng.random::<f64>() - 1.0)).collect()
    }

    fn check(&self, theta: &[f64], label: Option<usize>, y: &[f64]) -> Result<()> {
        same_len("theta", self.num_params(), theta.len())?;
        same_len("input y", self.input, y.len())?;
        match label {
            Some(l) if l >= self.classes => Err(bad_label(l, self.classes)),
            _ => Ok(()),
        }
    }

    /// Logits into `z`; returns `log sum exp z`.
    fn logits(&self, theta: &[f64], y: &[f64], z: &mut [f64; MAX]) -> f64 {
        let (w, b) = theta.split_at(self.classes * self.input);
        let mut m = f64::NEG_INFINITY;
        for (c, (row, bc)) in w.chunks_exact(self.input).zip(b).enumerate() {
            z[c] = bc + row.iter().zip(y).map(|(a, v)| a * v).sum::<f64>();
            m = m.max(z[c]);
        }
        m + z[..self.classes].iter().map(|v| (v - m).exp()).sum::<f64>().ln()
    }

    /// `p - e_label` into `z` (which holds the logits); returns the loss.
    fn residual(&self, theta: &[f64], label: usize, y: &[f64], z: &mut [f64; MAX]) -> f64 {
        let lse = self.logits(theta, y, z);
        let loss = lse - z[label];
        for (c, v) in z[..self.classes].iter_mut().enumerate() {
            *v = (*v - lse).exp() - if c == label { 1.0 } else { 0.0 };
        }
        loss
    }
}

impl PointLoss for MultinomialLogistic {
    fn num_params(&self) -> usize {
        self.classes * (self.input + 1)
    }

    fn dim(&self) -> usize {
        self.input
    }

    fn loss(&self, theta: &[f64], label: usize, y: &[f64]) -> Result<f64> {
        self.check(theta, Some(label), y)?;
        let mut z = [0.0; MAX];
        let lse = self.logits(theta, y, &mut z);
        finite_loss(lse - z[label])
    }

    fn loss_grad_y(
        &self,
        theta: &[f64],
        label: usize,
        y: &[f64],
        grad_y: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, Some(label), y)?;
        same_len("grad_y", self.input, grad_y.len())?;
        let mut z = [0.0; MAX];
        let loss = self.residual(theta, label, y, &mut z);
        grad_y.fill(0.0);
        for (row, r) in theta.chunks_exact(self.input).take(self.classes).zip(&z) {
            for (g, a) in grad_y.iter_mut().zip(row) {
                *g += r * a;
            }
        }
        finite_loss(loss)
    }

    fn loss_grad_theta(
        &self,
        theta: &[f64],
        label: usize,
        y: &[f64],
        scale: f64,
        grad_theta: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, Some(label), y)?;
        same_len("grad_theta", theta.len(), grad_theta.len())?;
        let mut z = [0.0; MAX];
        let loss = self.residual(theta, label, y, &mut z);
        let (gw, gb) = grad_theta.split_at_mut(self.classes * self.input);
        for ((row, gbc), r) in gw.chunks_exact_mut(self.input).zip(gb.iter_mut()).zip(&z) {
            let s = scale * r;
            *gbc += s;
            for (g, v) in row.iter_mut().zip(y) {
                *g += s * v;
            }
        }
        finite_loss(loss)
    }
}

impl Classifier for MultinomialLogistic {
    fn classes(&self) -> usize {
        self.classes
    }

    fn predict(&self, theta: &[f64], y: &[f64]) -> Result<usize> {
        self.check(theta, None, y)?;
        let mut z = [0.0; MAX];
        self.logits(theta, y, &mut z);
        Ok(argmax(&z[..self.classes]))
    }
}
