//! The Gohberg-Semencul (Trench) representation of the inverse of a Hermitian positive-definite
//! Toeplitz matrix. With `T [1; a] = [E; 0]` from Levinson-Durbin, `u = [1, a_1, ..., a_{n-1}]`
//! and `v = [0, conj(a_{n-1}), ..., conj(a_1)]`,
//! ```text
//! T^{-1} = (L(u) L(u)^H - L(v) L(v)^H) / E
//! ```
//! where `L(w)` is the lower-triangular Toeplitz matrix with first column `w`. Each product
//! with a triangular Toeplitz matrix is a truncated convolution (or correlation), done by FFT:
//! after the `O(n^2)` recursion, `T^{-1} x` costs `O(n log n)`.

use std::sync::Arc;

use gradus_core::{Error, Result, validate::same_len};
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use super::{ToeplitzField, circulant::fast_len, durbin};

/// `T^{-1}` of a Hermitian PD Toeplitz matrix in Gohberg-Semencul form.
pub struct GohbergSemencul {
    n: usize,
    e: f64,
    u: Vec<Complex64>,
    v: Vec<Complex64>,
    u_hat: Vec<Complex64>,
    v_hat: Vec<Complex64>,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    x_hat: Vec<Complex64>,
    buf: Vec<Complex64>,
    acc: Vec<Complex64>,
    scratch: Vec<Complex64>,
    logdet: f64,
}

impl GohbergSemencul {
    /// Builds the representation from the first column `t` (errors as [`durbin`]).
    pub fn new<F: ToeplitzField>(t: &[F]) -> Result<Self> {
        let mut gs = Self::with_dim(t.len())?;
        gs.update(t)?;
        Ok(gs)
    }

    /// FFT plans and buffers for dimension `n`, holding the identity until [`Self::update`].
    pub fn with_dim(n: usize) -> Result<Self> {
        if n == 0 {
            return Err(Error::InvalidShape {
                what: "Toeplitz matrix",
                detail: "empty first column".into(),
            });
        }
        let m = fast_len(2 * n - 1);
        let mut planner = FftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(m);
        let inverse = planner.plan_fft_inverse(m);
        let scratch = vec![
            Complex64::new(0.0, 0.0);
            forward.get_inplace_scratch_len().max(inverse.get_inplace_scratch_len())
        ];
        let z = |len| vec![Complex64::new(0.0, 0.0); len];
        let mut u = z(n);
        u[0] = Complex64::new(1.0, 0.0);
        let mut gs = GohbergSemencul {
            n,
            e: 1.0,
            u,
            v: z(n),
            u_hat: z(m),
            v_hat: z(m),
            forward,
            inverse,
            x_hat: z(m),
            buf: z(m),
            acc: z(m),
            scratch,
            logdet: 0.0,
        };
        gs.transform_generators();
        Ok(gs)
    }

    /// Recomputes the representation for a new first column of the same dimension, reusing the
    /// FFT plans. On error the previous representation is kept.
    pub fn update<F: ToeplitzField>(&mut self, t: &[F]) -> Result<()> {
        let n = self.n;
        same_len("Toeplitz first column", n, t.len())?;
        let d = durbin(t)?;
        self.e = d.errors[n - 1];
        self.logdet = d.logdet;
        for (u, p) in self.u.iter_mut().zip(&d.poly) {
            *u = Complex64::new(p.re(), p.im());
        }
        self.v[0] = Complex64::new(0.0, 0.0);
        for k in 1..n {
            self.v[k] = self.u[n - k].conj();
        }
        self.transform_generators();
        Ok(())
    }

    fn transform_generators(&mut self) {
        let n = self.n;
        for (w, hat) in [(&self.u, &mut self.u_hat), (&self.v, &mut self.v_hat)] {
            hat.iter_mut().for_each(|h| *h = Complex64::new(0.0, 0.0));
            hat[..n].copy_from_slice(w);
            self.forward.process_with_scratch(hat, &mut self.scratch);
        }
    }

    /// The generators `(u, v, E)`: `T^{-1} = (L(u) L(u)^H - L(v) L(v)^H) / E`.
    pub fn generators(&self) -> (&[Complex64], &[Complex64], f64) {
        (&self.u, &self.v, self.e)
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.n
    }

    /// `log det T` (from the same recursion).
    pub fn logdet(&self) -> f64 {
        self.logdet
    }

    /// The first column of `T^{-1}`: `[1; a] / E`.
    pub fn first_column(&self) -> Vec<Complex64> {
        self.u.iter().map(|u| u / self.e).collect()
    }

    /// `y = L(w) L(w)^H x` accumulated into `acc` with `sign`, given `X = FFT([x; 0])` and
    /// `W = FFT([w; 0])`.
    fn add_product(&mut self, which_v: bool, sign: f64) {
        let m = self.buf.len();
        let n = self.n;
        let w_hat = if which_v { &self.v_hat } else { &self.u_hat };
        // L(w)^H x: correlation, IFFT(conj(W) X), keep the first n entries.
        for ((b, w), x) in self.buf.iter_mut().zip(w_hat).zip(&self.x_hat) {
            *b = w.conj() * x;
        }
        self.inverse.process_with_scratch(&mut self.buf, &mut self.scratch);
        let inv_m = 1.0 / m as f64;
        for k in 0..m {
            self.buf[k] = if k < n { self.buf[k] * inv_m } else { Complex64::new(0.0, 0.0) };
        }
        // L(w) z: convolution, IFFT(W FFT(z)), first n entries.
        self.forward.process_with_scratch(&mut self.buf, &mut self.scratch);
        for (b, w) in self.buf.iter_mut().zip(w_hat) {
            *b *= w;
        }
        self.inverse.process_with_scratch(&mut self.buf, &mut self.scratch);
        for k in 0..n {
            self.acc[k] += self.buf[k] * (sign * inv_m);
        }
    }

    /// `y = T^{-1} x` in `O(n log n)`.
    pub fn apply(&mut self, x: &[Complex64], y: &mut [Complex64]) -> Result<()> {
        same_len("operand", self.n, x.len())?;
        same_len("output", self.n, y.len())?;
        if let Some(index) = x.iter().position(|z| !(z.re.is_finite() && z.im.is_finite())) {
            return Err(Error::NonFinite { what: "operand", index });
        }
        self.x_hat.iter_mut().for_each(|v| *v = Complex64::new(0.0, 0.0));
        self.x_hat[..self.n].copy_from_slice(x);
        self.forward.process_with_scratch(&mut self.x_hat, &mut self.scratch);
        self.acc.iter_mut().for_each(|v| *v = Complex64::new(0.0, 0.0));
        self.add_product(false, 1.0);
        self.add_product(true, -1.0);
        for (yk, a) in y.iter_mut().zip(&self.acc) {
            *yk = a / self.e;
        }
        Ok(())
    }

    /// `T^{-1}` as a dense row-major matrix, by the formula in `O(n^2)` (for tests and small
    /// problems).
    pub fn to_dense(&self) -> Vec<Complex64> {
        let n = self.n;
        let mut out = vec![Complex64::new(0.0, 0.0); n * n];
        for i in 0..n {
            for j in 0..n {
                // (L(w) L(w)^H)_{ij} = sum_{k <= min(i,j)} w_{i-k} conj(w_{j-k})
                let mut s = Complex64::new(0.0, 0.0);
                for k in 0..=i.min(j) {
                    s +=
                        self.u[i - k] * self.u[j - k].conj() - self.v[i - k] * self.v[j - k].conj();
                }
                out[i * n + j] = s / self.e;
            }
        }
        out
    }
}
