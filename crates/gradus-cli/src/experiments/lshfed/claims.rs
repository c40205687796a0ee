//! Verdicts on papers 05 and 09, computed from the outcomes in the report.

use gradus_report::{Claim, Claims, RunEnd, fmt_num};

use super::groups::clean_group_probability;
use super::runs::{Outcome, find};
use super::setup::{CLIENTS, GROUPS, Setup, attacks};

/// Accuracy drop (absolute) that still counts as "stays high".
pub const DROP: f64 = 0.05;
/// A run whose final accuracy exceeds the [`super::setup::TAIL`] rounds before by more than this was
/// still improving when it stopped.
pub const STILL_IMPROVING: f64 = 0.01;
/// Clean wins among rounds with a clean group needed for "picks benign aggregates".
pub const PICK: f64 = 0.9;

/// How an outcome's runs ended: failed, still improving at the last round, or settled.
pub fn end_of(o: &Outcome, rounds: usize) -> RunEnd {
    match &o.error {
        Some(e) => RunEnd::Failed(e.clone()),
        None if o.acc - o.before > STILL_IMPROVING => RunEnd::HitCap { cap: rounds as u64 },
        None => RunEnd::Converged { steps: rounds as u64 },
    }
}

fn pct(f: f64) -> String {
    format!("{:.0}%", 100.0 * f)
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), fmt_num)
}

/// The claims of paper 05 (a) and (c) and of paper 09 on these outcomes.
pub fn judge(outs: &[Outcome], setup: &Setup) -> Claims {
    let mut claims = Claims::new();
    let rounds = setup.rounds;
    let Some(clean) = find(outs, "none", 0.0, "lshfed") else {
        return claims;
    };
    let top = setup.fractions.iter().copied().fold(0.0, f64::max);
    // (a): accuracy stays high under every attack up to the largest fraction.
    for a in attacks() {
        let name = a.name();
        let rows: Vec<&Outcome> =
            setup.fractions.iter().filter_map(|&f| find(outs, &name, f, "lshfed")).collect();
        let holds = rows.iter().all(|o| o.error.is_none() && o.acc >= clean.acc - DROP);
        // A clean reference still rising can only widen a gap, so a miss rests on the
        // attacked runs alone; agreement also needs the reference to have settled.
        let clean_end = end_of(clean, rounds);
        let mut ends: Vec<RunEnd> = rows.iter().map(|o| end_of(o, rounds)).collect();
        if holds || matches!(clean_end, RunEnd::Failed(_)) {
            ends.push(clean_end.clone());
        }
        let rising = if clean_end.converged() { "" } else { " (still rising)" };
        let worst =
            rows.iter().filter(|o| o.error.is_none()).min_by(|x, y| x.acc.total_cmp(&y.acc));
        let why = match worst {
            Some(w) if w.acc < clean.acc - DROP => format!(
                "; at {} a clean group existed in {} of rounds (random placement: {}) and won \
                 {} of those",
                pct(w.fraction),
                opt(w.clean_group),
                fmt_num(clean_group_probability(
                    CLIENTS,
                    GROUPS,
                    (w.fraction * CLIENTS as f64).floor() as usize
                )),
                opt(w.clean_win_given)
            ),
            _ => String::new(),
        };
        claims.push(Claim::judge(
            format!("05a {name}"),
            format!(
                "LSHFed's accuracy under {name} stays within {DROP} of its attack-free accuracy \
                 for malicious fractions up to {}",
                pct(top)
            ),
            &ends,
            holds,
            format!(
                "clean {}{rising}; {}{why}",
                clean.cell(),
                rows.iter()
                    .map(|o| format!("{}: {}", pct(o.fraction), o.cell()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // (c): hash-only verification picks a benign group when one exists.
    let lsh: Vec<&Outcome> =
        outs.iter().filter(|o| o.method == "lshfed" && o.attack != "none").collect();
    let mut misses: Vec<&&Outcome> =
        lsh.iter().filter(|o| o.clean_win_given.is_some_and(|w| w < PICK)).collect();
    misses.sort_by(|x, y| {
        x.clean_win_given.unwrap_or(1.0).total_cmp(&y.clean_win_given.unwrap_or(1.0))
    });
    let ends: Vec<RunEnd> = lsh
        .iter()
        .map(|o| match &o.error {
            Some(e) => RunEnd::Failed(e.clone()),
            None => RunEnd::Converged { steps: rounds as u64 },
        })
        .collect();
    let never: Vec<String> = lsh
        .iter()
        .filter(|o| o.clean_group == Some(0.0))
        .map(|o| format!("{} at {}", o.attack, pct(o.fraction)))
        .collect();
    claims.push(Claim::judge(
        "05c",
        format!(
            "when a clean group exists, hash-only verification picks one (in at least {PICK} \
             of those rounds, for every attack and fraction)"
        ),
        &ends,
        misses.is_empty(),
        format!(
            "{} of {} settings below {PICK}{}; no clean group in any round: {}",
            misses.len(),
            lsh.len(),
            if misses.is_empty() {
                String::new()
            } else {
                format!(
                    " (worst: {})",
                    misses
                        .iter()
                        .take(4)
                        .map(|o| format!(
                            "{} at {}: {}",
                            o.attack,
                            pct(o.fraction),
                            opt(o.clean_win_given)
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            },
            if never.is_empty() { "none".into() } else { never.join(", ") }
        ),
    ));
    // Paper 09: mean breaks under sign flips while the geometric median and Krum hold.
    let lo = setup.fractions.first().copied().unwrap_or(0.0);
    let at = |m: &str| find(outs, "sign-flip(x4)", lo, m);
    let base = |m: &str| find(outs, "none", 0.0, m);
    if let (Some(mean), Some(gm), Some(krum), Some(m0), Some(g0), Some(k0)) = (
        at("mean"),
        at("geometric median"),
        at("krum"),
        base("mean"),
        base("geometric median"),
        base("krum"),
    ) {
        let holds = mean.acc < m0.acc - 0.2 && gm.acc >= g0.acc - 0.1 && krum.acc >= k0.acc - 0.1;
        claims.push(Claim::judge(
            "09 robust rules",
            format!(
                "under sign-flip(x4) at {}, the mean loses more than 0.2 while the geometric \
                 median and Krum stay within 0.1 of their attack-free accuracy",
                pct(lo)
            ),
            [mean, gm, krum, m0, g0, k0].map(|o| end_of(o, rounds)).iter(),
            holds,
            format!(
                "mean {} (clean {}), geometric median {} (clean {}), Krum {} (clean {})",
                mean.cell(),
                m0.cell(),
                gm.cell(),
                g0.cell(),
                krum.cell(),
                k0.cell()
            ),
        ));
    }
    claims
}
