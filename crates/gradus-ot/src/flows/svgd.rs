//! Stein variational gradient descent (paper 03, Alg. 5; Liu and Wang 2016):
//! `y_i <- y_i + h phi(y_i)` with
//! `phi(y_i) = sum_j w_j [k(y_j, y_i) s(y_j) + grad_{y_j} k(y_j, y_i)]`, `s = grad f / T`,
//! RBF kernel `k(a, b) = exp(-|a - b|^2 / (2 h^2))`, so
//! `phi_i = sum_j w_j k_ij s_j + (y_i sum_j w_j k_ij - sum_j w_j k_ij y_j) / h^2`
//! (with uniform weights, the usual `1/n` sum). Both sums are one pass of
//! [`rbf_weighted_sums`] over `[s | y]`.

use gradus_core::{Error, Par, Result, Rng};
use rayon::prelude::*;

use super::kernel::{Bandwidth, rbf_weighted_sums};
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
        let h2 = self.bandwidth.squared(&p.pos, d)?;
        self.sums.resize(n, 0.0);
        self.out.resize(n * 2 * d, 0.0);
        rbf_weighted_sums(
            &p.pos,
            d,
            &p.weights,
            h2,
            &self.scores,
            2 * d,
            &mut self.sums,
            &mut self.out,
            par,
        )?;
        let mut phi = vec![0.0; n * d];
        for i in 0..n {
            let o = &self.out[i * 2 * d..(i + 1) * 2 * d];
            let y = &p.pos[i * d..(i + 1) * d];
            for k in 0..d {
                phi[i * d + k] = o[k] + (y[k] * self.sums[i] - o[d + k]) / h2;
            }
        }
        Ok(phi)
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
        let phi = self.direction(p, target, par)?;
        let h = self.step;
        let mut next = p.pos.clone();
        match self.rmsprop {
            None => {
                for (y, f) in next.iter_mut().zip(&phi) {
                    *y += h * f;
                }
            }
            Some(rho) => {
                if self.g2.len() != phi.len() {
                    self.g2 = vec![0.0; phi.len()];
                }
                let mut g2 = self.g2.clone();
                for ((y, f), g) in next.iter_mut().zip(&phi).zip(g2.iter_mut()) {
                    *g = rho * *g + (1.0 - rho) * f * f;
                    *y += h * f / (1e-6 + g.sqrt());
                }
                if g2.iter().all(|v| v.is_finite()) {
                    self.g2 = g2;
                }
            }
        }
        if let Some(index) = next.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "svgd positions", index });
        }
        p.pos = next;
        Ok(())
    }
}
