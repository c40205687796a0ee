//! The input of every aggregator: `n` client vectors of one dimension `d`.

use gradus_core::validate::same_len;
use gradus_core::{Error, Par, Result};
use rayon::prelude::*;

/// A borrowed `n x d` row-major matrix whose row `i` is the vector client `i` sent.
///
/// Construction checks the shape only; finiteness is checked by the aggregators, which
/// either reject or drop non-finite clients according to their [`NonFinitePolicy`].
#[derive(Debug, Clone, Copy)]
pub struct Updates<'a> {
    data: &'a [f64],
    n: usize,
    d: usize,
}

impl<'a> Updates<'a> {
    /// Views `data` as `n` rows of length `d`. Errors if `n == 0`, `d == 0` or
    /// `data.len() != n * d`.
    pub fn new(data: &'a [f64], n: usize, d: usize) -> Result<Self> {
        if n == 0 || d == 0 {
            return Err(Error::InvalidShape {
                what: "client updates",
                detail: format!("need at least one client and one coordinate, got {n} x {d}"),
            });
        }
        let want = n.checked_mul(d).ok_or_else(|| Error::InvalidShape {
            what: "client updates",
            detail: format!("{n} x {d} overflows"),
        })?;
        same_len("client updates (n * d)", want, data.len())?;
        Ok(Updates { data, n, d })
    }

    /// Number of clients.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Dimension of every client vector.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Client `i`'s vector.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    /// The row-major storage.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }

    /// Indices of the clients whose vector holds a NaN or an infinity, ascending.
    pub fn non_finite_rows(&self, par: Par) -> Vec<usize> {
        let bad = |i: usize| !gradus_kernels::grad_stats(Par::Seq, self.row(i)).all_finite;
        if par.is_parallel() {
            (0..self.n).into_par_iter().filter(|&i| bad(i)).collect()
        } else {
            (0..self.n).filter(|&i| bad(i)).collect()
        }
    }
}

/// Copies equal-length client vectors into one row-major buffer; returns it with `(n, d)`.
/// Errors name the first client whose length differs from client 0's.
pub fn stack_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<(Vec<f64>, usize, usize)> {
    let d = rows.first().map_or(0, |r| r.as_ref().len());
    let mut data = Vec::with_capacity(rows.len() * d);
    for r in rows {
        same_len("client vector length", d, r.as_ref().len())?;
        data.extend_from_slice(r.as_ref());
    }
    Ok((data, rows.len(), d))
}

/// What an aggregator does with a client vector that holds NaN or ±infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonFinitePolicy {
    /// Return [`Error::NonFinite`] naming the first such client (`index` is the client).
    #[default]
    Reject,
    /// Leave such clients out, list them in [`crate::federated::Aggregate::dropped`], and
    /// aggregate the rest (the rule's preconditions are checked on the clients kept).
    Drop,
}

/// Resolves `policy` against the clients in `bad` (ascending): the kept client indices.
pub(crate) fn apply_policy(n: usize, bad: &[usize], policy: NonFinitePolicy) -> Result<Vec<usize>> {
    match (policy, bad.first()) {
        (NonFinitePolicy::Reject, Some(&index)) => {
            Err(Error::NonFinite { what: "client vector (index is the client)", index })
        }
        _ => Ok((0..n).filter(|i| bad.binary_search(i).is_err()).collect()),
    }
}
