//! Running every (attack, fraction, defence, seed) and averaging over seeds; a run that
//! failed is kept as its error message.

use gradus_core::{Par, rng};
use gradus_dist::federated::Attack;
use gradus_dist::federated::sim::{Defense, FedConfig, FedHistory, Federation};
use gradus_report::fmt_num;
use rayon::prelude::*;

use super::setup::{BATCH, CLIENTS, Setup, TAIL, attacks, defenses, method, sgd};
use crate::ctx::Ctx;

/// One simulated run to do.
pub struct Job {
    /// `None`: no attack.
    pub attack: Option<Attack>,
    /// Malicious fraction.
    pub fraction: f64,
    /// Defence.
    pub defense: Defense,
    /// Seed index.
    pub seed: u64,
}

/// Every job of the report: each defence without attack, and each (attack, fraction).
pub fn jobs(setup: &Setup) -> Vec<Job> {
    let mut jobs = Vec::new();
    for s in 0..setup.seeds {
        for d in defenses(0) {
            jobs.push(Job { attack: None, fraction: 0.0, defense: d, seed: s });
        }
        for a in attacks() {
            for &f in &setup.fractions {
                let nb = (f * CLIENTS as f64).floor() as usize;
                for d in defenses(nb) {
                    jobs.push(Job { attack: Some(a), fraction: f, defense: d, seed: s });
                }
            }
        }
    }
    jobs
}

/// Runs the jobs in parallel (each run sequential and seeded: thread-independent).
pub fn run_all(
    ctx: &Ctx,
    fed: &Federation,
    setup: &Setup,
    jobs: &[Job],
) -> Vec<Result<FedHistory, String>> {
    let bar = ctx.progress(jobs.len() as u64, "federated runs");
    let out = jobs
        .par_iter()
        .map(|j| {
            let cfg = FedConfig {
                rounds: setup.rounds,
                participants: CLIENTS,
                local_steps: setup.local_steps,
                batch: BATCH,
                l2: 1e-4,
                byzantine_fraction: j.fraction,
                attack: j.attack.unwrap_or(Attack::Honest),
                defense: j.defense.clone(),
                seed: rng::derive_seed(ctx.seed, 600 + j.seed),
                par: Par::Seq,
                ..FedConfig::default()
            };
            let h = fed.run(&cfg, sgd).map_err(|e| e.to_string());
            bar.inc(1);
            h
        })
        .collect();
    bar.finish_and_clear();
    out
}

/// A setting (attack, fraction, method) averaged over its seeds.
pub struct Outcome {
    /// Attack name (`none` without attack).
    pub attack: String,
    /// Malicious fraction.
    pub fraction: f64,
    /// Method name.
    pub method: &'static str,
    /// First error of a failed seed, if any.
    pub error: Option<String>,
    /// Mean final accuracy (last [`TAIL`] rounds).
    pub acc: f64,
    /// Per-seed final accuracies.
    pub accs: Vec<f64>,
    /// Mean precision of exclusion.
    pub precision: Option<f64>,
    /// Mean recall of exclusion.
    pub recall: Option<f64>,
    /// LSHFed: fraction of rounds won by a clean group.
    pub clean_win: Option<f64>,
    /// LSHFed: fraction of rounds in which a clean group existed.
    pub clean_group: Option<f64>,
    /// LSHFed: clean wins among the rounds with a clean group.
    pub clean_win_given: Option<f64>,
    /// Whether any seed's model diverged.
    pub diverged: bool,
    /// Accuracy per round of the first seed.
    pub curve: Vec<f64>,
    /// Accuracy over the [`TAIL`] rounds before the final ones (mean over seeds): with the
    /// final accuracy, whether the run still improves.
    pub before: f64,
}

impl Outcome {
    /// The accuracy cell: number (with divergence marked) or the error.
    pub fn cell(&self) -> String {
        match &self.error {
            Some(e) => format!("error: {e}"),
            None => {
                format!("{}{}", fmt_num(self.acc), if self.diverged { " (diverged)" } else { "" })
            }
        }
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Averages the runs of each setting over seeds (in job order of seed 0).
pub fn outcomes(jobs: &[Job], hist: &[Result<FedHistory, String>]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (k, j) in jobs.iter().enumerate() {
        if j.seed != 0 {
            continue;
        }
        let same: Vec<&Result<FedHistory, String>> = jobs
            .iter()
            .zip(hist)
            .filter(|(o, _)| {
                o.attack == j.attack
                    && o.fraction == j.fraction
                    && method(&o.defense) == method(&j.defense)
            })
            .map(|(_, h)| h)
            .collect();
        let error = same.iter().find_map(|h| h.as_ref().err().cloned());
        let ok: Vec<&FedHistory> = same.iter().filter_map(|h| h.as_ref().ok()).collect();
        let opt_mean = |f: &dyn Fn(&FedHistory) -> Option<f64>| {
            mean(&ok.iter().filter_map(|h| f(h)).collect::<Vec<_>>())
        };
        let accs: Vec<f64> = ok.iter().map(|h| h.final_accuracy(TAIL)).collect();
        let before: Vec<f64> = ok
            .iter()
            .map(|h| {
                let n = h.rounds.len();
                let w = &h.rounds[n.saturating_sub(2 * TAIL)..n.saturating_sub(TAIL)];
                w.iter().map(|r| r.accuracy).sum::<f64>() / w.len().max(1) as f64
            })
            .collect();
        out.push(Outcome {
            attack: j.attack.map_or("none".into(), |a| a.name()),
            fraction: j.fraction,
            method: method(&j.defense),
            error,
            acc: mean(&accs).unwrap_or(f64::NAN),
            accs,
            precision: opt_mean(&|h| h.precision()),
            recall: opt_mean(&|h| h.recall()),
            clean_win: opt_mean(&|h| h.clean_win_rate()),
            clean_group: opt_mean(&|h| h.clean_group_rate()),
            clean_win_given: opt_mean(&|h| h.clean_win_given_clean_group()),
            diverged: ok.iter().any(|h| h.diverged),
            curve: hist[k]
                .as_ref()
                .map_or(Vec::new(), |h| h.rounds.iter().map(|r| r.accuracy).collect()),
            before: mean(&before).unwrap_or(f64::NAN),
        });
    }
    out
}

/// Looks up one setting.
pub fn find<'a>(outs: &'a [Outcome], attack: &str, fraction: f64, m: &str) -> Option<&'a Outcome> {
    outs.iter()
        .find(|o| o.attack == attack && (o.fraction - fraction).abs() < 1e-9 && o.method == m)
}
