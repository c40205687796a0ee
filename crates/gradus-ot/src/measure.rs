//! Discrete probability measures `sum_j w_j delta_{y_j}`.

use gradus_core::{Error, Result};

/// A discrete probability measure `nu = sum_j w_j delta_{y_j}` on `R^d`, points stored
/// row-major (`y_j` is `points[j*d .. (j+1)*d]`).
///
/// Construction validates everything, so the solvers can trust it: at least one point, a
/// positive dimension, finite coordinates, finite strictly positive weights. Weights are
/// normalised to sum to one (the semi-dual gradient `chi - w` is orthogonal to the all-ones
/// vector only then).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteMeasure {
    dim: usize,
    points: Vec<f64>,
    weights: Vec<f64>,
}

impl DiscreteMeasure {
    /// The measure with atoms `points` (row-major, `dim` columns) and weights proportional
    /// to `weights`.
    pub fn new(dim: usize, points: Vec<f64>, weights: Vec<f64>) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidShape { what: "measure", detail: "dimension 0".into() });
        }
        if points.is_empty() || points.len() % dim != 0 {
            return Err(Error::InvalidShape {
                what: "measure points",
                detail: format!(
                    "{} coordinates is not a positive multiple of dimension {dim}",
                    points.len()
                ),
            });
        }
        let n = points.len() / dim;
        gradus_core::validate::same_len("measure weights", n, weights.len())?;
        gradus_core::validate::all_finite("measure points", &points)?;
        if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::NonFinite { what: "measure weights", index });
        }
        if let Some(j) = weights.iter().position(|&w| w <= 0.0) {
            return Err(Error::hyper("measure weight", weights[j], "weights must be > 0"));
        }
        let total: f64 = weights.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return Err(Error::hyper("sum of measure weights", total, "must be finite and > 0"));
        }
        let weights = weights.into_iter().map(|w| w / total).collect();
        Ok(DiscreteMeasure { dim, points, weights })
    }

    /// The uniform measure on the rows of `points`.
    pub fn uniform(dim: usize, points: Vec<f64>) -> Result<Self> {
        let n = points.len().checked_div(dim).unwrap_or(0);
        Self::new(dim, points, vec![1.0; n.max(1)])
    }

    /// Number of atoms `M`.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Always false: a measure has at least one atom.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Dimension `d` of the ambient space.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Atom `j` (panics if `j >= len()`, like slice indexing).
    pub fn point(&self, j: usize) -> &[f64] {
        &self.points[j * self.dim..(j + 1) * self.dim]
    }

    /// All atoms, row-major.
    pub fn points(&self) -> &[f64] {
        &self.points
    }

    /// The normalised weights `w_j` (sum to one).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_normalises() {
        let m = DiscreteMeasure::new(2, vec![0.0, 1.0, 2.0, 3.0], vec![1.0, 3.0]).unwrap();
        assert_eq!(m.weights(), &[0.25, 0.75]);
        assert_eq!(m.point(1), &[2.0, 3.0]);
        assert!(DiscreteMeasure::new(0, vec![1.0], vec![1.0]).is_err());
        assert!(DiscreteMeasure::new(2, vec![1.0], vec![1.0]).is_err());
        assert!(DiscreteMeasure::new(1, vec![], vec![]).is_err());
        assert!(DiscreteMeasure::new(1, vec![1.0, 2.0], vec![1.0]).is_err());
        assert!(DiscreteMeasure::new(1, vec![f64::NAN], vec![1.0]).is_err());
        assert!(DiscreteMeasure::new(1, vec![1.0], vec![0.0]).is_err());
        assert!(DiscreteMeasure::new(1, vec![1.0], vec![f64::INFINITY]).is_err());
        assert!(DiscreteMeasure::new(1, vec![1.0, 2.0], vec![f64::MAX, f64::MAX]).is_err());
        assert!(DiscreteMeasure::uniform(0, vec![]).is_err());
    }
}
