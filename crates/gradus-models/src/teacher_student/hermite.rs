//! Hermite polynomials and Gauss-Hermite quadrature for expectations under `N(0, 1)`.

use faer::{Mat, Side};
use gradus_core::{Error, Result};

/// `He_k(z) / sqrt(k!)`: the probabilists' Hermite polynomial normalised so that
/// `E[h_j(Z) h_k(Z)] = delta_jk`, by the three-term recurrence
/// `sqrt(n + 1) h_{n+1} = z h_n - sqrt(n) h_{n-1}` (stable for moderate `k`).
pub fn normalised(k: u32, z: f64) -> f64 {
    let (mut prev, mut cur) = (0.0, 1.0);
    for n in 0..k {
        let nf = n as f64;
        let next = (z * cur - nf.sqrt() * prev) / (nf + 1.0).sqrt();
        prev = cur;
        cur = next;
    }
    cur
}

/// An `n`-point Gauss-Hermite rule for `E f(Z)`, `Z ~ N(0, 1)`: exact for polynomials of
/// degree `< 2n`.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussHermite {
    /// Nodes, increasing.
    pub nodes: Vec<f64>,
    /// Weights, summing to 1.
    pub weights: Vec<f64>,
}

impl GaussHermite {
    /// Golub-Welsch: the nodes are the eigenvalues of the Jacobi matrix of the normalised
    /// Hermite recurrence (zero diagonal, off-diagonal `sqrt(k)`), the weights the squared first
    /// components of its unit eigenvectors. `1 <= n <= 200`.
    pub fn new(n: usize) -> Result<Self> {
        if !(1..=200).contains(&n) {
            return Err(Error::hyper("gauss-hermite nodes", n as f64, "must lie in 1..=200"));
        }
        let jac = Mat::<f64>::from_fn(n, n, |i, j| {
            if i == j + 1 || j == i + 1 { (i.max(j) as f64).sqrt() } else { 0.0 }
        });
        let eig = jac.self_adjoint_eigen(Side::Lower).map_err(|_| Error::NoConvergence {
            method: "gauss-hermite eigendecomposition",
            iterations: n,
            residual: f64::NAN,
        })?;
        let s = eig.S().column_vector();
        let u = eig.U();
        let nodes: Vec<f64> = (0..n).map(|i| s[i]).collect();
        let mut weights: Vec<f64> = (0..n).map(|i| u[(0, i)] * u[(0, i)]).collect();
        let total: f64 = weights.iter().sum();
        for w in &mut weights {
            *w /= total;
        }
        Ok(GaussHermite { nodes, weights })
    }

    /// `E f(Z)` by the rule.
    pub fn expect(&self, mut f: impl FnMut(f64) -> f64) -> f64 {
        self.nodes.iter().zip(&self.weights).map(|(&z, &w)| w * f(z)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_integrates_even_moments_exactly() {
        let gh = GaussHermite::new(20).unwrap();
        let mut dfact = 1.0;
        for j in 0..19 {
            // E Z^{2j} = (2j - 1)!!.
            if j > 0 {
                dfact *= (2 * j - 1) as f64;
            }
            let got = gh.expect(|z| z.powi(2 * j as i32));
            assert!((got - dfact).abs() <= 1e-10 * dfact, "j = {j}: {got} vs {dfact}");
            assert!(gh.expect(|z| z.powi(2 * j as i32 + 1)).abs() < 1e-9 * dfact.max(1.0));
        }
    }

    #[test]
    fn normalised_hermite_is_orthonormal() {
        let gh = GaussHermite::new(30).unwrap();
        for j in 0..8 {
            for k in 0..8 {
                let ip = gh.expect(|z| normalised(j, z) * normalised(k, z));
                let want = if j == k { 1.0 } else { 0.0 };
                assert!((ip - want).abs() < 1e-10, "<h{j}, h{k}> = {ip}");
            }
        }
        // h_3 = (z^3 - 3z) / sqrt 6.
        let z = 0.7f64;
        assert!((normalised(3, z) - (z.powi(3) - 3.0 * z) / 6f64.sqrt()).abs() < 1e-14);
        assert!(GaussHermite::new(0).is_err());
    }
}
