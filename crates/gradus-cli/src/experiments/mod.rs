//! The experiment registry. Each experiment is a function from settings to a report.

mod adam_sharpness;
mod br_mtrl;
mod common;
mod drag;
mod dro;
mod error_feedback;
mod learning_rules;
mod lshfed;
mod optimizers;
mod sgd_limits;
mod toeplitz_cov;
mod tts_graph;

use gradus_report::Report;

use crate::ctx::Ctx;

/// Boxed error for experiment drivers (library crates return `gradus_core::Error`).
pub type ExpResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One reproducible experiment.
pub struct Experiment {
    /// Name used on the command line and as the output directory.
    pub name: &'static str,
    /// One-line description.
    pub title: &'static str,
    /// Runs the experiment.
    pub run: fn(&Ctx) -> ExpResult<Report>,
    /// Options it accepts through `--set key=value`: `(key, what it does and its values)`.
    pub options: &'static [(&'static str, &'static str)],
}

/// Every experiment, in the order `reproduce all` runs them.
pub fn all() -> Vec<Experiment> {
    vec![
        Experiment {
            name: "optimizers",
            title: "Every optimizer on an ill-conditioned quadratic and softmax regression",
            run: optimizers::run,
            options: &[],
        },
        Experiment {
            name: "lshfed",
            title: "Byzantine-robust federated learning: LSH screening (LSHFed) vs Krum, geometric median, trimmed mean, mean",
            run: lshfed::run,
            options: lshfed::OPTIONS,
        },
        Experiment {
            name: "adam-sharpness",
            title: "Adam's implicit sharpness: diagonal linear network and matrix factorisation with label noise (paper 01)",
            run: adam_sharpness::run,
            options: adam_sharpness::OPTIONS,
        },
        Experiment {
            name: "toeplitz-cov",
            title: "Toeplitz covariance estimation by over-parameterised gradient descent (paper 07)",
            run: toeplitz_cov::run,
            options: &[],
        },
        Experiment {
            name: "drag",
            title: "DRAG for semi-discrete OT: error rates on Examples 1-3, fixed vs decreasing eps, variants (paper 08)",
            run: drag::run,
            options: &[],
        },
        Experiment {
            name: "dro",
            title: "Gradient-flow-sampler DRO (WGF, WFR, SVGD) vs ERM, WRM and the Sinkhorn dual (paper 03)",
            run: dro::run,
            options: dro::OPTIONS,
        },
        Experiment {
            name: "br-mtrl",
            title: "BR-MTRL: Byzantine-resilient multi-task representation learning, linear and MLP stand-ins (paper 09)",
            run: br_mtrl::run,
            options: &[],
        },
        Experiment {
            name: "error-feedback",
            title: "Compression with error feedback: tight rates of CGD, EF, EF21 and n-worker logistic regression (paper 06)",
            run: error_feedback::run,
            options: &[],
        },
        Experiment {
            name: "tts-graph",
            title: "Test-time-compute collaboration graphs: Agent-REINFORCE vs REINFORCE vs random search, simulated LLMs (paper 04)",
            run: tts_graph::run,
            options: &[],
        },
        Experiment {
            name: "learning-rules",
            title: "Learning rules as optimal control: double well, discount, geometry, derived rules vs Adam (paper 10)",
            run: learning_rules::run,
            options: &[],
        },
        Experiment {
            name: "sgd-limits",
            title: "Online SGD in high dimension: ODE limit vs N, critical step corrector, information exponent, OU fluctuations (paper 02)",
            run: sgd_limits::run,
            options: sgd_limits::OPTIONS,
        },
    ]
}
