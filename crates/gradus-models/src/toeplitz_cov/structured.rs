//! The structured likelihood path. With `y_m = R^{-1} x_m` (Gohberg-Semencul, FFT),
//! ```text
//! L       = log det R + (1/N) sum_m Re(x_m^H y_m)
//! gamma_l = sum_q E_{q, q+l},   E = R^{-1} - R^{-1} S R^{-1}
//!         = (1/E_P) sum_d (P - l - d) [u_d conj(u_{d+l}) - v_d conj(v_{d+l})]
//!           - (1/N) sum_m sum_q y_{m,q} conj(y_{m,q+l})
//! ```
//! The first line is the diagonal sums of the Gohberg-Semencul form of `R^{-1}` (weighted
//! correlations of its generators), the second the autocorrelations of the whitened
//! snapshots; both go through FFTs, so an evaluation costs `O(P^2)` (Levinson-Durbin) plus
//! `O(N P log P)` instead of the dense `O(P^3 + N P^2)`.

use std::sync::Arc;

use gradus_core::Result;
use gradus_linalg::toeplitz::{GohbergSemencul, circulant::fast_len};
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

/// Reusable FFT plans and buffers for one dimension.
pub(crate) struct Structured {
    p: usize,
    gs: GohbergSemencul,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    power: Vec<Complex64>,
    buf: Vec<Complex64>,
    scratch: Vec<Complex64>,
    y: Vec<Complex64>,
}

const ZERO: Complex64 = Complex64::new(0.0, 0.0);

impl Structured {
    pub fn new(p: usize) -> Result<Self> {
        let m = fast_len(2 * p - 1);
        let mut planner = FftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(m);
        let inverse = planner.plan_fft_inverse(m);
        let scratch =
            vec![ZERO; forward.get_inplace_scratch_len().max(inverse.get_inplace_scratch_len())];
        Ok(Structured {
            p,
            gs: GohbergSemencul::with_dim(p)?,
            forward,
            inverse,
            power: vec![ZERO; m],
            buf: vec![ZERO; m],
            scratch,
            y: vec![ZERO; p],
        })
    }

    /// `c_l = sum_q a_q conj(a_{q+l})` for `l < P`, accumulated (with `weight`) into `out`, via
    /// `|FFT(a)|^2` summed in `self.power` by [`Self::add_power`] and one inverse FFT.
    fn add_power(&mut self, a: &[Complex64], weight: f64) {
        self.buf.iter_mut().for_each(|v| *v = ZERO);
        self.buf[..a.len()].copy_from_slice(a);
        self.forward.process_with_scratch(&mut self.buf, &mut self.scratch);
        for (pw, b) in self.power.iter_mut().zip(&self.buf) {
            *pw += weight * b.norm_sqr();
        }
    }

    /// Adds `scale * sum_q a_q conj(a_{q+l})` for all lags into `gamma` from the accumulated
    /// power spectrum (and clears it).
    fn flush_power(&mut self, gamma: &mut [Complex64], scale: f64) {
        let m = self.power.len();
        self.buf.copy_from_slice(&self.power);
        self.power.iter_mut().for_each(|v| *v = ZERO);
        self.inverse.process_with_scratch(&mut self.buf, &mut self.scratch);
        // IFFT(|A|^2)_l = sum_q a_{q+l} conj(a_q): the conjugate of the wanted correlation.
        for (g, b) in gamma.iter_mut().zip(&self.buf) {
            *g += scale * b.conj() / m as f64;
        }
    }

    /// Loss and lag gradient `gamma` at first column `r` for snapshots `x` (rows of length P).
    pub fn eval(
        &mut self,
        r: &[Complex64],
        x: &[Complex64],
        n: usize,
        gamma: &mut [Complex64],
    ) -> Result<f64> {
        let p = self.p;
        self.gs.update(r)?;
        gamma.iter_mut().for_each(|g| *g = ZERO);
        // Diagonal sums of R^{-1}: (P - l) corr(u)_l - sum_d d u_d conj(u_{d+l}), same for v.
        let (u, v, e) = {
            let (u, v, e) = self.gs.generators();
            (u.to_vec(), v.to_vec(), e)
        };
        for (w, sign) in [(&u, 1.0), (&v, -1.0)] {
            self.add_power(w, 1.0);
            let mut corr = vec![ZERO; p];
            self.flush_power(&mut corr, 1.0);
            let dw: Vec<Complex64> = w.iter().enumerate().map(|(d, z)| z * d as f64).collect();
            // sum_d d w_d conj(w_{d+l}): cross-correlation of (d w_d) with w.
            let mut cross = vec![ZERO; p];
            self.cross(&dw, w, &mut cross);
            for l in 0..p {
                gamma[l] += sign * ((p - l) as f64 * corr[l] - cross[l]) / e;
            }
        }
        // Whitened snapshots.
        let mut quad = 0.0;
        let inv_n = 1.0 / n as f64;
        for m in 0..n {
            let xm = &x[m * p..(m + 1) * p];
            let mut y = std::mem::take(&mut self.y);
            self.gs.apply(xm, &mut y)?;
            quad += xm.iter().zip(&y).map(|(a, b)| (a.conj() * b).re).sum::<f64>();
            self.add_power(&y, 1.0);
            self.y = y;
        }
        let mut ys = vec![ZERO; p];
        self.flush_power(&mut ys, 1.0);
        for l in 0..p {
            gamma[l] -= ys[l] * inv_n;
        }
        Ok(self.gs.logdet() + quad * inv_n)
    }

    /// `out_l = sum_d a_d conj(b_{d+l})` for `l < P`.
    fn cross(&mut self, a: &[Complex64], b: &[Complex64], out: &mut [Complex64]) {
        let m = self.buf.len();
        let mut fa = vec![ZERO; m];
        fa[..a.len()].copy_from_slice(a);
        self.forward.process_with_scratch(&mut fa, &mut self.scratch);
        self.buf.iter_mut().for_each(|v| *v = ZERO);
        self.buf[..b.len()].copy_from_slice(b);
        self.forward.process_with_scratch(&mut self.buf, &mut self.scratch);
        // IFFT(B conj(A))_l = sum_d b_{d+l} conj(a_d); conjugate it.
        for (bb, aa) in self.buf.iter_mut().zip(&fa) {
            *bb *= aa.conj();
        }
        self.inverse.process_with_scratch(&mut self.buf, &mut self.scratch);
        for (o, v) in out.iter_mut().zip(&self.buf) {
            *o = v.conj() / m as f64;
        }
    }
}
