//! Polynomial interpolation on Chebyshev points of the second kind, evaluated with the
//! barycentric formula (Berrut & Trefethen 2004, eq. 5.3, weights eq. 5.4): exact (up to
//! rounding) for any polynomial of degree at most the number of points minus one, and
//! backward stable on `[-1, 1]`.
//!
//! The spherical drift of Hermite units is such a polynomial in the overlap `m` (every
//! Gaussian moment of polynomials in two unit variables with correlation `m` is a
//! polynomial in `m`), so [`super::SingleIndexOde`] samples it once and evaluates the
//! interpolant instead of a 2-D quadrature per right-hand-side call.

use gradus_core::{Error, Result};

/// The interpolant through `(x_j, f(x_j))`, `x_j = cos(j pi / d)`, `j = 0..=d`.
#[derive(Debug, Clone)]
pub struct ChebyshevInterpolant {
    nodes: Vec<f64>,
    values: Vec<f64>,
    /// `(-1)^j`, halved at both ends.
    weights: Vec<f64>,
}

impl ChebyshevInterpolant {
    /// Samples `f` at `degree + 1` Chebyshev points of `[-1, 1]`.
    pub fn sample(degree: usize, mut f: impl FnMut(f64) -> Result<f64>) -> Result<Self> {
        if degree == 0 {
            return Err(Error::hyper("interpolation degree", 0.0, "must be at least 1"));
        }
        let d = degree as f64;
        let nodes: Vec<f64> =
            (0..=degree).map(|j| (std::f64::consts::PI * j as f64 / d).cos()).collect();
        let values = nodes.iter().map(|&x| f(x)).collect::<Result<Vec<f64>>>()?;
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "interpolated function", index });
        }
        let weights = (0..=degree)
            .map(|j| {
                let s = if j % 2 == 0 { 1.0 } else { -1.0 };
                if j == 0 || j == degree { 0.5 * s } else { s }
            })
            .collect();
        Ok(ChebyshevInterpolant { nodes, values, weights })
    }

    /// The interpolant at `x` (callers keep `x` in `[-1, 1]`, where it is stable).
    pub fn eval(&self, x: f64) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for ((&xj, &fj), &wj) in self.nodes.iter().zip(&self.values).zip(&self.weights) {
            let diff = x - xj;
            if diff == 0.0 {
                return fj;
            }
            let t = wj / diff;
            num += t * fj;
            den += t;
        }
        num / den
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_polynomials_up_to_its_degree_and_not_beyond() {
        let p = |x: f64| 3.0 * x.powi(7) - x.powi(4) + 0.5 * x - 2.0;
        let exact = ChebyshevInterpolant::sample(7, |x| Ok(p(x))).unwrap();
        let short = ChebyshevInterpolant::sample(5, |x| Ok(p(x))).unwrap();
        let mut worst_short: f64 = 0.0;
        for i in 0..=200 {
            let x = -1.0 + i as f64 / 100.0;
            assert!((exact.eval(x) - p(x)).abs() < 1e-13, "x {x}");
            worst_short = worst_short.max((short.eval(x) - p(x)).abs());
        }
        assert!(worst_short > 1e-2, "a degree-5 interpolant cannot fit a degree-7 polynomial");
    }

    #[test]
    fn rejects_degree_zero_and_non_finite_samples() {
        assert!(ChebyshevInterpolant::sample(0, |x| Ok(x)).is_err());
        assert!(ChebyshevInterpolant::sample(3, |x| Ok(1.0 / x.abs().min(0.0))).is_err());
    }
}
