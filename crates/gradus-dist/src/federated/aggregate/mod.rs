//! Server aggregation rules over `n` client vectors (papers 05 and 09).
//!
//! | rule | definition | precondition |
//! |---|---|---|
//! | [`Aggregator::Mean`] | `(1/n) sum_i x_i` (FedAvg) | - |
//! | [`Aggregator::Median`] | coordinate-wise median | - |
//! | [`Aggregator::TrimmedMean`] | per coordinate, drop the `b` largest and `b` smallest, average the rest | `2b < n` |
//! | [`Aggregator::GeometricMedian`] | `argmin_z sum_i |z - x_i|` by smoothed Weiszfeld (paper 09 §2) | - |
//! | [`Aggregator::Krum`] | Krum / multi-Krum (Blanchard et al. 2017; paper 09 §2) | `n > 2f + 2` |
//! | [`Aggregator::CenteredClipping`] | `v += (1/n) sum_i clip_tau(x_i - v)` (Karimireddy et al. 2021) | `tau > 0` |
//!
//! Every rule checks its preconditions and returns an error instead of silently becoming a
//! mean. Non-finite client vectors are rejected or dropped ([`NonFinitePolicy`]); the
//! preconditions then apply to the clients kept. Work is split over fixed column pieces or
//! over clients, never by thread, so results do not depend on the thread count. Rules that
//! sort per coordinate (median, trimmed mean) are exactly invariant to the client order; the
//! others are invariant up to floating-point summation order.

mod clipping;
mod coordinate;
mod geomed;
mod krum;
mod mean;

pub use clipping::CenteredClipping;
pub use geomed::{Weiszfeld, WeiszfeldStart};
pub use krum::Krum;
pub use mean::weighted_sum;
pub(crate) use mean::weighted_sum_rows;

use gradus_core::{Error, Par, Result};

use super::gram::gram;
use super::updates::apply_policy;
use super::{NonFinitePolicy, Updates};

/// The output of an aggregation rule and what it observed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The aggregated vector (length `d`).
    pub vector: Vec<f64>,
    /// Clients left out because their vector was not finite ([`NonFinitePolicy::Drop`]).
    pub dropped: Vec<usize>,
    /// Clients the output is built from, for selection rules (Krum: one; multi-Krum: `m`),
    /// ascending; empty for the other rules.
    pub selected: Vec<usize>,
    /// Per-client score of selection rules (Krum: sum of squared distances to the nearest
    /// neighbours), indexed by client; `+inf` for dropped clients; empty otherwise.
    pub scores: Vec<f64>,
    /// Iterations run (Weiszfeld, centered clipping); 0 for one-shot rules.
    pub iterations: usize,
    /// Final objective `sum_i |z - x_i|` of the geometric median over the kept clients.
    pub objective: Option<f64>,
    /// Whether an iterative rule met its tolerance (false when it stopped at the cap).
    pub converged: bool,
}

impl Aggregate {
    fn plain(vector: Vec<f64>, dropped: Vec<usize>) -> Self {
        Aggregate {
            vector,
            dropped,
            selected: Vec::new(),
            scores: Vec::new(),
            iterations: 0,
            objective: None,
            converged: true,
        }
    }
}

/// A server aggregation rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregator {
    /// Arithmetic mean (FedAvg); breaks down with a single Byzantine client.
    Mean,
    /// Coordinate-wise median (average of the two middle values for an even count).
    Median,
    /// Coordinate-wise trimmed mean: drop the `b` largest and `b` smallest values of each
    /// coordinate and average the remaining `n - 2b`. Needs `2b < n`.
    TrimmedMean {
        /// Values trimmed on each side.
        b: usize,
    },
    /// Geometric median by smoothed Weiszfeld iterations (paper 09 §2, RFA).
    GeometricMedian(Weiszfeld),
    /// Krum or multi-Krum (paper 09 §2).
    Krum(Krum),
    /// Centered clipping.
    CenteredClipping(CenteredClipping),
}

impl Aggregator {
    /// Short name for tables, e.g. `"trimmed-mean(b=2)"`.
    pub fn name(&self) -> String {
        match self {
            Aggregator::Mean => "mean".into(),
            Aggregator::Median => "median".into(),
            Aggregator::TrimmedMean { b } => format!("trimmed-mean(b={b})"),
            Aggregator::GeometricMedian(_) => "geometric-median".into(),
            Aggregator::Krum(k) if k.m == 1 => format!("krum(f={})", k.f),
            Aggregator::Krum(k) => format!("multi-krum(f={},m={})", k.f, k.m),
            Aggregator::CenteredClipping(c) => format!("centered-clipping(tau={})", c.tau),
        }
    }

    /// Aggregates the rows of `u`.
    ///
    /// Errors: invalid hyperparameters (named), a violated precondition on the number of
    /// clients kept, a non-finite client under [`NonFinitePolicy::Reject`], a center of the
    /// wrong length for centered clipping.
    pub fn aggregate(
        &self,
        u: Updates<'_>,
        policy: NonFinitePolicy,
        par: Par,
    ) -> Result<Aggregate> {
        match self {
            Aggregator::GeometricMedian(w) => {
                w.validate()?;
                let (g, kept, dropped) = gram_and_kept(u, policy, par)?;
                geomed::geometric_median(u, &g, &kept, dropped, w, par)
            }
            Aggregator::Krum(k) => {
                k.validate()?;
                let (g, kept, dropped) = gram_and_kept(u, policy, par)?;
                krum::krum(u, &g, &kept, dropped, k, par)
            }
            Aggregator::Mean => {
                // One pass: the finiteness check rides along with the sum; only when a client
                // is non-finite does the policy need a second pass over the kept clients.
                let all: Vec<usize> = (0..u.n()).collect();
                match mean::mean_or_bad(u, &all, par) {
                    Ok(v) => Ok(Aggregate::plain(v, Vec::new())),
                    Err(bad) => {
                        let kept = apply_policy(u.n(), &bad, policy)?;
                        self.check_count(kept.len())?;
                        let w = vec![1.0 / kept.len() as f64; kept.len()];
                        Ok(Aggregate::plain(weighted_sum_rows(u, &kept, &w, par), bad))
                    }
                }
            }
            Aggregator::Median
            | Aggregator::TrimmedMean { .. }
            | Aggregator::CenteredClipping(_) => {
                self.validate_params()?;
                let dropped = u.non_finite_rows(par);
                let kept = apply_policy(u.n(), &dropped, policy)?;
                self.check_count(kept.len())?;
                let mut a = Aggregate::plain(Vec::new(), dropped);
                a.vector = match self {
                    Aggregator::TrimmedMean { b } => coordinate::trimmed_mean(u, &kept, *b, par),
                    Aggregator::CenteredClipping(c) => {
                        let (v, iters) = clipping::centered_clipping(u, &kept, c, par)?;
                        a.iterations = iters;
                        v
                    }
                    _ => coordinate::median(u, &kept, par),
                };
                Ok(a)
            }
        }
    }

    /// Convenience form of [`Aggregator::aggregate`] over separate client vectors (copies
    /// them into one buffer; errors if their lengths differ).
    pub fn aggregate_rows<R: AsRef<[f64]>>(
        &self,
        rows: &[R],
        policy: NonFinitePolicy,
        par: Par,
    ) -> Result<Aggregate> {
        let (data, n, d) = super::stack_rows(rows)?;
        self.aggregate(Updates::new(&data, n, d)?, policy, par)
    }

    fn validate_params(&self) -> Result<()> {
        match self {
            Aggregator::CenteredClipping(c) => c.validate(),
            _ => Ok(()),
        }
    }

    fn check_count(&self, m: usize) -> Result<()> {
        if m == 0 {
            return Err(Error::InvalidShape {
                what: "client updates",
                detail: "no finite client vector left to aggregate".into(),
            });
        }
        if let Aggregator::TrimmedMean { b } = self {
            // `2b < m` without forming `2b`, which wraps for huge `b`.
            if *b >= m.div_ceil(2) {
                return Err(Error::hyper(
                    "b",
                    *b as f64,
                    "trimmed mean needs 2b < n (clients kept)",
                ));
            }
        }
        Ok(())
    }
}

/// The Gram matrix and the clients kept under `policy`. A client whose squared norm is not
/// finite has a non-finite entry or overflows `f64` when squared: both count as non-finite.
fn gram_and_kept(
    u: Updates<'_>,
    policy: NonFinitePolicy,
    par: Par,
) -> Result<(Vec<f64>, Vec<usize>, Vec<usize>)> {
    let g = gram(u, par)?;
    let n = u.n();
    let bad: Vec<usize> = (0..n).filter(|&i| !g[i * n + i].is_finite()).collect();
    if let (NonFinitePolicy::Reject, Some(&i)) = (policy, bad.first()) {
        let row_finite = gradus_kernels::grad_stats(Par::Seq, u.row(i)).all_finite;
        let what = if row_finite {
            "squared norm of client vector (index is the client)"
        } else {
            "client vector (index is the client)"
        };
        return Err(Error::NonFinite { what, index: i });
    }
    let kept = apply_policy(n, &bad, policy)?;
    if kept.is_empty() {
        return Err(Error::InvalidShape {
            what: "client updates",
            detail: "no finite client vector left to aggregate".into(),
        });
    }
    Ok((g, kept, bad))
}
