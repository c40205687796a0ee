//! Verdicts on a paper's claims, computed from a report's own numbers.
//!
//! A reproduction compares *converged* runs. A run that stopped at its step cap has not
//! said anything about the claim yet, so a claim that depends on it is "not converged", never
//! "not reproduced"; a run that failed is "errored". Only when every run a claim depends on
//! converged does the comparison decide between "reproduced" and an honest miss.

use crate::{Table, fmt_num};

/// How one run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// The run met its stopping rule after `steps` steps.
    Converged {
        /// Steps taken.
        steps: u64,
    },
    /// The run stopped at its step cap before its stopping rule fired.
    HitCap {
        /// The cap.
        cap: u64,
    },
    /// The run returned an error (the message is shown in tables instead of a number).
    Failed(String),
}

impl RunEnd {
    /// `Converged` if the stopping rule fired within `cap` steps, else `HitCap`.
    pub fn from_stop(converged: bool, steps: u64, cap: u64) -> Self {
        if converged { RunEnd::Converged { steps } } else { RunEnd::HitCap { cap } }
    }

    /// Whether the run converged.
    pub fn converged(&self) -> bool {
        matches!(self, RunEnd::Converged { .. })
    }

    /// A short table cell: `converged (1234)`, `cap 5000`, `error: ...`.
    pub fn cell(&self) -> String {
        match self {
            RunEnd::Converged { steps } => format!("converged ({steps})"),
            RunEnd::HitCap { cap } => format!("not converged (cap {cap})"),
            RunEnd::Failed(e) => format!("error: {e}"),
        }
    }
}

/// A table cell for a result that may have failed: the number, or `error: <message>` (never
/// a bare NaN that hides why).
pub fn cell<E: std::fmt::Display>(r: &std::result::Result<f64, E>) -> String {
    match r {
        Ok(x) if x.is_finite() => fmt_num(*x),
        Ok(x) => format!("non-finite ({x})"),
        Err(e) => format!("error: {e}"),
    }
}

/// The verdict on one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every run converged and the numbers agree with the claim.
    Reproduced,
    /// Every run converged and the numbers contradict the claim.
    Miss,
    /// At least one run the claim depends on hit its step cap.
    NotConverged,
    /// At least one run the claim depends on failed.
    Errored,
    /// The set-up cannot test the claim (the report says why); no verdict is issued.
    Untestable,
}

impl Verdict {
    /// The word used in tables and in `docs/papers.md`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::Miss => "honest miss",
            Verdict::NotConverged => "not converged",
            Verdict::Errored => "errored",
            Verdict::Untestable => "not testable here",
        }
    }
}

/// One claim of a paper with its verdict and the numbers behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// Short identifier, e.g. `1a`.
    pub id: String,
    /// The claim in a sentence.
    pub statement: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The numbers the verdict was computed from, as they appear in the report.
    pub evidence: String,
}

impl Claim {
    /// Judges a claim from the runs it depends on and whether the numbers agree with it: a
    /// failed run makes it `Errored`, a run at its cap `NotConverged`, otherwise `holds`
    /// decides between `Reproduced` and `Miss`. `evidence` should quote the numbers compared.
    pub fn judge<'a>(
        id: impl Into<String>,
        statement: impl Into<String>,
        runs: impl IntoIterator<Item = &'a RunEnd>,
        holds: bool,
        evidence: impl Into<String>,
    ) -> Self {
        let mut verdict = if holds { Verdict::Reproduced } else { Verdict::Miss };
        for r in runs {
            match r {
                RunEnd::Failed(_) => verdict = Verdict::Errored,
                RunEnd::HitCap { .. } if verdict != Verdict::Errored => {
                    verdict = Verdict::NotConverged
                }
                _ => {}
            }
        }
        Claim { id: id.into(), statement: statement.into(), verdict, evidence: evidence.into() }
    }

    /// A claim the set-up cannot test; `why` says what is missing.
    pub fn untestable(
        id: impl Into<String>,
        statement: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Claim {
            id: id.into(),
            statement: statement.into(),
            verdict: Verdict::Untestable,
            evidence: why.into(),
        }
    }
}

/// The claims of one report, rendered as the report's verdict table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// In the order they were judged.
    pub items: Vec<Claim>,
}

impl Claims {
    /// No claims yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a judged claim.
    pub fn push(&mut self, c: Claim) {
        self.items.push(c);
    }

    /// `| claim | statement | verdict | evidence |`.
    pub fn table(&self) -> Table {
        let mut t = Table::new(&["claim", "statement", "verdict", "evidence"]);
        for c in &self.items {
            t.row([
                c.id.clone(),
                c.statement.clone(),
                c.verdict.label().to_string(),
                c.evidence.clone(),
            ]);
        }
        t
    }

    /// One line for the index: counts per verdict, e.g. `2 reproduced, 1 not converged`.
    pub fn summary(&self) -> String {
        let order = [
            Verdict::Reproduced,
            Verdict::Miss,
            Verdict::NotConverged,
            Verdict::Errored,
            Verdict::Untestable,
        ];
        let parts: Vec<String> = order
            .iter()
            .filter_map(|v| {
                let n = self.items.iter().filter(|c| c.verdict == *v).count();
                (n > 0).then(|| format!("{n} {}", v.label()))
            })
            .collect();
        if parts.is_empty() { "no claims judged".into() } else { parts.join(", ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_run_is_never_a_miss() {
        let ok = RunEnd::Converged { steps: 10 };
        let cap = RunEnd::HitCap { cap: 100 };
        let err = RunEnd::Failed("singular".into());
        assert_eq!(Claim::judge("a", "s", [&ok], true, "").verdict, Verdict::Reproduced);
        assert_eq!(Claim::judge("a", "s", [&ok], false, "").verdict, Verdict::Miss);
        assert_eq!(Claim::judge("a", "s", [&ok, &cap], false, "").verdict, Verdict::NotConverged);
        assert_eq!(Claim::judge("a", "s", [&cap, &err], true, "").verdict, Verdict::Errored);
        assert_eq!(Claim::judge("a", "s", [&err, &cap], true, "").verdict, Verdict::Errored);
        assert_eq!(RunEnd::from_stop(false, 100, 100), cap);
    }

    #[test]
    fn errors_show_in_cells_and_summary_counts() {
        let r: std::result::Result<f64, String> = Err("not SPD".into());
        assert_eq!(cell(&r), "error: not SPD");
        assert_eq!(cell::<String>(&Ok(f64::NAN)), "non-finite (NaN)");
        assert_eq!(cell::<String>(&Ok(0.5)), "0.5000");
        let mut c = Claims::new();
        c.push(Claim::judge("a", "s", [&RunEnd::Converged { steps: 1 }], true, "x"));
        c.push(Claim::untestable("b", "s", "no labels"));
        assert_eq!(c.summary(), "1 reproduced, 1 not testable here");
        assert_eq!(c.table().rows[1][2], "not testable here");
    }
}
