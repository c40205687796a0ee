//! Paired comparisons over seeds, the decision rule every verdict of this report uses.

use gradus_report::fmt_num;

use crate::experiments::common::mean_std;

/// Mean and sample standard deviation of a sample, with its size.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub sd: f64,
    /// Number of values.
    pub n: usize,
}

impl Summary {
    /// Summary of `xs` (`NaN` mean for an empty sample).
    pub fn of(xs: &[f64]) -> Self {
        if xs.is_empty() {
            return Summary { mean: f64::NAN, sd: f64::NAN, n: 0 };
        }
        let (mean, sd) = mean_std(xs);
        Summary { mean, sd, n: xs.len() }
    }

    /// Standard error of the mean.
    pub fn se(&self) -> f64 {
        self.sd / (self.n as f64).sqrt()
    }

    /// Whether the mean is below 0 by more than two standard errors (the report's one-sided
    /// test; with one seed, simply below 0).
    pub fn clearly_negative(&self) -> bool {
        self.n > 0 && self.mean < 0.0 && self.mean + 2.0 * self.se() < 0.0
    }

    /// Whether the mean is above 0 by more than two standard errors.
    pub fn clearly_positive(&self) -> bool {
        self.n > 0 && self.mean > 0.0 && self.mean - 2.0 * self.se() > 0.0
    }

    /// `mean +- sd`.
    pub fn cell(&self) -> String {
        if self.n == 0 {
            return "no converged run".into();
        }
        format!("{} +- {}", fmt_num(self.mean), fmt_num(self.sd))
    }
}

/// Differences `a_k - b_k` over the seeds where both are present.
pub fn paired(a: &[Option<f64>], b: &[Option<f64>]) -> Summary {
    let d: Vec<f64> = a.iter().zip(b).filter_map(|(x, y)| Some((*x)? - (*y)?)).collect();
    Summary::of(&d)
}
