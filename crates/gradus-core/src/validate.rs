//! Input checks shared by every crate, so that error messages read the same everywhere.

use crate::{Error, Result, Scalar};

/// Errors unless `got == expected`.
#[inline]
pub fn same_len(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got { Ok(()) } else { Err(Error::LengthMismatch { what, expected, got }) }
}

/// Errors at the first non-finite entry of `xs`.
pub fn all_finite<T: Scalar>(what: &'static str, xs: &[T]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(index) => Err(Error::NonFinite { what, index }),
    }
}

/// Errors unless `x` is finite and `> 0`.
pub fn positive(field: &'static str, x: f64) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(Error::hyper(field, x, "must be finite and > 0"))
    }
}

/// Errors unless `x` is finite and `>= 0`.
pub fn non_negative(field: &'static str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(Error::hyper(field, x, "must be finite and >= 0"))
    }
}

/// Errors unless `0 <= x < 1` (decay rates such as Adam's betas).
pub fn unit_interval_open_right(field: &'static str, x: f64) -> Result<()> {
    if (0.0..1.0).contains(&x) { Ok(()) } else { Err(Error::hyper(field, x, "must lie in [0, 1)")) }
}

/// Errors unless `0 <= x <= 1`.
pub fn unit_interval(field: &'static str, x: f64) -> Result<()> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err(Error::hyper(field, x, "must lie in [0, 1]"))
    }
}
