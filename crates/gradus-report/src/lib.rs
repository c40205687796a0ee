//! Experiment reports: Markdown tables, CSV data and self-contained SVG line plots.
//!
//! The SVG writer needs no fonts or system libraries: text is emitted as `<text>` elements
//! the viewer renders. Plots support log axes, many series, and shaded bands (e.g. the spread
//! over seeds).

mod plot;
mod report;
mod table;

pub use plot::{Axis, Plot, Scale, Series};
pub use report::{Report, write_index};
pub use table::{Table, fmt_num};
