//! `lshfed`: Byzantine-robust federated learning (papers 05 and 09) on the synthetic
//! stand-in of paper 05 §4: final accuracy, detection precision / recall and LSHFed's group
//! statistics against the fraction of malicious clients for each attack, LSH screening and
//! the LSHFed protocol (official reputation score) against Krum, the geometric median, the
//! trimmed mean and the mean; bytes per verification of LSH codes against full gradients.
//! Every verdict is computed from the report's numbers.
//!
//! Steps: [`setup`] (federation, attacks, defences), [`runs`] (simulate and average over
//! seeds), [`tables`] (tables and plots), [`claims`] (verdicts), [`bytes`] (claim (b)).

mod bytes;
mod claims;
mod groups;
mod runs;
mod setup;
mod tables;

pub use setup::OPTIONS;

use gradus_core::rng;
use gradus_dist::federated::screening::HammingScreen;
use gradus_report::{Report, fmt_num};

use super::ExpResult;
use crate::ctx::Ctx;
use runs::find;
use setup::{BATCH, CLIENTS, GROUPS, LR, R, SEPARATION, SERVER_POINTS, Setup, TAIL, caps};

pub fn run(ctx: &Ctx) -> ExpResult<Report> {
    let mut report = Report::new(
        "lshfed",
        "Byzantine-robust federated learning: LSH screening (LSHFed) vs Krum, geometric median, trimmed mean, mean",
    );
    let s = Setup::from_ctx(ctx)?;
    let fed = setup::federation(&s, rng::derive_seed(ctx.seed, 505))?;
    let jobs = runs::jobs(&s);
    let hist = runs::run_all(ctx, &fed, &s, &jobs);
    let outs = runs::outcomes(&jobs, &hist);
    let methods: Vec<&str> = setup::defenses(0).iter().map(setup::method).collect();
    let clean = |m: &str| find(&outs, "none", 0.0, m).map_or("-".into(), runs::Outcome::cell);
    let top = s.fractions.iter().copied().fold(0.0, f64::max);
    let (kf, tb) = caps((top * CLIENTS as f64).floor() as usize);
    let screen = HammingScreen::default();
    report.text(format!(
        "Synthetic stand-in of paper 05 §4: softmax regression on a {classes}-class Gaussian \
         mixture in R^{dim} (class-mean separation {SEPARATION}, so the task is not trivially \
         separable), {CLIENTS} clients with {split} of {per_client} points each on average, all \
         elected every round ({rounds} rounds), local SGD lr {LR} for {steps} minibatch steps of \
         {BATCH} (about one epoch), server learning rate 1. Malicious fractions {fractions}; \
         {seeds} seed{plural} per setting ({mode}). LSH: r = {R} hyperplanes per layer (code \
         default of paper 05), layout W ({classes} x {dim}) + b ({classes}). LSHFed: {GROUPS} \
         aggregator groups, round-robin assignment, the official reputation score (R - rank) / \
         (R - 1); the verifier's round-0 benchmark is its own local update on {SERVER_POINTS} \
         clean points. Krum and the trimmed mean are told the true number of Byzantine clients \
         (their best case), capped at f = {kf} and b = {tb} by their preconditions (n > 2f + 2, \
         2b < n), so at {top_pct} they run outside their guarantees. The geometric median is \
         smoothed Weiszfeld. Accuracy is the mean test accuracy on {n_test} points over the \
         last {TAIL} rounds, averaged over seeds. Clean accuracy (no attack): mean {}, \
         geometric median {}, lsh screen {}, lshfed {}.",
        clean("mean"),
        clean("geometric median"),
        clean("lsh screen"),
        clean("lshfed"),
        classes = s.classes,
        dim = s.dim,
        split = s.split.describe(),
        per_client = s.per_client,
        rounds = s.rounds,
        steps = s.local_steps,
        fractions =
            s.fractions.iter().map(|f| format!("{:.0}%", 100.0 * f)).collect::<Vec<_>>().join(", "),
        seeds = s.seeds,
        plural = if s.seeds > 1 { "s" } else { "" },
        mode = if ctx.quick {
            "quick mode; the full run uses 5 seeds, 50 rounds, 10-50% in steps of 10%"
        } else {
            "full mode"
        },
        top_pct = format!("{:.0}%", 100.0 * top),
        n_test = s.n_test,
    ));
    report.text(format!(
        "Detection: for rules that exclude clients (Krum keeps one, LSH screening flags clients \
         whose normalised Hamming distance to the benchmark exceeds {} or lies above the widest \
         gap (> {}) of the sorted distances, LSHFed keeps the winning group), an excluded client \
         counts as flagged; precision = Byzantine among flagged, recall = flagged among \
         Byzantine participations, both summed over rounds. The per-client LSH screen is an \
         addition built on paper 05's codes (the paper only compares aggregator groups): `lsh \
         screen` compares each client's code with the code of the server's own update on its \
         {SERVER_POINTS} clean points, recomputed every round (FLTrust-style root data, not in \
         paper 05); `lsh screen (aggregate benchmark)` uses paper 05's benchmark, the last \
         accepted update.",
        fmt_num(screen.max_delta),
        fmt_num(screen.min_gap),
    ));
    tables::tables(&mut report, &outs, &methods);
    tables::plots(&mut report, &outs, &methods, &s);
    report.text(screen_reading(&outs, &s));
    let mut claims = claims::judge(&outs, &s);
    claims.push(bytes::section(&mut report, &fed.layout()?)?);
    report.text(format!(
        "## Verdicts\n\nComputed from the tables above. Accuracy claims use runs of {} rounds; a \
         setting whose accuracy still rose by more than {} over its last {TAIL} rounds counts as \
         *not converged*.",
        s.rounds,
        claims::STILL_IMPROVING
    ));
    report.claims("verdicts", claims);
    Ok(report)
}

/// Which attacks the per-client LSH screen misses (recall below 0.5 at the middle fraction).
fn screen_reading(outs: &[runs::Outcome], s: &Setup) -> String {
    let mid = tables::mid_fraction(s);
    let mut missed = Vec::new();
    let mut caught = Vec::new();
    for a in setup::attacks() {
        let name = a.name();
        if let Some(o) = find(outs, &name, mid, "lsh screen") {
            let r = o.recall.unwrap_or(0.0);
            let line = format!("{name} (recall {}, accuracy {})", fmt_num(r), o.cell());
            if r < 0.5 { missed.push(line) } else { caught.push(line) }
        }
    }
    format!(
        "**What the LSH screen misses** (at {:.0}% malicious; recall below 0.5): {}. **What it \
         catches**: {}. Sign codes only see directions: scaling and the adaptive attack (a \
         positive multiple of the honest mean) have exactly honest codes, so their recall is \
         the screen's false-positive rate on honest clients.",
        100.0 * mid,
        if missed.is_empty() { "none".into() } else { missed.join("; ") },
        if caught.is_empty() { "none".into() } else { caught.join("; ") },
    )
}
