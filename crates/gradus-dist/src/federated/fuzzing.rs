//! Harnesses for the cargo-fuzz targets in `fuzz/fuzz_targets/` (and the corpus replay
//! test): each must return normally on any input; a panic is a bug.

use gradus_core::Par;

use super::aggregate::{Aggregate, Aggregator, CenteredClipping, Krum, Weiszfeld, WeiszfeldStart};
use super::data::{cifar, femnist};
use super::{NonFinitePolicy, Updates};

/// The CIFAR-10 record parser on arbitrary bytes: errors are fine, panics are not; on
/// success the shapes must agree.
pub fn cifar10(data: &[u8]) {
    if let Ok(set) = cifar::parse_cifar10(data) {
        assert_eq!(set.pixels.len(), set.labels.len() * cifar::PIXELS);
        assert!(set.labels.iter().all(|&y| y < 10));
    }
}

/// The LEAF FEMNIST parser on arbitrary bytes.
pub fn femnist(data: &[u8]) {
    if let Ok(users) = femnist::parse_femnist(data) {
        for u in users {
            assert_eq!(u.x.len(), u.y.len() * femnist::PIXELS);
            assert!(u.y.iter().all(|&y| (y as usize) < femnist::CLASSES));
        }
    }
}

/// Every aggregator on client vectors decoded from `data`: byte 0 gives `n` (1..=12),
/// byte 1 `d` (1..=16), byte 2 the rule parameter `k` (bytes 0..=127: `k < 8`; 128..=191:
/// `usize::MAX - 63 ..= usize::MAX`; 192..=255: around `usize::MAX / 2`, where `2b`,
/// `2f + 2` and `n - f - 2` overflow), byte 3 the policy (bit 0) and Krum's neighbour count
/// (bits 1-2: default, 1, `k`, `usize::MAX`); the rest are little-endian f64 entries (NaN and
/// infinities included), zero-padded. `Par::Seq` and `Par::Rayon` must agree bit for bit,
/// errors included.
pub fn aggregators(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let n = 1 + data[0] as usize % 12;
    let d = 1 + data[1] as usize % 16;
    let k = match data[2] {
        x @ 0..=127 => x as usize % 8,
        x @ 128..=191 => usize::MAX - (x - 128) as usize,
        x => usize::MAX / 2 - 32 + (x - 192) as usize,
    };
    let policy = if data[3] % 2 == 0 { NonFinitePolicy::Reject } else { NonFinitePolicy::Drop };
    let neighbours = match (data[3] >> 1) % 4 {
        0 => None,
        1 => Some(1),
        2 => Some(k),
        _ => Some(usize::MAX),
    };
    let mut xs = vec![0.0f64; n * d];
    for (x, chunk) in xs.iter_mut().zip(data[4..].chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *x = f64::from_le_bytes(b);
    }
    let Ok(u) = Updates::new(&xs, n, d) else { return };
    let rules = [
        Aggregator::Mean,
        Aggregator::Median,
        Aggregator::TrimmedMean { b: k },
        Aggregator::GeometricMedian(Weiszfeld { max_iter: 20, ..Weiszfeld::default() }),
        Aggregator::GeometricMedian(Weiszfeld {
            nu: 0.1,
            tol: 0.0,
            max_iter: 3,
            start: WeiszfeldStart::Zero,
        }),
        Aggregator::Krum(Krum { f: k, m: 1, neighbours }),
        Aggregator::Krum(Krum { f: k / 2, m: k.saturating_add(1), neighbours }),
        Aggregator::CenteredClipping(CenteredClipping {
            tau: 1.0 + k as f64,
            iterations: 2,
            center: None,
        }),
    ];
    for rule in &rules {
        let seq = rule.aggregate(u, policy, Par::Seq);
        let par = rule.aggregate(u, policy, Par::Rayon);
        match (&seq, &par) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.vector.len(), d);
                assert!(a.dropped.len() < n);
                assert!(same_bits(a, b), "{}: Seq and Rayon differ", rule.name());
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{}: Seq and Rayon errors differ", rule.name()),
            _ => panic!("{}: Seq {seq:?} but Rayon {par:?}", rule.name()),
        }
    }
}

/// Equality of two aggregates with floats compared by bit pattern (NaN included).
fn same_bits(a: &Aggregate, b: &Aggregate) -> bool {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    bits(&a.vector) == bits(&b.vector)
        && a.dropped == b.dropped
        && a.selected == b.selected
        && bits(&a.scores) == bits(&b.scores)
        && a.iterations == b.iterations
        && a.objective.map(f64::to_bits) == b.objective.map(f64::to_bits)
        && a.converged == b.converged
}
