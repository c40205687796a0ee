//! The Gaussian negative log-likelihood `L(R) = Re tr(R^{-1} S) + log det R` of `N` snapshots
//! under the sinusoid model, with its exact gradient (paper 07, section 1).

use gradus_core::validate::same_len;
use gradus_core::{Error, Objective, Result, Rng};
use num_complex::Complex64;

use super::model::{DataKind, SinusoidModel};
use super::{dense::Dense, structured::Structured};

/// Which algebra evaluates the likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalPath {
    /// Structured for `P >=` [`STRUCTURED_FROM`], dense below (where it is faster).
    Auto,
    /// Levinson-Durbin + Gohberg-Semencul + FFT: `O(P^2 + N P log P)`.
    Structured,
    /// Dense Cholesky: `O(P^3 + N P^2)`; the test oracle.
    Dense,
}

/// Dimension from which [`EvalPath::Auto`] uses the structured path (measured: see
/// docs/benchmarks.md, "Toeplitz likelihood").
pub const STRUCTURED_FROM: usize = 32;

/// `L` and its gradient for one data set.
pub struct ToeplitzNll {
    model: SinusoidModel,
    x: Vec<Complex64>,
    n: usize,
    s: Vec<Complex64>,
    path: EvalPath,
    structured: Option<Structured>,
    dense: Dense,
    r: Vec<Complex64>,
    gamma: Vec<Complex64>,
    evaluations: u64,
}

impl ToeplitzNll {
    /// Likelihood of the `n` snapshots in `x` (row-major `n x P`, complex).
    pub fn new(model: SinusoidModel, x: &[Complex64], n: usize, path: EvalPath) -> Result<Self> {
        let p = model.p;
        if n == 0 {
            return Err(Error::InvalidShape { what: "snapshots", detail: "no snapshots".into() });
        }
        let total = n.checked_mul(p).ok_or_else(|| Error::InvalidShape {
            what: "snapshots",
            detail: format!("{n} x {p} overflows usize"),
        })?;
        same_len("snapshots (n x P)", total, x.len())?;
        if let Some(index) = x.iter().position(|z| !(z.re.is_finite() && z.im.is_finite())) {
            return Err(Error::NonFinite { what: "snapshots", index });
        }
        if model.kind == DataKind::Real && x.iter().any(|z| z.im != 0.0) {
            return Err(Error::InvalidShape {
                what: "snapshots",
                detail: "real model given complex data".into(),
            });
        }
        let s = super::baselines::sample_covariance(x, n, p)?;
        let use_structured = match path {
            EvalPath::Structured => true,
            EvalPath::Dense => false,
            EvalPath::Auto => p >= STRUCTURED_FROM,
        };
        let structured = if use_structured { Some(Structured::new(p)?) } else { None };
        let zero = Complex64::new(0.0, 0.0);
        let dense = Dense::new(p, &s, x, n);
        Ok(ToeplitzNll {
            model,
            x: x.to_vec(),
            n,
            s,
            path,
            structured,
            dense,
            r: vec![zero; p],
            gamma: vec![zero; p],
            evaluations: 0,
        })
    }

    /// Likelihood of real snapshots (row-major `n x P`).
    pub fn from_real(model: SinusoidModel, x: &[f64], n: usize, path: EvalPath) -> Result<Self> {
        let xc: Vec<Complex64> = x.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        Self::new(model, &xc, n, path)
    }

    /// The model.
    pub fn model(&self) -> &SinusoidModel {
        &self.model
    }

    /// The sample covariance `S = (1/N) sum_m x_m x_m^H` (row-major).
    pub fn sample_covariance(&self) -> &[Complex64] {
        &self.s
    }

    /// `tr S`.
    pub fn trace_s(&self) -> f64 {
        let p = self.model.p;
        (0..p).map(|i| self.s[i * p + i].re).sum()
    }

    /// Number of snapshots.
    pub fn snapshots(&self) -> usize {
        self.n
    }

    /// Likelihood evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// The path in use.
    pub fn path(&self) -> EvalPath {
        match (self.path, self.structured.is_some()) {
            (EvalPath::Auto, true) => EvalPath::Structured,
            (EvalPath::Auto, false) => EvalPath::Dense,
            (p, _) => p,
        }
    }

    /// `L` at the Toeplitz matrix with first column `r`, and the lag gradient `gamma` with
    /// `dL = Re gamma_0 dr_0 + sum_{l>=1} 2 Re(gamma_l dr_l)` (`gamma_l = sum_q E_{q,q+l}`).
    /// Errors with [`Error::NotPositiveDefinite`] if `R` is not.
    pub fn loss_grad_lags(&mut self, r: &[Complex64], gamma: &mut [Complex64]) -> Result<f64> {
        let p = self.model.p;
        same_len("first column", p, r.len())?;
        same_len("lag gradient", p, gamma.len())?;
        if let Some(index) = r.iter().position(|z| !(z.re.is_finite() && z.im.is_finite())) {
            return Err(Error::NonFinite { what: "first column", index });
        }
        self.evaluations += 1;
        match self.structured.as_mut() {
            Some(st) => st.eval(r, &self.x, self.n, gamma),
            None => self.dense.eval(r, &self.s, gamma),
        }
    }

    /// `L(theta)` and `dL/dtheta` for the sinusoid parameters `theta = [a, w]`.
    pub fn loss_grad_theta(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64> {
        same_len("gradient", self.model.num_params(), grad.len())?;
        let mut r = std::mem::take(&mut self.r);
        let mut gamma = std::mem::take(&mut self.gamma);
        let out = self
            .model
            .first_column(theta, &mut r)
            .and_then(|_| self.loss_grad_lags(&r, &mut gamma))
            .and_then(|loss| self.model.backprop(theta, &gamma, grad).map(|()| loss));
        self.r = r;
        self.gamma = gamma;
        out
    }

    /// `L(theta)` alone: on the dense path about 7x cheaper than [`Self::loss_grad_theta`]
    /// (no inverse, no gradient), so line searches evaluate their trial points with it.
    pub fn loss_theta(&mut self, theta: &[f64]) -> Result<f64> {
        same_len("parameters", self.model.num_params(), theta.len())?;
        let mut r = std::mem::take(&mut self.r);
        let mut gamma = std::mem::take(&mut self.gamma);
        self.evaluations += 1;
        let out =
            self.model.first_column(theta, &mut r).and_then(|_| match self.structured.as_mut() {
                Some(st) => st.eval(&r, &self.x, self.n, &mut gamma),
                None => self.dense.loss(&r),
            });
        self.r = r;
        self.gamma = gamma;
        out
    }
}

impl Objective<f64> for ToeplitzNll {
    fn dim(&self) -> usize {
        self.model.num_params()
    }

    fn loss_grad(&mut self, params: &[f64], grad: &mut [f64], _rng: &mut Rng) -> Result<f64> {
        self.loss_grad_theta(params, grad)
    }
}
