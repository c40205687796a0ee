//! Exact optimal transport between discrete measures on the real line: for costs
//! `|x - y|^p` with `p >= 1` the monotone (quantile) coupling is optimal, so sorting both
//! supports and filling the north-west corner gives the plan in O(n log n).

use gradus_core::{Error, Result};

/// An optimal plan as `(i, j, mass)` triples and its cost `sum mass |x_i - y_j|^p`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan1d {
    /// Total cost.
    pub cost: f64,
    /// Non-zero entries of the plan, in increasing order of both supports.
    pub entries: Vec<(usize, usize, f64)>,
}

fn normalised(what: &'static str, w: &[f64]) -> Result<Vec<f64>> {
    if let Some(index) = w.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what, index });
    }
    if let Some(&v) = w.iter().find(|&&v| v < 0.0) {
        return Err(Error::hyper(what, v, "weights must be >= 0"));
    }
    let s: f64 = w.iter().sum();
    if !(s.is_finite() && s > 0.0) {
        return Err(Error::hyper(what, s, "weights must have a finite positive sum"));
    }
    Ok(w.iter().map(|v| v / s).collect())
}

/// The optimal plan between `sum a_i delta_{x_i}` and `sum b_j delta_{y_j}` for the cost
/// `|x - y|^p`, `p >= 1` (weights are normalised; zero weights are allowed).
pub fn exact_1d(x: &[f64], a: &[f64], y: &[f64], b: &[f64], p: f64) -> Result<Plan1d> {
    gradus_core::validate::same_len("source weights", x.len(), a.len())?;
    gradus_core::validate::same_len("target weights", y.len(), b.len())?;
    gradus_core::validate::all_finite("source points", x)?;
    gradus_core::validate::all_finite("target points", y)?;
    if !(p.is_finite() && p >= 1.0) {
        return Err(Error::hyper("p", p, "the monotone plan is optimal for p >= 1"));
    }
    let (a, b) = (normalised("source weights", a)?, normalised("target weights", b)?);
    let mut ix: Vec<usize> = (0..x.len()).collect();
    let mut iy: Vec<usize> = (0..y.len()).collect();
    ix.sort_by(|&i, &j| x[i].total_cmp(&x[j]).then(i.cmp(&j)));
    iy.sort_by(|&i, &j| y[i].total_cmp(&y[j]).then(i.cmp(&j)));
    let (mut s, mut t) = (0, 0);
    let (mut ra, mut rb) = (a[ix[0]], b[iy[0]]);
    let mut entries = Vec::with_capacity(x.len() + y.len());
    let mut cost = 0.0;
    loop {
        let mass = ra.min(rb);
        if mass > 0.0 {
            let (i, j) = (ix[s], iy[t]);
            entries.push((i, j, mass));
            cost += mass * (x[i] - y[j]).abs().powf(p);
        }
        ra -= mass;
        rb -= mass;
        // Advance the side that ran out; rounding leaves at most a few ulps behind.
        if ra <= rb {
            s += 1;
            if s == ix.len() {
                break;
            }
            ra = a[ix[s]];
        } else {
            t += 1;
            if t == iy.len() {
                break;
            }
            rb = b[iy[t]];
        }
    }
    Ok(Plan1d { cost, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unequal_weights_and_bad_input() {
        // Two atoms against one: all mass goes to the single target.
        let plan = exact_1d(&[0.0, 2.0], &[1.0, 3.0], &[1.0], &[1.0], 2.0).unwrap();
        assert!((plan.cost - 1.0).abs() < 1e-15);
        assert!(exact_1d(&[0.0], &[1.0], &[1.0], &[-1.0], 2.0).is_err());
        assert!(exact_1d(&[0.0], &[1.0], &[1.0], &[1.0], 0.5).is_err());
        assert!(exact_1d(&[f64::NAN], &[1.0], &[1.0], &[1.0], 2.0).is_err());
        assert!(exact_1d(&[0.0], &[0.0], &[1.0], &[1.0], 2.0).is_err());
    }
}
