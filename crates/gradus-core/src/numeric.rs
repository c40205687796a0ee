//! Small scalar helpers shared by the crates, kept in one place so that every caller sums in
//! the same order (results are bit-identical wherever they are computed).
//!
//! These are the plain sequential forms for small vectors (control paths, Newton-CG on a
//! few hundred coordinates, report grids). Long vectors go through the SIMD kernels of
//! `gradus-kernels` (`blas1::dot`) instead.

/// `sum_i a_i b_i` over the common length, summed left to right.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `n` evenly spaced points from `a` to `b` inclusive (`a` alone when `n = 1`, nothing when
/// `n = 0`); the point `i` is `a + (b - a) i / (n - 1)`, so both ends are exact.
#[inline]
pub fn linspace(a: f64, b: f64, n: usize) -> impl Iterator<Item = f64> {
    (0..n).map(move |i| if n == 1 { a } else { a + (b - a) * i as f64 / (n - 1) as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_linspace_match_their_definitions() {
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, -5.0, 0.5]), 4.0 - 10.0 + 1.5);
        assert_eq!(dot(&[1.0, 2.0], &[3.0]), 3.0);
        let g: Vec<f64> = linspace(-1.0, 2.0, 4).collect();
        assert_eq!(g, vec![-1.0, 0.0, 1.0, 2.0]);
        assert_eq!(linspace(0.3, 7.0, 1).collect::<Vec<_>>(), vec![0.3]);
        assert_eq!(linspace(0.0, 1.0, 0).count(), 0);
        let last = linspace(0.1, 0.7, 7).last();
        assert_eq!(last, Some(0.7));
    }
}
