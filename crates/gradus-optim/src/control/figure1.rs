//! The settings of the paper's first figure (official notebook `fig1-overview.ipynb`).

use gradus_core::Result;

use super::action::TimeGrid;
use super::path::{PathSettings, linear_path};
use super::potential::DoubleWell;
use super::problem::ControlProblem;

/// The double-well optimisation of Fig 1: loss, action, grid, endpoints and optimiser.
#[derive(Debug, Clone, PartialEq)]
pub struct DoubleWellSetup {
    /// `η = 1`, `k = 1`, `γ = 0.1`, identity metric, no default dynamics.
    pub problem: ControlProblem,
    /// `a = b = c = 1`, `d = -0.5`.
    pub well: DoubleWell,
    /// `t ∈ [0, 4]` with 50 time points.
    pub grid: TimeGrid,
    /// `z₀ = (-0.6, 0.55)`.
    pub start: [f64; 2],
    /// `z_f = (1 + 1/16, 0)` (fixed end).
    pub end: [f64; 2],
    /// 60,000 gradient steps of size `1e-2` on the mean action ([`PathSettings::notebook`]).
    pub settings: PathSettings,
    /// The notebook's gradient-descent baseline integrates the gradient flow on `[0, 8]`.
    pub flow_horizon: f64,
}

impl DoubleWellSetup {
    /// The notebook's values.
    pub fn notebook() -> Result<Self> {
        Ok(DoubleWellSetup {
            problem: ControlProblem::new(2, 1.0, 1.0, 0.1)?,
            well: DoubleWell::notebook(),
            grid: TimeGrid::new(4.0, 49)?,
            start: [-0.6, 0.55],
            end: [1.0 + 1.0 / 16.0, 0.0],
            settings: PathSettings::notebook(),
            flow_horizon: 8.0,
        })
    }

    /// The straight line from `start` to `end` on the grid (the notebook's initial path).
    pub fn initial_path(&self) -> Result<Vec<f64>> {
        linear_path(self.grid, &self.start, &self.end)
    }
}
