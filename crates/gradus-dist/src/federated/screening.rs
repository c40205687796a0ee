//! Per-client LSH screening: flag the clients whose code is far, in Hamming distance, from
//! a benchmark code (paper 05 §3.5 compares aggregator groups with the last accepted
//! update; this module makes the same comparison per client).
//!
//! This per-client rule is **not** in paper 05, which only elects and compares aggregator
//! groups ([`crate::federated::lshfed`]); it reuses the same codes to give a per-client
//! decision whose precision and recall can be measured. With `delta_i = d_H(code_i,
//! benchmark) / bits`, an estimate of `angle_i / pi` (paper 05 §2):
//! 1. clients with `delta_i > max_delta` are flagged (`0.5`: an update pointing away from
//!    the benchmark, the sign-code analogue of FLTrust's `cos < 0` rule);
//! 2. among the rest, colluding attackers that form a cluster of larger distances are cut
//!    at the widest gap of the sorted distances above their median, if it exceeds `min_gap`.
//!
//! The closest client is always kept.

use gradus_core::{Error, Result, validate};

/// Settings of the screening rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HammingScreen {
    /// Normalised distances above this are flagged outright (`0.5` = angle beyond 90°).
    pub max_delta: f64,
    /// Smallest gap (in normalised Hamming distance) that counts as a separation.
    pub min_gap: f64,
}

impl Default for HammingScreen {
    /// `max_delta = 0.5`, `min_gap = 0.1` (with hundreds of bits the sampling noise of one
    /// `delta_i` is a few hundredths, so a 0.1 gap is a real separation).
    fn default() -> Self {
        HammingScreen { max_delta: 0.5, min_gap: 0.1 }
    }
}

impl HammingScreen {
    /// Flags (true = rejected) for clients at Hamming distances `distances` out of `bits`.
    /// Errors if `bits == 0` or a threshold is outside `[0, 1]`.
    pub fn flag(&self, distances: &[usize], bits: usize) -> Result<Vec<bool>> {
        validate::unit_interval("max_delta", self.max_delta)?;
        validate::unit_interval("min_gap", self.min_gap)?;
        if bits == 0 {
            return Err(Error::hyper("bits", 0.0, "codes need at least one bit"));
        }
        let n = distances.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (distances[i], i));
        let delta = |k: usize| distances[order[k]] as f64 / bits as f64;
        let mut flags = vec![false; n];
        let within = (0..n).take_while(|&k| k == 0 || delta(k) <= self.max_delta).count();
        let mut best: Option<(f64, usize)> = None;
        for k in within.div_ceil(2).max(1)..within {
            let gap = delta(k) - delta(k - 1);
            if gap > self.min_gap && best.is_none_or(|(g, _)| gap > g) {
                best = Some((gap, k));
            }
        }
        let cut = best.map_or(within, |(_, k)| k);
        for &i in &order[cut..] {
            flags[i] = true;
        }
        Ok(flags)
    }
}
