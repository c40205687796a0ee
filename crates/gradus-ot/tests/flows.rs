//! Particle flows recovering known Gaussian targets, the SVGD direction against its double-sum
//! definition, birth-death invariants, thread-count independence, bad input.

use gradus_core::{Par, Rng, rng};
use gradus_ot::flows::{
    Bandwidth, BirthDeath, Donor, Flow, GaussianTarget, Langevin, LogDensity, Particles, Reaction,
    Svgd, Wfr,
};
use rand_distr::{Distribution, StandardNormal};

const MEAN: [f64; 2] = [1.0, -1.0];
const COV: [f64; 4] = [1.0, 0.6, 0.6, 2.0];

fn target() -> GaussianTarget {
    GaussianTarget::new(MEAN.to_vec(), &COV).unwrap()
}

fn start(n: usize, seed: u64) -> Particles {
    let mut r = rng::seeded(seed);
    let pos: Vec<f64> = (0..2 * n).map(|_| StandardNormal.sample(&mut r)).collect();
    Particles::new(2, pos).unwrap()
}

/// Runs `steps` steps and averages the weighted mean and covariance over the last `avg` steps.
fn moments(
    flow: &mut impl Flow,
    p: &mut Particles,
    steps: usize,
    avg: usize,
    r: &mut Rng,
) -> (Vec<f64>, Vec<f64>) {
    let t = target();
    let (mut m, mut c) = (vec![0.0; 2], vec![0.0; 4]);
    for s in 0..steps {
        flow.step(p, &t, r, Par::Rayon).unwrap();
        if s + avg >= steps {
            for (a, b) in m.iter_mut().zip(p.mean()) {
                *a += b / avg as f64;
            }
            for (a, b) in c.iter_mut().zip(p.covariance()) {
                *a += b / avg as f64;
            }
        }
    }
    (m, c)
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < tol, "{what}[{k}]: {g} vs {w} (tol {tol})");
    }
}

#[test]
fn svgd_recovers_a_gaussian() {
    // n = 300 particles: the Monte-Carlo error of a mean is about sd / sqrt(n) < 0.082 and of a
    // covariance entry about sqrt(2 / n) * 2 < 0.17; SVGD particles are more even than iid ones.
    let mut p = start(300, 1);
    let mut svgd = Svgd::new(0.05, Bandwidth::Median, 1.0).unwrap();
    let (m, c) = moments(&mut svgd, &mut p, 1500, 1, &mut rng::seeded(2));
    assert_close("svgd mean", &m, &MEAN, 0.08);
    assert_close("svgd covariance", &c, &COV, 0.17);
}

#[test]
fn wfr_with_kde_reaction_recovers_a_gaussian() {
    // Reaction rate h_w / h = 0.5. The KDE reaction is biased by the kernel smoothing and the
    // self-term of each particle: at rate 2.5 (h_w = 0.05) the covariance comes out about 20%
    // low with the median bandwidth (measured), so the reaction is kept slower than transport.
    let mut p = start(300, 3);
    let mut wfr =
        Wfr::new(Langevin::new(0.02, 1.0).unwrap(), 0.01, Reaction::Kde(Bandwidth::Median))
            .unwrap()
            .with_birth_death(BirthDeath { threshold: 0.1, donor: Donor::Proportional })
            .unwrap();
    let (m, c) = moments(&mut wfr, &mut p, 3000, 2000, &mut rng::seeded(4));
    assert!(p.effective_sample_size() < 0.99 * 300.0, "the reaction must reweight");
    assert_close("wfr mean", &m, &MEAN, 0.08);
    assert_close("wfr covariance", &c, &COV, 0.17);
}

#[test]
fn langevin_recovers_a_gaussian_up_to_its_step_bias() {
    let mut p = start(500, 5);
    let mut l = Langevin::new(0.01, 1.0).unwrap();
    let (m, c) = moments(&mut l, &mut p, 3000, 2000, &mut rng::seeded(6));
    assert_close("langevin mean", &m, &MEAN, 0.06);
    // ULA's stationary covariance is inflated by O(h): about 1% here.
    assert_close("langevin covariance", &c, &COV, 0.12);
}

#[test]
fn point_mass_reaction_halves_the_covariance() {
    // With Langevin positions ~ pi and weights -> pi(y_j) (the GFS-DRO code's reaction), the
    // weighted measure is ∝ pi^2: same mean, covariance / 2 (see flows::wfr docs).
    let mut p = start(2000, 7);
    let mut wfr = Wfr::new(Langevin::new(0.02, 1.0).unwrap(), 0.2, Reaction::PointMass).unwrap();
    let (m, c) = moments(&mut wfr, &mut p, 1500, 500, &mut rng::seeded(8));
    assert_close("point-mass mean", &m, &MEAN, 0.1);
    let half: Vec<f64> = COV.iter().map(|v| v / 2.0).collect();
    assert_close("point-mass covariance", &c, &half, 0.12);
}

#[test]
fn svgd_direction_is_the_stein_double_sum() {
    let mut r = rng::seeded(9);
    let n = 50;
    let pos: Vec<f64> = (0..2 * n).map(|_| StandardNormal.sample(&mut r)).collect();
    let w: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
    let p = Particles::weighted(2, pos.clone(), w.clone()).unwrap();
    let t = target();
    let temp = 0.7;
    let mut svgd = Svgd::new(0.1, Bandwidth::Fixed(0.8), temp).unwrap();
    let phi = svgd.direction(&p, &t, Par::Seq).unwrap();
    let wsum: f64 = w.iter().sum();
    let h2 = 0.64;
    for i in 0..n {
        for k in 0..2 {
            let mut expect = 0.0;
            for j in 0..n {
                let d2: f64 = (0..2).map(|c| (pos[i * 2 + c] - pos[j * 2 + c]).powi(2)).sum();
                let kij = (-d2 / (2.0 * h2)).exp();
                let mut g = [0.0; 2];
                t.value_grad(&pos[j * 2..j * 2 + 2], &mut g);
                // k(y_j, y_i) s(y_j) + d/dy_j k(y_j, y_i).
                expect += w[j] / wsum
                    * (kij * g[k] / temp - kij * (pos[j * 2 + k] - pos[i * 2 + k]) / h2);
            }
            assert!((phi[i * 2 + k] - expect).abs() < 1e-12, "{} vs {expect}", phi[i * 2 + k]);
        }
    }
}

#[test]
fn birth_death_keeps_count_and_mass() {
    let mut p =
        Particles::weighted(1, vec![0.0, 1.0, 2.0, 3.0], vec![1e-6, 0.5, 0.3, 0.2]).unwrap();
    // A reaction with a flat target keeps the weights (T log w - f up to a constant is log w
    // times T - 1 = 0 at T = 1), so only birth-death acts.
    struct Flat;
    impl LogDensity for Flat {
        fn dim(&self) -> usize {
            1
        }
        fn value_grad(&self, _y: &[f64], g: &mut [f64]) -> f64 {
            g[0] = 0.0;
            0.0
        }
    }
    let mut wfr = Wfr::new(Langevin::ascent(0.1).unwrap(), 0.5, Reaction::PointMass)
        .unwrap()
        .with_birth_death(BirthDeath { threshold: 0.5, donor: Donor::Heaviest })
        .unwrap();
    wfr.step(&mut p, &Flat, &mut rng::seeded(1), Par::Seq).unwrap();
    assert_eq!(p.len(), 4);
    assert!((p.weights().iter().sum::<f64>() - 1.0).abs() < 1e-15);
    // The light particle jumped onto the heaviest and the two share its mass.
    assert_eq!(p.position(0), p.position(1));
    assert_eq!(p.weights()[0], p.weights()[1]);
    assert!(p.weights().iter().all(|&w| w >= 0.5 / 4.0 - 1e-12 || w == p.weights()[3]));
}

#[test]
fn flows_do_not_depend_on_threads() {
    let t = target();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut r = rng::seeded(3);
            let mut p = start(1500, 11);
            let mut s = Svgd::new(0.05, Bandwidth::Median, 1.0).unwrap();
            let mut w =
                Wfr::new(Langevin::new(0.01, 1.0).unwrap(), 0.05, Reaction::Kde(Bandwidth::Median))
                    .unwrap();
            for _ in 0..3 {
                s.step(&mut p, &t, &mut r, Par::Rayon).unwrap();
                w.step(&mut p, &t, &mut r, Par::Rayon).unwrap();
            }
            p
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn bad_input_leaves_particles_alone() {
    let t = target();
    let mut p = Particles::new(3, vec![0.0; 9]).unwrap();
    let before = p.clone();
    let mut r = rng::seeded(1);
    assert!(Langevin::new(0.1, 1.0).unwrap().step(&mut p, &t, &mut r, Par::Seq).is_err());
    assert!(
        Svgd::new(0.1, Bandwidth::Median, 1.0).unwrap().step(&mut p, &t, &mut r, Par::Seq).is_err()
    );
    assert_eq!(p, before);
    assert!(Langevin::new(0.0, 1.0).is_err());
    assert!(Langevin::new(0.1, -1.0).is_err());
    assert!(Svgd::new(0.1, Bandwidth::Median, 0.0).is_err());
    assert!(Wfr::new(Langevin::new(0.1, 2.0).unwrap(), 0.6, Reaction::PointMass).is_err());
    assert!(Particles::new(2, vec![0.0; 3]).is_err());
    assert!(Particles::weighted(1, vec![0.0], vec![f64::NAN]).is_err());
    // A single particle has no median bandwidth.
    let mut one = Particles::new(2, vec![0.0, 0.0]).unwrap();
    assert!(
        Svgd::new(0.1, Bandwidth::Median, 1.0)
            .unwrap()
            .step(&mut one, &t, &mut r, Par::Seq)
            .is_err()
    );
}
