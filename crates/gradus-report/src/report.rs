//! Writing an experiment's results to a directory.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Claims, Plot, Table};

/// The results of one experiment: prose, tables (written as Markdown and CSV) and plots (SVG).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Short machine name, e.g. `optimizers` (the output sub-directory).
    pub name: String,
    /// Human title.
    pub title: String,
    /// Markdown paragraphs, in order, interleaved with tables and plots by [`Report::write`].
    parts: Vec<Part>,
    /// The claims judged so far (shown where [`Report::claims`] was called; summarised in the
    /// index).
    claims: Claims,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Table(String, Table),
    Plot(String, Plot),
}

impl Report {
    /// An empty report.
    pub fn new(name: impl Into<String>, title: impl Into<String>) -> Self {
        Report { name: name.into(), title: title.into(), parts: Vec::new(), claims: Claims::new() }
    }

    /// Appends the verdict table of `claims` (saved as `<file>.csv`) and keeps the claims for
    /// the index summary.
    pub fn claims(&mut self, file: impl Into<String>, claims: Claims) {
        self.parts.push(Part::Table(file.into(), claims.table()));
        self.claims.items.extend(claims.items);
    }

    /// Every claim judged in this report.
    pub fn judged(&self) -> &Claims {
        &self.claims
    }

    /// Appends Markdown text.
    pub fn text(&mut self, md: impl Into<String>) {
        self.parts.push(Part::Text(md.into()));
    }

    /// Appends a table saved as `<file>.csv` and shown inline.
    pub fn table(&mut self, file: impl Into<String>, t: Table) {
        self.parts.push(Part::Table(file.into(), t));
    }

    /// Appends a plot saved as `<file>.svg` and linked inline.
    pub fn plot(&mut self, file: impl Into<String>, p: Plot) {
        self.parts.push(Part::Plot(file.into(), p));
    }

    /// The tables, for tests and summaries.
    pub fn tables(&self) -> impl Iterator<Item = (&str, &Table)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Table(f, t) => Some((f.as_str(), t)),
            _ => None,
        })
    }

    /// Writes `<out>/<name>/README.md`, the CSVs and SVGs; returns the directory.
    pub fn write(&self, out: &Path) -> std::io::Result<PathBuf> {
        let dir = out.join(&self.name);
        fs::create_dir_all(&dir)?;
        let mut md = format!("# {}\n\n", self.title);
        for p in &self.parts {
            match p {
                Part::Text(t) => md += &format!("{t}\n\n"),
                Part::Table(f, t) => {
                    fs::write(dir.join(format!("{f}.csv")), t.to_csv())?;
                    md += &format!("{}\n[{f}.csv]({f}.csv)\n\n", t.to_markdown());
                }
                Part::Plot(f, p) => {
                    fs::write(dir.join(format!("{f}.svg")), p.to_svg())?;
                    md += &format!("![{}]({f}.svg)\n\n", p.title);
                }
            }
        }
        fs::write(dir.join("README.md"), md)?;
        Ok(dir)
    }
}

/// Writes `<out>/index.md` linking every report directory found in `out` (with its title).
pub fn write_index(out: &Path, entries: &[(String, String, String)]) -> std::io::Result<()> {
    let mut md = String::from(
        "# gradus experiment reports\n\n| experiment | title | status |\n|---|---|---|\n",
    );
    for (name, title, status) in entries {
        md += &format!("| [{name}]({name}/README.md) | {title} | {status} |\n");
    }
    fs::write(out.join("index.md"), md)
}
