//! Activations of the teacher-student models and their information exponents.

use gradus_core::{Error, Result};

use super::hermite;

/// An activation `sigma: R -> R` with its derivative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(z, 0)`; derivative `1{z > 0}`.
    Relu,
    /// `erf(z / sqrt 2)`, the Saad-Solla unit (closed-form Gaussian integrals, see
    /// [`super::erf_integrals`]).
    Erf,
    /// `tanh z`.
    Tanh,
    /// The normalised probabilists' Hermite polynomial `h_k = He_k / sqrt(k!)` (`E h_k(Z)^2 = 1`);
    /// its information exponent is `k`.
    Hermite(u32),
}

impl Activation {
    /// Validates the parameters (Hermite degree between 1 and 12).
    pub fn check(self) -> Result<Self> {
        match self {
            Activation::Hermite(k) if !(1..=12).contains(&k) => {
                Err(Error::hyper("hermite degree k", k as f64, "must lie in 1..=12"))
            }
            a => Ok(a),
        }
    }

    /// `sigma(z)`.
    #[inline]
    pub fn value(self, z: f64) -> f64 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Erf => libm::erf(z * std::f64::consts::FRAC_1_SQRT_2),
            Activation::Tanh => z.tanh(),
            Activation::Hermite(k) => hermite::normalised(k, z),
        }
    }

    /// `sigma'(z)` (for ReLU, 0 at the kink).
    #[inline]
    pub fn deriv(self, z: f64) -> f64 {
        match self {
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            // d/dz erf(z / sqrt 2) = sqrt(2 / pi) exp(-z^2 / 2).
            Activation::Erf => (2.0 / std::f64::consts::PI).sqrt() * (-0.5 * z * z).exp(),
            Activation::Tanh => {
                let t = z.tanh();
                1.0 - t * t
            }
            // h_k' = sqrt(k) h_{k-1}, from He_k' = k He_{k-1}.
            Activation::Hermite(k) => (k as f64).sqrt() * hermite::normalised(k - 1, z),
        }
    }

    /// Information exponent: the first `j >= 1` with a nonzero Hermite coefficient
    /// `E[sigma(Z) h_j(Z)]` (Ben Arous, Gheissari, Jagannath 2021). ReLU, erf and tanh have a
    /// linear part, so `k = 1`.
    pub fn information_exponent(self) -> u32 {
        match self {
            Activation::Hermite(k) => k,
            _ => 1,
        }
    }

    /// Short name for reports.
    pub fn name(self) -> String {
        match self {
            Activation::Relu => "relu".into(),
            Activation::Erf => "erf".into(),
            Activation::Tanh => "tanh".into(),
            Activation::Hermite(k) => format!("h{k}"),
        }
    }
}
