//! Krum and multi-Krum (Blanchard et al. 2017; paper 09 §2).
//!
//! With `n` vectors and at most `f` Byzantine, client `i`'s score is
//! `s(i) = sum_{j in N_i} |x_i - x_j|^2`, `N_i` its `n - f - 2` nearest other clients. Krum
//! outputs the vector of lowest score; multi-Krum averages the `m` lowest. Distances come
//! from one Gram matrix product ([`crate::federated::gram`]). Ties go to the lower index.

use gradus_core::{Error, Par, Result};

use super::{Aggregate, weighted_sum_rows};
use crate::federated::Updates;
use crate::federated::gram::sq_dist_at;

/// Krum settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Krum {
    /// Assumed maximum number of Byzantine clients; needs `n > 2f + 2`.
    pub f: usize,
    /// Vectors averaged: 1 for Krum, more for multi-Krum.
    pub m: usize,
    /// Neighbours in each score; `None` is Blanchard's `n - f - 2` (byzfl uses `n - f - 1`).
    pub neighbours: Option<usize>,
}

impl Krum {
    /// Krum tolerating `f` Byzantine clients.
    pub fn new(f: usize) -> Self {
        Krum { f, m: 1, neighbours: None }
    }

    /// Multi-Krum: the mean of the `m` best-scored vectors.
    pub fn multi(f: usize, m: usize) -> Self {
        Krum { f, m, neighbours: None }
    }

    /// Errors name the first invalid field (checks that do not need `n`).
    pub fn validate(&self) -> Result<()> {
        if self.m == 0 {
            return Err(Error::hyper("m", 0.0, "multi-Krum averages at least one vector"));
        }
        if self.neighbours == Some(0) {
            return Err(Error::hyper("neighbours", 0.0, "need at least one neighbour"));
        }
        Ok(())
    }

    fn check_n(&self, n: usize) -> Result<usize> {
        // `n > 2f + 2` in checked arithmetic: `2f + 2` wraps for huge `f`.
        let need = self.f.checked_mul(2).and_then(|t| t.checked_add(2));
        if need.is_none_or(|need| n <= need) {
            return Err(Error::hyper(
                "f",
                self.f as f64,
                "Krum needs n > 2f + 2 (n = clients kept)",
            ));
        }
        if self.m > n {
            return Err(Error::hyper("m", self.m as f64, "multi-Krum needs m <= n"));
        }
        // n > 2f + 2 >= f + 2, so the default cannot underflow.
        let nb = match self.neighbours {
            Some(nb) => nb,
            None => n - self.f - 2,
        };
        if nb >= n {
            return Err(Error::hyper("neighbours", nb as f64, "need neighbours < n"));
        }
        Ok(nb)
    }
}

pub(crate) fn krum(
    u: Updates<'_>,
    g: &[f64],
    kept: &[usize],
    dropped: Vec<usize>,
    k: &Krum,
    par: Par,
) -> Result<Aggregate> {
    let nb = k.check_n(kept.len())?;
    let n = u.n();
    let mut scores = vec![f64::INFINITY; n];
    let mut row = Vec::with_capacity(kept.len());
    for &i in kept {
        row.clear();
        row.extend(kept.iter().filter(|&&j| j != i).map(|&j| sq_dist_at(g, n, i, j)));
        row.select_nth_unstable_by(nb - 1, f64::total_cmp);
        let mut near = row[..nb].to_vec();
        // Sorting before summing makes the score independent of the client order.
        near.sort_unstable_by(f64::total_cmp);
        scores[i] = near.iter().sum();
    }
    let mut order = kept.to_vec();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let mut selected = order[..k.m].to_vec();
    selected.sort_unstable();
    let vector = if k.m == 1 {
        u.row(selected[0]).to_vec()
    } else {
        weighted_sum_rows(u, &selected, &vec![1.0 / k.m as f64; k.m], par)
    };
    Ok(Aggregate {
        vector,
        dropped,
        selected,
        scores,
        iterations: 0,
        objective: None,
        converged: true,
    })
}
