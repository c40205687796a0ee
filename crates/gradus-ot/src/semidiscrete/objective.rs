//! The semi-dual as a [`gradus_core::Objective`], so any gradus optimizer (Adam, SGD, ...)
//! can minimise it: the paper's Adam baseline (Fig. 8).

use gradus_core::{Objective, Result, Rng};

use super::{Scratch, SemiDiscrete};
use crate::source::Source;

/// `g -> h_eps(X, g)` averaged over `batch` fresh samples, with gradient `mean(chi - w)`.
pub struct SemiDualObjective<'p, S> {
    problem: &'p SemiDiscrete<S>,
    eps: f64,
    batch: usize,
    x: Vec<f64>,
    chi: Vec<f64>,
    scratch: Scratch,
}

impl<'p, S: Source> SemiDualObjective<'p, S> {
    /// The stochastic semi-dual of `problem` at regularisation `eps >= 0`, `batch >= 1`
    /// samples per evaluation.
    pub fn new(problem: &'p SemiDiscrete<S>, eps: f64, batch: usize) -> Result<Self> {
        gradus_core::validate::non_negative("epsilon", eps)?;
        if batch == 0 {
            return Err(gradus_core::Error::hyper("batch", 0.0, "must be >= 1"));
        }
        let m = problem.len();
        Ok(SemiDualObjective {
            problem,
            eps,
            batch,
            x: vec![0.0; problem.dim()],
            chi: vec![0.0; m],
            scratch: Scratch::new(m),
        })
    }
}

impl<S: Source> Objective<f64> for SemiDualObjective<'_, S> {
    fn dim(&self) -> usize {
        self.problem.len()
    }

    fn loss_grad(&mut self, g: &[f64], grad: &mut [f64], rng: &mut Rng) -> Result<f64> {
        self.problem.check_g(g)?;
        gradus_core::validate::same_len("gradient", self.problem.len(), grad.len())?;
        grad.fill(0.0);
        let gw = super::dot(g, &self.problem.cloud().w);
        let mut loss = 0.0;
        let inv = 1.0 / self.batch as f64;
        for _ in 0..self.batch {
            self.problem.source().sample(rng, &mut self.x);
            let (gc, _) = self.problem.transform(&self.x, g, self.eps, &mut self.scratch);
            loss += (-gc - gw) * inv;
            self.problem.fill_chi(&self.x, g, self.eps, &mut self.scratch, &mut self.chi);
            for (o, c) in grad.iter_mut().zip(&self.chi) {
                *o += c * inv;
            }
        }
        for (o, w) in grad.iter_mut().zip(&self.problem.cloud().w) {
            *o -= w;
        }
        Ok(loss)
    }
}
