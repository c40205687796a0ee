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

    /// Row `i`; errors unless `i < rows`.
    pub fn get_row(&self, i: usize) -> Result<&[T]> {
        if i >= self.rows {
            return Err(Error::InvalidShape {
                what: "row index",
                detail: format!("row {i} of a matrix with {} rows", self.rows),
            });
        }
        Ok(self.row(i))
    }

    /// Row `i`, for indices the model has already checked (hot loops).
    #[inline]
    pub(crate) fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row-major storage.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// `out = A x`; errors unless `x` has `cols` entries and `out` has `rows`.
    pub fn matvec(&self, x: &[T], out: &mut [T]) -> Result<()> {
        gradus_core::validate::same_len("matvec input", self.cols, x.len())?;
        gradus_core::validate::same_len("matvec output", self.rows, out.len())?;
        for (i, o) in out.iter_mut().enumerate().take(self.rows) {
            *o = dot(self.row(i), x);
        }
        Ok(())
    }
}

/// `sum_i a_i b_i` in four interleaved partial sums. Plain multiply-adds on purpose:
/// `Scalar::mul_add` is a correctly rounded FMA, which without the `fma` target feature is a
/// libm call per element (about 10x slower); the independent partial sums let the compiler
/// vectorise.
#[inline]
pub fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [T::ZERO; 4];
    let quads = n / 4;
    for q in 0..quads {
        for k in 0..4 {
            acc[k] += a[4 * q + k] * b[4 * q + k];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in 4 * quads..n {
        s += a[i] * b[i];
    }
    s
}
