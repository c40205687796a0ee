//! Harnesses for the cargo-fuzz targets in `fuzz/fuzz_targets/` (and the corpus replay
//! test): each must return normally on any input; a panic is a bug.

use gradus_core::Par;

use super::aggregate::{Aggregator, CenteredClipping, Krum, Weiszfeld, WeiszfeldStart};
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
/// byte 1 `d` (1..=16), byte 2 the rule parameter, byte 3 the policy; the rest are
/// little-endian f64 entries (NaN and infinities included), zero-padded.
pub fn aggregators(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let n = 1 + data[0] as usize % 12;
    let d = 1 + data[1] as usize % 16;
    let k = data[2] as usize % 8;
    let policy = if data[3] % 2 == 0 { NonFinitePolicy::Reject } else { NonFinitePolicy::Drop };
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
        Aggregator::Krum(Krum::new(k)),
        Aggregator::Krum(Krum::multi(k / 2, 1 + k)),
        Aggregator::CenteredClipping(CenteredClipping {
            tau: 1.0 + k as f64,
            iterations: 2,
            center: None,
        }),
    ];
    for rule in &rules {
        for par in [Par::Seq, Par::Rayon] {
            if let Ok(a) = rule.aggregate(u, policy, par) {
                assert_eq!(a.vector.len(), d);
                assert!(a.dropped.len() < n);
            }
        }
    }
}
