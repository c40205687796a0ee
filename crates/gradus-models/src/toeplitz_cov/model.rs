//! The sinusoid model: parameters `theta = [a_1..a_K, w_1..w_K]` to the first column `r` of
//! `R(a, w)`, and the chain rule from lag gradients back to `theta`.

use gradus_core::{Error, Layout, Result};
use num_complex::Complex64;

/// Complex (circular) or real data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// `x ~ CN(0, R)`, `R` Hermitian: `r_l = sum_k s_k e^{i w_k l} + delta [l = 0]`.
    Complex,
    /// `x ~ N(0, R)`, `R` real symmetric: `r_l = sum_k s_k cos(w_k l) + delta [l = 0]`.
    Real,
}

/// `s(a) = scale * softplus(a)`, computed without overflow.
#[inline]
pub fn amplitude(a: f64, scale: f64) -> f64 {
    scale * (a.max(0.0) + (-a.abs()).exp().ln_1p())
}

/// `s'(a) = scale * sigmoid(a)`.
#[inline]
pub fn amplitude_derivative(a: f64, scale: f64) -> f64 {
    scale / (1.0 + (-a).exp())
}

/// `softplus^{-1}(u / scale)`: the raw parameter with power `u > 0` (identity far out, where
/// `exp` would overflow).
pub fn inverse_amplitude(u: f64, scale: f64) -> f64 {
    let y = u / scale;
    if y > 30.0 { y } else { y.exp_m1().ln() }
}

/// `K` sinusoids on `P` lags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinusoidModel {
    /// Dimension `P`.
    pub p: usize,
    /// Number of sinusoids `K`.
    pub k: usize,
    /// Ridge `delta > 0`.
    pub delta: f64,
    /// Amplitude scale (20 in the paper's code).
    pub scale: f64,
    /// Complex or real data.
    pub kind: DataKind,
}

impl SinusoidModel {
    /// The paper's model: `delta = 1e-3`, `s(a) = 20 softplus(a)`.
    pub fn new(p: usize, k: usize, kind: DataKind) -> Result<Self> {
        if p == 0 || k == 0 {
            return Err(Error::InvalidShape {
                what: "sinusoid model",
                detail: format!("P = {p}, K = {k}"),
            });
        }
        Ok(SinusoidModel { p, k, delta: 1e-3, scale: 20.0, kind })
    }

    /// Number of parameters `2K`.
    pub fn num_params(&self) -> usize {
        2 * self.k
    }

    /// Parameter groups: `amplitudes` then `frequencies` (the accelerated variant gives them
    /// separate step sizes).
    pub fn layout(&self) -> Layout {
        Layout::new()
            .vector("amplitudes", self.k)
            .and_then(|l| l.vector("frequencies", self.k))
            .unwrap_or_default()
    }

    /// First column `r` of `R(theta)`.
    pub fn first_column(&self, theta: &[f64], r: &mut [Complex64]) -> Result<()> {
        gradus_core::validate::same_len("parameters", 2 * self.k, theta.len())?;
        gradus_core::validate::same_len("first column", self.p, r.len())?;
        if let Some(index) = theta.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "parameters", index });
        }
        r.iter_mut().for_each(|v| *v = Complex64::new(0.0, 0.0));
        let (a, w) = theta.split_at(self.k);
        for (&ak, &wk) in a.iter().zip(w) {
            let s = amplitude(ak, self.scale);
            let step = Complex64::from_polar(1.0, wk);
            let mut phase = Complex64::new(1.0, 0.0);
            for rl in r.iter_mut() {
                *rl += s * phase;
                phase *= step;
            }
        }
        if self.kind == DataKind::Real {
            r.iter_mut().for_each(|v| v.im = 0.0);
        }
        r[0] += self.delta;
        r[0].im = 0.0;
        Ok(())
    }

    /// Chain rule: given `gamma` with `dL = Re gamma_0 dr_0 + sum_{l>=1} 2 Re(gamma_l dr_l)`,
    /// writes `dL/dtheta` into `grad`:
    /// `dL/da_k = s'(a_k) [Re gamma_0 + 2 sum_l Re(gamma_l e^{i w_k l})]`,
    /// `dL/dw_k = s(a_k) 2 sum_l Re(gamma_l i l e^{i w_k l})` (cosines for real data).
    ///
    /// Errors unless `theta` and `grad` have `2K` entries and `gamma` has `P`.
    pub fn backprop(&self, theta: &[f64], gamma: &[Complex64], grad: &mut [f64]) -> Result<()> {
        gradus_core::validate::same_len("parameters", 2 * self.k, theta.len())?;
        gradus_core::validate::same_len("gradient", 2 * self.k, grad.len())?;
        gradus_core::validate::same_len("lag gradient", self.p, gamma.len())?;
        let (a, w) = theta.split_at(self.k);
        let (ga, gw) = grad.split_at_mut(self.k);
        for k in 0..self.k {
            let step = Complex64::from_polar(1.0, w[k]);
            let mut phase = step;
            let (mut sa, mut sw) = (gamma[0].re, 0.0);
            for (l, g) in gamma.iter().enumerate().skip(1) {
                // Real data has real gamma and r_l = s cos(w l): Re(g e^{iwl}) = g cos(w l) and
                // Re(i l g e^{iwl}) = -l g sin(w l), the same expressions as the complex case.
                let gp = match self.kind {
                    DataKind::Complex => *g * phase,
                    DataKind::Real => Complex64::new(g.re, 0.0) * phase,
                };
                sa += 2.0 * gp.re;
                sw += 2.0 * l as f64 * (-gp.im);
                phase *= step;
            }
            ga[k] = amplitude_derivative(a[k], self.scale) * sa;
            gw[k] = amplitude(a[k], self.scale) * sw;
        }
        Ok(())
    }
}
