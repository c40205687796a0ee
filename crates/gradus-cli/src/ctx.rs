//! What every experiment receives: mode, seed, options, and progress reporting.

use std::collections::BTreeMap;
use std::str::FromStr;

use indicatif::{ProgressBar, ProgressStyle};

/// Settings shared by all experiments.
pub struct Ctx {
    /// Quick mode: small problems, under a minute per experiment.
    pub quick: bool,
    /// Base seed; experiments derive their own streams from it.
    pub seed: u64,
    /// Experiment options from `--set key=value` (validated against the experiment's
    /// declared [`crate::experiments::Experiment::options`] before it runs).
    pub options: BTreeMap<String, String>,
}

impl Ctx {
    /// The value of option `key` parsed as `T`, or `default` when it was not set.
    pub fn opt<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.options.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("option `{key}`: cannot parse `{v}`")),
        }
    }

    /// Picks the quick or the full value.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick { quick } else { full }
    }

    /// A progress bar over `len` units of work, drawn on stderr.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(
                "   {msg:<28} [{bar:30}] {pos}/{len} ({elapsed} / eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar
    }
}
