//! Names of the three compressed methods and EF21's initialisation.

use serde::{Deserialize, Serialize};

/// One of the compressed first-order methods of paper 06 ("Algorithms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    /// Compressed gradient descent: `x_{k+1} = x_k - eta C(grad f(x_k))`.
    Cgd,
    /// Error feedback (Seide et al. 2014, Stich et al. 2018):
    /// `v = e + eta g, c = C(v), x -= c, e = v - c`.
    Ef,
    /// EF21 (Richtarik et al. 2021): `x_{k+1} = x_k - eta d_k`,
    /// `d_{k+1} = d_k + C(grad f(x_{k+1}) - d_k)`.
    Ef21,
}

impl Method {
    /// `"CGD"`, `"EF"` or `"EF21"`.
    pub fn label(self) -> &'static str {
        match self {
            Method::Cgd => "CGD",
            Method::Ef => "EF",
            Method::Ef21 => "EF21",
        }
    }
}

/// How EF21's gradient estimate starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Ef21Init {
    /// `d_0 = C(grad f(x_0))` (the estimate starts at 0 and the first message is compressed).
    #[default]
    Compressed,
    /// `d_0 = grad f(x_0)`: the first message is the full gradient.
    Gradient,
}
