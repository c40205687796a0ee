//! `y = T x` in `O(n log n)`: embed the `n x n` Toeplitz matrix in an `m x m` circulant
//! (`m >= 2n - 1`, 5-smooth so the FFT is fast) whose first column is
//! `[t_0, ..., t_{n-1}, 0, ..., 0, r_{n-1}, ..., r_1]`; a circulant is diagonalised by the DFT,
//! so `T x` is the first `n` entries of `IFFT(FFT(col) * FFT([x; 0]))`. The transform of the
//! column is computed once; scratch is allocated at construction.

use std::sync::Arc;

use gradus_core::{Error, Result, validate::same_len};
use num_complex::Complex64;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

/// Smallest `m >= n` of the form `2^a 3^b 5^c`.
pub fn fast_len(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut k = m;
        for p in [2, 3, 5] {
            while k % p == 0 {
                k /= p;
            }
        }
        if k == 1 {
            return m;
        }
        m += 1;
    }
}

fn check(what: &'static str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(Error::NonFinite { what, index }),
        None => Ok(()),
    }
}

fn fft_err(e: realfft::FftError) -> Error {
    Error::InvalidShape { what: "FFT", detail: e.to_string() }
}

/// Planned real FFTs of length `m` and their buffers, for `buf <- IFFT(d * FFT(buf))` with a
/// fixed diagonal `d` (a real circulant product or solve). Allocated once.
pub(crate) struct RealSpectral {
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    /// The real signal: input of the forward and output of the inverse transform.
    pub buf: Vec<f64>,
    freq: Vec<Complex64>,
    scratch: Vec<Complex64>,
}

impl RealSpectral {
    pub fn new(m: usize) -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(m);
        let inverse = planner.plan_fft_inverse(m);
        let scratch = vec![
            Complex64::new(0.0, 0.0);
            forward.get_scratch_len().max(inverse.get_scratch_len())
        ];
        let freq = forward.make_output_vec();
        RealSpectral { forward, inverse, buf: vec![0.0; m], freq, scratch }
    }

    /// The unnormalised transform of `buf` (`m / 2 + 1` bins; `buf` is clobbered).
    pub fn transform(&mut self) -> Result<&[Complex64]> {
        self.forward
            .process_with_scratch(&mut self.buf, &mut self.freq, &mut self.scratch)
            .map_err(fft_err)?;
        Ok(&self.freq)
    }

    /// `buf <- IFFT(diag * FFT(buf))`, unnormalised (fold `1/m` into `diag`).
    pub fn multiply<S: Copy>(&mut self, diag: &[S]) -> Result<()>
    where
        Complex64: std::ops::MulAssign<S>,
    {
        self.forward
            .process_with_scratch(&mut self.buf, &mut self.freq, &mut self.scratch)
            .map_err(fft_err)?;
        for (f, &d) in self.freq.iter_mut().zip(diag) {
            *f *= d;
        }
        // The c2r transform requires exactly real DC (and Nyquist) bins; rounding can leave
        // a tiny imaginary part there.
        self.freq[0].im = 0.0;
        if self.buf.len() % 2 == 0 {
            if let Some(last) = self.freq.last_mut() {
                last.im = 0.0;
            }
        }
        self.inverse
            .process_with_scratch(&mut self.freq, &mut self.buf, &mut self.scratch)
            .map_err(fft_err)
    }
}

/// A real Toeplitz operator with cached transform (real FFTs).
pub struct RealToeplitzOp {
    n: usize,
    spectrum: Vec<Complex64>,
    fft: RealSpectral,
}

impl RealToeplitzOp {
    /// The operator with first column `col` and first row `row` (`col[0] == row[0]`).
    pub fn new(col: &[f64], row: &[f64]) -> Result<Self> {
        let n = col.len();
        if n == 0 {
            return Err(Error::InvalidShape { what: "Toeplitz operator", detail: "empty".into() });
        }
        same_len("first row", n, row.len())?;
        check("first column", col)?;
        check("first row", row)?;
        if col[0] != row[0] {
            return Err(Error::InvalidShape {
                what: "Toeplitz operator",
                detail: "col[0] != row[0]".into(),
            });
        }
        let m = fast_len(2 * n - 1);
        let mut fft = RealSpectral::new(m);
        fft.buf[..n].copy_from_slice(col);
        // The wrapped tail holds r_{n-1}, ..., r_1.
        for (slot, &r) in fft.buf[m - n + 1..].iter_mut().zip(row[1..].iter().rev()) {
            *slot = r;
        }
        // Fold the 1/m of the unnormalised inverse transform into the cached spectrum.
        let inv_m = 1.0 / m as f64;
        let spectrum = fft.transform()?.iter().map(|s| s * inv_m).collect();
        Ok(RealToeplitzOp { n, spectrum, fft })
    }

    /// The symmetric operator with first column (= first row) `col`.
    pub fn symmetric(col: &[f64]) -> Result<Self> {
        Self::new(col, col)
    }

    /// Dimension `n`.
    pub fn dim(&self) -> usize {
        self.n
    }

    /// Embedding (FFT) length `m`.
    pub fn fft_len(&self) -> usize {
        self.fft.buf.len()
    }

    /// `y = T x`.
    pub fn apply(&mut self, x: &[f64], y: &mut [f64]) -> Result<()> {
        same_len("operand", self.n, x.len())?;
        same_len("output", self.n, y.len())?;
        self.fft.buf[..self.n].copy_from_slice(x);
        self.fft.buf[self.n..].iter_mut().for_each(|v| *v = 0.0);
        self.fft.multiply(&self.spectrum)?;
        y.copy_from_slice(&self.fft.buf[..self.n]);
        Ok(())
    }
}

/// A complex Toeplitz operator (e.g. Hermitian covariance) with cached transform.
pub struct ComplexToeplitzOp {
    n: usize,
    spectrum: Vec<Complex64>,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    buf: Vec<Complex64>,
    scratch: Vec<Complex64>,
}

impl ComplexToeplitzOp {
    /// The operator with first column `col` and first row `row` (`col[0] == row[0]`).
    pub fn new(col: &[Complex64], row: &[Complex64]) -> Result<Self> {
        let n = col.len();
        if n == 0 {
            return Err(Error::InvalidShape { what: "Toeplitz operator", detail: "empty".into() });
        }
        same_len("first row", n, row.len())?;
        for (what, v) in [("first column", col), ("first row", row)] {
            if let Some(index) = v.iter().position(|z| !(z.re.is_finite() && z.im.is_finite())) {
                return Err(Error::NonFinite { what, index });
            }
        }
        if col[0] != row[0] {
            return Err(Error::InvalidShape {
                what: "Toeplitz operator",
                detail: "col[0] != row[0]".into(),
            });
        }
        let m = fast_len(2 * n - 1);
        let mut planner = FftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(m);
        let inverse = planner.plan_fft_inverse(m);
        let mut spectrum = vec![Complex64::new(0.0, 0.0); m];
        spectrum[..n].copy_from_slice(col);
        for k in 1..n {
            spectrum[m - k] = row[k];
        }
        let mut scratch =
            vec![
                Complex64::new(0.0, 0.0);
                forward.get_inplace_scratch_len().max(inverse.get_inplace_scratch_len())
            ];
        forward.process_with_scratch(&mut spectrum, &mut scratch);
        let inv_m = 1.0 / m as f64;
        spectrum.iter_mut().for_each(|s| *s *= inv_m);
        Ok(ComplexToeplitzOp {
            n,
            spectrum,
            forward,
            inverse,
            buf: vec![Complex64::new(0.0, 0.0); m],
            scratch,
        })
    }

    /// The Hermitian operator with first column `col` (first row `conj(col)`); `col[0]` must be
    /// real.
    pub fn hermitian(col: &[Complex64]) -> Result<Self> {
        if col.first().is_some_and(|c| c.im != 0.0) {
            return Err(Error::NotSymmetric { asymmetry: col[0].im.abs(), tolerance: 0.0 });
        }
        let row: Vec<Complex64> = col.iter().map(|c| c.conj()).collect();
        Self::new(col, &row)
    }

    /// Dimension `n`.
    pub fn dim(&self) -> usize {
        self.n
    }

    /// `y = T x`.
    pub fn apply(&mut self, x: &[Complex64], y: &mut [Complex64]) -> Result<()> {
        same_len("operand", self.n, x.len())?;
        same_len("output", self.n, y.len())?;
        self.buf[..self.n].copy_from_slice(x);
        self.buf[self.n..].iter_mut().for_each(|v| *v = Complex64::new(0.0, 0.0));
        self.forward.process_with_scratch(&mut self.buf, &mut self.scratch);
        for (f, s) in self.buf.iter_mut().zip(&self.spectrum) {
            *f *= s;
        }
        self.inverse.process_with_scratch(&mut self.buf, &mut self.scratch);
        y.copy_from_slice(&self.buf[..self.n]);
        Ok(())
    }
}
