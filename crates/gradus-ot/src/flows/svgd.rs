//! Stein variational gradient descent (paper 03, Alg. 5; Liu and Wang 2016):
//! `y_i <- y_i + h phi(y_i)` with
//! `phi(y_i) = sum_j w_j [k(y_j, y_i) s(y_j) + grad_{y_j} k(y_j, y_i)]`, `s = grad f / T`,
//! RBF kernel `k(a, b) = exp(-|a - b|^2 / (2 h^2))`, so
//! `phi_i = sum_j w_j k_ij s_j + (y_i sum_j w_j k_ij - sum_j w_j k_ij y_j) / h^2`
//! (with uniform weights, the usual `1/n` sum). Both sums are one pass of
//! [`rbf_weighted_sums`] over `[s | y]`.

use gradus_core::{Error, Par, Result, Rng};
use rayon::prelude::*;

use super::kernel::{Bandwidth, KernelWork, rbf_weighted_sums_in};
use super::langevin::check_dims;
use super::{Flow, LogDensity, PARTICLE_BLOCK, Particles};

/// The SVGD sampler (with an optional RMSProp step scaling, as in the GFS-DRO CIFAR code:
/// `G <- rho G + (1 - rho) phi^2`, `y <- y + h phi / (1e-6 + sqrt G)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Svgd {
    /// Step `h > 0`.
    pub step: f64,
    /// Kernel bandwidth rule.
    pub bandwidth: Bandwidth,
    /// Temperature `T > 0` (scores are `grad f / T`).
    pub temperature: f64,
    /// RMSProp decay `rho` in `[0, 1)`, or `None` for plain steps.
    pub rmsprop: Option<f64>,
    g2: Vec<f64>,
    scores: Vec<f64>,
    sums: Vec<f64>,
    out: Vec<f64>,
    phi: Vec<f64>,
    next: Vec<f64>,
    kernel: KernelWork,
}

impl Svgd {
    /// SVGD with step `h`, bandwidth rule and temperature `T`.
    pub fn new(step: f64, bandwidth: Bandwidth, temperature: f64) -> Result<Self> {
        let s = Svgd {
            step,
            bandwidth,
            temperature,
            rmsprop: None,
            g2: Vec::new(),
            scores: Vec::new(),
            sums: Vec::new(),
            out: Vec::new(),
            phi: Vec::new(),
            next: Vec::new(),
            kernel: KernelWork::default(),
        };
        s.validate()?;
        Ok(s)
    }

    /// With RMSProp step scaling of decay `rho`.
    pub fn with_rmsprop(mut self, rho: f64) -> Result<Self> {
        self.rmsprop = Some(rho);
        self.validate()?;
        Ok(self)
    }

    /// Forgets the RMSProp second moments (a fresh run on new particles).
    pub fn reset(&mut self) {
        self.g2.clear();
    }

    /// Checks the settings; the error names the first invalid field.
    pub fn validate(&self) -> Result<()> {
        gradus_core::validate::positive("svgd step", self.step)?;
        gradus_core::validate::positive("temperature", self.temperature)?;
        if let Bandwidth::Fixed(h) = self.bandwidth {
            gradus_core::validate::positive("bandwidth", h)?;
        }
        if let Some(rho) = self.rmsprop {
            gradus_core::validate::unit_interval_open_right("rmsprop decay", rho)?;
        }
        Ok(())
    }

    /// The Stein direction `phi` at the current particles (row-major `n x d`).
    pub fn direction<D: LogDensity + ?Sized>(
        &mut self,
        p: &Particles,
        target: &D,
        par: Par,
    ) -> Result<Vec<f64>> {
        self.direction_in(p, target, par)?;
        Ok(self.phi.clone())
    }

    /// The Stein direction into `self.phi` (no allocation once the scratch has grown).
    fn direction_in<D: LogDensity + ?Sized>(
        &mut self,
        p: &Particles,
        target: &D,
        par: Par,
    ) -> Result<()> {
        self.validate()?;
        check_dims(p, target)?;
        let (n, d) = (p.len(), p.dim());
        let inv_t = 1.0 / self.temperature;
        // v = [s | y] row-major n x 2d.
        self.scores.clear();
        self.scores.resize(n * 2 * d, 0.0);
        let body = |(blk, pos): (&mut [f64], &[f64])| {
            for (row, y) in blk.chunks_exact_mut(2 * d).zip(pos.chunks_exact(d)) {
                let (s, yy) = row.split_at_mut(d);
                target.value_grad(y, s);
                for v in s.iter_mut() {
                    *v *= inv_t;
                }
                yy.copy_from_slice(y);
            }
        };
        let rows = PARTICLE_BLOCK;
        if par.is_parallel() {
            self.scores.par_chunks_mut(rows * 2 * d).zip(p.pos.par_chunks(rows * d)).for_each(body);
        } else {
            self.scores.chunks_mut(rows * 2 * d).zip(p.pos.chunks(rows * d)).for_each(body);
        }
        gradus_core::validate::all_finite("svgd scores", &self.scores)?;
        let h2 = self.bandwidth.squared_in(&p.pos, d, &mut self.kernel)?;
        self.sums.resize(n, 0.0);
        self.out.resize(n * 2 * d, 0.0);
        rbf_weighted_sums_in(
            &p.pos,
            d,
            &p.weights,
            h2,
            &self.scores,
            2 * d,
            &mut self.sums,
            &mut self.out,
            par,
            &mut self.kernel,
        )?;
        let phi = &mut self.phi;
        phi.clear();
        phi.resize(n * d, 0.0);
        for i in 0..n {
            let o = &self.out[i * 2 * d..(i + 1) * 2 * d];
            let y = &p.pos[i * d..(i + 1) * d];
            for k in 0..d {
                phi[i * d + k] = o[k] + (y[k] * self.sums[i] - o[d + k]) / h2;
            }
        }
        Ok(())
    }
}

impl Flow for Svgd {
    fn step<D: LogDensity + ?Sized>(
        &mut self,
        p: &mut Particles,
        target: &D,
        _rng: &mut Rng,
        par: Par,
    ) -> Result<()> {
        self.direction_in(p, target, par)?;
        let h = self.step;
        let next = &mut self.next;
        next.clear();
        next.extend_from_slice(&p.pos);
        let phi = &self.phi;
        match self.rmsprop {
            None => {
                for (y, f) in next.iter_mut().zip(phi) {
                    *y += h * f;
                }
            }
            Some(rho) => {
                if self.g2.len() != phi.len() {
                    self.g2.clear();
                    self.g2.resize(phi.len(), 0.0);
                }
                // Only a finite step commits the new second moments: compute them into
                // `out` (free scratch at this point) and swap on success.
                let g2_next = &mut self.out;
                g2_next.clear();
                g2_next.extend_from_slice(&self.g2);
                for ((y, f), g) in next.iter_mut().zip(phi).zip(g2_next.iter_mut()) {
                    *g = rho * *g + (1.0 - rho) * f * f;
                    *y += h * f / (1e-6 + g.sqrt());
                }
                if let Some(index) = next.iter().position(|v| !v.is_finite()) {
                    return Err(Error::NonFinite { what: "svgd positions", index });
                }
                if self.out.iter().all(|v| v.is_finite()) {
                    std::mem::swap(&mut self.g2, &mut self.out);
                }
            }
        }
        if let Some(index) = self.next.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "svgd positions", index });
        }
        std::mem::swap(&mut p.pos, &mut self.next);
        Ok(())
    }
}
