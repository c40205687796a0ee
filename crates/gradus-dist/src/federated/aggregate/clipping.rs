//! Centered clipping (Karimireddy, He, Jaggi 2021):
//! `v <- v + (1/n) sum_i (x_i - v) min(1, tau / |x_i - v|)`, repeated `iterations` times
//! from a center (the previous aggregate or momentum; the origin by default).

use gradus_core::validate::same_len;
use gradus_core::{Par, Result, validate};
use rayon::prelude::*;

use super::weighted_sum_rows;
use crate::federated::Updates;
use crate::federated::gram::sq_dist_same_len;

/// Centered-clipping settings. The default (`tau = 100`, one iteration, center at the
/// origin) is byzfl's `CenteredClipping()`.
#[derive(Debug, Clone, PartialEq)]
pub struct CenteredClipping {
    /// Clipping radius `tau > 0`.
    pub tau: f64,
    /// Clipping iterations `L`.
    pub iterations: usize,
    /// Starting center (length `d`); `None` is the origin.
    pub center: Option<Vec<f64>>,
}

impl Default for CenteredClipping {
    fn default() -> Self {
        CenteredClipping { tau: 100.0, iterations: 1, center: None }
    }
}

impl CenteredClipping {
    /// Errors name the first invalid field.
    pub fn validate(&self) -> Result<()> {
        validate::positive("tau", self.tau)?;
        if let Some(c) = &self.center {
            validate::all_finite("clipping center", c)?;
        }
        Ok(())
    }
}

pub(crate) fn centered_clipping(
    u: Updates<'_>,
    kept: &[usize],
    c: &CenteredClipping,
    par: Par,
) -> Result<(Vec<f64>, usize)> {
    let mut v = match &c.center {
        Some(center) => {
            same_len("clipping center", u.d(), center.len())?;
            center.clone()
        }
        None => vec![0.0; u.d()],
    };
    let m = kept.len() as f64;
    for _ in 0..c.iterations {
        let dist = |&i: &usize| sq_dist_same_len(u.row(i), &v).sqrt();
        let norms: Vec<f64> = if par.is_parallel() {
            kept.par_iter().map(dist).collect()
        } else {
            kept.iter().map(dist).collect()
        };
        // A client at the center contributes nothing whatever its factor; 1 avoids 0 / 0.
        let factors: Vec<f64> =
            norms.iter().map(|&r| if r > c.tau { c.tau / r } else { 1.0 }).collect();
        let weights: Vec<f64> = factors.iter().map(|f| f / m).collect();
        let mut next = weighted_sum_rows(u, kept, &weights, par);
        let keep = 1.0 - factors.iter().sum::<f64>() / m;
        gradus_kernels::axpy(par, keep, &v, &mut next)?;
        v = next;
    }
    Ok((v, c.iterations))
}
