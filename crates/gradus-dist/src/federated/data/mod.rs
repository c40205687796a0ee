//! Data for federated experiments: a labelled [`Dataset`], synthetic generators, client
//! splits (IID and Dirichlet non-IID), and loaders for the CIFAR-10 binary format and the
//! LEAF FEMNIST JSON format. Nothing is downloaded: loaders read files the user provides.

pub mod cifar;
pub mod femnist;
pub mod split;
pub mod synthetic;

use gradus_core::{Error, Result};

/// A classification set: `len` rows of `dim` features (row-major) with labels in
/// `0..classes`.
///
/// The fields are public for reading; a value built or changed by hand may break these
/// invariants, so consumers that rely on them ([`crate::federated::sim::Federation::new`])
/// re-check them with [`Dataset::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Features, row-major `len x dim`.
    pub x: Vec<f64>,
    /// Labels.
    pub y: Vec<usize>,
    /// Features per row.
    pub dim: usize,
    /// Number of classes.
    pub classes: usize,
}

impl Dataset {
    /// Checks shapes and labels: `x.len() == y.len() * dim`, `dim > 0`, labels below
    /// `classes`, finite features.
    pub fn new(x: Vec<f64>, y: Vec<usize>, dim: usize, classes: usize) -> Result<Self> {
        let set = Dataset { x, y, dim, classes };
        set.validate()?;
        Ok(set)
    }

    /// Checks the invariants of [`Dataset::new`] (for values built or changed through the
    /// public fields).
    pub fn validate(&self) -> Result<()> {
        let Dataset { x, y, dim, classes } = self;
        if *dim == 0 {
            return Err(Error::InvalidShape { what: "dataset", detail: "zero features".into() });
        }
        let want = y.len().checked_mul(*dim).ok_or_else(|| Error::InvalidShape {
            what: "dataset",
            detail: format!("{} rows x {dim} features overflows", y.len()),
        })?;
        gradus_core::validate::same_len("dataset features (rows * dim)", want, x.len())?;
        gradus_core::validate::all_finite("dataset features", x)?;
        if let Some(i) = y.iter().position(|c| c >= classes) {
            return Err(Error::InvalidShape {
                what: "dataset labels",
                detail: format!("label of row {i} is not below {classes}"),
            });
        }
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// The rows `idx` (in that order). Errors on an index out of range.
    pub fn subset(&self, idx: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = idx.iter().find(|&&i| i >= self.len()) {
            return Err(Error::InvalidShape {
                what: "dataset subset",
                detail: format!("row {bad} is not below {}", self.len()),
            });
        }
        let mut x = Vec::with_capacity(idx.len() * self.dim);
        idx.iter().for_each(|&i| x.extend_from_slice(self.row(i)));
        Ok(Dataset {
            x,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            dim: self.dim,
            classes: self.classes,
        })
    }
}
