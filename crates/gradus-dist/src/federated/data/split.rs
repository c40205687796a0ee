//! Splitting a dataset's rows among clients: IID, and non-IID by a Dirichlet prior over
//! each class's client proportions (Hsu et al. 2019).

use gradus_core::{Error, Result, Rng, validate};
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Gamma};

/// Shuffles `0..n` and deals the rows to `clients` in turn (sizes differ by at most one).
/// Errors unless `1 <= clients <= n`.
pub fn iid(n: usize, clients: usize, rng: &mut Rng) -> Result<Vec<Vec<usize>>> {
    check(n, clients)?;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    let mut out = vec![Vec::with_capacity(n / clients + 1); clients];
    for (k, i) in idx.into_iter().enumerate() {
        out[k % clients].push(i);
    }
    Ok(out)
}

/// For every class, client proportions `p ~ Dirichlet(alpha, ..., alpha)` and the class's
/// (shuffled) rows cut accordingly; small `alpha` gives each client few classes. A client
/// left empty receives one row from the largest client, so every client has data. Errors
/// unless `1 <= clients <= labels.len()`, `alpha > 0` and every label is below `classes`.
pub fn dirichlet(
    labels: &[usize],
    classes: usize,
    clients: usize,
    alpha: f64,
    rng: &mut Rng,
) -> Result<Vec<Vec<usize>>> {
    check(labels.len(), clients)?;
    validate::positive("alpha", alpha)?;
    if let Some(i) = labels.iter().position(|&y| y >= classes) {
        return Err(Error::InvalidShape {
            what: "labels",
            detail: format!("label {i} is not below {classes}"),
        });
    }
    let gamma = Gamma::new(alpha, 1.0).map_err(|_| Error::hyper("alpha", alpha, "invalid"))?;
    let mut out = vec![Vec::new(); clients];
    for c in 0..classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        if rows.is_empty() {
            continue;
        }
        rows.shuffle(rng);
        let g: Vec<f64> = (0..clients).map(|_| gamma.sample(rng)).collect();
        let total: f64 = g.iter().sum();
        let mut start = 0;
        let mut acc = 0.0;
        for (k, gk) in g.iter().enumerate() {
            acc += gk;
            let end = if k + 1 == clients || total <= 0.0 {
                rows.len()
            } else {
                ((acc / total) * rows.len() as f64).round() as usize
            }
            .clamp(start, rows.len());
            out[k].extend_from_slice(&rows[start..end]);
            start = end;
        }
    }
    while let Some(empty) = out.iter().position(|v| v.is_empty()) {
        let largest = (0..clients).max_by_key(|&k| (out[k].len(), usize::MAX - k)).unwrap_or(0);
        let row = out[largest].pop().ok_or_else(|| Error::InvalidShape {
            what: "dirichlet split",
            detail: "not enough rows for every client".into(),
        })?;
        out[empty].push(row);
    }
    Ok(out)
}

fn check(n: usize, clients: usize) -> Result<()> {
    if clients == 0 || clients > n {
        return Err(Error::hyper("clients", clients as f64, "need 1 <= clients <= rows"));
    }
    Ok(())
}
