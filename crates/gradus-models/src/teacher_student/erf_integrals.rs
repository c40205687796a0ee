//! Closed-form Gaussian integrals of the erf unit `g(z) = erf(z / sqrt 2)` (Saad & Solla 1995,
//! PRE 52, 4225, appendix), the generalisation error of a soft committee machine, and the
//! covariance bookkeeping of its fields.
//!
//! Each integral is derived here by the same two steps, so the formulas can be checked line by
//! line: `g'(a) = sqrt(2/pi) e^{-a^2/2}`, and multiplying a centred Gaussian density of
//! covariance `C` by `e^{-a^2/2}` (for fields `a` in a set `S`) rescales the mass by
//! `det(I + C_SS)^{-1/2}` and leaves a Gaussian with covariance
//! `C' = C - C_{.S} (I + C_SS)^{-1} C_{S.}`. The remaining expectation is then either
//! `E[b g(c)] = C'_bc sqrt(2/pi) (1 + C'_cc)^{-1/2}` (Stein's lemma) or
//! `E[g(c) g(d)] = (2/pi) arcsin(C'_cd / sqrt((1 + C'_cc)(1 + C'_dd)))`.

use std::f64::consts::PI;

/// `I2(a, b) = E[g'(a) g'(b)] = (2/pi) / sqrt((1 + c11)(1 + c22) - c12^2)`.
pub fn i2(c11: f64, c22: f64, c12: f64) -> f64 {
    (2.0 / PI) / ((1.0 + c11) * (1.0 + c22) - c12 * c12).sqrt()
}

/// `I3(a; b, c) = E[g'(a) b g(c)]`, for fields `(a, b, c)` with covariance `c`:
/// `(2/pi) (c23 (1 + c11) - c12 c13) / ((1 + c11) sqrt((1 + c11)(1 + c33) - c13^2))`.
pub fn i3(c: &[[f64; 3]; 3]) -> f64 {
    let a = 1.0 + c[0][0];
    (2.0 / PI) * (c[1][2] * a - c[0][1] * c[0][2])
        / (a * (a * (1.0 + c[2][2]) - c[0][2].powi(2)).sqrt())
}

/// `I4(a, b; c, d) = E[g'(a) g'(b) g(c) g(d)] = (4/pi^2) L4^{-1/2} arcsin(L0 / sqrt(L1 L2))`
/// with `L4 = det(I + C_ab)` and `L0 / L4`, `L1 / L4 - 1`, `L2 / L4 - 1` the tilted
/// covariance entries `C'_cd`, `C'_cc`, `C'_dd`.
pub fn i4(c: &[[f64; 4]; 4]) -> f64 {
    let (c11, c22, c12) = (c[0][0], c[1][1], c[0][1]);
    let l4 = (1.0 + c11) * (1.0 + c22) - c12 * c12;
    let (c13, c14, c23, c24, c33, c34, c44) =
        (c[0][2], c[0][3], c[1][2], c[1][3], c[2][2], c[2][3], c[3][3]);
    let l0 = l4 * c34 - c23 * c24 * (1.0 + c11) - c13 * c14 * (1.0 + c22)
        + c12 * c13 * c24
        + c12 * c14 * c23;
    let l1 = l4 * (1.0 + c33) - c23 * c23 * (1.0 + c11) - c13 * c13 * (1.0 + c22)
        + 2.0 * c12 * c13 * c23;
    let l2 = l4 * (1.0 + c44) - c24 * c24 * (1.0 + c11) - c14 * c14 * (1.0 + c22)
        + 2.0 * c12 * c14 * c24;
    // Rounding can push the ratio a hair outside [-1, 1] when c and d coincide.
    let s = (l0 / (l1 * l2).sqrt()).clamp(-1.0, 1.0);
    4.0 / (PI * PI) / l4.sqrt() * s.asin()
}

/// `E[g(a) g(b)] = (2/pi) arcsin(c12 / sqrt((1 + c11)(1 + c22)))`.
pub fn gg(c11: f64, c22: f64, c12: f64) -> f64 {
    (2.0 / PI) * (c12 / ((1.0 + c11) * (1.0 + c22)).sqrt()).clamp(-1.0, 1.0).asin()
}

/// Overlap matrices of a committee with `k` students and `m` teachers: `Q_ik = <w_i, w_k>`,
/// `R_in = <w_i, v_n>`, `T_nm = <v_n, v_m>` (row-major, with inputs `X ~ N(0, I)` these are
/// the covariances of the fields `lambda_i = <w_i, X>`, `rho_n = <v_n, X>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Overlaps {
    /// Students.
    pub k: usize,
    /// Teachers.
    pub m: usize,
    /// `k x k`.
    pub q: Vec<f64>,
    /// `k x m`.
    pub r: Vec<f64>,
    /// `m x m`.
    pub t: Vec<f64>,
}

/// A hidden field: student `i` or teacher `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `lambda_i = <w_i, X>`.
    Student(usize),
    /// `rho_n = <v_n, X>`.
    Teacher(usize),
}

impl Overlaps {
    /// `Cov(a, b)`.
    pub fn cov(&self, a: Field, b: Field) -> f64 {
        use Field::*;
        match (a, b) {
            (Student(i), Student(j)) => self.q[i * self.k + j],
            (Student(i), Teacher(n)) | (Teacher(n), Student(i)) => self.r[i * self.m + n],
            (Teacher(n), Teacher(p)) => self.t[n * self.m + p],
        }
    }

    /// The covariance matrix of three fields.
    pub fn cov3(&self, f: [Field; 3]) -> [[f64; 3]; 3] {
        let mut c = [[0.0; 3]; 3];
        for (i, row) in c.iter_mut().enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                *x = self.cov(f[i], f[j]);
            }
        }
        c
    }

    /// The covariance matrix of four fields.
    pub fn cov4(&self, f: [Field; 4]) -> [[f64; 4]; 4] {
        let mut c = [[0.0; 4]; 4];
        for (i, row) in c.iter_mut().enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                *x = self.cov(f[i], f[j]);
            }
        }
        c
    }

    /// Single-index overlaps: one student with `m = <x, v>`, `Q = |x|^2`, unit teacher.
    pub fn single(m: f64, q: f64) -> Self {
        Overlaps { k: 1, m: 1, q: vec![q], r: vec![m], t: vec![1.0] }
    }
}

/// Generalisation error of the erf soft committee,
/// `eps_g = 1/2 E(sum_n g(rho_n) - sum_i g(lambda_i))^2`
/// `= (1/pi) [sum_ik asin(Q_ik / sqrt((1+Q_ii)(1+Q_kk))) + sum_nm asin(T_nm / ...)`
/// `- 2 sum_in asin(R_in / sqrt((1+Q_ii)(1+T_nn)))]` (Saad & Solla 1995, eq. 6).
pub fn generalisation_error(o: &Overlaps) -> f64 {
    let (k, m) = (o.k, o.m);
    let mut s = 0.0;
    for i in 0..k {
        for j in 0..k {
            s += gg(o.q[i * k + i], o.q[j * k + j], o.q[i * k + j]);
        }
        for n in 0..m {
            s -= 2.0 * gg(o.q[i * k + i], o.t[n * m + n], o.r[i * m + n]);
        }
    }
    for n in 0..m {
        for p in 0..m {
            s += gg(o.t[n * m + n], o.t[p * m + p], o.t[n * m + p]);
        }
    }
    0.5 * s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eps_g_is_zero_at_the_teacher_and_one_third_orthogonal() {
        assert!(generalisation_error(&Overlaps::single(1.0, 1.0)).abs() < 1e-15);
        let e = generalisation_error(&Overlaps::single(0.0, 1.0));
        assert!((e - 1.0 / 3.0).abs() < 1e-15, "{e}");
        // Two students equal to two orthonormal teachers.
        let id = vec![1.0, 0.0, 0.0, 1.0];
        let o = Overlaps { k: 2, m: 2, q: id.clone(), r: id.clone(), t: id };
        assert!(generalisation_error(&o).abs() < 1e-15);
    }

    #[test]
    fn integrals_are_symmetric_under_swaps() {
        let c4 = [
            [1.2, 0.3, 0.5, -0.2],
            [0.3, 0.9, 0.1, 0.4],
            [0.5, 0.1, 1.0, 0.2],
            [-0.2, 0.4, 0.2, 1.1],
        ];
        let swap = |c: &[[f64; 4]; 4], p: [usize; 4]| {
            let mut d = [[0.0; 4]; 4];
            for i in 0..4 {
                for j in 0..4 {
                    d[i][j] = c[p[i]][p[j]];
                }
            }
            d
        };
        let base = i4(&c4);
        assert!((i4(&swap(&c4, [1, 0, 2, 3])) - base).abs() < 1e-14);
        assert!((i4(&swap(&c4, [0, 1, 3, 2])) - base).abs() < 1e-14);
        assert!((i2(1.2, 0.9, 0.3) - i2(0.9, 1.2, 0.3)).abs() < 1e-15);
    }
}
