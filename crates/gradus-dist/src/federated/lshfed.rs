//! The LSHFed round protocol (paper 05 §3, from the official code): hash-ring election of
//! local trainers by reputation (ScoreQ-Hash), aggregator groups, and a verifier that picks
//! the group whose mean's LSH code is nearest the last accepted update.
//!
//! Per round `t`:
//! 1. the verifier elects `Q` local trainers by [`elect`] with pointer [`ring_pointer`];
//! 2. trainer `j` (in election order) joins group `j mod P`; each group's aggregator sends
//!    the LSH code of its members' mean, each trainer the code of its own update;
//! 3. the winner is the group at minimum Hamming distance to the benchmark code `B^{t-1}`
//!    (ties: lowest group); its mean is the global update and its code becomes `B^t`;
//! 4. each trainer's reputation becomes its rank-quantile score of distance to `B^{t-1}`
//!    ([`reputation_scores`], official formula by default; the time term of the paper has weight `alpha_1 = 0`, the
//!    official `vr.py` default).
//!
//! Only codes reach the verifier: [`VerifierRound::bits_to_verifier`] counts them.

use gradus_core::{Error, Par, Result};

use super::Updates;
use super::aggregate::weighted_sum_rows;
use super::lsh::{LshCode, LshHasher, hamming};
use super::sha256::sha256;

/// The hash-ring pointer of round `round`: `(int(sha256("{round}_{seed}"), 16) mod 1e12) /
/// 1e12`, in `[0, 1)` (paper 05 §3.1). A pure function of its arguments.
pub fn ring_pointer(round: u64, seed: u64) -> f64 {
    let digest = sha256(format!("{round}_{seed}").as_bytes());
    const M: u128 = 1_000_000_000_000;
    let rem = digest.iter().fold(0u128, |acc, &b| (acc * 256 + b as u128) % M);
    rem as f64 / M as f64
}

/// ScoreQ-Hash election of `k` of the `scores.len()` candidates (paper 05 §3.1).
///
/// Candidates lie on a ring of circumference 1 with arcs proportional to their score
/// (negative scores count as 0). From `pointer`, the candidate whose arc holds the pointer
/// is selected (duplicates skipped) and the pointer moves just past the end of its arc; after
/// `k` selections or `2 * len` steps, the remaining candidates fill up in index order. With
/// all scores zero the election is round-robin from `floor(pointer * len)`.
pub fn elect(scores: &[f64], k: usize, pointer: f64) -> Vec<usize> {
    let m = scores.len();
    let k = k.min(m);
    let s: Vec<f64> =
        scores.iter().map(|&x| if x.is_finite() { x.max(0.0) } else { 0.0 }).collect();
    let total: f64 = s.iter().sum();
    let p0 = if pointer.is_finite() { pointer.rem_euclid(1.0) } else { 0.0 };
    if total <= 0.0 {
        let start = ((p0 * m as f64) as usize).min(m.saturating_sub(1));
        return (0..k).map(|i| (start + i) % m).collect();
    }
    let mut ends = Vec::with_capacity(m);
    let mut acc = 0.0;
    for &x in &s {
        acc += x / total;
        ends.push(acc);
    }
    let mut chosen = vec![false; m];
    let mut out = Vec::with_capacity(k);
    let mut p = p0;
    for _ in 0..2 * m {
        if out.len() == k {
            break;
        }
        let i = (0..m).find(|&i| s[i] > 0.0 && ends[i] > p).unwrap_or_else(|| {
            // Past the last arc end (rounding): wrap to the first candidate with an arc.
            (0..m).find(|&i| s[i] > 0.0).unwrap_or(0)
        });
        if !chosen[i] {
            chosen[i] = true;
            out.push(i);
        }
        p = ends[i] + 1e-12;
        if p >= 1.0 {
            p -= 1.0;
        }
    }
    let rest: Vec<usize> = (0..m).filter(|&i| !chosen[i]).collect();
    out.extend(rest.into_iter().take(k - out.len()));
    out
}

/// How a trainer's rank of distance to the benchmark becomes its reputation (paper 05 §3.6).
/// Rank 0 is the smallest distance (ties: lower index first); `R` is the number of ranked
/// trainers, and `R = 1` scores 1 under both rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReputationScore {
    /// `(R - rank) / (R - 1)`: the official code's formula (`vr.py`). The best trainer scores
    /// `R / (R - 1) > 1` and the worst `1 / (R - 1) > 0`, so every trainer keeps an arc on
    /// the election ring.
    #[default]
    Official,
    /// `(R - 1 - rank) / (R - 1)`, in `[0, 1]`: the worst trainer scores 0, loses its arc
    /// and is elected only to fill the last places.
    Shifted,
}

/// Rank-quantile scores under `rule` (see [`ReputationScore`]).
pub fn reputation_scores(values: &[f64], rule: ReputationScore) -> Vec<f64> {
    let r = values.len();
    if r == 1 {
        return vec![1.0];
    }
    let mut order: Vec<usize> = (0..r).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    let top = match rule {
        ReputationScore::Official => r,
        ReputationScore::Shifted => r - 1,
    };
    let mut q = vec![0.0; r];
    for (rank, &i) in order.iter().enumerate() {
        q[i] = (top - rank) as f64 / (r - 1) as f64;
    }
    q
}

/// Rank-quantile scores `q(i) = (R - 1 - rank(i)) / (R - 1)` ([`ReputationScore::Shifted`]):
/// the smallest value scores 1 and the largest 0; `R = 1` scores 1.
pub fn quantile_scores(values: &[f64]) -> Vec<f64> {
    reputation_scores(values, ReputationScore::Shifted)
}

/// How elected trainers are assigned to the `P` aggregator groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grouping {
    /// Trainer `j` (election order) joins group `j mod P`: the official code's rule.
    #[default]
    RoundRobin,
    /// Trainers fill groups in election order, `ceil(Q / P)` per group. Not in the paper: an
    /// ablation. Low-reputation trainers are elected last, so they share groups instead of
    /// being spread over all of them.
    Contiguous,
}

impl Grouping {
    /// Member row indices of each of `p` groups for `q` trainers (groups past the trainers
    /// are empty). Errors if `p == 0` or the `p` groups cannot be allocated.
    pub fn members(self, q: usize, p: usize) -> Result<Vec<Vec<usize>>> {
        if p == 0 {
            return Err(Error::hyper("groups", 0.0, "need at least one aggregator group"));
        }
        let mut out = Vec::new();
        out.try_reserve_exact(p)
            .map_err(|_| Error::hyper("groups", p as f64, "too many groups to allocate"))?;
        match self {
            Grouping::RoundRobin => out.extend((0..p).map(|g| (g..q).step_by(p).collect())),
            Grouping::Contiguous => {
                let size = q.div_ceil(p);
                // Saturating: `g * size` may pass `q` (even usize) for the empty groups.
                out.extend((0..p).map(|g| {
                    let lo = g.saturating_mul(size).min(q);
                    (lo..(g + 1).saturating_mul(size).min(q)).collect()
                }));
            }
        }
        Ok(out)
    }
}

/// What the verifier decided in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifierRound {
    /// Members of each group, as client ids.
    pub groups: Vec<Vec<usize>>,
    /// Hamming distance of each group mean's code to the benchmark.
    pub group_distances: Vec<usize>,
    /// Winning group.
    pub winner: usize,
    /// Hamming distance of each trainer's own code to the benchmark (participant order).
    pub client_distances: Vec<usize>,
    /// The accepted global update (the winning group's mean).
    pub update: Vec<f64>,
    /// Bits the verifier received this round (trainer and aggregator codes).
    pub bits_to_verifier: usize,
}

/// The verifier's state: hyperplanes, benchmark code and per-client reputation.
#[derive(Debug, Clone)]
pub struct Verifier {
    hasher: LshHasher,
    benchmark: Option<LshCode>,
    reputation: Vec<f64>,
    seed: u64,
    score: ReputationScore,
}

impl Verifier {
    /// A verifier for `clients` data-holding nodes, all starting at reputation 1, with the
    /// election pointer seeded by `seed`.
    pub fn new(hasher: LshHasher, clients: usize, seed: u64) -> Self {
        Verifier {
            hasher,
            benchmark: None,
            reputation: vec![1.0; clients],
            seed,
            score: ReputationScore::default(),
        }
    }

    /// The same verifier scoring reputation by `rule` (default: the official formula).
    pub fn with_score(mut self, rule: ReputationScore) -> Self {
        self.score = rule;
        self
    }

    /// The hasher (shared hyperplanes).
    pub fn hasher(&self) -> &LshHasher {
        &self.hasher
    }

    /// Per-client reputation scores.
    pub fn reputation(&self) -> &[f64] {
        &self.reputation
    }

    /// The current benchmark code, if any.
    pub fn benchmark(&self) -> Option<&LshCode> {
        self.benchmark.as_ref()
    }

    /// Sets the benchmark from a trusted update (round 0: the verifier's own local update).
    pub fn set_benchmark(&mut self, update: &[f64]) -> Result<()> {
        self.benchmark = Some(self.hasher.hash(update)?);
        Ok(())
    }

    /// Elects `k` trainers for `round` (ids in election order).
    pub fn elect(&self, round: u64, k: usize) -> Vec<usize> {
        elect(&self.reputation, k, ring_pointer(round, self.seed))
    }

    /// Runs steps 2-4 for the trainers `participants` (client ids, election order), whose
    /// updates are the rows of `u` in the same order, with `groups` aggregators assigned by
    /// `grouping` (empty groups, possible with [`Grouping::Contiguous`], are left out).
    ///
    /// Without a benchmark yet, group 0 wins (the official code's placeholder). Errors on
    /// `groups == 0`, mismatched counts, unknown client ids or non-finite updates.
    pub fn round(
        &mut self,
        participants: &[usize],
        u: Updates<'_>,
        groups: usize,
        grouping: Grouping,
        par: Par,
    ) -> Result<VerifierRound> {
        if groups == 0 {
            return Err(Error::hyper("groups", 0.0, "need at least one aggregator"));
        }
        gradus_core::validate::same_len("participants", u.n(), participants.len())?;
        if let Some(&bad) = participants.iter().find(|&&c| c >= self.reputation.len()) {
            return Err(Error::InvalidShape {
                what: "participants",
                detail: format!("client id {bad} is not below {}", self.reputation.len()),
            });
        }
        let members: Vec<Vec<usize>> = grouping
            .members(u.n(), groups.min(u.n()))?
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect();
        let p = members.len();
        let client_codes = self.hasher.hash_rows(u, par)?;
        let mut means = Vec::with_capacity(p);
        let mut codes = Vec::with_capacity(p);
        for rows in &members {
            let w = vec![1.0 / rows.len() as f64; rows.len()];
            let mean = weighted_sum_rows(u, rows, &w, par);
            codes.push(self.hasher.hash(&mean)?);
            means.push(mean);
        }
        let (group_distances, client_distances) = match &self.benchmark {
            Some(b) => (
                codes.iter().map(|c| hamming(c, b)).collect::<Result<Vec<_>>>()?,
                client_codes.iter().map(|c| hamming(c, b)).collect::<Result<Vec<_>>>()?,
            ),
            None => (vec![0; p], vec![0; u.n()]),
        };
        let winner = (0..p).min_by_key(|&g| (group_distances[g], g)).unwrap_or(0);
        let dist: Vec<f64> = client_distances.iter().map(|&x| x as f64).collect();
        let q = reputation_scores(&dist, self.score);
        for (&c, &s) in participants.iter().zip(&q) {
            self.reputation[c] = s;
        }
        self.benchmark = Some(codes[winner].clone());
        let bits_to_verifier = (u.n() + p) * self.hasher.bits();
        let update = means.swap_remove(winner);
        Ok(VerifierRound {
            groups: members
                .iter()
                .map(|rows| rows.iter().map(|&r| participants[r]).collect())
                .collect(),
            group_distances,
            winner,
            client_distances,
            update,
            bits_to_verifier,
        })
    }
}
