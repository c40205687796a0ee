use std::fmt;

/// Result alias used across gradus.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a caller can get wrong, and every numerical failure a routine can detect.
///
/// Each variant names the offending field or input, so the message alone tells a user what to
/// fix. Functions that return one of these leave their mutable arguments untouched unless the
/// function's documentation says otherwise.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyperparameter outside its valid range, e.g. `lr <= 0` or `beta1 >= 1`.
    #[error("invalid hyperparameter `{field}` = {value}: {reason}")]
    InvalidHyperparameter { field: &'static str, value: f64, reason: &'static str },

    /// Two buffers that must agree in length do not.
    #[error("length mismatch for {what}: expected {expected}, got {got}")]
    LengthMismatch { what: &'static str, expected: usize, got: usize },

    /// A NaN or infinite value where only finite values are meaningful.
    #[error("non-finite value in {what} at index {index}")]
    NonFinite { what: &'static str, index: usize },

    /// A shape that cannot be used as asked (empty, too large, not square, ...).
    #[error("invalid shape for {what}: {detail}")]
    InvalidShape { what: &'static str, detail: String },

    /// A matrix that must be symmetric is not, beyond the tolerance.
    #[error("matrix is not symmetric: |A - A^T| = {asymmetry:e} exceeds tolerance {tolerance:e}")]
    NotSymmetric { asymmetry: f64, tolerance: f64 },

    /// A matrix that must be positive definite is not (detected at the named step).
    #[error("matrix is not positive definite: {detail}")]
    NotPositiveDefinite { detail: String },

    /// A (numerically) singular system.
    #[error("singular system: {detail}")]
    Singular { detail: String },

    /// An iterative method did not reach its tolerance.
    #[error("{method} did not converge in {iterations} iterations (residual {residual:e})")]
    NoConvergence { method: &'static str, iterations: usize, residual: f64 },

    /// A saved state that does not fit the object it is loaded into.
    #[error("state mismatch in {field}: expected {expected}, found {found}")]
    StateMismatch { field: &'static str, expected: String, found: String },

    /// A checkpoint or data file whose bytes are not a valid encoding.
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },

    /// An operating-system I/O failure, with the path involved.
    #[error("i/o error on {path}: {message}")]
    Io { path: String, message: String },

    /// A request that is valid in general but not supported by this object.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    /// Builds [`Error::InvalidHyperparameter`].
    pub fn hyper(field: &'static str, value: f64, reason: &'static str) -> Self {
        Error::InvalidHyperparameter { field, value, reason }
    }

    /// Builds [`Error::Io`] from an `std::io::Error` and the path it concerns.
    pub fn io(path: impl fmt::Display, err: std::io::Error) -> Self {
        Error::Io { path: path.to_string(), message: err.to_string() }
    }

    /// Builds [`Error::Corrupt`].
    pub fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Corrupt { what, detail: detail.into() }
    }

    /// Builds [`Error::StateMismatch`].
    pub fn mismatch(
        field: &'static str,
        expected: impl fmt::Display,
        found: impl fmt::Display,
    ) -> Self {
        Error::StateMismatch { field, expected: expected.to_string(), found: found.to_string() }
    }
}
