//! The experiment registry. Each experiment is a function from settings to a report.

mod common;
mod optimizers;

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
}

/// Every experiment, in the order `reproduce all` runs them.
pub fn all() -> Vec<Experiment> {
    vec![Experiment {
        name: "optimizers",
        title: "Every optimizer on an ill-conditioned quadratic and softmax regression",
        run: optimizers::run,
    }]
}
