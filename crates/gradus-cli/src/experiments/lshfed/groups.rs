//! The chance that a clean aggregator group exists, for attackers placed at random.

/// `ln C(n, k)` (`-inf` when `k > n`).
fn ln_choose(n: usize, k: usize) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum()
}

/// Probability that at least one of `groups` equal groups of `n / groups` members has no
/// attacker, when `nb` of the `n` members are attackers placed uniformly at random:
/// inclusion-exclusion over the sets of groups left clean,
/// `sum_{k>=1} (-1)^(k+1) C(P, k) C(n - k s, nb) / C(n, nb)` with `s = n / P`. Requires `P`
/// to divide `n` (returns NaN otherwise).
pub fn clean_group_probability(n: usize, groups: usize, nb: usize) -> f64 {
    if groups == 0 || n % groups != 0 || nb > n {
        return f64::NAN;
    }
    let s = n / groups;
    let total = ln_choose(n, nb);
    let mut p = 0.0;
    for k in 1..=groups {
        let term = (ln_choose(groups, k) + ln_choose(n - k * s, nb) - total).exp();
        p += if k % 2 == 1 { term } else { -term };
    }
    p.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over every placement of `nb` attackers (bitmasks of `n <= 12` members).
    fn brute(n: usize, groups: usize, nb: usize) -> f64 {
        let s = n / groups;
        let (mut hit, mut all) = (0u64, 0u64);
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != nb {
                continue;
            }
            all += 1;
            let clean = (0..groups).any(|g| (0..s).all(|i| mask & (1 << (g * s + i)) == 0));
            hit += clean as u64;
        }
        hit as f64 / all as f64
    }

    #[test]
    fn matches_brute_force() {
        for (n, p) in [(6, 3), (8, 2), (8, 4), (12, 3), (12, 4)] {
            for nb in 0..=n {
                let got = clean_group_probability(n, p, nb);
                assert!((got - brute(n, p, nb)).abs() < 1e-12, "n {n} p {p} nb {nb}: {got}");
            }
        }
        assert!(clean_group_probability(10, 3, 2).is_nan());
        // 20 trainers, 5 groups of 4: a clean group always exists with 4 attackers
        // (pigeonhole), and never with 17 (3 honest cannot fill a group).
        assert!((clean_group_probability(20, 5, 4) - 1.0).abs() < 1e-12);
        assert_eq!(clean_group_probability(20, 5, 17), 0.0);
        // With 16 attackers only the placement of the 4 honest trainers in one group works.
        assert!((clean_group_probability(20, 5, 16) - 5.0 / 4845.0).abs() < 1e-15);
    }
}
