//! Byzantine attacks (seeded). Each crafts the vectors the Byzantine clients send, from
//! what a white-box, colluding adversary sees: the honest clients' updates of the round and
//! the Byzantine clients' own honest updates (paper 05 §4 stand-in, paper 09 attack model).

use gradus_core::{Error, Par, Result, rng, validate};
use rand_distr::{Distribution, StandardNormal};

use super::Updates;
use super::aggregate::weighted_sum_rows;

/// An attack run by every Byzantine client of a round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attack {
    /// Send the honest update (no attack; the `f = 0` baseline).
    Honest,
    /// `-scale * g` with `g` the client's own honest update.
    SignFlip {
        /// `scale > 0`.
        scale: f64,
    },
    /// `g + sigma * N(0, I)`; with `relative`, `sigma` multiplies the standard deviation of
    /// the entries of `g` (paper 05 stand-in: `sigma = 10 std(g)`).
    Gaussian {
        /// Noise level (`>= 0`).
        sigma: f64,
        /// Scale `sigma` by `std(g)`.
        relative: bool,
    },
    /// `factor * g`: invisible to sign hashes for `factor > 0` (paper 05 §3).
    Scaling {
        /// Multiplier.
        factor: f64,
    },
    /// The constant vector `value * 1` ("same-value" attack).
    SameValue {
        /// The constant.
        value: f64,
    },
    /// "A little is enough" (Baruch et al. 2019): `mu - z * sigma` per coordinate, with `mu`
    /// and `sigma` the mean and standard deviation of the honest updates.
    Alie {
        /// Shift in standard deviations.
        z: f64,
    },
    /// Inner-product manipulation (Xie et al. 2020): `-epsilon * mu`.
    Ipm {
        /// `epsilon > 0`.
        epsilon: f64,
    },
    /// Train on flipped labels `y -> k - 1 - y` (data side: the simulator flips the
    /// Byzantine clients' labels; the crafted vector is the resulting update).
    LabelFlip,
    /// Copy the update of honest client `target` (mod the number of honest clients): over-
    /// weights one client, which hurts under non-IID data (Karimireddy et al. 2022).
    Mimic {
        /// Which honest client to copy.
        target: usize,
    },
    /// Adaptive attack on LSH screening: `factor * mu`. A positive multiple has exactly the
    /// sign-hash code of the honest mean, so hash comparisons cannot see it, while its
    /// magnitude drags any mean-based aggregate (paper 05 §3 notes the scale blind spot).
    AdaptiveLsh {
        /// Magnitude multiplier (`> 0`).
        factor: f64,
    },
}

impl Attack {
    /// Short name for tables.
    pub fn name(&self) -> String {
        match self {
            Attack::Honest => "none".into(),
            Attack::SignFlip { scale } => format!("sign-flip(x{scale})"),
            Attack::Gaussian { sigma, relative: true } => format!("gaussian({sigma} std)"),
            Attack::Gaussian { sigma, .. } => format!("gaussian(sigma={sigma})"),
            Attack::Scaling { factor } => format!("scaling(x{factor})"),
            Attack::SameValue { value } => format!("same-value({value})"),
            Attack::Alie { z } => format!("alie(z={z})"),
            Attack::Ipm { epsilon } => format!("ipm(eps={epsilon})"),
            Attack::LabelFlip => "label-flip".into(),
            Attack::Mimic { target } => format!("mimic({target})"),
            Attack::AdaptiveLsh { factor } => format!("adaptive-lsh(x{factor})"),
        }
    }

    /// Whether the Byzantine clients train on flipped labels (data-side attack).
    pub fn flips_labels(&self) -> bool {
        matches!(self, Attack::LabelFlip)
    }

    /// Errors name the first invalid parameter.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Attack::SignFlip { scale } => validate::positive("scale", scale),
            Attack::Gaussian { sigma, .. } => validate::non_negative("sigma", sigma),
            Attack::Scaling { factor } => finite("factor", factor),
            Attack::SameValue { value } => finite("value", value),
            Attack::Alie { z } => finite("z", z),
            Attack::Ipm { epsilon } => validate::positive("epsilon", epsilon),
            Attack::AdaptiveLsh { factor } => validate::positive("factor", factor),
            Attack::Honest | Attack::LabelFlip | Attack::Mimic { .. } => Ok(()),
        }
    }

    /// The vectors the Byzantine clients send (row-major, `own.n() x d`).
    ///
    /// `honest`: this round's honest updates (`None` when every participant is Byzantine;
    /// attacks that need honest statistics then use the Byzantine clients' own updates,
    /// as ALIE's original threat model does). `own`: the Byzantine clients' own honest
    /// updates. Byzantine client `b` draws its noise from `rng::stream(seed, b)`. Errors on
    /// invalid parameters or mismatched dimensions.
    pub fn craft(
        &self,
        honest: Option<Updates<'_>>,
        own: Updates<'_>,
        seed: u64,
        par: Par,
    ) -> Result<Vec<f64>> {
        self.validate()?;
        let d = own.d();
        if let Some(h) = honest {
            gradus_core::validate::same_len("honest update dimension", d, h.d())?;
        }
        let reference = honest.unwrap_or(own);
        let nb = own.n();
        let mut out = Vec::with_capacity(nb * d);
        match *self {
            Attack::Honest | Attack::LabelFlip => out.extend_from_slice(own.as_slice()),
            Attack::SignFlip { scale } => out.extend(own.as_slice().iter().map(|g| -scale * g)),
            Attack::Scaling { factor } => out.extend(own.as_slice().iter().map(|g| factor * g)),
            Attack::SameValue { value } => out.resize(nb * d, value),
            Attack::Gaussian { sigma, relative } => {
                for b in 0..nb {
                    let g = own.row(b);
                    let s = if relative { sigma * std(g) } else { sigma };
                    let mut r = rng::stream(seed, b as u64);
                    out.extend(g.iter().map(|&x| {
                        let e: f64 = StandardNormal.sample(&mut r);
                        x + s * e
                    }));
                }
            }
            Attack::Alie { z } => {
                let (mu, sd) = mean_std(reference, par);
                let v: Vec<f64> = mu.iter().zip(&sd).map(|(m, s)| m - z * s).collect();
                (0..nb).for_each(|_| out.extend_from_slice(&v));
            }
            Attack::Ipm { epsilon } => {
                let (mu, _) = mean_std(reference, par);
                (0..nb).for_each(|_| out.extend(mu.iter().map(|m| -epsilon * m)));
            }
            Attack::AdaptiveLsh { factor } => {
                let (mu, _) = mean_std(reference, par);
                (0..nb).for_each(|_| out.extend(mu.iter().map(|m| factor * m)));
            }
            Attack::Mimic { target } => {
                let row = reference.row(target % reference.n());
                (0..nb).for_each(|_| out.extend_from_slice(row));
            }
        }
        Ok(out)
    }
}

fn finite(field: &'static str, x: f64) -> Result<()> {
    if x.is_finite() { Ok(()) } else { Err(Error::hyper(field, x, "must be finite")) }
}

/// Population standard deviation of the entries of `g`.
fn std(g: &[f64]) -> f64 {
    let m = g.iter().sum::<f64>() / g.len() as f64;
    (g.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / g.len() as f64).sqrt()
}

/// Coordinate-wise mean and population standard deviation of the rows of `u`.
fn mean_std(u: Updates<'_>, par: Par) -> (Vec<f64>, Vec<f64>) {
    let rows: Vec<usize> = (0..u.n()).collect();
    let w = vec![1.0 / u.n() as f64; u.n()];
    let mu = weighted_sum_rows(u, &rows, &w, par);
    let mut var = vec![0.0; u.d()];
    for i in 0..u.n() {
        for ((v, x), m) in var.iter_mut().zip(u.row(i)).zip(&mu) {
            *v += (x - m) * (x - m);
        }
    }
    let sd = var.iter().map(|v| (v / u.n() as f64).sqrt()).collect();
    (mu, sd)
}
