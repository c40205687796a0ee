//! A minimal row-major dense matrix for model data (the heavy linear algebra lives in
//! `gradus-linalg`; models only need products with vectors).

use gradus_core::{Error, Result, Scalar};

/// A row-major `rows x cols` matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T: Scalar> Dense<T> {
    /// Wraps row-major `data`; errors unless `data.len() == rows * cols`.
    pub fn from_row_major(rows: usize, cols: usize, data: Vec<T>) -> Result<Self> {
        let want = rows.checked_mul(cols).ok_or_else(|| Error::InvalidShape {
            what: "matrix",
            detail: format!("{rows} x {cols} overflows"),
        })?;
        gradus_core::validate::same_len("matrix data", want, data.len())?;
        Ok(Dense { rows, cols, data })
    }

    /// Wraps data whose length the caller has just built as `rows * cols`.
    pub(crate) fn from_parts(rows: usize, cols: usize, data: Vec<T>) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        Dense { rows, cols, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row-major storage.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// `out = A x`.
    pub fn matvec(&self, x: &[T], out: &mut [T]) {
        for (i, o) in out.iter_mut().enumerate().take(self.rows) {
            *o = dot(self.row(i), x);
        }
    }
}

/// `sum_i a_i b_i`, accumulated left to right.
#[inline]
pub fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::ZERO, |acc, (&x, &y)| x.mul_add(y, acc))
}
