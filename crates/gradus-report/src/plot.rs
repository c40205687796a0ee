//! A small SVG line-plot writer.

use std::fmt::Write as _;

/// Linear or logarithmic axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Linear.
    #[default]
    Linear,
    /// Base-10 logarithmic (non-positive values are dropped).
    Log,
}

/// One axis: label and scale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Axis {
    /// Axis label.
    pub label: String,
    /// Scale.
    pub scale: Scale,
}

/// One line, optionally with a shaded band `(x, lo, hi)` around it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points; non-finite coordinates break the line.
    pub points: Vec<(f64, f64)>,
    /// Optional band.
    pub band: Vec<(f64, f64, f64)>,
    /// Draw markers at the points instead of only a line.
    pub markers: bool,
    /// Dashed line (theory curves beside measurements).
    pub dashed: bool,
}

impl Series {
    /// A plain line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points, ..Default::default() }
    }
}

/// A line plot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plot {
    /// Title.
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// The lines.
    pub series: Vec<Series>,
}

const W: f64 = 760.0;
const H: f64 = 460.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 58.0;
const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

struct Mapping {
    lo: f64,
    hi: f64,
    scale: Scale,
}

impl Mapping {
    fn t(&self, v: f64) -> Option<f64> {
        let v = match self.scale {
            Scale::Linear => v,
            Scale::Log if v > 0.0 => v.log10(),
            Scale::Log => return None,
        };
        v.is_finite().then(|| (v - self.lo) / (self.hi - self.lo))
    }

    fn fit(values: impl Iterator<Item = f64>, scale: Scale) -> Mapping {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            let v = match scale {
                Scale::Log if v > 0.0 => v.log10(),
                Scale::Log => continue,
                Scale::Linear => v,
            };
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-12 * (1.0 + lo.abs()) {
            let pad = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
            (lo, hi) = (lo - pad, hi + pad);
        }
        if scale == Scale::Linear {
            let pad = 0.04 * (hi - lo);
            (lo, hi) = (lo - pad, hi + pad);
        }
        Mapping { lo, hi, scale }
    }

    /// Tick positions in data units with labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        match self.scale {
            Scale::Log => {
                let (a, b) = (self.lo.floor() as i32, self.hi.ceil() as i32);
                let stride = ((b - a) / 8).max(1);
                let mut out: Vec<(f64, String)> = (a..=b)
                    .step_by(stride as usize)
                    .filter(|&k| (k as f64) >= self.lo - 1e-9 && (k as f64) <= self.hi + 1e-9)
                    .map(|k| (10f64.powi(k), format!("1e{k}")))
                    .collect();
                if out.len() < 2 {
                    out = nice_ticks(self.lo, self.hi)
                        .into_iter()
                        .map(|v| (10f64.powf(v), crate::fmt_num(10f64.powf(v))))
                        .collect();
                }
                out
            }
            Scale::Linear => {
                nice_ticks(self.lo, self.hi).into_iter().map(|v| (v, crate::fmt_num(v))).collect()
            }
        }
    }
}

fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() as i64;
    let end = (hi / step).floor() as i64;
    (start..=end)
        .map(|k| {
            let v = k as f64 * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

impl Plot {
    /// A plot with title and axis labels, both axes linear.
    pub fn new(title: impl Into<String>, x: impl Into<String>, y: impl Into<String>) -> Self {
        Plot {
            title: title.into(),
            x: Axis { label: x.into(), scale: Scale::Linear },
            y: Axis { label: y.into(), scale: Scale::Linear },
            series: Vec::new(),
        }
    }

    /// Sets the axis scales.
    pub fn scales(mut self, x: Scale, y: Scale) -> Self {
        self.x.scale = x;
        self.y.scale = y;
        self
    }

    /// Adds a series.
    pub fn with(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    /// Renders the SVG document.
    pub fn to_svg(&self) -> String {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0).chain(s.band.iter().map(|b| b.0)));
        let ys = self.series.iter().flat_map(|s| {
            s.points.iter().map(|p| p.1).chain(s.band.iter().flat_map(|b| [b.1, b.2]))
        });
        let mx = Mapping::fit(xs, self.x.scale);
        let my = Mapping::fit(ys, self.y.scale);
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let px = |v: f64| mx.t(v).map(|t| LEFT + t * pw);
        let py = |v: f64| my.t(v).map(|t| TOP + (1.0 - t) * ph);
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = write!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            LEFT + pw / 2.0,
            esc(&self.title)
        );
        let _ = write!(
            s,
            r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
        );
        for (v, label) in mx.ticks() {
            if let Some(x) = px(v) {
                let _ = write!(
                    s,
                    r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#e5e5e5"/>"##,
                    TOP + ph
                );
                let _ = write!(
                    s,
                    r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                    TOP + ph + 16.0,
                    esc(&label)
                );
            }
        }
        for (v, label) in my.ticks() {
            if let Some(y) = py(v) {
                let _ = write!(
                    s,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e5e5e5"/>"##,
                    LEFT + pw
                );
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                    LEFT - 6.0,
                    y + 4.0,
                    esc(&label)
                );
            }
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            H - 14.0,
            esc(&self.x.label)
        );
        let _ = write!(
            s,
            r#"<text x="18" y="{0}" text-anchor="middle" transform="rotate(-90 18 {0})">{1}</text>"#,
            TOP + ph / 2.0,
            esc(&self.y.label)
        );
        let _ = write!(
            s,
            r#"<clipPath id="plot"><rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}"/></clipPath><g clip-path="url(#plot)">"#
        );
        for (k, series) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let dash =
                if series.dashed || k >= PALETTE.len() { r#" stroke-dasharray="6 4""# } else { "" };
            let band: Vec<(f64, f64, f64)> = series
                .band
                .iter()
                .filter_map(|&(x, lo, hi)| Some((px(x)?, py(lo)?, py(hi)?)))
                .collect();
            if band.len() > 1 {
                let mut d = String::new();
                for (i, (x, _, hi)) in band.iter().enumerate() {
                    let _ = write!(d, "{}{x:.1},{hi:.1} ", if i == 0 { "M" } else { "L" });
                }
                for (x, lo, _) in band.iter().rev() {
                    let _ = write!(d, "L{x:.1},{lo:.1} ");
                }
                let _ = write!(
                    s,
                    r#"<path d="{d}Z" fill="{color}" fill-opacity="0.15" stroke="none"/>"#
                );
            }
            let mut run: Vec<(f64, f64)> = Vec::new();
            let flush = |run: &mut Vec<(f64, f64)>, s: &mut String| {
                if run.len() > 1 {
                    let pts: Vec<String> =
                        run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                    let _ = write!(
                        s,
                        r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>"#,
                        pts.join(" ")
                    );
                }
                run.clear();
            };
            for &(x, y) in &series.points {
                match (px(x), py(y)) {
                    (Some(x), Some(y)) => {
                        run.push((x, y));
                        if series.markers {
                            let _ = write!(
                                s,
                                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#
                            );
                        }
                    }
                    _ => flush(&mut run, &mut s),
                }
            }
            flush(&mut run, &mut s);
        }
        s.push_str("</g>");
        for (k, series) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let y = TOP + 10.0 + 18.0 * k as f64;
            let x = LEFT + pw + 12.0;
            let dash =
                if series.dashed || k >= PALETTE.len() { r#" stroke-dasharray="6 4""# } else { "" };
            let _ = write!(
                s,
                r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2.5"{dash}/>"#,
                x + 22.0
            );
            let _ =
                write!(s, r#"<text x="{}" y="{}">{}</text>"#, x + 28.0, y + 4.0, esc(&series.name));
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_series_ticks_and_escapes() {
        let p = Plot::new("a < b", "step", "loss")
            .scales(Scale::Linear, Scale::Log)
            .with(Series::line("adam", vec![(0.0, 1.0), (1.0, 0.1), (2.0, f64::NAN), (3.0, 0.001)]))
            .with(Series {
                band: vec![(0.0, 0.5, 2.0), (3.0, 1e-4, 1e-2)],
                ..Series::line("sgd", vec![(0.0, 1.0), (3.0, 1e-3)])
            });
        let svg = p.to_svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &lt; b"));
        assert!(svg.contains(">1e-3<"));
        // The NaN splits adam's line into one 2-point polyline (the lone last point is dropped).
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<path").count(), 1);
    }

    #[test]
    fn degenerate_ranges_do_not_break() {
        let svg = Plot::new("flat", "x", "y")
            .with(Series::line("c", vec![(1.0, 5.0), (1.0, 5.0)]))
            .to_svg();
        assert!(!svg.contains("NaN"));
        let empty = Plot::new("none", "x", "y").scales(Scale::Log, Scale::Log).to_svg();
        assert!(!empty.contains("NaN"));
    }
}
