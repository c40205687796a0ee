//! Label noise (paper 01): each time a sample's loss is evaluated, its target `y` is replaced
//! by `y + xi` with fresh `xi` of mean 0 and variance `sigma^2`. On the manifold of minimisers
//! the stochastic gradient is then `-xi grad f_j`, whose covariance is `sigma^2` times the
//! (Gauss-Newton) Hessian: the mechanism behind the implicit sharpness regularisation.

use gradus_core::{Result, Rng, validate::non_negative};
use rand::Rng as _;

use crate::data::normal;

/// The distribution of `xi`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LabelNoise {
    /// No noise.
    None,
    /// `xi ~ N(0, sigma^2)`.
    Gaussian(f64),
    /// `xi = +-sigma` with probability 1/2 each.
    PlusMinus(f64),
}

impl LabelNoise {
    /// Checks `sigma >= 0`.
    pub fn validate(&self) -> Result<()> {
        match *self {
            LabelNoise::None => Ok(()),
            LabelNoise::Gaussian(s) | LabelNoise::PlusMinus(s) => {
                non_negative("label noise sigma", s)
            }
        }
    }

    /// One draw of `xi`.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match *self {
            LabelNoise::None => 0.0,
            LabelNoise::Gaussian(s) => s * normal(rng),
            LabelNoise::PlusMinus(s) => {
                if rng.random::<bool>() {
                    s
                } else {
                    -s
                }
            }
        }
    }

    /// `sigma^2`.
    pub fn variance(&self) -> f64 {
        match *self {
            LabelNoise::None => 0.0,
            LabelNoise::Gaussian(s) | LabelNoise::PlusMinus(s) => s * s,
        }
    }
}
