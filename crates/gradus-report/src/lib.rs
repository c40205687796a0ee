//! Experiment reports: Markdown tables, CSV data, self-contained SVG line plots, and verdicts
//! on a paper's claims computed from the report's own numbers.
//!
//! The SVG writer needs no fonts or system libraries: text is emitted as `<text>` elements
//! the viewer renders. Plots support log axes, many series, and shaded bands (e.g. the spread
//! over seeds).

mod plot;
mod report;
pub mod stats;
mod table;
mod verdict;

pub use plot::{Axis, Plot, Scale, Series};
pub use report::{Report, write_index};
pub use table::{Table, fmt_num};
pub use verdict::{Claim, Claims, RunEnd, Verdict, cell};
