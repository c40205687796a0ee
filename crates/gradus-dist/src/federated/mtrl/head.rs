//! Client-specific heads `h_i: R^k -> outputs` on top of the shared representation (paper
//! 09 §1: the final layer, which never leaves the client). A head's loss is the mean over a
//! batch of rows of features `z` (row-major `rows x k`) and targets `y`.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef};
use gradus_core::{Error, Par, Result, validate::same_len};

/// What a head's [`Head::score`] sums per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// 1 for a correct most probable class, 0 otherwise.
    Accuracy,
    /// The squared error `(prediction - y)^2`.
    MeanSquaredError,
}

impl Metric {
    /// Name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::MeanSquaredError => "test MSE",
        }
    }

    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Accuracy)
    }
}

/// A head with exact gradients. Every method checks lengths first and returns an error
/// without writing on a mismatch; `scratch` holds at least [`Head::scratch_len`] floats.
pub trait Head: Send + Sync {
    /// Per-row target: a real number or a class label.
    type Target: Copy + Send + Sync + std::fmt::Debug;
    /// Input dimension `k` (the representation's output).
    fn input_dim(&self) -> usize;
    /// Number of head parameters.
    fn num_params(&self) -> usize;
    /// Scratch floats any method needs.
    fn scratch_len(&self) -> usize;
    /// What [`Head::score`] measures.
    fn metric(&self) -> Metric;
    /// Errors at the first target the head cannot take (a non-finite value, a label out of
    /// range).
    fn check_targets(&self, y: &[Self::Target]) -> Result<()>;
    /// The mean loss over the rows of `z` and `y`; the gradient with respect to the head
    /// into `g_head` and with respect to the features into `gz` (`rows x k`), each only if
    /// given (both overwritten).
    fn loss_grad(
        &self,
        head: &[f64],
        z: &[f64],
        y: &[Self::Target],
        g_head: Option<&mut [f64]>,
        gz: Option<&mut [f64]>,
        scratch: &mut [f64],
    ) -> Result<f64>;
    /// The sum over rows of the per-row [`Head::metric`].
    fn score(
        &self,
        head: &[f64],
        z: &[f64],
        y: &[Self::Target],
        scratch: &mut [f64],
    ) -> Result<f64>;
    /// The exact minimiser of the mean loss plus `ridge/2 |head|^2` over the rows, written
    /// into `head` (untouched on error). Heads without a closed form return
    /// [`Error::Unsupported`].
    fn fit_exact(
        &self,
        z: &[f64],
        y: &[Self::Target],
        ridge: f64,
        head: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()> {
        let _ = (z, y, ridge, head, scratch);
        Err(Error::Unsupported("this head has no closed-form fit; use head epochs".into()))
    }
}

/// Shared length checks: `rows = y.len()`, `z` is `rows x k`, `head` and `scratch` fit.
fn check<H: Head + ?Sized>(h: &H, head: &[f64], z: &[f64], rows: usize, s: &[f64]) -> Result<()> {
    same_len("head parameters", h.num_params(), head.len())?;
    same_len("features (rows * k)", rows.saturating_mul(h.input_dim()), z.len())?;
    if s.len() < h.scratch_len() {
        return Err(Error::LengthMismatch {
            what: "head scratch",
            expected: h.scratch_len(),
            got: s.len(),
        });
    }
    Ok(())
}

/// The linear regression head `y = theta^T z` (no bias, as in `y = theta_i^T B^T x`) with
/// the squared loss `(1/2) mean (theta^T z - y)^2`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionHead {
    k: usize,
}

impl RegressionHead {
    /// A head on `k` features (`k >= 1`).
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::InvalidShape { what: "regression head", detail: "k = 0".into() });
        }
        Ok(RegressionHead { k })
    }
}

impl Head for RegressionHead {
    type Target = f64;
    fn input_dim(&self) -> usize {
        self.k
    }
    fn num_params(&self) -> usize {
        self.k
    }
    fn scratch_len(&self) -> usize {
        self.k * (self.k + 1)
    }
    fn metric(&self) -> Metric {
        Metric::MeanSquaredError
    }
    fn check_targets(&self, y: &[f64]) -> Result<()> {
        gradus_core::validate::all_finite("regression targets", y)
    }

    fn loss_grad(
        &self,
        head: &[f64],
        z: &[f64],
        y: &[f64],
        mut g_head: Option<&mut [f64]>,
        mut gz: Option<&mut [f64]>,
        scratch: &mut [f64],
    ) -> Result<f64> {
        check(self, head, z, y.len(), scratch)?;
        if let Some(g) = g_head.as_deref() {
            same_len("head gradient", self.k, g.len())?;
        }
        if let Some(g) = gz.as_deref() {
            same_len("feature gradient", z.len(), g.len())?;
        }
        let k = self.k;
        let inv = 1.0 / y.len().max(1) as f64;
        if let Some(g) = g_head.as_deref_mut() {
            g.iter_mut().for_each(|v| *v = 0.0);
        }
        let mut loss = 0.0;
        for (r, (zr, &yr)) in z.chunks_exact(k).zip(y).enumerate() {
            let e = zr.iter().zip(head).map(|(a, b)| a * b).sum::<f64>() - yr;
            loss += 0.5 * e * e;
            if let Some(g) = g_head.as_deref_mut() {
                g.iter_mut().zip(zr).for_each(|(gv, zv)| *gv += e * inv * zv);
            }
            if let Some(g) = gz.as_deref_mut() {
                g[r * k..(r + 1) * k].iter_mut().zip(head).for_each(|(gv, t)| *gv = e * inv * t);
            }
        }
        Ok(loss * inv)
    }

    fn score(&self, head: &[f64], z: &[f64], y: &[f64], scratch: &mut [f64]) -> Result<f64> {
        check(self, head, z, y.len(), scratch)?;
        Ok(z.chunks_exact(self.k)
            .zip(y)
            .map(|(zr, yr)| (zr.iter().zip(head).map(|(a, b)| a * b).sum::<f64>() - yr).powi(2))
            .sum())
    }

    /// Ridge least squares `(Z^T Z / m + ridge I) theta = Z^T y / m` by Cholesky on the
    /// `k x k` normal equations (spec §3: "head by least squares"). `ridge = 0` is plain
    /// least squares and needs `Z` of full column rank.
    fn fit_exact(
        &self,
        z: &[f64],
        y: &[f64],
        ridge: f64,
        head: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()> {
        gradus_core::validate::non_negative("ridge", ridge)?;
        check(self, head, z, y.len(), scratch)?;
        let (k, m) = (self.k, y.len());
        let inv = 1.0 / m.max(1) as f64;
        let (a, rhs) = scratch[..k * (k + 1)].split_at_mut(k * k);
        // A = Z^T Z / m (the lower triangle is what the factorisation reads), b = Z^T y / m.
        let zm = MatRef::from_row_major_slice(z, m, k);
        matmul(
            MatMut::from_row_major_slice_mut(a, k, k),
            Accum::Replace,
            zm.transpose(),
            zm,
            inv,
            faer::Par::Seq,
        );
        matmul(
            MatMut::from_column_major_slice_mut(rhs, k, 1),
            Accum::Replace,
            zm.transpose(),
            MatRef::from_column_major_slice(y, m, 1),
            inv,
            faer::Par::Seq,
        );
        for i in 0..k {
            a[i * k + i] += ridge;
        }
        cholesky_solve(a, rhs, k)?;
        head.copy_from_slice(rhs);
        Ok(())
    }
}

/// Solves `A x = b` in place (`b <- x`) for a symmetric positive definite `k x k` `A` of
/// which the lower triangle is read (and overwritten by its Cholesky factor). The systems
/// are the heads' `k x k` normal equations, solved inside every client update, so the
/// factorisation works on the client's flat scratch buffer.
fn cholesky_solve(a: &mut [f64], b: &mut [f64], k: usize) -> Result<()> {
    // Row-major lower triangle: the sums over `p < j` are dot products of contiguous row
    // prefixes (SIMD `dot`, a fixed operation order).
    let row_dot = |a: &[f64], i: usize, j: usize, len: usize| {
        gradus_kernels::dot(Par::Seq, &a[i * k..i * k + len], &a[j * k..j * k + len])
    };
    for j in 0..k {
        let s = a[j * k + j] - row_dot(a, j, j, j)?;
        if s.is_nan() || s <= 0.0 {
            return Err(Error::NotPositiveDefinite {
                detail: format!("normal equations of the head fit: pivot {j} is {s:e}"),
            });
        }
        let l = s.sqrt();
        a[j * k + j] = l;
        for i in j + 1..k {
            let t = a[i * k + j] - row_dot(a, i, j, j)?;
            a[i * k + j] = t / l;
        }
    }
    for i in 0..k {
        let t = gradus_kernels::dot(Par::Seq, &a[i * k..i * k + i], &b[..i])?;
        b[i] = (b[i] - t) / a[i * k + i];
    }
    for i in (0..k).rev() {
        b[i] = (b[i] - (i + 1..k).map(|p| a[p * k + i] * b[p]).sum::<f64>()) / a[i * k + i];
    }
    Ok(())
}

/// The softmax head: logits `W z + b` over all `classes` (`W` is `classes x k`, row-major,
/// then `b`), cross-entropy loss. A client only sees its own labels, so its head learns to
/// put no mass on the others (FedRep's personalised heads).
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxHead {
    k: usize,
    classes: usize,
}

impl SoftmaxHead {
    /// A head on `k` features for `classes` classes. Errors unless `k >= 1` and
    /// `classes >= 2`.
    pub fn new(k: usize, classes: usize) -> Result<Self> {
        if k == 0 || classes < 2 {
            return Err(Error::InvalidShape {
                what: "softmax head",
                detail: format!("need k >= 1 and classes >= 2, got k = {k}, classes = {classes}"),
            });
        }
        Ok(SoftmaxHead { k, classes })
    }

    /// Softmax probabilities of the row `z` into `p`; returns `(logsumexp, argmax)`.
    fn probs(&self, head: &[f64], z: &[f64], p: &mut [f64]) -> (f64, usize) {
        let (k, c) = (self.k, self.classes);
        let mut best = (f64::NEG_INFINITY, 0);
        for (j, pj) in p.iter_mut().enumerate() {
            *pj = head[j * k..(j + 1) * k].iter().zip(z).map(|(a, b)| a * b).sum::<f64>()
                + head[c * k + j];
            if *pj > best.0 {
                best = (*pj, j);
            }
        }
        let mut s = 0.0;
        for pj in p.iter_mut() {
            *pj = (*pj - best.0).exp();
            s += *pj;
        }
        p.iter_mut().for_each(|pj| *pj /= s);
        (best.0 + s.ln(), best.1)
    }
}

impl Head for SoftmaxHead {
    type Target = usize;
    fn input_dim(&self) -> usize {
        self.k
    }
    fn num_params(&self) -> usize {
        self.classes * (self.k + 1)
    }
    fn scratch_len(&self) -> usize {
        self.classes
    }
    fn metric(&self) -> Metric {
        Metric::Accuracy
    }
    fn check_targets(&self, y: &[usize]) -> Result<()> {
        match y.iter().position(|&c| c >= self.classes) {
            None => Ok(()),
            Some(i) => Err(Error::InvalidShape {
                what: "class labels",
                detail: format!("label of row {i} is not below {}", self.classes),
            }),
        }
    }

    /// `mean [logsumexp(W z + b) - (W z + b)_y]`; with `G_r = (p_r - e_{y_r}) / rows`:
    /// `grad W = G^T Z`, `grad b = sum_r G_r`, `grad z_r = W^T G_r`.
    fn loss_grad(
        &self,
        head: &[f64],
        z: &[f64],
        y: &[usize],
        mut g_head: Option<&mut [f64]>,
        mut gz: Option<&mut [f64]>,
        scratch: &mut [f64],
    ) -> Result<f64> {
        check(self, head, z, y.len(), scratch)?;
        self.check_targets(y)?;
        if let Some(g) = g_head.as_deref() {
            same_len("head gradient", self.num_params(), g.len())?;
        }
        if let Some(g) = gz.as_deref() {
            same_len("feature gradient", z.len(), g.len())?;
        }
        let (k, c) = (self.k, self.classes);
        let inv = 1.0 / y.len().max(1) as f64;
        let p = &mut scratch[..c];
        if let Some(g) = g_head.as_deref_mut() {
            g.iter_mut().for_each(|v| *v = 0.0);
        }
        let mut loss = 0.0;
        for (r, (zr, &yr)) in z.chunks_exact(k).zip(y).enumerate() {
            let (lse, _) = self.probs(head, zr, p);
            let zy = head[yr * k..(yr + 1) * k].iter().zip(zr).map(|(a, b)| a * b).sum::<f64>()
                + head[c * k + yr];
            loss += lse - zy;
            p[yr] -= 1.0;
            p.iter_mut().for_each(|v| *v *= inv);
            if let Some(g) = g_head.as_deref_mut() {
                for (j, &pj) in p.iter().enumerate() {
                    g[j * k..(j + 1) * k].iter_mut().zip(zr).for_each(|(gv, zv)| *gv += pj * zv);
                    g[c * k + j] += pj;
                }
            }
            if let Some(g) = gz.as_deref_mut() {
                let gr = &mut g[r * k..(r + 1) * k];
                gr.iter_mut().for_each(|v| *v = 0.0);
                for (j, &pj) in p.iter().enumerate() {
                    gr.iter_mut().zip(&head[j * k..(j + 1) * k]).for_each(|(gv, w)| *gv += pj * w);
                }
            }
        }
        Ok(loss * inv)
    }

    /// Rows whose most probable class (lowest index on ties) is the label.
    fn score(&self, head: &[f64], z: &[f64], y: &[usize], scratch: &mut [f64]) -> Result<f64> {
        check(self, head, z, y.len(), scratch)?;
        let p = &mut scratch[..self.classes];
        Ok(z.chunks_exact(self.k)
            .zip(y)
            .filter(|&(zr, &yr)| self.probs(head, zr, p).1 == yr)
            .count() as f64)
    }
}
