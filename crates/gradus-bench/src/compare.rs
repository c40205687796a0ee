//! `gradus-bench compare`: the current benchmark results against the committed baseline
//! (`benches/baseline/`).
//!
//! - Instruction counts (gungraun/callgrind `Ir`, one `summary.json` per benchmark under the
//!   gungraun home directory) are compared with `benches/baseline/instructions.json`; a count
//!   more than `--threshold` percent (default 2) above its baseline is a regression and makes
//!   the command fail. A benchmark of the baseline that did not run is a failure too (a renamed
//!   or deleted benchmark must be removed from the baseline on purpose, with `--update`).
//! - Criterion medians (`new/estimates.json` under `target/criterion`) are compared with
//!   `benches/baseline/criterion.json` and only reported: wall time on a shared machine is too
//!   noisy to gate on.
//!
//! With `--update`, the baseline files are rewritten from the current results instead.
//! Instruction counts are exact for one binary, but depend on the compiler version, the
//! dependency versions and the SIMD level pulp dispatches to, so the baseline records the
//! `rustc` it was taken with and the comparison warns when it differs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Options of the `compare` subcommand.
pub struct Options {
    /// Gungraun home directory holding the `summary.json` files of this run.
    pub gungraun: Option<PathBuf>,
    /// Committed instruction-count baseline.
    pub instr_baseline: PathBuf,
    /// Criterion output directory (`target/criterion`).
    pub criterion: Option<PathBuf>,
    /// Committed criterion-median baseline.
    pub criterion_baseline: PathBuf,
    /// Allowed increase of an instruction count, in percent.
    pub threshold_pct: f64,
    /// Rewrite the baselines from the current results instead of comparing.
    pub update: bool,
}

impl Options {
    pub fn from_args(opts: &std::collections::HashMap<String, String>) -> Result<Self, String> {
        let path = |key: &str, default: &str| -> PathBuf {
            opts.get(key).map_or_else(|| PathBuf::from(default), PathBuf::from)
        };
        let threshold_pct = match opts.get("threshold") {
            Some(t) => t.parse::<f64>().map_err(|e| format!("--threshold `{t}`: {e}"))?,
            None => 2.0,
        };
        if !(threshold_pct.is_finite() && threshold_pct >= 0.0) {
            return Err(format!(
                "--threshold must be a finite percentage >= 0, got {threshold_pct}"
            ));
        }
        let update = match opts.get("update").map(String::as_str) {
            None | Some("no") | Some("false") => false,
            Some("yes") | Some("true") => true,
            Some(other) => return Err(format!("--update takes yes|no, got `{other}`")),
        };
        Ok(Options {
            gungraun: opts.get("gungraun").map(PathBuf::from),
            instr_baseline: path("instr-baseline", "benches/baseline/instructions.json"),
            criterion: opts.get("criterion").map(PathBuf::from),
            criterion_baseline: path("criterion-baseline", "benches/baseline/criterion.json"),
            threshold_pct,
            update,
        })
    }
}

/// Runs the comparison (or the update); `Ok(false)` when an instruction count regressed.
pub fn run(o: &Options) -> Result<bool, String> {
    if o.gungraun.is_none() && o.criterion.is_none() {
        return Err("nothing to compare: give --gungraun DIR and/or --criterion DIR".into());
    }
    let mut ok = true;
    if let Some(dir) = &o.gungraun {
        let current = read_gungraun(dir)?;
        if current.is_empty() {
            return Err(format!("no gungraun summary.json under {}", dir.display()));
        }
        if o.update {
            write_baseline(&o.instr_baseline, "instructions", &current, Some(o.threshold_pct))?;
            println!(
                "wrote {} instruction counts to {}",
                current.len(),
                o.instr_baseline.display()
            );
        } else {
            let base = read_baseline(&o.instr_baseline)?;
            warn_toolchain(&o.instr_baseline);
            let report = compare_instructions(&base, &current, o.threshold_pct);
            print!("{}", report.render(o.threshold_pct));
            ok = report.passed();
        }
    }
    if let Some(dir) = &o.criterion {
        let current = read_criterion(dir)?;
        if o.update {
            write_baseline(&o.criterion_baseline, "criterion medians (ns)", &current, None)?;
            println!(
                "wrote {} criterion medians to {}",
                current.len(),
                o.criterion_baseline.display()
            );
        } else {
            // Report-only: a missing criterion baseline is a note, not an error.
            let base = if o.criterion_baseline.exists() {
                read_baseline(&o.criterion_baseline)?
            } else {
                println!(
                    "no criterion baseline at {} yet (create it with --update)",
                    o.criterion_baseline.display()
                );
                BTreeMap::new()
            };
            print!("{}", render_wall_times(&base, &current));
        }
    }
    Ok(ok)
}

/// Instruction counts keyed `file::group::function.id`, from every `summary.json` under `dir`.
pub fn read_gungraun(dir: &Path) -> Result<BTreeMap<String, f64>, String> {
    let mut out = BTreeMap::new();
    for file in find_files(dir, "summary.json")? {
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let (key, ir) = parse_summary(&v).map_err(|e| format!("{}: {e}", file.display()))?;
        out.insert(key, ir);
    }
    Ok(out)
}

/// The benchmark's key and its total callgrind `Ir` from one gungraun summary.
///
/// Schema v6 (gungraun 0.16-0.19.2, the pinned 0.18.2) stores it at
/// `profiles[Callgrind].summaries.total.summary.Callgrind.Ir.metrics` as `{"Left": new}`,
/// `{"Both": [new, old]}` (when an earlier run is in the gungraun home) or `{"Right": old}`;
/// schema v7 (0.19.3+) at `profiles[Callgrind].data.total.metrics.Ir.values.new`. Both are read,
/// so a gungraun upgrade does not silently compare nothing.
pub fn parse_summary(v: &Value) -> Result<(String, f64), String> {
    let module = v["module_path"].as_str().ok_or("no `module_path`")?;
    let key = match v["id"].as_str() {
        Some(id) => format!("{module}.{id}"),
        None => module.to_string(),
    };
    let profiles = v["profiles"].as_array().ok_or("no `profiles` array")?;
    let callgrind = profiles
        .iter()
        .find(|p| p["tool"].as_str() == Some("Callgrind"))
        .ok_or("no Callgrind profile")?;
    let v6 = &callgrind["summaries"]["total"]["summary"]["Callgrind"]["Ir"]["metrics"];
    let v6 = v6.get("Left").or_else(|| v6.get("Both").and_then(|b| b.get(0)));
    let v7 = &callgrind["data"]["total"]["metrics"]["Ir"]["values"]["new"];
    let ir = v6
        .and_then(number)
        .or_else(|| number(v7))
        .ok_or("no total Ir of the current run in the Callgrind profile")?;
    Ok((key, ir))
}

/// A metric value: a plain number, or an `{"Int": n}` / `{"Float": x}` wrapper.
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.get("Int").and_then(Value::as_f64))
        .or_else(|| v.get("Float").and_then(Value::as_f64))
}

/// Criterion medians (ns) keyed by criterion's `full_id`, from every `new/estimates.json`.
pub fn read_criterion(dir: &Path) -> Result<BTreeMap<String, f64>, String> {
    let mut out = BTreeMap::new();
    for file in find_files(dir, "estimates.json")? {
        let Some(run) = file.parent() else { continue };
        if run.file_name().and_then(|n| n.to_str()) != Some("new") {
            continue;
        }
        let meta = run.join("benchmark.json");
        let read = |p: &Path| -> Result<Value, String> {
            let text = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
        };
        let (est, meta) = (read(&file)?, read(&meta)?);
        let id =
            meta["full_id"].as_str().ok_or_else(|| format!("{}: no full_id", run.display()))?;
        let median = est["median"]["point_estimate"]
            .as_f64()
            .ok_or_else(|| format!("{}: no median", file.display()))?;
        out.insert(id.to_string(), median);
    }
    Ok(out)
}

fn find_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().and_then(|n| n.to_str()) == Some(name) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_baseline(path: &Path) -> Result<BTreeMap<String, f64>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("baseline {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let benches = v["benchmarks"]
        .as_object()
        .ok_or_else(|| format!("{}: no `benchmarks` object", path.display()))?;
    benches
        .iter()
        .map(|(k, v)| {
            v.as_f64()
                .map(|x| (k.clone(), x))
                .ok_or_else(|| format!("{}: `{k}` is not a number", path.display()))
        })
        .collect()
}

fn rustc_version() -> Option<String> {
    let out = std::process::Command::new("rustc").arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn warn_toolchain(path: &Path) {
    let recorded = fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["rustc"].as_str().map(str::to_string));
    if let (Some(recorded), Some(now)) = (recorded, rustc_version())
        && recorded != now
    {
        println!(
            "warning: the baseline was taken with `{recorded}`, this is `{now}`; instruction \
             counts change with the compiler: if only the toolchain changed, update the baseline"
        );
    }
}

fn write_baseline(
    path: &Path,
    what: &str,
    values: &BTreeMap<String, f64>,
    threshold_pct: Option<f64>,
) -> Result<(), String> {
    let mut doc = json!({
        "what": what,
        "rustc": rustc_version().unwrap_or_default(),
        "update_with": "benches/compare.sh --update",
        "benchmarks": values
            .iter()
            .map(|(k, &v)| {
                // Counts are integers: write them as such (medians keep their fraction).
                let v = if v.fract() == 0.0 && v.abs() < 9.0e15 { json!(v as i64) } else { json!(v) };
                (k.clone(), v)
            })
            .collect::<serde_json::Map<_, _>>(),
    });
    if let Some(t) = threshold_pct {
        doc["threshold_pct"] = json!(t);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// What happened to one benchmark's instruction count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Within the threshold either way.
    Same,
    /// Above the threshold: fails the comparison.
    Regressed,
    /// More than the threshold below the baseline (update the baseline to lock it in).
    Improved,
    /// In the baseline but not run: fails the comparison.
    Missing,
    /// Run but not in the baseline (reported; add it with `--update`).
    New,
}

/// One row of the instruction-count comparison.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    pub verdict: Verdict,
}

/// The instruction-count comparison of a run.
#[derive(Debug, Clone)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    /// No regression and no missing benchmark.
    pub fn passed(&self) -> bool {
        !self.rows.iter().any(|r| matches!(r.verdict, Verdict::Regressed | Verdict::Missing))
    }

    fn render(&self, threshold_pct: f64) -> String {
        let mut s = format!(
            "instruction counts (callgrind Ir) against the baseline, threshold +{threshold_pct}%\n"
        );
        s += &format!(
            "{:<58} {:>14} {:>14} {:>8}  verdict\n",
            "benchmark", "baseline", "current", "change"
        );
        for r in &self.rows {
            let fmt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.0}"));
            let change = match (r.baseline, r.current) {
                (Some(b), Some(c)) if b > 0.0 => format!("{:+.2}%", 100.0 * (c - b) / b),
                _ => "-".into(),
            };
            let verdict = match r.verdict {
                Verdict::Same => "ok",
                Verdict::Regressed => "REGRESSED",
                Verdict::Improved => "improved (update the baseline to keep it)",
                Verdict::Missing => "MISSING (not run; remove it with --update if on purpose)",
                Verdict::New => "new (not in the baseline; add it with --update)",
            };
            s += &format!(
                "{:<58} {:>14} {:>14} {:>8}  {verdict}\n",
                r.name,
                fmt(r.baseline),
                fmt(r.current),
                change
            );
        }
        let count = |v: Verdict| self.rows.iter().filter(|r| r.verdict == v).count();
        s += &format!(
            "{} compared: {} regressed, {} missing, {} improved, {} new: {}\n",
            self.rows.len(),
            count(Verdict::Regressed),
            count(Verdict::Missing),
            count(Verdict::Improved),
            count(Verdict::New),
            if self.passed() { "PASS" } else { "FAIL" }
        );
        s
    }
}

/// Compares instruction counts: above `baseline * (1 + threshold)` is a regression.
pub fn compare_instructions(
    base: &BTreeMap<String, f64>,
    current: &BTreeMap<String, f64>,
    threshold_pct: f64,
) -> Report {
    let t = threshold_pct / 100.0;
    let mut rows: Vec<Row> = base
        .iter()
        .map(|(name, &b)| {
            let c = current.get(name).copied();
            let verdict = match c {
                None => Verdict::Missing,
                Some(c) if c > b * (1.0 + t) => Verdict::Regressed,
                Some(c) if c < b * (1.0 - t) => Verdict::Improved,
                Some(_) => Verdict::Same,
            };
            Row { name: name.clone(), baseline: Some(b), current: c, verdict }
        })
        .collect();
    rows.extend(current.iter().filter(|(n, _)| !base.contains_key(*n)).map(|(n, &c)| Row {
        name: n.clone(),
        baseline: None,
        current: Some(c),
        verdict: Verdict::New,
    }));
    Report { rows }
}

/// Criterion medians against their baseline: a report, never a failure.
pub fn render_wall_times(base: &BTreeMap<String, f64>, current: &BTreeMap<String, f64>) -> String {
    let mut s = String::from(
        "criterion medians against the baseline (report only: wall time is noisy, never fails)\n",
    );
    s += &format!("{:<58} {:>12} {:>12} {:>7}\n", "benchmark", "baseline", "current", "ratio");
    let fmt = |ns: f64| {
        if ns >= 1e6 { format!("{:.3} ms", ns / 1e6) } else { format!("{:.2} us", ns / 1e3) }
    };
    let mut shown = 0;
    for (name, &c) in current {
        let (b, ratio) = match base.get(name) {
            Some(&b) if b > 0.0 => (fmt(b), format!("{:.2}", c / b)),
            _ => ("-".into(), "-".into()),
        };
        s += &format!("{name:<58} {b:>12} {:>12} {ratio:>7}\n", fmt(c));
        shown += 1;
    }
    s += &format!(
        "{shown} criterion results ({} in the baseline not run)\n",
        base.keys().filter(|k| !current.contains_key(*k)).count()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn threshold_separates_noise_from_regressions() {
        let base = map(&[("a", 1000.0), ("b", 1000.0), ("c", 1000.0), ("d", 1000.0)]);
        let cur = map(&[("a", 1020.0), ("b", 1021.0), ("c", 979.0), ("d", 980.0), ("e", 5.0)]);
        let r = compare_instructions(&base, &cur, 2.0);
        let v: Vec<_> = r.rows.iter().map(|r| (r.name.as_str(), r.verdict)).collect();
        assert_eq!(
            v,
            [
                ("a", Verdict::Same),
                ("b", Verdict::Regressed),
                ("c", Verdict::Improved),
                ("d", Verdict::Same),
                ("e", Verdict::New),
            ]
        );
        assert!(!r.passed());
        assert!(r.render(2.0).ends_with("FAIL\n"));
    }

    #[test]
    fn missing_benchmark_fails_and_new_one_does_not() {
        let base = map(&[("a", 10.0), ("b", 10.0)]);
        let r = compare_instructions(&base, &map(&[("a", 10.0)]), 2.0);
        assert!(!r.passed());
        let r = compare_instructions(&map(&[("a", 10.0)]), &map(&[("a", 10.0), ("z", 1.0)]), 2.0);
        assert!(r.passed());
        assert!(r.render(2.0).ends_with("PASS\n"));
    }

    #[test]
    fn parses_gungraun_summaries() {
        let v6: Value = serde_json::from_str(
            r#"{"module_path": "instructions::dist::top_k", "id": "n65536_k1pct", "version": "6",
                "profiles": [{"tool": "Callgrind", "summaries": {"total": {"regressions": [],
                "summary": {"Callgrind": {"Ir": {"diffs": null,
                "metrics": {"Left": {"Int": 1000900}}}}}}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            parse_summary(&v6).unwrap(),
            ("instructions::dist::top_k.n65536_k1pct".to_string(), 1000900.0)
        );
        // With an earlier run in the same home, the current count is the first of `Both`.
        let both: Value = serde_json::from_str(
            r#"{"module_path": "a::b::c", "profiles": [{"tool": "Callgrind", "summaries":
                {"total": {"summary": {"Callgrind": {"Ir": {"metrics":
                {"Both": [{"Int": 7}, {"Int": 5}]}}}}}}}]}"#,
        )
        .unwrap();
        assert_eq!(parse_summary(&both).unwrap(), ("a::b::c".to_string(), 7.0));
        let v7: Value = serde_json::from_str(
            r#"{"module_path": "instructions::kernels::adam_f32", "id": "n16384",
                "profiles": [{"tool": "Callgrind", "data": {"total": {"metrics":
                {"Ir": {"values": {"new": 123456, "old": null}}}}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            parse_summary(&v7).unwrap(),
            ("instructions::kernels::adam_f32.n16384".to_string(), 123456.0)
        );
        let no_ir: Value =
            serde_json::from_str(r#"{"module_path": "x", "profiles": [{"tool": "Callgrind"}]}"#)
                .unwrap();
        assert!(parse_summary(&no_ir).is_err());
    }

    #[test]
    fn baseline_round_trips_through_update() {
        let dir = std::env::temp_dir().join(format!("gradus-compare-{}", std::process::id()));
        let path = dir.join("instructions.json");
        let values = map(&[("x::y::z.a", 42.0), ("x::y::w", 7.0)]);
        write_baseline(&path, "instructions", &values, Some(2.0)).unwrap();
        assert_eq!(read_baseline(&path).unwrap(), values);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wall_times_are_only_reported() {
        let s = render_wall_times(&map(&[("g/f/1", 1000.0)]), &map(&[("g/f/1", 3000.0)]));
        assert!(s.contains("3.00"), "{s}");
    }
}
