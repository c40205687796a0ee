/// A table of strings with a header row, rendered as Markdown or CSV.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows; each should have `header.len()` cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with the given column names.
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        Table { header: header.iter().map(|s| s.as_ref().to_string()).collect(), rows: Vec::new() }
    }

    /// Appends a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// GitHub-flavoured Markdown.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out =
            format!("| {} |\n", self.header.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" | "));
        out += &format!("|{}\n", "---|".repeat(self.header.len()));
        for r in &self.rows {
            out += &format!("| {} |\n", r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "));
        }
        out
    }

    /// RFC 4180 CSV.
    pub fn to_csv(&self) -> String {
        let cell = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let line = |r: &[String]| r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",") + "\n";
        let mut out = line(&self.header);
        for r in &self.rows {
            out += &line(r);
        }
        out
    }
}

/// A number formatted for a table: 4 significant digits, scientific when very small or large.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if x == x.trunc() && a < 1e9 {
        return format!("{x:.0}");
    }
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{x:.3e}")
    } else {
        let digits = if a == 0.0 { 0 } else { (3 - a.log10().floor() as i32).clamp(0, 6) as usize };
        format!("{x:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_csv() {
        let mut t = Table::new(&["a", "b"]);
        t.row(["1", "x,y"]);
        t.row(["q\"", "p|q"]);
        assert_eq!(t.to_markdown(), "| a | b |\n|---|---|\n| 1 | x,y |\n| q\" | p\\|q |\n");
        assert_eq!(t.to_csv(), "a,b\n1,\"x,y\"\n\"q\"\"\",p|q\n");
        assert_eq!(fmt_num(0.000012345), "1.234e-5");
        assert_eq!(fmt_num(12.3456), "12.35");
        assert_eq!(fmt_num(0.0), "0");
    }
}
