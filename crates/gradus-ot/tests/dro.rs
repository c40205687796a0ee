//! DRO: model gradients against finite differences, radius 0 reducing to ERM, WGF without
//! noise equal to WRM, the Gibbs-law oracle of a linear loss, thread-count independence.

use gradus_core::{Layout, Objective, Par, rng};
use gradus_optim::Agm;
use gradus_ot::dro::data::{circle, uniform_scalars};
use gradus_ot::dro::{
    Classifier, Dataset, DualSamples, Erm, GfsConfig, GfsDro, InnerSampler, Mlp, PointLoss,
    SinkhornDro, SinkhornDroConfig, UncertainLeastSquares, fgsm_accuracy, pgd_linf_accuracy, train,
};
use gradus_ot::flows::{Bandwidth, Reaction};
use rand::Rng as _;

fn fd(f: &dyn Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let (mut p, mut m) = (x.to_vec(), x.to_vec());
            p[i] += h;
            m[i] -= h;
            (f(&p) - f(&m)) / (2.0 * h)
        })
        .collect()
}

fn check_gradients(loss: &dyn PointLoss, theta: &[f64], label: usize, y: &[f64]) {
    let mut gy = vec![0.0; y.len()];
    let l = loss.loss_grad_y(theta, label, y, &mut gy).unwrap();
    assert!((l - loss.loss(theta, label, y).unwrap()).abs() < 1e-14);
    let fy = fd(&|v| loss.loss(theta, label, v).unwrap(), y, 1e-6);
    for (a, b) in gy.iter().zip(&fy) {
        assert!((a - b).abs() < 1e-6 * (1.0 + b.abs()), "grad y {a} vs {b}");
    }
    let mut gt = vec![0.0; theta.len()];
    loss.loss_grad_theta(theta, label, y, 2.0, &mut gt).unwrap();
    let ft = fd(&|t| loss.loss(t, label, y).unwrap(), theta, 1e-6);
    for (a, b) in gt.iter().zip(&ft) {
        assert!((a - 2.0 * b).abs() < 2e-6 * (1.0 + b.abs()), "grad theta {a} vs 2 x {b}");
    }
}

#[test]
fn model_gradients_match_finite_differences() {
    let mut r = rng::seeded(1);
    let mlp = Mlp::new(3, 5, 4).unwrap();
    for _ in 0..5 {
        let theta = mlp.init(&mut r);
        let y: Vec<f64> = (0..3).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
        check_gradients(&mlp, &theta, r.random_range(0..4), &y);
    }
    let ls = UncertainLeastSquares::random(6, 4, &mut r).unwrap();
    let theta: Vec<f64> = (0..4).map(|_| r.random::<f64>()).collect();
    check_gradients(&ls, &theta, 0, &[0.3]);
    // Misuse is an error naming the argument, not a NaN or a panic.
    let msg = |e: gradus_core::Error| e.to_string();
    assert!(msg(mlp.loss(&[0.0; 3], 0, &[0.0; 3]).unwrap_err()).contains("theta"));
    assert!(msg(mlp.loss(&mlp.init(&mut r), 9, &[0.0; 3]).unwrap_err()).contains("label"));
    assert!(msg(ls.loss(&theta, 0, &[0.0, 1.0]).unwrap_err()).contains("input"));
    assert!(mlp.predict(&[0.0; 2], &[0.0; 3]).is_err());
    let mut g = vec![0.0; 2];
    assert!(mlp.loss_grad_y(&mlp.init(&mut r), 0, &[0.0; 3], &mut g).is_err());
}

#[test]
fn erm_least_squares_solution_is_stationary_and_training_finds_it() {
    let mut r = rng::seeded(2);
    let ls = UncertainLeastSquares::random(10, 10, &mut r).unwrap();
    let data = uniform_scalars(20, 0.5, 3).unwrap();
    let star = ls.erm_solution(data.points()).unwrap();
    let mut erm = Erm::new(&ls, &data, 0).unwrap();
    let mut g = vec![0.0; 10];
    erm.loss_grad(&star, &mut g, &mut r).unwrap();
    assert!(g.iter().all(|v| v.abs() < 1e-9), "{g:?}");
    // Plain GD through the gradus optimizer reaches the closed form.
    let mut theta = vec![0.0; 10];
    let mut opt =
        Agm::<f64>::new("gd", gradus_optim::AgmConfig::adam(0.05), Layout::flat(10).unwrap())
            .unwrap();
    train(&mut erm, &mut opt, &mut theta, 4000, &mut r).unwrap();
    let f = |t: &[f64]| erm.full_loss(t).unwrap();
    assert!(f(&theta) - f(&star) < 1e-6, "{} vs {}", f(&theta), f(&star));
}

fn samplers() -> Vec<InnerSampler> {
    vec![
        InnerSampler::Wgf,
        InnerSampler::Wrm,
        InnerSampler::Wfr { weight_step: 0.1, reaction: Reaction::PointMass, birth_death: None },
        InnerSampler::Wfr {
            weight_step: 0.1,
            reaction: Reaction::Kde(Bandwidth::Median),
            birth_death: None,
        },
        InnerSampler::Svgd { init_noise: 0.1, rmsprop: None },
    ]
}

fn cfg(sampler: InnerSampler, lambda: f64, epsilon: f64) -> GfsConfig {
    GfsConfig {
        lambda,
        epsilon,
        particles: 4,
        inner_steps: 10,
        step: 0.01,
        sampler,
        clip: None,
        batch: 0,
        par: Par::Rayon,
    }
}

#[test]
fn radius_zero_is_erm() {
    let data = circle(60, 1, true).unwrap();
    let mlp = Mlp::new(2, 4, 2).unwrap();
    let theta = mlp.init(&mut rng::seeded(3));
    let idx: Vec<usize> = (0..data.len()).collect();
    let mut erm = Erm::new(&mlp, &data, 0).unwrap();
    let mut ge = vec![0.0; theta.len()];
    let le = erm.loss_grad(&theta, &mut ge, &mut rng::seeded(1)).unwrap();
    for s in samplers() {
        let mut dro = GfsDro::new(&mlp, &data, cfg(s, f64::INFINITY, 0.2)).unwrap();
        let mut g = vec![0.0; theta.len()];
        let l = dro.loss_grad_on(&theta, &idx, 7, &mut g).unwrap();
        assert!((l - le).abs() < 1e-14, "{s:?}");
        for (a, b) in g.iter().zip(&ge) {
            assert!((a - b).abs() < 1e-14, "{s:?}");
        }
    }
    let dual_cfg = SinkhornDroConfig {
        lambda: f64::INFINITY,
        epsilon: 0.0,
        reference_variance: None,
        samples: DualSamples::Fixed(3),
        batch: 0,
        par: Par::Seq,
    };
    let mut dual = SinkhornDro::new(&mlp, &data, dual_cfg).unwrap();
    let mut g = vec![0.0; theta.len()];
    let l = dual.loss_grad(&theta, &mut g, &mut rng::seeded(2)).unwrap();
    assert!((l - le).abs() < 1e-12);
    for (a, b) in g.iter().zip(&ge) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn noise_free_single_particle_wgf_is_wrm() {
    let data = circle(40, 2, true).unwrap();
    let mlp = Mlp::new(2, 4, 2).unwrap();
    let theta = mlp.init(&mut rng::seeded(4));
    let wgf =
        GfsDro::new(&mlp, &data, GfsConfig { particles: 1, ..cfg(InnerSampler::Wgf, 1.0, 0.0) })
            .unwrap();
    let wrm = GfsDro::new(&mlp, &data, cfg(InnerSampler::Wrm, 1.0, 0.7)).unwrap();
    for i in 0..data.len() {
        let a = wgf.worst_case(&theta, i, &mut rng::seeded(1)).unwrap();
        let b = wrm.worst_case(&theta, i, &mut rng::seeded(2)).unwrap();
        assert_eq!(a, b);
        // Gradient ascent moved the point (the loss is not flat).
        assert_ne!(a.positions(), data.point(i));
    }
}

/// `l(theta, y) = theta . y`: the Gibbs law is `N(x + theta / (2 lambda), (eps / 2) I)`.
struct Linear;

impl PointLoss for Linear {
    fn num_params(&self) -> usize {
        2
    }
    fn dim(&self) -> usize {
        2
    }
    fn loss(&self, t: &[f64], _l: usize, y: &[f64]) -> gradus_core::Result<f64> {
        Ok(t[0] * y[0] + t[1] * y[1])
    }
    fn loss_grad_y(
        &self,
        t: &[f64],
        l: usize,
        y: &[f64],
        g: &mut [f64],
    ) -> gradus_core::Result<f64> {
        g.copy_from_slice(t);
        self.loss(t, l, y)
    }
    fn loss_grad_theta(
        &self,
        t: &[f64],
        l: usize,
        y: &[f64],
        s: f64,
        g: &mut [f64],
    ) -> gradus_core::Result<f64> {
        g[0] += s * y[0];
        g[1] += s * y[1];
        self.loss(t, l, y)
    }
}

#[test]
fn samplers_find_the_gibbs_law_of_a_linear_loss() {
    let data = Dataset::new(2, vec![0.5, -0.5], vec![0]).unwrap();
    let (lambda, eps) = (2.0, 0.4);
    let theta = [1.0, -2.0];
    let mean = [0.5 + theta[0] / (2.0 * lambda), -0.5 + theta[1] / (2.0 * lambda)];
    let var = eps / 2.0;
    let m = 3000;
    let moments = |p: &gradus_ot::flows::Particles| {
        let c = p.covariance();
        (p.mean(), [c[0], c[3]], c[1])
    };
    // Langevin: h lambda eps = 0.008 per step against a contraction time 1/(2 lambda h).
    let wgf = GfsDro::new(
        &Linear,
        &data,
        GfsConfig {
            particles: m,
            inner_steps: 600,
            step: 0.01,
            ..cfg(InnerSampler::Wgf, lambda, eps)
        },
    )
    .unwrap();
    let p = wgf.worst_case(&theta, 0, &mut rng::seeded(5)).unwrap();
    let (mu, v, cov) = moments(&p);
    // MC error of a mean: sqrt(0.2 / 3000) = 0.008; of a variance: 0.2 sqrt(2 / 3000) = 0.005.
    for k in 0..2 {
        assert!((mu[k] - mean[k]).abs() < 0.035, "mean {mu:?} vs {mean:?}");
        // ULA at this step inflates the variance by h lambda / (1 - h lambda), 2%.
        assert!((v[k] - var).abs() < 0.025, "var {v:?} vs {var}");
    }
    assert!(cov.abs() < 0.02);
    // SVGD: the mean (the spec's oracle checks SVGD's mean only).
    let svgd = GfsDro::new(
        &Linear,
        &data,
        GfsConfig {
            particles: 200,
            inner_steps: 400,
            step: 0.01,
            ..cfg(InnerSampler::Svgd { init_noise: 0.1, rmsprop: None }, lambda, eps)
        },
    )
    .unwrap();
    let p = svgd.worst_case(&theta, 0, &mut rng::seeded(6)).unwrap();
    let (mu, v, _) = moments(&p);
    for k in 0..2 {
        assert!((mu[k] - mean[k]).abs() < 0.03, "svgd mean {mu:?} vs {mean:?}");
        assert!((v[k] - var).abs() < 0.05, "svgd var {v:?} vs {var}");
    }
    // WFR with the code's point-mass reaction: right mean, half the variance (flows::wfr).
    let wfr = GfsDro::new(
        &Linear,
        &data,
        GfsConfig {
            particles: m,
            inner_steps: 600,
            step: 0.01,
            ..cfg(
                InnerSampler::Wfr {
                    weight_step: 0.5,
                    reaction: Reaction::PointMass,
                    birth_death: None,
                },
                lambda,
                eps,
            )
        },
    )
    .unwrap();
    let p = wfr.worst_case(&theta, 0, &mut rng::seeded(7)).unwrap();
    let (mu, v, _) = moments(&p);
    for k in 0..2 {
        assert!((mu[k] - mean[k]).abs() < 0.05, "wfr mean {mu:?} vs {mean:?}");
        assert!((v[k] - var / 2.0).abs() < 0.02, "wfr var {v:?} vs {}", var / 2.0);
    }
}

#[test]
fn dro_gradients_do_not_depend_on_threads() {
    let data = circle(80, 5, true).unwrap();
    let mlp = Mlp::new(2, 4, 2).unwrap();
    let theta = mlp.init(&mut rng::seeded(6));
    for s in samplers() {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut dro =
                    GfsDro::new(&mlp, &data, GfsConfig { batch: 16, ..cfg(s, 1.0, 0.15) }).unwrap();
                let mut g = vec![0.0; theta.len()];
                let l = dro.loss_grad(&theta, &mut g, &mut rng::seeded(9)).unwrap();
                (l, g)
            })
        };
        assert_eq!(run(1), run(3), "{s:?}");
    }
}

#[test]
fn attacks_and_bad_input() {
    let data = circle(200, 7, false).unwrap();
    let mlp = Mlp::new(2, 4, 2).unwrap();
    let theta = mlp.init(&mut rng::seeded(8));
    let clean = (0..data.len())
        .filter(|&i| mlp.predict(&theta, data.point(i)).unwrap() == data.label(i))
        .count() as f64
        / data.len() as f64;
    assert_eq!(fgsm_accuracy(&mlp, &theta, &data, 0.0).unwrap(), clean);
    assert_eq!(pgd_linf_accuracy(&mlp, &theta, &data, 0.3, 0.05, 0).unwrap(), clean);
    assert!(pgd_linf_accuracy(&mlp, &theta, &data, -1.0, 0.1, 3).is_err());
    assert!(fgsm_accuracy(&mlp, &theta[1..], &data, 0.1).is_err());
    let bad = |c: GfsConfig| GfsDro::new(&mlp, &data, c).is_err();
    let ok = cfg(InnerSampler::Wgf, 1.0, 0.1);
    assert!(!bad(ok));
    assert!(bad(GfsConfig { lambda: 0.0, ..ok }));
    assert!(bad(GfsConfig { lambda: f64::NAN, ..ok }));
    assert!(bad(GfsConfig { epsilon: -1.0, ..ok }));
    assert!(bad(GfsConfig { step: 0.0, ..ok }));
    assert!(bad(GfsConfig { particles: 0, ..ok }));
    assert!(bad(GfsConfig { clip: Some((1.0, -1.0)), ..ok }));
    assert!(bad(cfg(InnerSampler::Svgd { init_noise: 0.1, rmsprop: None }, 1.0, 0.0)));
    let mut dro = GfsDro::new(&mlp, &data, ok).unwrap();
    let mut g = vec![0.0; theta.len()];
    assert!(dro.loss_grad_on(&theta[1..], &[0], 1, &mut g).is_err());
    assert!(dro.loss_grad_on(&theta, &[10_000], 1, &mut g).is_err());
    assert!(dro.worst_case(&theta, 10_000, &mut rng::seeded(1)).is_err());
    assert!(Dataset::new(2, vec![0.0; 3], vec![0]).is_err());
}

#[test]
fn held_out_split_is_a_seeded_partition() {
    use gradus_ot::dro::data::GaussianMixture;
    let data = GaussianMixture::new(3, 4, 2.0, 7).unwrap().sample(50, 8).unwrap();
    let (kept, held) = data.split(0.2, 11).unwrap();
    assert_eq!((kept.len(), held.len()), (40, 10));
    assert_eq!((kept.dim(), held.dim()), (4, 4));
    // Every point lands in exactly one part (compared as bit patterns with its label).
    let rows = |d: &gradus_ot::dro::Dataset| -> Vec<(Vec<u64>, usize)> {
        (0..d.len())
            .map(|i| (d.point(i).iter().map(|v| v.to_bits()).collect(), d.label(i)))
            .collect()
    };
    let mut both = rows(&kept);
    both.extend(rows(&held));
    let mut all = rows(&data);
    both.sort();
    all.sort();
    assert_eq!(both, all);
    // Each part keeps the original order: its rows appear in `data` at increasing positions.
    let orig = rows(&data);
    for part in [&kept, &held] {
        let pos: Vec<usize> =
            rows(part).iter().map(|r| orig.iter().position(|o| o == r).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]));
    }
    // Same seed, same split; another seed, another split.
    assert_eq!(data.split(0.2, 11).unwrap(), (kept.clone(), held.clone()));
    assert_ne!(data.split(0.2, 12).unwrap().1, held);
    // Both parts must be non-empty and the fraction in (0, 1).
    for bad in [0.0, 1.0, -0.1, f64::NAN, 0.001, 0.999] {
        assert!(data.split(bad, 1).is_err(), "fraction {bad}");
    }
}
