//! LSH codes, Hamming distances, the LSHFed election / verifier and per-client screening
//! (paper 05 §2, §3, §5).

use gradus_core::{Error, Layout, Par, rng};
use gradus_dist::federated::lshfed::{
    Grouping, ReputationScore, Verifier, elect, quantile_scores, reputation_scores, ring_pointer,
};
use gradus_dist::federated::screening::HammingScreen;
use gradus_dist::federated::{LshHasher, Updates, hamming};
use gradus_models::data::normal;
use proptest::prelude::*;

fn layout() -> Layout {
    Layout::new()
        .matrix("w1", 16, 9)
        .unwrap()
        .vector("b1", 16)
        .unwrap()
        .matrix("w2", 4, 16)
        .unwrap()
}

fn random(len: usize, seed: u64) -> Vec<f64> {
    let mut r = rng::seeded(seed);
    (0..len).map(|_| normal(&mut r)).collect()
}

#[test]
fn bits_are_the_signs_of_the_layer_projections() {
    let l = layout();
    let h = LshHasher::new(&l, 5, 42).unwrap();
    assert_eq!(h.bits(), 5 * (9 + 1 + 16));
    assert_eq!(h.code_bytes(), h.bits().div_ceil(8));
    let v = random(l.len(), 1);
    let code = h.hash(&v).unwrap();
    let mut bit = 0;
    for b in l.blocks() {
        let (n, c) = match b.shape {
            gradus_core::Shape::Matrix { rows, cols } => (rows, cols),
            gradus_core::Shape::Vector { len } => (len, 1),
        };
        let planes = h.planes(n).unwrap();
        for k in 0..5 {
            for j in 0..c {
                let p: f64 = (0..n).map(|i| planes[k * n + i] * v[b.offset + i * c + j]).sum();
                assert_eq!(code.bit(bit), p > 0.0, "block {} k {k} j {j}", b.name);
                bit += 1;
            }
        }
    }
    // w1 and b1 have 16 rows: one set of planes per row length, shared.
    assert!(h.planes(16).is_some() && h.planes(4).is_some() && h.planes(9).is_none());
}

#[test]
fn zero_projections_give_zero_bits_and_negation_flips_the_rest() {
    let l = layout();
    let h = LshHasher::new(&l, 4, 7).unwrap();
    let mut v = random(l.len(), 3);
    // Zero the vector block: its projections are exactly 0, so its bits are 0 in both codes.
    v[144..160].iter_mut().for_each(|x| *x = 0.0);
    let neg: Vec<f64> = v.iter().map(|x| -x).collect();
    let (a, b) = (h.hash(&v).unwrap(), h.hash(&neg).unwrap());
    assert_eq!(hamming(&a, &b).unwrap(), h.bits() - 4);
}

#[test]
fn hamming_over_random_planes_estimates_the_angle() {
    // One column pair at a known angle; average over independent hyperplane draws.
    let n = 30;
    let g = random(n, 11);
    let noise = random(n, 12);
    let g2: Vec<f64> = g.iter().zip(&noise).map(|(a, b)| a + 0.8 * b).collect();
    let dot: f64 = g.iter().zip(&g2).map(|(a, b)| a * b).sum();
    let nrm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let angle = (dot / (nrm(&g) * nrm(&g2))).acos();
    let (draws, r) = (400u64, 16usize);
    let mut total = 0;
    for s in 0..draws {
        let h = LshHasher::flat(n, r, s).unwrap();
        total += hamming(&h.hash(&g).unwrap(), &h.hash(&g2).unwrap()).unwrap();
    }
    let frac = total as f64 / (draws as usize * r) as f64;
    let tol = 3.0 * 0.5 / ((draws as usize * r) as f64).sqrt();
    assert!(
        (frac - angle / std::f64::consts::PI).abs() < tol,
        "{frac} vs {}",
        angle / std::f64::consts::PI
    );
}

#[test]
fn bad_inputs_are_errors() {
    let h = LshHasher::new(&layout(), 3, 1).unwrap();
    assert!(matches!(h.hash(&[1.0; 3]), Err(Error::LengthMismatch { .. })));
    let mut v = random(layout().len(), 2);
    v[5] = f64::NAN;
    assert!(matches!(h.hash(&v), Err(Error::NonFinite { index: 5, .. })));
    // Finite but huge entries overflow the projection; their sign is still a valid code.
    let big = vec![1e308; layout().len()];
    assert!(h.hash(&big).is_ok());
    assert!(matches!(
        LshHasher::new(&layout(), 0, 1),
        Err(Error::InvalidHyperparameter { field: "r", .. })
    ));
    let other = LshHasher::flat(10, 3, 1).unwrap().hash(&[1.0; 10]).unwrap();
    assert!(hamming(&h.hash(&random(layout().len(), 3)).unwrap(), &other).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(32)))]

    #[test]
    fn codes_ignore_positive_scaling_and_distances_are_a_metric(
        seed in 0u64..10_000, alpha in 1e-3f64..1e3, r in 1usize..9,
    ) {
        let l = layout();
        let h = LshHasher::new(&l, r, seed).unwrap();
        let (a, b, c) = (random(l.len(), seed), random(l.len(), seed + 1), random(l.len(), seed + 2));
        let (ha, hb, hc) = (h.hash(&a).unwrap(), h.hash(&b).unwrap(), h.hash(&c).unwrap());
        let scaled: Vec<f64> = a.iter().map(|x| alpha * x).collect();
        prop_assert_eq!(&h.hash(&scaled).unwrap(), &ha);
        prop_assert_eq!(hamming(&ha, &ha).unwrap(), 0);
        prop_assert_eq!(hamming(&ha, &hb).unwrap(), hamming(&hb, &ha).unwrap());
        prop_assert!(hamming(&ha, &hb).unwrap() <= h.bits());
        prop_assert!(hamming(&ha, &hc).unwrap() <= hamming(&ha, &hb).unwrap() + hamming(&hb, &hc).unwrap());
        // The same seed gives every party the same planes.
        prop_assert_eq!(LshHasher::new(&l, r, seed).unwrap().hash(&a).unwrap(), ha);
    }

    #[test]
    fn election_returns_k_distinct_candidates(
        scores in proptest::collection::vec(-1.0f64..5.0, 1..30), k in 0usize..40, p in 0.0f64..1.0,
    ) {
        let e = elect(&scores, k, p);
        prop_assert_eq!(e.len(), k.min(scores.len()));
        let mut s = e.clone();
        s.sort_unstable();
        s.dedup();
        prop_assert_eq!(s.len(), e.len());
        prop_assert!(e.iter().all(|&i| i < scores.len()));
        prop_assert_eq!(elect(&scores, k, p), e);
    }
}

#[test]
fn ring_pointer_is_sha256_of_round_and_seed() {
    // Values from Python: int(hashlib.sha256(f"{t}_{s}".encode()).hexdigest(), 16) % 10**12 / 10**12
    assert_eq!(ring_pointer(0, 42), 0.249408212427);
    assert_eq!(ring_pointer(3, 7), 0.877947314849);
    assert_eq!(ring_pointer(12, 0), 0.663940185431);
}

#[test]
fn election_follows_the_ring() {
    // Arcs [0, .5), [.5, .75), [.75, 1): the pointer at 0.6 picks 1, then moves to 0.75 -> 2,
    // then wraps to 0.
    assert_eq!(elect(&[2.0, 1.0, 1.0], 3, 0.6), vec![1, 2, 0]);
    // Zero reputation never holds the pointer; it is only filled in at the end.
    assert_eq!(elect(&[0.0, 1.0, 1.0], 3, 0.1), vec![1, 2, 0]);
    assert_eq!(elect(&[0.0, 1.0, 1.0], 2, 0.1), vec![1, 2]);
    // All zero: round-robin from floor(p * len).
    assert_eq!(elect(&[0.0; 4], 3, 0.5), vec![2, 3, 0]);
}

#[test]
fn groupings_partition_the_trainers() {
    let members = |g: Grouping, q, p| g.members(q, p).unwrap();
    assert_eq!(members(Grouping::RoundRobin, 7, 3), vec![vec![0, 3, 6], vec![1, 4], vec![2, 5]]);
    assert_eq!(members(Grouping::Contiguous, 7, 3), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    assert_eq!(members(Grouping::Contiguous, 4, 3), vec![vec![0, 1], vec![2, 3], vec![]]);
    assert_eq!(members(Grouping::Contiguous, 2, 4), vec![vec![0], vec![1], vec![], vec![]]);
}

#[test]
fn zero_or_unallocatable_groups_are_errors_naming_groups() {
    for g in [Grouping::RoundRobin, Grouping::Contiguous] {
        for p in [0, usize::MAX] {
            let err = g.members(5, p);
            assert!(matches!(err, Err(Error::InvalidHyperparameter { field: "groups", .. })));
        }
    }
}

#[test]
fn hash_rows_reports_the_first_bad_row_whatever_the_thread_count() {
    let h = LshHasher::flat(8, 3, 1).unwrap();
    let mut x = random(6 * 8, 5);
    x[4 * 8 + 2] = f64::NAN;
    x[8 + 7] = f64::INFINITY;
    let u = Updates::new(&x, 6, 8).unwrap();
    let want = Error::NonFinite { what: "client vector to hash (index is the row)", index: 1 };
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for _ in 0..20 {
            assert_eq!(pool.install(|| h.hash_rows(u, Par::Rayon)), Err(want.clone()));
        }
    }
    assert_eq!(h.hash_rows(u, Par::Seq), Err(want));
    let ok = Updates::new(&x[2 * 8..4 * 8], 2, 8).unwrap();
    let codes = h.hash_rows(ok, Par::Rayon).unwrap();
    assert_eq!(codes, vec![h.hash(ok.row(0)).unwrap(), h.hash(ok.row(1)).unwrap()]);
}

#[test]
fn quantile_scores_rank_smallest_first() {
    assert_eq!(quantile_scores(&[5.0]), vec![1.0]);
    assert_eq!(quantile_scores(&[3.0, 1.0, 2.0]), vec![0.0, 1.0, 0.5]);
    // Ties: lower index ranks first.
    assert_eq!(quantile_scores(&[1.0, 1.0]), vec![1.0, 0.0]);
}

#[test]
fn official_scores_are_the_shifted_ones_plus_one_over_r_minus_one() {
    // (R - rank) / (R - 1) with R = 4: ranks 0..3 score 4/3, 1, 2/3, 1/3.
    let v = [0.5, 9.0, 2.0, 0.1];
    assert_eq!(
        reputation_scores(&v, ReputationScore::Official),
        vec![1.0, 1.0 / 3.0, 2.0 / 3.0, 4.0 / 3.0]
    );
    assert_eq!(reputation_scores(&[7.0], ReputationScore::Official), vec![1.0]);
    for n in 2..9 {
        let vals: Vec<f64> = (0..n).map(|k| ((k * 7) % n) as f64).collect();
        let o = reputation_scores(&vals, ReputationScore::Official);
        let s = reputation_scores(&vals, ReputationScore::Shifted);
        for (a, b) in o.iter().zip(&s) {
            assert!((a - b - 1.0 / (n - 1) as f64).abs() < 1e-15);
        }
        // Every official score is positive: everyone keeps an arc on the ring.
        assert!(o.iter().all(|&x| x > 0.0));
    }
}

#[test]
fn verifier_keeps_the_group_nearest_the_benchmark() {
    let d = 64;
    let l = Layout::new().matrix("w", 8, 8).unwrap();
    let h = LshHasher::new(&l, 5, 9).unwrap();
    let base = random(d, 4);
    let mut v = Verifier::new(h, 6, 1);
    v.set_benchmark(&base).unwrap();
    // Six trainers, three groups (trainer j -> group j mod 3). Trainer 1 sends -10x the
    // honest direction: group 1's mean flips sign and loses.
    let mut rows = Vec::new();
    for j in 0..6 {
        let noise = random(d, 100 + j);
        let s = if j == 1 { -10.0 } else { 1.0 };
        rows.extend(base.iter().zip(&noise).map(|(b, e)| s * (b + 0.05 * e)));
    }
    let u = Updates::new(&rows, 6, d).unwrap();
    let participants = [5, 0, 1, 2, 3, 4];
    let out = v.round(&participants, u, 3, Grouping::RoundRobin, Par::Seq).unwrap();
    assert_eq!(out.groups, vec![vec![5, 2], vec![0, 3], vec![1, 4]]);
    assert_ne!(out.winner, 1);
    assert!(out.group_distances[1] > out.group_distances[out.winner]);
    let w = out.winner;
    let want: Vec<f64> = (0..d).map(|k| 0.5 * (rows[w * d + k] + rows[(w + 3) * d + k])).collect();
    assert!(out.update.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-14));
    assert_eq!(out.bits_to_verifier, (6 + 3) * 5 * 8);
    // The flipped trainer (client 0) is the farthest: the lowest official score 1 / (R - 1).
    assert_eq!(v.reputation()[0], 0.2);
    assert_eq!(v.benchmark(), Some(&v.hasher().hash(&out.update).unwrap()));
    assert!(v.round(&[0, 1], u, 3, Grouping::RoundRobin, Par::Seq).is_err());
    assert!(v.round(&[0, 1, 2, 3, 4, 99], u, 3, Grouping::RoundRobin, Par::Seq).is_err());
    // Under the shifted rule the farthest trainer scores 0.
    let h = LshHasher::new(&l, 5, 9).unwrap();
    let mut v = Verifier::new(h, 6, 1).with_score(ReputationScore::Shifted);
    v.set_benchmark(&base).unwrap();
    v.round(&participants, u, 3, Grouping::RoundRobin, Par::Seq).unwrap();
    assert_eq!(v.reputation()[0], 0.0);
}

#[test]
fn hamming_screen_flags_far_clients_and_separated_clusters() {
    let s = HammingScreen::default();
    let bits = 1000;
    // 900 and 880 point away from the benchmark (delta > 0.5).
    let d = [100, 120, 110, 900, 95, 880, 130];
    assert_eq!(s.flag(&d, bits).unwrap(), vec![false, false, false, true, false, true, false]);
    // A cluster below 0.5 but separated by a gap wider than 0.1 is cut too.
    let d = [100, 120, 110, 400, 95, 410, 130];
    assert_eq!(s.flag(&d, bits).unwrap(), vec![false, false, false, true, false, true, false]);
    // No gap wider than 0.1 and nothing beyond 0.5: nothing flagged.
    assert_eq!(s.flag(&[100, 150, 200, 250, 300], bits).unwrap(), vec![false; 5]);
    // The gap rule keeps at least half of the clients below max_delta.
    let flags = s.flag(&[100, 400, 400, 400], bits).unwrap();
    assert_eq!(flags, vec![false; 4]);
    // Everything beyond max_delta: the closest client is still kept.
    assert_eq!(s.flag(&[800, 700, 900], bits).unwrap(), vec![true, false, true]);
    assert!(s.flag(&d, 0).is_err());
    let bad = HammingScreen { min_gap: 2.0, ..HammingScreen::default() };
    assert!(matches!(
        bad.flag(&d, bits),
        Err(gradus_core::Error::InvalidHyperparameter { field: "min_gap", .. })
    ));
}

#[test]
fn huge_vectors_hash_like_their_rescaled_copies() {
    // Long rows, so that the projections of the huge copy overflow without rescaling.
    let l = Layout::new().vector("b", 256).unwrap().matrix("w", 64, 6).unwrap();
    let h = LshHasher::new(&l, 8, 3).unwrap();
    let scale = |v: &[f64], e: i32| v.iter().map(|x| x * 2f64.powi(e)).collect::<Vec<_>>();
    let mut overflowed = 0;
    for seed in 0..10 {
        let base: Vec<f64> = random(l.len(), seed).iter().map(|x| x.clamp(-3.9, 3.9)).collect();
        let big = scale(&base, 1021);
        assert!(big.iter().all(|x| x.is_finite()));
        let planes = h.planes(256).unwrap();
        overflowed += (0..8)
            .filter(|&k| {
                let p: f64 =
                    planes[k * 256..(k + 1) * 256].iter().zip(&big).map(|(a, b)| a * b).sum();
                !p.is_finite()
            })
            .count();
        let want = h.hash(&base).unwrap();
        assert_eq!(h.hash(&big).unwrap(), want, "seed {seed}");
        assert_eq!(h.hash(&scale(&big, -1000)).unwrap(), want, "seed {seed}");
        let neg: Vec<f64> = big.iter().map(|x| -x).collect();
        let flipped = h.hash(&neg).unwrap();
        let zero_bits = (0..h.bits()).filter(|&i| !want.bit(i) && !flipped.bit(i)).count();
        assert_eq!(zero_bits, 0, "negation flips every bit of a vector without zero projections");
    }
    assert!(overflowed > 0, "the test must exercise overflowing projections");
}

#[test]
fn a_huge_r_is_an_error_naming_r() {
    for r in [usize::MAX, usize::MAX / 2, usize::MAX / 16 + 1, 1 << 62] {
        let err = LshHasher::new(&layout(), r, 1);
        assert!(matches!(err, Err(Error::InvalidHyperparameter { field: "r", .. })), "{r}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// When every candidate is elected and every score is positive (the official scores
    /// always are), the ring election is a rotation of the index order, so the round-robin
    /// groups `j mod P` are the same partition every round whenever `P` divides the count:
    /// reputation cannot move an attacker into another group.
    #[test]
    fn electing_everyone_with_positive_scores_is_a_rotation(
        scores in prop::collection::vec(0.05f64..2.0, 2..30), round in 0u64..1000,
    ) {
        let m = scores.len();
        let order = elect(&scores, m, ring_pointer(round, 3));
        let s = order[0];
        prop_assert_eq!(order, (0..m).map(|i| (s + i) % m).collect::<Vec<_>>());
    }
}
