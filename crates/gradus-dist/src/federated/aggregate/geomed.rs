//! Geometric median `argmin_z sum_i |z - x_i|` by smoothed Weiszfeld iterations
//! (paper 09 §2; RFA, Pillutla et al. 2022):
//!
//! ```text
//! beta_i = 1 / max(nu, |z - x_i|),   z <- sum_i beta_i x_i / sum_i beta_i
//! ```
//!
//! Every iterate is a convex combination `z = X^T w` of the client vectors (or `0` at a zero
//! start), so with the Gram matrix `G = X X^T` the distances are
//! `|z - x_i|^2 = (w^T G w - (G w)_i) + (G_ii - (G w)_i)`: after the one product that builds
//! `G`, an iteration costs `O(n^2)` instead of a pass over `n x d` memory. `z` itself is
//! formed once at the end.
//!
//! These distances inherit the cancellation of Gram-space distances
//! ([`crate::federated::gram`]): their squares carry an absolute error of order
//! `eps * sqrt(d) * max_i |x_i|^2`. A tolerance below that level relative to the objective is
//! not meaningful, and clients clustered far from the origin (spread below about `1e-7` of
//! their norm) should be shifted towards the origin first.

use gradus_core::{Error, Par, Result, validate};

use super::{Aggregate, weighted_sum_rows};
use crate::federated::Updates;

/// Where Weiszfeld starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeiszfeldStart {
    /// The mean of the kept clients (RFA).
    #[default]
    Mean,
    /// The origin (what byzfl's `GeometricMedian` does).
    Zero,
}

/// Settings of the smoothed Weiszfeld iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weiszfeld {
    /// Smoothing `nu > 0`: distances below it count as `nu` (guards the division when `z`
    /// meets a client vector).
    pub nu: f64,
    /// Stop when the objective changes by at most `tol * objective` in one iteration
    /// (relative change, RFA's rule); `0` runs exactly `max_iter` iterations.
    pub tol: f64,
    /// Iteration cap.
    pub max_iter: usize,
    /// Starting point.
    pub start: WeiszfeldStart,
}

impl Default for Weiszfeld {
    /// `nu = 1e-6`, `tol = 1e-10`, at most 500 iterations, start at the mean.
    fn default() -> Self {
        Weiszfeld { nu: 1e-6, tol: 1e-10, max_iter: 500, start: WeiszfeldStart::Mean }
    }
}

impl Weiszfeld {
    /// byzfl's `GeometricMedian()` defaults: `nu = 0.1`, three iterations from the origin, no
    /// tolerance.
    pub fn byzfl() -> Self {
        Weiszfeld { nu: 0.1, tol: 0.0, max_iter: 3, start: WeiszfeldStart::Zero }
    }

    /// Errors name the first invalid field.
    pub fn validate(&self) -> Result<()> {
        validate::positive("nu", self.nu)?;
        validate::non_negative("tol", self.tol)?;
        if self.max_iter == 0 && self.start == WeiszfeldStart::Zero {
            return Err(Error::hyper("max_iter", 0.0, "a zero start needs at least one iteration"));
        }
        Ok(())
    }
}

/// Distances `|X^T w - x_i|` for the kept clients (`gk` is the kept block of `G`, `m x m`)
/// and their sum.
fn distances(gk: &[f64], m: usize, w: &[f64], gw: &mut [f64], dist: &mut [f64]) -> f64 {
    for i in 0..m {
        gw[i] = (0..m).map(|j| gk[i * m + j] * w[j]).sum();
    }
    let wgw: f64 = (0..m).map(|i| w[i] * gw[i]).sum();
    let mut total = 0.0;
    for i in 0..m {
        // Differences first, as in `gram::sq_dist_at`: the sum of two squared norms can
        // overflow while the distance does not; NaN (from inf - inf) counts as far.
        let sq = (wgw - gw[i]) + (gk[i * m + i] - gw[i]);
        dist[i] = if sq.is_nan() { f64::INFINITY } else { sq.max(0.0).sqrt() };
        total += dist[i];
    }
    total
}

pub(crate) fn geometric_median(
    u: Updates<'_>,
    g: &[f64],
    kept: &[usize],
    dropped: Vec<usize>,
    cfg: &Weiszfeld,
    par: Par,
) -> Result<Aggregate> {
    let (n, m) = (u.n(), kept.len());
    let mut gk = vec![0.0; m * m];
    for (a, &i) in kept.iter().enumerate() {
        for (b, &j) in kept.iter().enumerate() {
            gk[a * m + b] = g[i * n + j];
        }
    }
    let mut w = match cfg.start {
        WeiszfeldStart::Mean => vec![1.0 / m as f64; m],
        WeiszfeldStart::Zero => vec![0.0; m],
    };
    let (mut gw, mut dist) = (vec![0.0; m], vec![0.0; m]);
    let mut obj = distances(&gk, m, &w, &mut gw, &mut dist);
    let (mut iterations, mut converged) = (0, false);
    while iterations < cfg.max_iter {
        let mut total = 0.0;
        for (wi, &di) in w.iter_mut().zip(&dist) {
            *wi = 1.0 / di.max(cfg.nu);
            total += *wi;
        }
        w.iter_mut().for_each(|wi| *wi /= total);
        let next = distances(&gk, m, &w, &mut gw, &mut dist);
        iterations += 1;
        let change = (obj - next).abs();
        obj = next;
        if cfg.tol > 0.0 && change <= cfg.tol * next {
            converged = true;
            break;
        }
    }
    let vector = weighted_sum_rows(u, kept, &w, par);
    Ok(Aggregate {
        vector,
        dropped,
        selected: Vec::new(),
        scores: Vec::new(),
        iterations,
        objective: Some(obj),
        converged,
    })
}
