//! Paper 03, Sec. 6.3 pieces: the multinomial logistic model against finite differences, the
//! l2-PGD attack (stays in its ball, never lowers a convex loss), the Gaussian-mixture
//! stand-in, and the RGO sampler against closed forms (Gaussian targets) and quadrature (a
//! non-Gaussian 1-D target).

use gradus_core::{Par, Result, rng};
use gradus_ot::dro::data::{GaussianMixture, mean_norm};
use gradus_ot::dro::{
    Classifier, Dataset, GfsConfig, GfsDro, InnerSampler, MultinomialLogistic, PointLoss,
    pgd_l2_accuracy, pgd_l2_point,
};
use gradus_ot::flows::{LogDensity, Rgo, RgoWork};
use proptest::prelude::*;

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

#[test]
fn multinomial_logistic_gradients_match_finite_differences() {
    let mut r = rng::seeded(11);
    let model = MultinomialLogistic::new(7, 4).unwrap();
    for _ in 0..6 {
        let theta: Vec<f64> =
            (0..model.num_params()).map(|_| 2.0 * r.random::<f64>() - 1.0).collect();
        let y: Vec<f64> = (0..7).map(|_| 3.0 * r.random::<f64>() - 1.5).collect();
        let label = r.random_range(0..4);
        let mut gy = vec![0.0; 7];
        let l = model.loss_grad_y(&theta, label, &y, &mut gy).unwrap();
        assert!((l - model.loss(&theta, label, &y).unwrap()).abs() < 1e-14);
        let fy = fd(&|v| model.loss(&theta, label, v).unwrap(), &y, 1e-6);
        for (a, b) in gy.iter().zip(&fy) {
            assert!((a - b).abs() < 1e-7 * (1.0 + b.abs()), "grad y {a} vs {b}");
        }
        // Accumulates scale * grad on top of what is there.
        let mut gt = vec![1.0; theta.len()];
        model.loss_grad_theta(&theta, label, &y, -0.5, &mut gt).unwrap();
        let ft = fd(&|t| model.loss(t, label, &y).unwrap(), &theta, 1e-6);
        for (a, b) in gt.iter().zip(&ft) {
            assert!((a - (1.0 - 0.5 * b)).abs() < 1e-7 * (1.0 + b.abs()), "grad theta {a} vs {b}");
        }
        // The loss is -log softmax: positive, and the prediction is the largest logit.
        assert!(l > 0.0);
        let pred = model.predict(&theta, &y).unwrap();
        let lp = model.loss(&theta, pred, &y).unwrap();
        for c in 0..4 {
            assert!(lp <= model.loss(&theta, c, &y).unwrap() + 1e-15);
        }
    }
    // Bad input is an error naming the argument.
    let theta = vec![0.0; model.num_params()];
    assert!(model.loss(&theta, 4, &[0.0; 7]).unwrap_err().to_string().contains("label"));
    assert!(model.loss(&theta[1..], 0, &[0.0; 7]).unwrap_err().to_string().contains("theta"));
    assert!(model.predict(&theta, &[0.0; 6]).is_err());
    assert!(MultinomialLogistic::new(3, 1).is_err());
    assert!(MultinomialLogistic::new(0, 3).is_err());
}

#[test]
fn gaussian_mixture_stand_in() {
    let gm = GaussianMixture::new(10, 32, 3.0, 1).unwrap();
    let train = gm.sample(4000, 2).unwrap();
    assert_eq!((train.len(), train.dim()), (4000, 32));
    // Every class appears; the per-class sample mean is near its mean (sd 1/sqrt(400)).
    for c in 0..10 {
        let idx: Vec<usize> = (0..train.len()).filter(|&i| train.label(i) == c).collect();
        assert!(idx.len() > 300, "class {c}: {}", idx.len());
        let m = gm.mean(c).unwrap();
        for (k, mk) in m.iter().enumerate() {
            let s: f64 = idx.iter().map(|&i| train.point(i)[k]).sum::<f64>() / idx.len() as f64;
            assert!((s - mk).abs() < 0.25, "class {c} coord {k}: {s} vs {mk}");
        }
    }
    // E|x|^2 = 32 + |mean|^2 ~ 32 + 9: the mean norm is near sqrt(41).
    let mn = mean_norm(&train);
    assert!((5.5..7.2).contains(&mn), "{mn}");
    assert!(GaussianMixture::new(1, 32, 3.0, 1).is_err());
    assert!(GaussianMixture::new(10, 0, 3.0, 1).is_err());
    assert!(GaussianMixture::new(10, 3, f64::NAN, 1).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// l2 PGD stays in its ball and, on a loss convex in the input, ends at least
    /// `min(step, r) |grad l(x)|` above the clean loss (first step, then monotone).
    #[test]
    fn l2_pgd_stays_in_the_ball_and_raises_the_loss(
        seed in 0u64..1000,
        radius in 0.0f64..3.0,
        step_frac in 0.05f64..1.5,
        iters in 0usize..15,
    ) {
        let mut r = rng::seeded(seed);
        let model = MultinomialLogistic::new(5, 3).unwrap();
        let theta: Vec<f64> =
            (0..model.num_params()).map(|_| 4.0 * r.random::<f64>() - 2.0).collect();
        let x: Vec<f64> = (0..5).map(|_| 4.0 * r.random::<f64>() - 2.0).collect();
        let label = r.random_range(0..3);
        let step = step_frac * radius;
        let (mut y, mut g) = (vec![0.0; 5], vec![0.0; 5]);
        pgd_l2_point(&model, &theta, &x, label, radius, step, iters, &mut y, &mut g).unwrap();
        let dist = y.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        prop_assert!(dist <= radius * (1.0 + 1e-12) + 1e-15, "{dist} > {radius}");
        let mut g0 = vec![0.0; 5];
        let clean = model.loss_grad_y(&theta, label, &x, &mut g0).unwrap();
        let gnorm = g0.iter().map(|v| v * v).sum::<f64>().sqrt();
        let attacked = model.loss(&theta, label, &y).unwrap();
        let gain = if iters == 0 { 0.0 } else { step.min(radius) * gnorm };
        prop_assert!(attacked >= clean + gain - 1e-12 * (1.0 + clean.abs()),
            "clean {clean}, attacked {attacked}, promised gain {gain}");
    }
}

#[test]
fn l2_pgd_accuracy_is_clean_at_radius_zero_and_falls_with_radius() {
    let gm = GaussianMixture::new(4, 6, 3.0, 3).unwrap();
    let data = gm.sample(400, 4).unwrap();
    let model = MultinomialLogistic::new(6, 4).unwrap();
    // The Bayes-like linear rule: W = means, b = -|mean|^2 / 2.
    let mut theta = Vec::new();
    for c in 0..4 {
        theta.extend_from_slice(gm.mean(c).unwrap());
    }
    for c in 0..4 {
        theta.push(-0.5 * gm.mean(c).unwrap().iter().map(|v| v * v).sum::<f64>());
    }
    let clean = (0..data.len())
        .filter(|&i| model.predict(&theta, data.point(i)).unwrap() == data.label(i))
        .count() as f64
        / data.len() as f64;
    assert_eq!(pgd_l2_accuracy(&model, &theta, &data, 0.0, 0.0, 10).unwrap(), clean);
    assert_eq!(pgd_l2_accuracy(&model, &theta, &data, 1.0, 0.125, 0).unwrap(), clean);
    let mut last = clean;
    for rad in [0.25, 0.5, 1.0, 2.0] {
        let a = pgd_l2_accuracy(&model, &theta, &data, rad, rad / 8.0, 10).unwrap();
        assert!(a <= last, "radius {rad}: {a} > {last}");
        last = a;
    }
    assert!(last < clean - 0.2, "a radius-2 attack should hurt: {last} vs {clean}");
    assert!(pgd_l2_accuracy(&model, &theta, &data, -1.0, 0.1, 3).is_err());
    assert!(pgd_l2_accuracy(&model, &theta[1..], &data, 1.0, 0.1, 3).is_err());
    let bad = Dataset::new(6, vec![0.0; 6], vec![7]).unwrap();
    assert!(pgd_l2_accuracy(&model, &theta, &bad, 1.0, 0.1, 3).is_err());
}

/// `l(theta, y) = (theta_0 / 2) |y|^2`: `theta_0`-smooth; with `a tau < 1` the Gibbs law is
/// `N(x / (1 - a tau), eps / (2 (1 - a tau)) I)`, `tau = 1 / (2 lambda)` (spec, Sec. 4).
struct Quadratic {
    dim: usize,
}

impl PointLoss for Quadratic {
    fn num_params(&self) -> usize {
        1
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn loss(&self, t: &[f64], _l: usize, y: &[f64]) -> Result<f64> {
        Ok(0.5 * t[0] * y.iter().map(|v| v * v).sum::<f64>())
    }
    fn loss_grad_y(&self, t: &[f64], l: usize, y: &[f64], g: &mut [f64]) -> Result<f64> {
        for (gk, yk) in g.iter_mut().zip(y) {
            *gk = t[0] * yk;
        }
        self.loss(t, l, y)
    }
    fn loss_grad_theta(
        &self,
        t: &[f64],
        l: usize,
        y: &[f64],
        s: f64,
        g: &mut [f64],
    ) -> Result<f64> {
        g[0] += s * 0.5 * y.iter().map(|v| v * v).sum::<f64>();
        self.loss(t, l, y)
    }
}

fn rgo_cfg(smoothness: f64, lambda: f64, eps: f64, m: usize) -> GfsConfig {
    GfsConfig {
        lambda,
        epsilon: eps,
        particles: m,
        inner_steps: 0,
        step: 0.01,
        sampler: InnerSampler::Rgo { smoothness, ascent_steps: 500, max_trials: 100 },
        clip: None,
        batch: 0,
        par: Par::Seq,
    }
}

#[test]
fn rgo_draws_the_gaussian_gibbs_law_of_a_quadratic_loss() {
    let (d, a, lambda, eps) = (3, 1.2, 2.0, 0.5);
    let x = [0.4, -1.0, 2.0];
    let data = Dataset::new(d, x.to_vec(), vec![0]).unwrap();
    let tau = 1.0 / (2.0 * lambda);
    let mean: Vec<f64> = x.iter().map(|v| v / (1.0 - a * tau)).collect();
    let var = eps / (2.0 * (1.0 - a * tau));
    let m = 20_000;
    let quad = Quadratic { dim: d };
    for smoothness in [a, 2.0] {
        let dro = GfsDro::new(&quad, &data, rgo_cfg(smoothness, lambda, eps, m)).unwrap();
        let p = dro.worst_case(&[a], 0, &mut rng::seeded(8)).unwrap();
        let mu = p.mean();
        let c = p.covariance();
        // 5 standard errors: sqrt(var / m) = 0.0045 for the mean; var sqrt(2 / m) for the
        // variance.
        for k in 0..d {
            assert!(
                (mu[k] - mean[k]).abs() < 5.0 * (var / m as f64).sqrt(),
                "L={smoothness}: mean {mu:?} vs {mean:?}"
            );
            assert!(
                (c[k * d + k] - var).abs() < 5.0 * var * (2.0 / m as f64).sqrt(),
                "L={smoothness}: var {} vs {var}",
                c[k * d + k]
            );
        }
    }
    // Acceptance: exactly 1 with the tight L = a; ((2 lambda - L)/(2 lambda - a))^(d/2) with a
    // looser L (the ratio of the target's and the envelope's normalising constants).
    let target = DroQuadratic { x: x.to_vec(), a, lambda };
    for (smoothness, ok) in [
        (a, 1.0),
        (2.0, ((2.0 * lambda - 2.0) / (2.0 * lambda - a)).powf(d as f64 / 2.0)),
        (3.5, ((2.0 * lambda - 3.5) / (2.0 * lambda - a)).powf(d as f64 / 2.0)),
    ] {
        let rgo = Rgo::dro(lambda, eps, smoothness, 500, 100).unwrap();
        let mut out = vec![0.0; d * 20_000];
        let st = rgo
            .sample(&target, &x, &mut out, &mut rng::seeded(3), &mut RgoWork::default())
            .unwrap();
        let rate = st.acceptance_rate();
        let se = (ok * (1.0 - ok) / st.proposals as f64).sqrt();
        assert!((rate - ok).abs() < 5.0 * se + 1e-9, "L={smoothness}: rate {rate} vs {ok}");
        assert_eq!(st.accepted + st.fallbacks, 20_000);
    }
    // lambda <= L / 2 has no envelope.
    assert!(Rgo::dro(1.0, 0.5, 2.0, 10, 10).is_err());
    assert!(GfsDro::new(&Quadratic { dim: d }, &data, rgo_cfg(5.0, lambda, eps, 4)).is_err());
}

/// `R(y) = (a/2)|y|^2 - lambda |y - x|^2` as a log-density for the RGO directly.
struct DroQuadratic {
    x: Vec<f64>,
    a: f64,
    lambda: f64,
}

impl LogDensity for DroQuadratic {
    fn dim(&self) -> usize {
        self.x.len()
    }
    fn value_grad(&self, y: &[f64], g: &mut [f64]) -> f64 {
        let mut v = 0.0;
        for k in 0..y.len() {
            let dx = y[k] - self.x[k];
            v += 0.5 * self.a * y[k] * y[k] - self.lambda * dx * dx;
            g[k] = self.a * y[k] - 2.0 * self.lambda * dx;
        }
        v
    }
}

/// A non-Gaussian 1-D target: `f(y) = log(1 + e^{w y}) - lambda (y - x)^2` (logistic loss,
/// `L = w^2 / 4`).
struct Logistic1d {
    w: f64,
    x: f64,
    lambda: f64,
}

impl LogDensity for Logistic1d {
    fn dim(&self) -> usize {
        1
    }
    fn value_grad(&self, y: &[f64], g: &mut [f64]) -> f64 {
        let z = self.w * y[0];
        let sp = if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
        let sig = 1.0 / (1.0 + (-z).exp());
        g[0] = self.w * sig - 2.0 * self.lambda * (y[0] - self.x);
        sp - self.lambda * (y[0] - self.x).powi(2)
    }
}

#[test]
fn rgo_matches_quadrature_on_a_non_gaussian_target() {
    let (w, x, lambda, eps) = (3.0, 0.3, 1.5, 1.0);
    let target = Logistic1d { w, x, lambda };
    let temp = lambda * eps;
    // Reference moments by the trapezoid rule on [-12, 12] (tails below e^-40).
    let (lo, hi, n) = (-12.0, 12.0, 200_000);
    let h = (hi - lo) / n as f64;
    let mut g = [0.0];
    let fmax =
        (0..=n).map(|i| target.value_grad(&[lo + i as f64 * h], &mut g)).fold(f64::MIN, f64::max);
    let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for i in 0..=n {
        let y = lo + i as f64 * h;
        let wgt = if i == 0 || i == n { 0.5 } else { 1.0 };
        let p = wgt * ((target.value_grad(&[y], &mut g) - fmax) / temp).exp();
        z += p;
        m1 += p * y;
        m2 += p * y * y;
    }
    let mean = m1 / z;
    let var = m2 / z - mean * mean;
    // The target is visibly non-Gaussian-shifted: its mean is not the mode's x.
    assert!((mean - x).abs() > 0.2, "{mean}");
    let rgo = Rgo::dro(lambda, eps, w * w / 4.0, 1000, 100).unwrap();
    let m = 40_000;
    let mut out = vec![0.0; m];
    let st =
        rgo.sample(&target, &[x], &mut out, &mut rng::seeded(21), &mut RgoWork::default()).unwrap();
    assert_eq!(st.fallbacks, 0);
    let sm = out.iter().sum::<f64>() / m as f64;
    let sv = out.iter().map(|v| (v - sm).powi(2)).sum::<f64>() / (m - 1) as f64;
    assert!((sm - mean).abs() < 5.0 * (var / m as f64).sqrt(), "mean {sm} vs {mean}");
    // Variance of a sample variance <= (kurtosis + 2) var^2 / m; 3 is generous here.
    assert!((sv - var).abs() < 5.0 * var * (3.0 / m as f64).sqrt(), "var {sv} vs {var}");
    // The envelope is loose (L bounds the curvature only at y = 0): acceptance < 1.
    assert!(st.acceptance_rate() < 0.999 && st.acceptance_rate() > 0.3, "{}", st.acceptance_rate());
    // Bad input.
    assert!(
        rgo.sample(&target, &[f64::NAN], &mut out, &mut rng::seeded(1), &mut RgoWork::default())
            .is_err()
    );
    assert!(
        rgo.sample(&target, &[0.0, 1.0], &mut out, &mut rng::seeded(1), &mut RgoWork::default())
            .is_err()
    );
    assert!(
        rgo.sample(&target, &[0.0], &mut [], &mut rng::seeded(1), &mut RgoWork::default()).is_err()
    );
}

#[test]
fn bad_labels_are_named_by_the_dro_objective() {
    let model = MultinomialLogistic::new(2, 3).unwrap();
    let data = Dataset::new(2, vec![0.0, 1.0, 1.0, 0.0], vec![0, 5]).unwrap();
    let mut dro = GfsDro::new(
        &model,
        &data,
        GfsConfig {
            lambda: 1.0,
            epsilon: 0.1,
            particles: 2,
            inner_steps: 2,
            step: 0.01,
            sampler: InnerSampler::Wgf,
            clip: None,
            batch: 0,
            par: Par::Seq,
        },
    )
    .unwrap();
    let theta = model.init(&mut rng::seeded(1));
    let mut g = vec![0.0; theta.len()];
    let e = dro.loss_grad_on(&theta, &[0, 1], 1, &mut g).unwrap_err();
    assert!(e.to_string().contains("label"), "{e}");
    assert!(g.iter().all(|v| *v == 0.0));
}
