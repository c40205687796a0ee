//! One label-noise run of an adaptive method, stopped by paper 01's own convergence criterion:
//! the sharpness measure the method reduces has stopped drifting on the manifold of minimisers
//! ([`Plateau`]), or the step cap was reached (then the run is "not converged").

use std::sync::{Arc, Mutex};

use gradus_core::{Layout, Par};
use gradus_models::sharpness::{HessianKind, Plateau, SharpnessObserver};
use gradus_models::{LabelNoise, Regression, SquaredLossModel};
use gradus_optim::{Agm, AgmConfig, Control, Observer, StepRecord, Trainer};
use gradus_report::RunEnd;

use crate::experiments::common::locked;

/// Statistic blocks of an adaptive method (they also define its sharpness measure).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Blocks {
    /// One statistic per coordinate (Adam, RMSProp, AdamE, SGD).
    Coordinates,
    /// Consecutive blocks of this many coordinates (Adam-mini).
    Size(usize),
    /// One statistic per block of the model's layout (Adalayer).
    Layers,
}

/// An optimizer of the comparison and the measure it is predicted to reduce.
#[derive(Debug, Clone)]
pub struct Method {
    /// Name in tables and plots.
    pub name: String,
    /// Its configuration (learning rate included).
    pub cfg: AgmConfig,
    /// Preconditioner exponent `E` of the implicit measure (0 for SGD, 1/2 for Adam).
    pub exponent: f64,
    /// Statistic blocks.
    pub blocks: Blocks,
}

impl Method {
    /// Learning rate.
    pub fn lr(&self) -> f64 {
        self.cfg.lr
    }

    /// The layout the optimizer sees and the measure's block bounds.
    fn layout(&self, model_layout: &Layout) -> gradus_core::Result<(Layout, Vec<usize>)> {
        let len = model_layout.len();
        let bounds: Vec<usize> = match self.blocks {
            Blocks::Coordinates => (0..=len).collect(),
            Blocks::Size(b) => (0..len.div_ceil(b)).map(|k| k * b).chain([len]).collect(),
            Blocks::Layers => model_layout.blocks().iter().map(|b| b.offset).chain([len]).collect(),
        };
        let layout = match self.blocks {
            Blocks::Size(_) => {
                let mut l = Layout::new();
                for (k, w) in bounds.windows(2).enumerate() {
                    l = l.vector(&format!("b{k}"), w[1] - w[0])?;
                }
                l
            }
            _ => model_layout.clone(),
        };
        Ok((layout, bounds))
    }
}

/// The stopping rule and noise of a run.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Label noise `+-sigma`.
    pub sigma: f64,
    /// Minibatch size (1: per-sample noise; `n`: full batch with independent noise per sample).
    pub batch: usize,
    /// The manifold is entered when the noise-free loss falls below this fraction of the
    /// initial loss.
    pub gate_rel: f64,
    /// Plateau: relative change of the monitored measure over the second half of the time on
    /// the manifold.
    pub rel_tol: f64,
    /// Minimum time on the manifold, in units of the drift time scale `1 / (lr^2 s^2)` with
    /// `s = sigma^{1 - 2E}` the size of the preconditioned noise.
    pub window: f64,
    /// Step cap, in the same units.
    pub cap: f64,
    /// Observations per minimum window.
    pub per_window: u64,
}

impl Setting {
    /// The drift time scale `1 / (lr^2 sigma^{2(1 - 2E)})` of `m`, in steps.
    pub fn time_scale(&self, m: &Method) -> f64 {
        1.0 / (m.lr().powi(2) * self.sigma.powf(2.0 * (1.0 - 2.0 * m.exponent)))
    }

    /// `(minimum window, observation interval, cap)` in steps for `m`.
    pub fn steps(&self, m: &Method) -> (u64, u64, u64) {
        let window = (self.window * self.time_scale(m)).ceil() as u64;
        let every = (window / self.per_window).max(1);
        let cap = ((self.cap * self.time_scale(m)) as u64).div_ceil(every) * every;
        (window, every, cap)
    }
}

/// One observation of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Point {
    /// Steps taken.
    pub step: u64,
    /// Noise-free training loss.
    pub loss: f64,
    /// `tr(H)` (Gauss-Newton).
    pub trace: f64,
    /// `tr(Diag(H)^{1/2})`.
    pub sqrt_diag: f64,
    /// The method's own measure.
    pub monitored: f64,
    /// Model-specific metrics (see the caller).
    pub extra: [f64; 4],
}

/// A finished (or failed) run.
#[derive(Debug, Clone)]
pub struct Run {
    /// How it ended.
    pub end: RunEnd,
    /// Step at which it entered the manifold.
    pub entered: Option<u64>,
    /// Observations, in order.
    pub points: Vec<Point>,
    /// Final parameters.
    pub params: Vec<f64>,
}

impl Run {
    /// The observation at which the run entered the manifold.
    pub fn at_entry(&self) -> Option<&Point> {
        let t = self.entered?;
        self.points.iter().find(|p| p.step >= t)
    }

    /// The first observation at or after `step`.
    pub fn at(&self, step: u64) -> Option<&Point> {
        self.points.iter().find(|p| p.step >= step)
    }

    /// The last observation.
    pub fn last(&self) -> Option<&Point> {
        self.points.last()
    }
}

/// The loss at which a noise-free full-batch control has reached its minimiser to f64
/// precision.
pub const CONTROL_ZERO_LOSS: f64 = 1e-26;

/// What a run is asked to do.
pub struct Job<'a, M> {
    /// The model (targets without noise).
    pub model: &'a M,
    /// Its layout (blocks `Layers` refers to).
    pub layout: &'a Layout,
    /// Initial parameters.
    pub init: &'a [f64],
    /// The optimizer.
    pub method: &'a Method,
    /// Noise and stopping rule.
    pub setting: &'a Setting,
    /// `false`: the noise-free control: full-batch, no label noise, at most `fixed_steps`
    /// steps (it stops earlier once the loss is at the floor of f64, [`CONTROL_ZERO_LOSS`]:
    /// deterministic steps no longer move the iterate).
    pub noisy: bool,
    /// Step budget of a control run.
    pub fixed_steps: Option<u64>,
    /// Trainer seed (minibatches and noise).
    pub seed: u64,
}

struct Probe<M, F> {
    sharp: SharpnessObserver<M>,
    extra: F,
    points: Arc<Mutex<Vec<Point>>>,
}

impl<M, F> Observer<f64> for Probe<M, F>
where
    M: SquaredLossModel + Clone,
    F: FnMut(&[f64]) -> [f64; 4],
{
    fn every(&self) -> u64 {
        self.sharp.every()
    }
    fn observe(&mut self, r: &StepRecord<'_, f64>) -> gradus_core::Result<Control> {
        let control = self.sharp.observe(r)?;
        if let Some(rec) = self.sharp.records.last() {
            locked(&self.points).push(Point {
                step: rec.step,
                loss: rec.train_loss,
                trace: rec.trace,
                sqrt_diag: rec.sqrt_diag,
                monitored: rec.monitored,
                extra: (self.extra)(r.params),
            });
        }
        Ok(control)
    }
}

/// Runs `job`, observing `extra(params)` with the measures. Errors end the run as
/// [`RunEnd::Failed`] with the observations so far.
pub fn run<M, F>(job: &Job<'_, M>, extra: F) -> Run
where
    M: SquaredLossModel + Clone + Send + 'static,
    F: FnMut(&[f64]) -> [f64; 4] + Send + 'static,
{
    let points = Arc::new(Mutex::new(Vec::new()));
    let mut params = job.init.to_vec();
    let mut entered = None;
    let end = (|| -> gradus_core::Result<RunEnd> {
        let (window, every, cap) = job.setting.steps(job.method);
        let noise =
            if job.noisy { LabelNoise::PlusMinus(job.setting.sigma) } else { LabelNoise::None };
        let batch = if job.noisy { job.setting.batch } else { job.model.num_samples() };
        let reg = Regression::new(job.model.clone(), batch, noise)?;
        let gate = job.setting.gate_rel * reg.train_loss(job.init)?;
        let (layout, bounds) = job.method.layout(job.layout)?;
        let (min_window, steps) = match job.fixed_steps {
            Some(s) => (u64::MAX, s),
            None => (window, cap),
        };
        let plateau = Plateau::new(gate, job.setting.rel_tol, min_window, 8)?;
        let capacity = (steps / every) as usize + 2;
        let sharp =
            SharpnessObserver::new(&reg, every, HessianKind::GaussNewton, bounds, capacity)?
                .monitor(job.method.exponent, plateau)?;
        let mut probe = Probe { sharp, extra, points: points.clone() };
        probe.observe(&StepRecord {
            step: 0,
            loss: f64::NAN,
            info: Default::default(),
            params: job.init,
            grad: &[],
        })?;
        let probe = Arc::new(Mutex::new(probe));
        let opt = Agm::<f64>::new(&job.method.name, job.method.cfg.clone(), layout)?;
        let mut trainer = Trainer::new(reg, opt, job.init.to_vec(), job.seed)?
            .with_par(Par::Seq)
            .observe(crate::experiments::common::Shared(probe.clone()));
        if !job.noisy {
            trainer = trainer.stop_below(CONTROL_ZERO_LOSS);
        }
        let outcome = trainer.run(steps);
        params.copy_from_slice(trainer.params());
        let summary = outcome?;
        let mut probe = locked(&probe);
        if probe.sharp.records.last().is_some_and(|r| r.step < trainer.step_count()) {
            // A control that stopped between observations: record where it ended.
            probe.observe(&StepRecord {
                step: trainer.step_count(),
                loss: summary.last_loss,
                info: Default::default(),
                params: trainer.params(),
                grad: &[],
            })?;
        }
        let rule = probe.sharp.plateau();
        entered = rule.and_then(|p| p.entered());
        Ok(match job.fixed_steps {
            // A control has converged once it reached the manifold.
            Some(_) => {
                RunEnd::from_stop(rule.is_some_and(|p| p.entered().is_some()), summary.steps, steps)
            }
            None => RunEnd::from_stop(
                rule.is_some_and(|p| p.converged_at().is_some()),
                summary.steps,
                steps,
            ),
        })
    })()
    .unwrap_or_else(|e| RunEnd::Failed(e.to_string()));
    let points = locked(&points).clone();
    Run { end, entered, points, params }
}
