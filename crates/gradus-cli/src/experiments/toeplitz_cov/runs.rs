//! One estimate of a Toeplitz covariance from one sample: the GD variants (official
//! Algorithms 1 and 2, amplitudes only) and the baselines, each with how it ended.

use std::time::Instant;

use gradus_core::Layout;
use gradus_models::toeplitz_cov::baselines::{fisher_scoring_ml, toeplitz_projection};
use gradus_models::toeplitz_cov::estimators::initial_theta;
use gradus_models::toeplitz_cov::{
    ArmijoParams, DataKind, EvalPath, Init, SinusoidModel, ToeplitzNll, armijo_gd,
};
use gradus_report::RunEnd;
use num_complex::Complex64;

/// Dimension of every experiment (the official code's).
pub const P: usize = 15;
/// Algorithm 2's frequency step relative to the amplitude step (9e-3 / 8e-2 in the code).
pub const FREQ_RATIO: f64 = 9e-3 / 8e-2;

/// A GD variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Variant {
    /// Algorithm 2: separate Armijo steps for amplitudes and frequencies.
    TwoSteps,
    /// Algorithm 1: one step for all parameters.
    OneStep,
    /// Amplitudes only, frequencies frozen on the initial grid.
    AmplitudesOnly,
}

impl Variant {
    fn layout(self, m: &SinusoidModel) -> gradus_core::Result<Layout> {
        match self {
            Variant::TwoSteps => m.separate_step_layout(FREQ_RATIO),
            Variant::OneStep => Ok(m.single_step_layout()),
            Variant::AmplitudesOnly => m.amplitudes_only_layout(),
        }
    }

    /// Table label for `K` sinusoids.
    pub fn label(self, k: usize) -> String {
        let kk = match k / P {
            1 => "P".to_string(),
            j if k == j * P => format!("{j}P"),
            _ => k.to_string(),
        };
        match self {
            Variant::TwoSteps => format!("GD K={kk}, 2 steps"),
            Variant::OneStep => format!("GD K={kk}, 1 step"),
            Variant::AmplitudesOnly => format!("GD amplitudes only, K={kk} grid"),
        }
    }
}

/// One estimate.
#[derive(Debug, Clone)]
pub struct Est {
    /// First column of the estimate.
    pub r: Vec<Complex64>,
    /// Negative log-likelihood (under the model's ridge for GD).
    pub nll: f64,
    /// Iterations.
    pub iterations: usize,
    /// Wall seconds.
    pub secs: f64,
    /// Stagnated (converged by the official test) or hit the cap.
    pub end: RunEnd,
}

/// GD with `k` sinusoids by `variant` from the initialisation drawn with `seed`.
pub fn gd(
    x: &[Complex64],
    m: usize,
    k: usize,
    variant: Variant,
    params: &ArmijoParams,
    seed: u64,
) -> Est {
    let run = || -> gradus_core::Result<Est> {
        let model = SinusoidModel::new(P, k, DataKind::Complex)?;
        let layout = variant.layout(&model)?;
        let mut nll = ToeplitzNll::new(model, x, m, EvalPath::Auto)?;
        let t0 = initial_theta(&model, nll.trace_s(), Init::Spec, seed);
        let start = Instant::now();
        let res = armijo_gd(&mut nll, &layout, &t0, params)?;
        let mut r = vec![Complex64::new(0.0, 0.0); P];
        model.first_column(&res.theta, &mut r)?;
        Ok(Est {
            r,
            nll: res.loss,
            iterations: res.iterations,
            secs: start.elapsed().as_secs_f64(),
            end: RunEnd::from_stop(res.stagnated, res.iterations as u64, params.max_iter as u64),
        })
    };
    run().unwrap_or_else(|e| failed(e.to_string()))
}

/// A failed estimate (its error shows in the tables).
pub fn failed(msg: String) -> Est {
    Est { r: Vec::new(), nll: f64::NAN, iterations: 0, secs: 0.0, end: RunEnd::Failed(msg) }
}

/// The Toeplitz projection of `S` (it has no iterations: always "converged") and the
/// Fisher-scoring maximum-likelihood estimate (no ridge).
pub fn baselines(x: &[Complex64], m: usize) -> [Est; 2] {
    let run = || -> gradus_core::Result<[Est; 2]> {
        let model = SinusoidModel::new(P, 2 * P, DataKind::Complex)?;
        let mut nll = ToeplitzNll::new(model, x, m, EvalPath::Auto)?;
        let proj = toeplitz_projection(nll.sample_covariance(), P)?;
        let mut g = vec![Complex64::new(0.0, 0.0); P];
        let proj_nll = nll.loss_grad_lags(&proj, &mut g).unwrap_or(f64::NAN);
        let start = Instant::now();
        let max_iter = 200;
        let ml = fisher_scoring_ml(&mut nll, 1e-8, max_iter)?;
        Ok([
            Est {
                r: proj,
                nll: proj_nll,
                iterations: 0,
                secs: 0.0,
                end: RunEnd::Converged { steps: 0 },
            },
            Est {
                r: ml.r,
                nll: ml.loss,
                iterations: ml.iterations,
                secs: start.elapsed().as_secs_f64(),
                end: RunEnd::from_stop(
                    ml.iterations < max_iter,
                    ml.iterations as u64,
                    max_iter as u64,
                ),
            },
        ])
    };
    run().unwrap_or_else(|e| [failed(e.to_string()), failed(e.to_string())])
}
