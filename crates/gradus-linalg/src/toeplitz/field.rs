use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

use num_complex::Complex64;

/// The entries of a Toeplitz matrix: `f64` (symmetric) or `Complex64` (Hermitian).
pub trait ToeplitzField:
    Copy
    + Send
    + Sync
    + Debug
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Complex conjugate (identity for reals).
    fn conj(self) -> Self;
    /// `|x|^2`.
    fn abs2(self) -> f64;
    /// Real part.
    fn re(self) -> f64;
    /// Imaginary part (0 for reals).
    fn im(self) -> f64;
    /// Embeds a real number.
    fn from_re(x: f64) -> Self;
    /// Neither component is NaN or infinite.
    fn is_finite(self) -> bool;
}

impl ToeplitzField for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn conj(self) -> Self {
        self
    }
    fn abs2(self) -> f64 {
        self * self
    }
    fn re(self) -> f64 {
        self
    }
    fn im(self) -> f64 {
        0.0
    }
    fn from_re(x: f64) -> Self {
        x
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

impl ToeplitzField for Complex64 {
    const ZERO: Self = Complex64::new(0.0, 0.0);
    const ONE: Self = Complex64::new(1.0, 0.0);
    fn conj(self) -> Self {
        Complex64::conj(&self)
    }
    fn abs2(self) -> f64 {
        self.norm_sqr()
    }
    fn re(self) -> f64 {
        self.re
    }
    fn im(self) -> f64 {
        self.im
    }
    fn from_re(x: f64) -> Self {
        Complex64::new(x, 0.0)
    }
    fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
}
