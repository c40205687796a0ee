//! The report's tables and plots: accuracy per (attack, fraction, method), detection
//! precision / recall, LSHFed's group statistics, and accuracy plots.

use gradus_report::{Plot, Report, Scale, Series, Table, fmt_num};

use super::groups::clean_group_probability;
use super::runs::{Outcome, find};
use super::setup::{CLIENTS, GROUPS, Setup, attacks};

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), fmt_num)
}

fn pct(f: f64) -> String {
    format!("{:.0}%", 100.0 * f)
}

/// The (attack, fraction) keys in job order.
pub fn keys(outs: &[Outcome]) -> Vec<(String, f64)> {
    let mut keys: Vec<(String, f64)> = Vec::new();
    for o in outs {
        if !keys.iter().any(|k| k.0 == o.attack && k.1 == o.fraction) {
            keys.push((o.attack.clone(), o.fraction));
        }
    }
    keys
}

/// Accuracy pivot, detection table, LSHFed group table and the long table of every run.
pub fn tables(report: &mut Report, outs: &[Outcome], methods: &[&str]) {
    let keys = keys(outs);
    let mut header = vec!["attack".to_string(), "malicious".to_string()];
    header.extend(methods.iter().map(|m| m.to_string()));
    let mut pivot = Table::new(&header);
    for (a, f) in &keys {
        let mut row = vec![a.clone(), pct(*f)];
        for m in methods {
            row.push(find(outs, a, *f, m).map_or("-".to_string(), Outcome::cell));
        }
        pivot.row(row);
    }
    report.text("## Final test accuracy");
    report.table("accuracy", pivot);

    report.text("## Detection precision / recall (rules that exclude clients)");
    let mut det = Table::new(&[
        "attack",
        "malicious",
        "lsh screen P / R",
        "lsh screen (aggregate benchmark) P / R",
        "krum P / R",
    ]);
    for (a, f) in keys.iter().filter(|k| k.0 != "none") {
        let pr = |m: &str| {
            find(outs, a, *f, m)
                .map_or("-".into(), |o| format!("{} / {}", opt(o.precision), opt(o.recall)))
        };
        det.row([
            a.clone(),
            pct(*f),
            pr("lsh screen"),
            pr("lsh screen (aggregate benchmark)"),
            pr("krum"),
        ]);
    }
    report.table("detection", det);

    report.text(format!(
        "## LSHFed: does a clean group exist, and does it win?\n\n`clean group exists` = \
         fraction of rounds in which at least one of the {GROUPS} groups had no attacker; \
         `expected` = the same probability for attackers placed uniformly at random among \
         {CLIENTS} trainers cut into {GROUPS} groups of {} (inclusion-exclusion; with every \
         data node elected and the official scores all positive the election is a rotation of \
         the ring, so the groups are the same every round and this is also the chance over \
         seeds); `clean win` = fraction of rounds won by a clean group; `clean win | exists` = \
         the same among the rounds where one existed (how well hash-only verification picks \
         when it can).",
        CLIENTS / GROUPS
    ));
    let mut g = Table::new(&[
        "attack",
        "malicious",
        "clean group exists",
        "expected",
        "clean win",
        "clean win | exists",
        "lshfed accuracy",
    ]);
    for (a, f) in keys.iter().filter(|k| k.0 != "none") {
        if let Some(o) = find(outs, a, *f, "lshfed") {
            let nb = (f * CLIENTS as f64).floor() as usize;
            g.row([
                a.clone(),
                pct(*f),
                opt(o.clean_group),
                fmt_num(clean_group_probability(CLIENTS, GROUPS, nb)),
                opt(o.clean_win),
                opt(o.clean_win_given),
                o.cell(),
            ]);
        }
    }
    report.table("lshfed_groups", g);

    let mut long = Table::new(&[
        "attack",
        "malicious",
        "method",
        "final accuracy",
        "per seed",
        "precision",
        "recall",
        "clean win",
    ]);
    for o in outs {
        long.row([
            o.attack.clone(),
            pct(o.fraction),
            o.method.to_string(),
            o.cell(),
            o.accs.iter().map(|a| format!("{a:.3}")).collect::<Vec<_>>().join(" "),
            opt(o.precision),
            opt(o.recall),
            opt(o.clean_win),
        ]);
    }
    report.table("all_runs", long);
}

/// Accuracy against the fraction per attack, LSH-screen recall, and sign-flip curves.
pub fn plots(report: &mut Report, outs: &[Outcome], methods: &[&str], setup: &Setup) {
    let clean = |m: &str| find(outs, "none", 0.0, m).map_or(f64::NAN, |o| o.acc);
    for a in attacks() {
        let name = a.name();
        let mut plot =
            Plot::new(format!("{name}: final accuracy"), "malicious fraction", "test accuracy")
                .scales(Scale::Linear, Scale::Linear);
        for m in methods {
            let mut pts = vec![(0.0, clean(m))];
            pts.extend(
                outs.iter()
                    .filter(|o| o.attack == name && o.method == *m && o.error.is_none())
                    .map(|o| (o.fraction, o.acc)),
            );
            plot = plot.with(Series { markers: true, ..Series::line(*m, pts) });
        }
        let file = format!("accuracy_{}", name.split('(').next().unwrap_or("attack"));
        report.plot(file, plot);
    }
    let mut recall =
        Plot::new("LSH screen: recall of Byzantine clients", "malicious fraction", "recall")
            .scales(Scale::Linear, Scale::Linear);
    for a in attacks() {
        let name = a.name();
        let pts: Vec<(f64, f64)> = outs
            .iter()
            .filter(|o| o.attack == name && o.method == "lsh screen")
            .filter_map(|o| o.recall.map(|r| (o.fraction, r)))
            .collect();
        recall = recall.with(Series { markers: true, ..Series::line(name, pts) });
    }
    report.plot("lsh_screen_recall", recall);
    let mid = mid_fraction(setup);
    let mut curves = Plot::new(
        format!("sign-flip(x4) at {}: accuracy per round", pct(mid)),
        "round",
        "test accuracy",
    );
    for o in outs.iter().filter(|o| o.attack == "sign-flip(x4)" && o.fraction == mid) {
        let pts = o.curve.iter().enumerate().map(|(t, &a)| (t as f64 + 1.0, a)).collect();
        curves = curves.with(Series::line(o.method, pts));
    }
    report.plot("curves_signflip", curves);
}

/// The fraction used for "middle" statements: 40% if run, else the largest.
pub fn mid_fraction(setup: &Setup) -> f64 {
    setup
        .fractions
        .iter()
        .copied()
        .find(|&f| (f - 0.4).abs() < 1e-9)
        .unwrap_or_else(|| setup.fractions.last().copied().unwrap_or(0.0))
}
