//! BR-MTRL (paper 09): gradients against finite differences, the linear model's closed-form
//! optimum (the principal subspace), robustness of the geometric median and Krum against a
//! Byzantine minority where the mean fails, thread-count independence, transfer, and bad
//! input.

use faer::{Mat, Side};
use gradus_core::{Error, Par, rng};
use gradus_dist::federated::aggregate::{Aggregator, Krum, Weiszfeld};
use gradus_dist::federated::data::synthetic::GaussianMixture;
use gradus_dist::federated::mtrl::client::{client_update, fit_head};
use gradus_dist::federated::mtrl::data::{label_subset_tasks, linear_tasks, random_basis};
use gradus_dist::federated::mtrl::*;
use gradus_dist::federated::{Attack, NonFinitePolicy};
use gradus_models::data::normal;
use gradus_models::fd_gradient;
use proptest::prelude::*;

const D: usize = 20;
const K: usize = 3;

fn randn(n: usize, seed: u64) -> Vec<f64> {
    let mut r = rng::seeded(seed);
    (0..n).map(|_| normal(&mut r)).collect()
}

/// `(loss, grad_rep, grad_head)` of the head on the representation over a batch.
fn loss_and_grads<R: Representation, H: Head>(
    rep: &R,
    head: &H,
    phi: &[f64],
    h: &[f64],
    x: &[f64],
    y: &[H::Target],
) -> (f64, Vec<f64>, Vec<f64>) {
    let rows = y.len();
    let k = rep.output_dim();
    let mut z = vec![0.0; rows * k];
    let mut cache = vec![0.0; rows * rep.cache_per_row()];
    rep.forward(phi, x, rows, &mut z, &mut cache).unwrap();
    let (mut gh, mut gz) = (vec![0.0; h.len()], vec![0.0; rows * k]);
    let mut hs = vec![0.0; head.scratch_len()];
    let loss = head.loss_grad(h, &z, y, Some(&mut gh), Some(&mut gz), &mut hs).unwrap();
    let mut gphi = vec![0.0; phi.len()];
    let mut scratch = vec![0.0; rows * rep.scratch_per_row()];
    rep.backward(phi, x, rows, &cache, &gz, &mut gphi, &mut scratch).unwrap();
    (loss, gphi, gh)
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * scale, "{what}[{i}]: analytic {x} vs reference {y}");
    }
}

fn check_gradients<R: Representation, H: Head>(rep: &R, head: &H, y: &[H::Target], seed: u64) {
    let rows = y.len();
    let x = randn(rows * rep.input_dim(), seed);
    let mut phi = vec![0.0; rep.num_params()];
    rep.init(&mut rng::seeded(seed + 1), &mut phi).unwrap();
    // Non-zero biases, so their gradients are exercised away from the initial point.
    let noise = randn(phi.len(), seed + 2);
    phi.iter_mut().zip(noise).for_each(|(p, e)| *p += 0.1 * e);
    let h: Vec<f64> = randn(head.num_params(), seed + 3).iter().map(|v| 0.5 * v).collect();
    let (_, gphi, gh) = loss_and_grads(rep, head, &phi, &h, &x, y);
    let fd_phi =
        fd_gradient(&mut |p: &[f64]| loss_and_grads(rep, head, p, &h, &x, y).0, &phi, 1e-6);
    let fd_h = fd_gradient(&mut |q: &[f64]| loss_and_grads(rep, head, &phi, q, &x, y).0, &h, 1e-6);
    assert_close(&gphi, &fd_phi, 1e-6, "representation gradient");
    assert_close(&gh, &fd_h, 1e-6, "head gradient");
}

#[test]
fn gradients_match_finite_differences() {
    let labels: Vec<usize> = (0..7).map(|i| (3 * i) % 4).collect();
    let targets = randn(7, 50);
    for act in [Activation::Tanh, Activation::Relu] {
        for widths in [&[6][..], &[6, 4][..]] {
            let mlp = Mlp::new(5, widths, act).unwrap();
            let k = mlp.output_dim();
            check_gradients(&mlp, &SoftmaxHead::new(k, 4).unwrap(), &labels, 10);
            check_gradients(&mlp, &RegressionHead::new(k).unwrap(), &targets, 20);
        }
    }
    let lin = LinearRep::new(5, 2, false).unwrap();
    check_gradients(&lin, &RegressionHead::new(2).unwrap(), &targets, 30);
    check_gradients(&lin, &SoftmaxHead::new(2, 4).unwrap(), &labels, 40);
}

#[test]
fn exact_head_fit_zeroes_the_ridge_gradient() {
    let head = RegressionHead::new(4).unwrap();
    let (rows, ridge) = (12, 0.3);
    let z = randn(rows * 4, 1);
    let y = randn(rows, 2);
    let mut theta = vec![0.0; 4];
    let mut s = vec![0.0; head.scratch_len()];
    head.fit_exact(&z, &y, ridge, &mut theta, &mut s).unwrap();
    let mut g = vec![0.0; 4];
    head.loss_grad(&theta, &z, &y, Some(&mut g), None, &mut s).unwrap();
    for (gi, ti) in g.iter().zip(&theta) {
        assert!((gi + ridge * ti).abs() < 1e-12, "ridge gradient {gi} + {ridge} * {ti}");
    }
    // A rank-deficient design without ridge is an error and leaves the head untouched.
    let flat = vec![1.0; rows * 4];
    let before = theta.clone();
    assert!(matches!(
        head.fit_exact(&flat, &y, 0.0, &mut theta, &mut s),
        Err(Error::NotPositiveDefinite { .. })
    ));
    assert_eq!(theta, before);
}

#[test]
fn orthonormalisation_is_a_qr_factorisation() {
    let (d, k) = (9, 4);
    let b = randn(d * k, 5);
    let mut q = b.clone();
    orthonormalize(&mut q, d, k).unwrap();
    // Q^T Q = I and R = Q^T B is upper triangular with a positive diagonal.
    for a in 0..k {
        for c in 0..k {
            let qtq: f64 = (0..d).map(|i| q[i * k + a] * q[i * k + c]).sum();
            let r: f64 = (0..d).map(|i| q[i * k + a] * b[i * k + c]).sum();
            assert!((qtq - f64::from(a == c)).abs() < 1e-14, "Q^T Q [{a},{c}] = {qtq}");
            if a > c {
                assert!(r.abs() < 1e-13, "R[{a},{c}] = {r} below the diagonal");
            }
            if a == c {
                assert!(r > 0.0);
            }
        }
    }
    // An orthonormal basis is a fixed point; a dependent column is an error, input untouched.
    let mut q2 = q.clone();
    orthonormalize(&mut q2, d, k).unwrap();
    assert_close(&q2, &q, 1e-14, "re-orthonormalised basis");
    let mut dep = b.clone();
    for i in 0..d {
        dep[i * k + 2] = 2.0 * dep[i * k] - dep[i * k + 1];
    }
    let before = dep.clone();
    assert!(matches!(orthonormalize(&mut dep, d, k), Err(Error::Singular { .. })));
    assert_eq!(dep, before);
}

#[test]
fn principal_angles_of_a_known_rotation() {
    // P = [e1, e2]; Q rotates e1 towards e3 by a and e2 towards e4 by b.
    let d = 6;
    for (a, b) in [(0.3, 1.2), (1e-9, 0.5), (std::f64::consts::FRAC_PI_2, 1e-7)] {
        let mut p = vec![0.0; d * 2];
        p[0] = 1.0;
        p[3] = 1.0;
        let mut q = vec![0.0; d * 2];
        q[0] = f64::cos(a);
        q[2 * 2] = f64::sin(a);
        q[2 + 1] = f64::cos(b);
        q[3 * 2 + 1] = f64::sin(b);
        let angles = principal_angles(&p, &q, d, 2).unwrap();
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        assert!((angles[0] - lo).abs() <= 1e-15 + 1e-12 * lo, "{angles:?} vs {lo}");
        assert!((angles[1] - hi).abs() <= 1e-15 + 1e-12 * hi, "{angles:?} vs {hi}");
        let dist = subspace_distance(&p, &q, d, 2).unwrap();
        let want = (a.sin().powi(2) + b.sin().powi(2)).sqrt();
        assert!((dist - want).abs() <= 1e-15 + 1e-12 * want, "distance {dist} vs {want}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(64)))]

    /// The distance is symmetric, lies in [0, sqrt(k)], ignores a change of basis of either
    /// argument, and equals sqrt(sum sin^2) of the principal angles.
    #[test]
    fn subspace_distance_invariants(seed in 0u64..1000, d in 3usize..9, k0 in 1usize..4) {
        let k = k0.min(d);
        let a = randn(d * k, seed);
        let b = randn(d * k, seed + 7);
        let m = randn(k * k, seed + 13);
        // b M: same span as b (M is invertible with probability one; skip near-singular).
        let mut bm = vec![0.0; d * k];
        for i in 0..d {
            for c in 0..k {
                bm[i * k + c] = (0..k).map(|j| b[i * k + j] * m[j * k + c]).sum();
            }
        }
        let dm = Mat::from_fn(k, k, |i, j| m[i * k + j]);
        let sv = dm.singular_values().unwrap();
        prop_assume!(sv[k - 1] > 1e-3 * sv[0]);
        let dab = subspace_distance(&a, &b, d, k).unwrap();
        prop_assert!((dab - subspace_distance(&b, &a, d, k).unwrap()).abs() < 1e-12);
        prop_assert!((dab - subspace_distance(&a, &bm, d, k).unwrap()).abs() < 1e-9);
        prop_assert!((-1e-15..=(k as f64).sqrt() + 1e-12).contains(&dab));
        let angles = principal_angles(&a, &b, d, k).unwrap();
        let from_angles = angles.iter().map(|t| t.sin().powi(2)).sum::<f64>().sqrt();
        prop_assert!((dab - from_angles).abs() < 1e-10);
        prop_assert!(subspace_distance(&a, &a, d, k).unwrap() < 1e-12);
        // Orthonormalisation: Q^T Q = I, and Q spans the same subspace as the input.
        let mut q = a.clone();
        orthonormalize(&mut q, d, k).unwrap();
        for i in 0..k {
            for j in 0..k {
                let g: f64 = (0..d).map(|r| q[r * k + i] * q[r * k + j]).sum();
                prop_assert!((g - f64::from(i == j)).abs() < 1e-13);
            }
        }
        prop_assert!(subspace_distance(&a, &q, d, k).unwrap() < 1e-9);
    }
}

/// The linear federation of spec §3 (`d = 20`, `k = 3`, `noise = 0.01`).
fn linear_fed(
    clients: usize,
    train: usize,
    whiten: bool,
    seed: u64,
) -> (Vec<f64>, Federation<LinearRep, RegressionHead>) {
    let b_star = random_basis(D, K, seed).unwrap();
    let cfg = LinearTasks { train, test: 50, noise: 0.01, whiten };
    let tasks = linear_tasks(&b_star, D, K, clients, cfg, seed + 1).unwrap();
    let fed = Federation::new(
        LinearRep::new(D, K, true).unwrap(),
        RegressionHead::new(K).unwrap(),
        tasks,
    )
    .unwrap();
    (b_star, fed)
}

fn linear_cfg(participants: usize, train: usize, aggregator: Aggregator) -> MtrlConfig {
    let exact = HeadFit::Exact { ridge: 0.0 };
    MtrlConfig {
        participants,
        local: LocalUpdate {
            head: exact,
            rep: LocalSgd { epochs: 1, lr: 0.5, momentum: 0.0, batch: train },
        },
        eval_fit: exact,
        byzantine_fraction: 0.0,
        attack: Attack::Honest,
        aggregator,
        policy: NonFinitePolicy::Drop,
        seed: 3,
        par: Par::Rayon,
    }
}

fn run(m: &mut Mtrl<'_, impl Representation, impl Head>, rounds: usize) {
    for _ in 0..rounds {
        m.round().unwrap();
    }
}

/// With whitened designs the multi-task least-squares optimum is the top-k eigenspace of
/// `sum_i beta_i beta_i^T`, `beta_i = X_i^T y_i / m` (computed here by faer's symmetric
/// eigendecomposition); alternating GD with exact heads and full participation is gradient
/// descent on that objective and must converge to it.
#[test]
fn closed_form_principal_subspace_is_recovered() {
    let (n, m) = (12, 24);
    let (b_star, fed) = linear_fed(n, m, true, 11);
    let mut mtrl = Mtrl::new(&fed, linear_cfg(n, m, Aggregator::Mean), None).unwrap();
    let mut cov = Mat::<f64>::zeros(D, D);
    for t in fed.clients() {
        let beta: Vec<f64> = (0..D)
            .map(|j| (0..m).map(|r| t.train.x[r * D + j] * t.train.y[r]).sum::<f64>() / m as f64)
            .collect();
        for i in 0..D {
            for j in 0..D {
                cov[(i, j)] += beta[i] * beta[j];
            }
        }
    }
    let eig = cov.self_adjoint_eigen(Side::Lower).unwrap();
    // Eigenvalues ascending: the last k columns span the optimum.
    let optimum: Vec<f64> = (0..D)
        .flat_map(|i| (D - K..D).map(move |c| (i, c)))
        .map(|(i, c)| eig.U()[(i, c)])
        .collect();
    let start = subspace_distance(&optimum, mtrl.representation(), D, K).unwrap();
    run(&mut mtrl, 200);
    let dist = subspace_distance(&optimum, mtrl.representation(), D, K).unwrap();
    assert!(start > 0.5, "random start {start}");
    assert!(dist < 1e-8, "distance to the closed-form optimum {dist}");
    // The optimum itself is within the noise level of the true subspace.
    assert!(subspace_distance(&b_star, &optimum, D, K).unwrap() < 0.02);
}

#[test]
fn true_subspace_is_recovered_with_partial_participation() {
    let (b_star, fed) = linear_fed(50, 30, false, 21);
    let mut mtrl = Mtrl::new(&fed, linear_cfg(10, 30, Aggregator::Mean), None).unwrap();
    run(&mut mtrl, 100);
    let dist = subspace_distance(&b_star, mtrl.representation(), D, K).unwrap();
    assert!(dist < 0.02, "distance to B* {dist}");
    // Exact heads on the recovered subspace predict at the noise level (variance 1e-4).
    let mse = mtrl.evaluate().unwrap().mean;
    assert!(mse < 3e-4, "test MSE {mse}");
}

/// Subspace distance over the last 20 of 300 rounds with 20% Byzantine clients (none for `Honest`).
fn final_distance(attack: Attack, aggregator: Aggregator) -> f64 {
    let (b_star, fed) = linear_fed(50, 30, false, 31);
    let mut cfg = linear_cfg(10, 30, aggregator);
    if attack != Attack::Honest {
        cfg.byzantine_fraction = 0.2;
        cfg.attack = attack;
    }
    let mut mtrl = Mtrl::new(&fed, cfg, None).unwrap();
    run(&mut mtrl, 280);
    // Mean over the last 20 rounds: single-client rules (Krum) fluctuate round to round.
    let mut tail = 0.0;
    for _ in 0..20 {
        mtrl.round().unwrap();
        tail += subspace_distance(&b_star, mtrl.representation(), D, K).unwrap() / 20.0;
    }
    tail
}

/// Spec §3's claim on the linear model: under Gaussian noise and sign-flip attacks from a 20%
/// Byzantine minority, the geometric median and Krum end within 0.05 of the attack-free
/// distance, while the mean ends beyond 0.5 (a random 3-subspace of R^20 is at about 1.6).
#[test]
fn robust_aggregation_survives_attacks_that_break_the_mean() {
    let clean = final_distance(Attack::Honest, Aggregator::Mean);
    assert!(clean < 0.02, "attack-free distance {clean}");
    let gm = Aggregator::GeometricMedian(Weiszfeld::default());
    let krum = Aggregator::Krum(Krum::new(3));
    for attack in
        [Attack::Gaussian { sigma: 10.0, relative: false }, Attack::SignFlip { scale: 10.0 }]
    {
        let mean = final_distance(attack, Aggregator::Mean);
        assert!(mean > 0.5, "{}: mean ends at {mean}", attack.name());
        for rule in [&gm, &krum] {
            let d = final_distance(attack, rule.clone());
            assert!(
                d < clean + 0.05,
                "{} with {}: {d} vs attack-free {clean}",
                attack.name(),
                rule.name()
            );
        }
    }
}

/// Clients with 3 of 8 classes of a Gaussian mixture in R^32 (drawn from `seed`), their
/// tasks from `task_seed`, and a tanh network 32 -> 12.
fn mixture_fed(
    clients: usize,
    train: usize,
    seed: u64,
    task_seed: u64,
) -> Federation<Mlp, SoftmaxHead> {
    let mix = GaussianMixture::new(32, 8, 0.4, &mut rng::seeded(seed)).unwrap();
    let tasks = label_subset_tasks(&mix, clients, 3, train, 60, task_seed).unwrap();
    let mlp = Mlp::new(32, &[12], Activation::Tanh).unwrap();
    Federation::new(mlp, SoftmaxHead::new(12, 8).unwrap(), tasks).unwrap()
}

fn mlp_cfg(par: Par) -> MtrlConfig {
    let head = HeadFit::Sgd(LocalSgd { epochs: 5, lr: 0.1, momentum: 0.9, batch: 8 });
    MtrlConfig {
        participants: 8,
        local: LocalUpdate { head, rep: LocalSgd { epochs: 1, lr: 0.5, momentum: 0.9, batch: 8 } },
        eval_fit: head,
        byzantine_fraction: 0.25,
        attack: Attack::Gaussian { sigma: 1.0, relative: false },
        aggregator: Aggregator::GeometricMedian(Weiszfeld::default()),
        policy: NonFinitePolicy::Drop,
        seed: 9,
        par,
    }
}

/// Bits of the representation, every head and the evaluation after a few rounds.
fn fingerprint(par: Par, attack: Attack) -> (Vec<u64>, Vec<u64>, u64) {
    let fed = mixture_fed(16, 24, 4, 5);
    let mut mtrl = Mtrl::new(&fed, MtrlConfig { attack, ..mlp_cfg(par) }, None).unwrap();
    run(&mut mtrl, 4);
    let heads =
        (0..16).flat_map(|c| mtrl.client_head(c).unwrap().to_vec()).map(f64::to_bits).collect();
    (
        mtrl.representation().iter().map(|v| v.to_bits()).collect(),
        heads,
        mtrl.evaluate().unwrap().mean.to_bits(),
    )
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    for attack in [Attack::Gaussian { sigma: 1.0, relative: false }, Attack::Alie { z: 1.0 }] {
        let seq = fingerprint(Par::Seq, attack);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            assert_eq!(pool.install(|| fingerprint(Par::Rayon, attack)), seq, "{threads} threads");
        }
    }
}

/// The MLP federation learns a representation on which new clients with few samples beat
/// the same network trained from scratch, and the geometric median keeps it under a Gaussian
/// attack that costs the mean.
#[test]
fn the_mlp_federation_learns_and_transfers() {
    let fed = mixture_fed(30, 40, 6, 7);
    let clean =
        MtrlConfig { byzantine_fraction: 0.0, attack: Attack::Honest, ..mlp_cfg(Par::Rayon) };
    let mut mtrl = Mtrl::new(&fed, clean.clone(), None).unwrap();
    let before = mtrl.evaluate().unwrap().mean;
    run(&mut mtrl, 40);
    let after = mtrl.evaluate().unwrap().mean;
    assert!(after > before + 0.15 && after > 0.75, "accuracy {before} -> {after}");

    let attacked = |aggregator| {
        let attack = Attack::Gaussian { sigma: 10.0, relative: false };
        let cfg = MtrlConfig { byzantine_fraction: 0.2, aggregator, attack, ..clean.clone() };
        let mut m = Mtrl::new(&fed, cfg, None).unwrap();
        run(&mut m, 40);
        m.evaluate().unwrap().mean
    };
    let gm = attacked(Aggregator::GeometricMedian(Weiszfeld::default()));
    let mean = attacked(Aggregator::Mean);
    assert!(gm > after - 0.05 && mean < after - 0.1, "clean {after}, GM {gm}, mean {mean}");

    // New clients (same mixture, unseen tasks) with 4 rows: a head on the learned
    // representation beats the same network trained from scratch on those rows.
    let new = mixture_fed(20, 4, 6, 8);
    let sgd = LocalSgd { epochs: 50, lr: 0.1, momentum: 0.9, batch: 4 };
    let avg = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let transfer =
        avg(new.transfer(mtrl.representation(), &HeadFit::Sgd(sgd), 1, Par::Rayon).unwrap());
    let scratch = avg(new.from_scratch(&sgd, 1, Par::Rayon).unwrap());
    assert!(transfer > scratch + 0.03, "transfer {transfer} vs scratch {scratch}");
}

#[test]
fn bad_input_is_an_error_and_changes_nothing() {
    assert!(LinearRep::new(3, 5, true).is_err(), "k > d");
    assert!(LinearRep::new(3, 0, true).is_err());
    assert!(Mlp::new(4, &[], Activation::Relu).is_err());
    assert!(Mlp::new(4, &[3, 0], Activation::Relu).is_err());
    assert!(SoftmaxHead::new(3, 1).is_err());
    assert!(subspace_distance(&[0.0; 15], &[0.0; 15], 3, 5).is_err(), "k > d");
    let mut nan = randn(D * K, 1);
    nan[4] = f64::NAN;
    assert!(subspace_distance(&nan, &randn(D * K, 2), D, K).is_err());
    assert!(subspace_distance(&randn(D * K, 2), &randn(D * K - 1, 2), D, K).is_err());

    // Generators.
    let mut r = rng::seeded(3);
    let mix = GaussianMixture::new(4, 3, 1.0, &mut r).unwrap();
    assert!(GaussianMixture::new(0, 3, 1.0, &mut r).is_err());
    assert!(GaussianMixture::new(4, 3, f64::NAN, &mut r).is_err());
    assert!(mix.sample(&[], 5, &mut r).is_err());
    assert!(mix.sample(&[0, 3], 5, &mut r).is_err(), "class 3 of 3");
    assert!(mix.sample(&[2], 5, &mut r).unwrap().y.iter().all(|&c| c == 2));
    assert!(label_subset_tasks(&mix, 2, 4, 5, 5, 1).is_err(), "4 of 3 classes");
    assert!(label_subset_tasks(&mix, 2, 2, 0, 5, 1).is_err(), "no training rows");
    let b = random_basis(D, K, 1).unwrap();
    let whiten = LinearTasks { train: D - 1, test: 5, noise: 0.1, whiten: true };
    assert!(linear_tasks(&b, D, K, 2, whiten, 1).is_err(), "whitening needs train >= d");
    let noisy = LinearTasks { noise: -1.0, ..whiten };
    assert!(linear_tasks(&b, D, K, 2, noisy, 1).is_err());
    assert!(linear_tasks(&b, D, K + 1, 2, LinearTasks { whiten: false, ..whiten }, 1).is_err());

    // Federation: NaN features, wrong dimension, labels out of range, head/rep mismatch.
    let (_, good) = linear_fed(6, 30, false, 41);
    let mut tasks = good.clients().to_vec();
    tasks[2].train.x[7] = f64::NAN;
    let rep = LinearRep::new(D, K, true).unwrap();
    let head = RegressionHead::new(K).unwrap();
    assert!(matches!(
        Federation::new(rep.clone(), head.clone(), tasks),
        Err(Error::NonFinite { .. })
    ));
    assert!(
        Federation::new(
            LinearRep::new(D + 1, K, true).unwrap(),
            head.clone(),
            good.clients().to_vec()
        )
        .is_err()
    );
    assert!(
        Federation::new(rep.clone(), RegressionHead::new(K + 1).unwrap(), good.clients().to_vec())
            .is_err()
    );
    let mix = mixture_fed(4, 10, 1, 2);
    let mut bad_labels = mix.clients().to_vec();
    bad_labels[0].test.y[0] = 8;
    assert!(Federation::new(mix.rep().clone(), mix.head().clone(), bad_labels).is_err());

    // Configurations.
    let cfg = linear_cfg(4, 30, Aggregator::Mean);
    for bad in [
        MtrlConfig { byzantine_fraction: 1.5, ..cfg.clone() },
        MtrlConfig { byzantine_fraction: -0.1, ..cfg.clone() },
        MtrlConfig { byzantine_fraction: f64::NAN, ..cfg.clone() },
        MtrlConfig { participants: 0, ..cfg.clone() },
        MtrlConfig { participants: 7, ..cfg.clone() },
        MtrlConfig { aggregator: Aggregator::Krum(Krum::new(1)), ..cfg.clone() },
        MtrlConfig { attack: Attack::LabelFlip, ..cfg.clone() },
        MtrlConfig { attack: Attack::SignFlip { scale: -1.0 }, ..cfg.clone() },
        MtrlConfig {
            local: LocalUpdate { rep: LocalSgd { lr: 0.0, ..cfg.local.rep }, ..cfg.local },
            ..cfg.clone()
        },
        MtrlConfig {
            local: LocalUpdate { rep: LocalSgd { batch: 0, ..cfg.local.rep }, ..cfg.local },
            ..cfg.clone()
        },
        MtrlConfig { eval_fit: HeadFit::Exact { ridge: -1.0 }, ..cfg.clone() },
    ] {
        assert!(Mtrl::new(&good, bad, None).is_err());
    }
    assert!(Mtrl::new(&good, cfg.clone(), Some(&[0.0; 5])).is_err());
    assert!(Mtrl::new(&good, cfg.clone(), Some(&nan)).is_err());

    // A round that fails (an attack overflowing to infinity under the Reject policy) leaves
    // the representation, the heads and the round counter as they were.
    let overflow = MtrlConfig {
        byzantine_fraction: 0.5,
        attack: Attack::Gaussian { sigma: 1e308, relative: false },
        policy: NonFinitePolicy::Reject,
        ..cfg.clone()
    };
    let mut m = Mtrl::new(&good, overflow, None).unwrap();
    let mut failed = false;
    for _ in 0..10 {
        let rep0 = m.representation().to_vec();
        let heads0: Vec<Vec<f64>> = (0..6).map(|c| m.client_head(c).unwrap().to_vec()).collect();
        let done = m.rounds_done();
        match m.round() {
            Err(Error::NonFinite { .. }) => {
                assert_eq!(m.representation(), &rep0[..]);
                assert!((0..6).all(|c| m.client_head(c).unwrap() == &heads0[c][..]));
                assert_eq!(m.rounds_done(), done);
                failed = true;
                break;
            }
            Ok(r) => assert_eq!(r.byzantine, 0, "a round with attackers must fail"),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(failed, "no round had an attacker");

    // Client-level functions: wrong lengths are errors that write nothing.
    let task = &good.clients()[0].train;
    let local = cfg.local;
    let mut ws = ClientWorkspace::for_update(good.rep(), good.head(), good.max_rows(), &local);
    let phi = m.representation().to_vec();
    let mut h = vec![0.5; K];
    let mut upload = vec![7.0; D * K - 1];
    let mut r = rng::seeded(0);
    assert!(
        client_update(
            good.rep(),
            good.head(),
            &phi,
            task,
            &local,
            &mut h,
            &mut upload,
            &mut ws,
            &mut r
        )
        .is_err()
    );
    assert_eq!((h.clone(), upload.clone()), (vec![0.5; K], vec![7.0; D * K - 1]));
    let mut short_head = vec![0.5; K - 1];
    assert!(
        fit_head(
            good.rep(),
            good.head(),
            &phi,
            task,
            &local.head,
            &mut short_head,
            &mut ws,
            &mut r
        )
        .is_err()
    );
    assert_eq!(short_head, vec![0.5; K - 1]);
    let mut z = vec![3.0; 2 * K];
    let mut cache = vec![];
    assert!(good.rep().forward(&phi, &[1.0; D], 2, &mut z, &mut cache).is_err());
    assert_eq!(z, vec![3.0; 2 * K]);
    // A workspace built for smaller clients is refused rather than overrun.
    let mut small = ClientWorkspace::new(good.rep(), good.head(), 3, 1);
    assert!(
        fit_head(good.rep(), good.head(), &phi, task, &local.head, &mut h, &mut small, &mut r)
            .is_err()
    );
}
