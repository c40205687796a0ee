//! Closed-form step sizes and rates of CGD, EF and EF21 (paper 06, "Main results").
//!
//! Setting: `f` is `L`-smooth and `mu`-strongly convex ([`FunctionClass`]), the compressor
//! is contractive with parameter `eps` (`||C(v) - v||^2 <= eps ||v||^2`), `s = sqrt(eps)`.
//! A rate `rho` is the factor by which the method's Lyapunov function (see
//! [`super::lyapunov`]) shrinks per step in the worst case: `V_{k+1} <= rho V_k`.

use gradus_core::{Error, Result};

/// The class `F_{mu,L}` of `L`-smooth, `mu`-strongly convex functions.
///
/// The fields are public for reading; every function of this module (and of
/// [`super::worst_case`]) re-checks `0 < mu <= L < inf` ([`FunctionClass::validate`]), so a
/// value built by hand cannot produce NaN rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FunctionClass {
    /// Strong convexity `mu > 0`.
    pub mu: f64,
    /// Smoothness `L >= mu`.
    pub l: f64,
}

impl FunctionClass {
    /// `F_{mu,L}`; errors unless `0 < mu <= L < inf`.
    pub fn new(mu: f64, l: f64) -> Result<Self> {
        let fc = FunctionClass { mu, l };
        fc.validate()?;
        Ok(fc)
    }

    /// Errors unless `0 < mu <= L < inf`, naming the field.
    pub fn validate(&self) -> Result<()> {
        gradus_core::validate::positive("mu", self.mu)?;
        gradus_core::validate::positive("L", self.l)?;
        if self.mu > self.l {
            return Err(Error::hyper("mu", self.mu, "must not exceed L"));
        }
        Ok(())
    }

    /// `F_{1/kappa, 1}`.
    pub fn with_kappa(kappa: f64) -> Result<Self> {
        if !(kappa.is_finite() && kappa >= 1.0) {
            return Err(Error::hyper("kappa", kappa, "must be finite and >= 1"));
        }
        Self::new(1.0 / kappa, 1.0)
    }

    /// The condition number `kappa = L / mu`.
    pub fn kappa(&self) -> f64 {
        self.l / self.mu
    }
}

/// Validates `eps` in `[0, 1)` and returns `s = sqrt(eps)`.
pub(crate) fn sqrt_eps(eps: f64) -> Result<f64> {
    if !(0.0..1.0).contains(&eps) {
        return Err(Error::hyper("eps", eps, "must lie in [0, 1)"));
    }
    Ok(eps.sqrt())
}

/// The rate of gradient descent with step `2/(L + mu)`: `((kappa - 1)/(kappa + 1))^2`
/// (the `eps -> 0` limit of every rate below).
pub fn gd_rate(fc: &FunctionClass) -> Result<f64> {
    fc.validate()?;
    let k = fc.kappa();
    Ok(((k - 1.0) / (k + 1.0)).powi(2))
}

/// The optimal step of EF and of EF21, `eta* = 2/(L + mu) (1 - s)/(1 + s)` (paper 06,
/// "Optimal step size"; EF and EF21 share it).
pub fn eta_star_ef(fc: &FunctionClass, eps: f64) -> Result<f64> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    Ok(2.0 / (fc.l + fc.mu) * (1.0 - s) / (1.0 + s))
}

/// The tight rate of EF and of EF21 at `eta*` (paper 06, Theorems 1 and 2):
/// `lambda = eta*/(L + mu) [ (1 - s)(L - mu) + (1 + s) sqrt((L - mu)^2 + 16 L mu s/(1 + s)^2) ]`
/// and `rho = s + (1/4)(1 + s)(L - mu) lambda`.
pub fn rho_ef(fc: &FunctionClass, eps: f64) -> Result<f64> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    let (l, mu) = (fc.l, fc.mu);
    let eta = eta_star_ef(fc, eps)?;
    let root = ((l - mu).powi(2) + 16.0 * l * mu * s / (1.0 + s).powi(2)).sqrt();
    let lambda = eta / (l + mu) * ((1.0 - s) * (l - mu) + (1.0 + s) * root);
    Ok(s + 0.25 * (1.0 + s) * (l - mu) * lambda)
}

/// The same tight rate written with `kappa` and `L = 1` (paper 06, the official code's
/// `optimal_rate`):
/// `rho = s - (s - 1)(kappa - 1) (kappa - 1 - s(kappa - 1) + sqrt((kappa - 1)^2 (1 + eps)
/// + 2 s (1 + 6 kappa + kappa^2))) / (2 (1 + kappa)^2)`.
pub fn rho_ef_kappa(kappa: f64, eps: f64) -> Result<f64> {
    FunctionClass::with_kappa(kappa)?;
    let s = sqrt_eps(eps)?;
    let km = kappa - 1.0;
    let root = (km * km * (1.0 + eps) + 2.0 * s * (1.0 + 6.0 * kappa + kappa * kappa)).sqrt();
    Ok(s - (s - 1.0) * km * (km - s * km + root) / (2.0 * (1.0 + kappa).powi(2)))
}

/// The optimal step of CGD, `eta*_CGD = 2 / ((1 - s) mu + (1 + s) L)` (paper 06, "CGD with
/// the best step").
pub fn eta_star_cgd(fc: &FunctionClass, eps: f64) -> Result<f64> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    Ok(2.0 / ((1.0 - s) * fc.mu + (1.0 + s) * fc.l))
}

/// The tight rate of CGD at its optimal step, for `V = f - f*`:
/// `rho_CGD = ((kappa_eps - 1)/(kappa_eps + 1))^2` with `kappa_eps = kappa (1 + s)/(1 - s)`
/// (paper 06, "CGD with the best step"). It is below [`rho_ef`] for every `0 < eps < 1`,
/// `kappa > 1` (the paper's `CGD_superiority` certificate).
pub fn rho_cgd(fc: &FunctionClass, eps: f64) -> Result<f64> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    let ke = fc.kappa() * (1.0 + s) / (1.0 - s);
    Ok(((ke - 1.0) / (ke + 1.0)).powi(2))
}

/// The worst case of CGD with step `eta` over one-dimensional quadratics `lambda x^2 / 2`,
/// `lambda` in `[mu, L]`, and scalar compressors `C(g) = (1 - t) g`, `|t| <= s`:
/// `max((1 - eta (1 - s) mu)^2, (1 - eta (1 + s) L)^2)`. A lower bound on the tight rate for
/// every `eta`, equal to [`rho_cgd`] at `eta*_CGD` (derived here, checked in the tests).
pub fn rho_cgd_scalar(fc: &FunctionClass, eps: f64, eta: f64) -> Result<f64> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    gradus_core::validate::positive("eta", eta)?;
    let lo = 1.0 - eta * (1.0 - s) * fc.mu;
    let hi = 1.0 - eta * (1.0 + s) * fc.l;
    Ok((lo * lo).max(hi * hi))
}

/// The earlier EF21 guarantee (Richtarik, Sokolov, Fatkhullin 2021, Theorem 2, single
/// worker), as paper 06 compares with it: `theta = 1 - s`, `beta = eps / (1 - s)`,
/// `gamma = min(theta / (2 mu), 1 / (L (1 + sqrt(2 beta / theta))))`, rate `1 - gamma mu`.
/// Returns `(gamma, rate)`.
pub fn ef21_richtarik(fc: &FunctionClass, eps: f64) -> Result<(f64, f64)> {
    fc.validate()?;
    let s = sqrt_eps(eps)?;
    let theta = 1.0 - s;
    let beta = eps / (1.0 - s);
    let gamma = (theta / (2.0 * fc.mu)).min(1.0 / (fc.l * (1.0 + (2.0 * beta / theta).sqrt())));
    Ok((gamma, 1.0 - gamma * fc.mu))
}

/// `ln a / ln b`, the quantity of paper 06's Figs 3 and 5: the iterations rate `b` needs to
/// reach a given accuracy divided by the iterations rate `a` needs. Below 1 means `a` needs
/// more iterations (e.g. `ln rho_EF / ln rho_CGD < 1`: EF is slower than CGD).
///
/// Errors unless both rates lie in `(0, 1)`, where the logarithms are finite and negative.
pub fn iteration_ratio(a: f64, b: f64) -> Result<f64> {
    for (field, r) in [("a", a), ("b", b)] {
        if !(r > 0.0 && r < 1.0) {
            return Err(Error::hyper(field, r, "a linear rate must lie in (0, 1)"));
        }
    }
    Ok(a.ln() / b.ln())
}
