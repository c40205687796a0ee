//! `Compressed` over optimizers other than SGD: EF21 + Adam and EF + Adam against scalar
//! references of the feedback recursions feeding a separate Adam, the identity compressor
//! reducing the wrapper to the plain optimizer bit for bit, convergence of top-k EF21 + Adam,
//! where the step size lives, rejected steps (including a refusal by the inner optimizer),
//! checkpoints that nest the inner optimizer's state, and EF's conservation of mass.

use gradus_core::{Error, Layout, Objective, Result, rng};
use gradus_dist::compression::{
    Compressed, Ef, Ef21, Ef21Feedback, Ef21Init, ErrorFeedback, Identity, NoFeedback, RandK, TopK,
};
use gradus_models::data::classification;
use gradus_models::{Differentiable, LogisticRegression, Quadratic};
use gradus_optim::{Agm, Optimizer, OptimizerState, StepInfo, Trainer};
use proptest::prelude::*;

fn quad(d: usize, seed: u64) -> Quadratic<f64> {
    Quadratic::ill_conditioned(d, 20.0, seed).unwrap()
}

fn grad(f: &mut Quadratic<f64>, x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    f.full_loss_grad(x, &mut g).unwrap();
    g
}

fn adam(d: usize, lr: f64) -> Agm<f64> {
    Agm::adam(Layout::flat(d).unwrap(), lr).unwrap()
}

/// Top-k through a full sort (magnitude descending, index ascending).
fn topk_ref(v: &[f64], k: usize) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].abs().total_cmp(&v[a].abs()).then(a.cmp(&b)));
    let mut out = vec![0.0; v.len()];
    for &i in &idx[..k] {
        out[i] = v[i];
    }
    out
}

fn dist(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()
}

#[test]
fn identity_compression_without_memory_is_the_plain_optimizer() {
    let (d, lr) = (10, 0.05);
    let mut f = quad(d, 1);
    let id = || Identity::new(d).unwrap();
    let mut plain = adam(d, lr);
    let mut cgd = Compressed::wrap(adam(d, lr), id(), NoFeedback, 0).unwrap();
    let mut ef = Compressed::wrap(adam(d, lr), id(), ErrorFeedback::gradient_units(), 0).unwrap();
    let x0 = vec![0.3; d];
    let (mut xp, mut xc, mut xe) = (x0.clone(), x0.clone(), x0);
    for _ in 0..80 {
        let g = grad(&mut f, &xp);
        plain.step(&mut xp, &g).unwrap();
        let g = grad(&mut f, &xc);
        cgd.step(&mut xc, &g).unwrap();
        let g = grad(&mut f, &xe);
        ef.step(&mut xe, &g).unwrap();
        // CGD and EF (v = g + 0, c = v, e = v - c = 0) hand Adam the gradient itself.
        assert_eq!(xc, xp);
        assert_eq!(xe, xp);
        assert!(ef.error().iter().all(|&e| e == 0.0));
    }
    // EF21 with the full-gradient start and the identity: d + (g - d) is g up to rounding.
    let mut ef21 =
        Compressed::wrap(adam(d, lr), id(), Ef21Feedback::new(Ef21Init::Gradient), 0).unwrap();
    let mut plain = adam(d, lr);
    let mut x21 = vec![0.3; d];
    let mut xp = x21.clone();
    for k in 0..80 {
        let g = grad(&mut f, &x21);
        ef21.step(&mut x21, &g).unwrap();
        let g = grad(&mut f, &xp);
        plain.step(&mut xp, &g).unwrap();
        if k == 0 {
            assert_eq!(x21, xp, "the first EF21 step sends the gradient itself");
        }
        assert!(dist(&x21, &xp) <= 1e-9, "step {k}: {}", dist(&x21, &xp));
    }
}

#[test]
fn ef21_with_adam_follows_the_reference_recursion() {
    let (d, k, lr) = (12, 3, 0.02);
    let mut f = quad(d, 2);
    let x0: Vec<f64> = (0..d).map(|i| (i as f64 * 0.7).sin()).collect();
    let mut opt = Compressed::wrap(
        adam(d, lr),
        TopK::new(d, k).unwrap(),
        Ef21Feedback::new(Ef21Init::Compressed),
        0,
    )
    .unwrap();
    assert_eq!(opt.name(), "ef21+adam");
    let mut reference = adam(d, lr);
    let (mut x, mut xr, mut dr) = (x0.clone(), x0, vec![0.0; d]);
    for step in 0..60 {
        let g = grad(&mut f, &x);
        opt.step(&mut x, &g).unwrap();
        // d <- d + C(g - d), then Adam consumes d as its gradient.
        let gr = grad(&mut f, &xr);
        let u: Vec<f64> = (0..d).map(|i| gr[i] - dr[i]).collect();
        let c = topk_ref(&u, k);
        (0..d).for_each(|i| dr[i] += c[i]);
        reference.step(&mut xr, &dr).unwrap();
        assert_eq!(x, xr, "step {step}");
        assert_eq!(opt.estimate(), &dr[..]);
        assert_eq!(opt.last_message(), &c[..]);
    }
    assert_eq!(opt.state().unwrap().buffers.len(), 3, "d, inner.m, inner.v");
    assert_eq!(opt.inner().state().unwrap(), reference.state().unwrap());
}

#[test]
fn ef_with_adam_follows_the_reference_recursion() {
    let (d, k, lr) = (12, 2, 0.02);
    let mut f = quad(d, 3);
    let x0: Vec<f64> = (0..d).map(|i| (i as f64 * 1.3).cos()).collect();
    let rule = ErrorFeedback::gradient_units();
    let mut opt = Compressed::wrap(adam(d, lr), TopK::new(d, k).unwrap(), rule, 0).unwrap();
    let mut reference = adam(d, lr);
    let (mut x, mut xr, mut e) = (x0.clone(), x0, vec![0.0; d]);
    for step in 0..60 {
        let g = grad(&mut f, &x);
        opt.step(&mut x, &g).unwrap();
        // v = g + e, c = C(v), e = v - c, Adam consumes c.
        let gr = grad(&mut f, &xr);
        let v: Vec<f64> = (0..d).map(|i| gr[i] + e[i]).collect();
        let c = topk_ref(&v, k);
        (0..d).for_each(|i| e[i] = v[i] - c[i]);
        reference.step(&mut xr, &c).unwrap();
        assert_eq!(x, xr, "step {step}");
        assert_eq!(opt.error(), &e[..]);
    }
}

/// `||x - x*||` after `steps` steps of `opt` on `f` from `x0`, with the rate divided by
/// `sqrt(t)` so that Adam's constant-rate oscillation does not hide convergence.
fn run_decaying<O: Optimizer<f64>>(mut opt: O, f: &mut Quadratic<f64>, steps: usize) -> f64 {
    let lr0 = opt.lr();
    let mut x = vec![0.0; f.dim()];
    for t in 1..=steps {
        opt.set_lr(lr0 / (t as f64).sqrt()).unwrap();
        let g = grad(f, &x);
        opt.step(&mut x, &g).unwrap();
    }
    dist(&x, f.minimizer())
}

#[test]
fn top_k_ef21_with_adam_converges() {
    let (d, k) = (20, 2);
    let mut f = quad(d, 4);
    let start = dist(&vec![0.0; d], f.minimizer());
    let ef21 = Compressed::wrap(
        adam(d, 0.2),
        TopK::new(d, k).unwrap(),
        Ef21Feedback::new(Ef21Init::Compressed),
        0,
    )
    .unwrap();
    let end = run_decaying(ef21, &mut f, 4000);
    assert!(end < 1e-3 * start, "EF21 + Adam: {start} -> {end}");
    let ef = Compressed::wrap(
        adam(d, 0.2),
        TopK::new(d, k).unwrap(),
        ErrorFeedback::gradient_units(),
        0,
    )
    .unwrap();
    let end = run_decaying(ef, &mut f, 4000);
    assert!(end < 1e-3 * start, "EF + Adam: {start} -> {end}");
}

#[test]
fn the_step_size_lives_where_the_recursion_applies_it() {
    let l = || Layout::flat(4).unwrap();
    // Paper EF: v = e + eta g, the rule owns eta and the inner SGD takes unit steps.
    let mut ef = Ef::<f64, _>::new(l(), TopK::new(4, 1).unwrap(), 0.3, 0).unwrap();
    assert_eq!((ef.lr(), ef.inner().lr()), (0.3, 1.0));
    ef.set_lr(0.1).unwrap();
    assert_eq!((ef.lr(), ef.inner().lr()), (0.1, 1.0));
    let mut x = vec![0.0; 4];
    let info: StepInfo = ef.step(&mut x, &[1.0, -4.0, 2.0, 0.5]).unwrap();
    assert_eq!(info.lr, 0.1);
    assert_eq!(x, [0.0, 0.4, 0.0, 0.0]);
    assert!(ef.set_lr(-1.0).is_err());
    assert_eq!(ef.lr(), 0.1);
    // Everything else: the inner optimizer's rate.
    let mut ef21 =
        Ef21::<f64, _>::new(l(), TopK::new(4, 1).unwrap(), 0.3, Ef21Init::Compressed, 0).unwrap();
    ef21.set_lr(0.2).unwrap();
    assert_eq!((ef21.lr(), ef21.inner().lr()), (0.2, 0.2));
    let rule = ErrorFeedback::gradient_units();
    let mut wrapped = Compressed::wrap(adam(4, 0.01), TopK::new(4, 1).unwrap(), rule, 0).unwrap();
    wrapped.set_lr(0.03).unwrap();
    assert_eq!((wrapped.lr(), wrapped.inner().lr()), (0.03, 0.03));
    assert!(ErrorFeedback::<f64>::step_units(0.0).is_err());
    assert!(Compressed::wrap(adam(4, 0.1), TopK::new(5, 1).unwrap(), NoFeedback, 0).is_err());
}

/// SGD that refuses its `refuse`-th step (counting from 1) with an error.
#[derive(Debug, Clone)]
struct Refusing {
    sgd: Agm<f64>,
    calls: u64,
    refuse: u64,
}

impl Optimizer<f64> for Refusing {
    fn name(&self) -> &str {
        "refusing"
    }
    fn layout(&self) -> &Layout {
        self.sgd.layout()
    }
    fn step(&mut self, params: &mut [f64], grads: &[f64]) -> Result<StepInfo> {
        self.calls += 1;
        if self.calls == self.refuse {
            return Err(Error::Unsupported("refused".into()));
        }
        self.sgd.step(params, grads)
    }
    fn lr(&self) -> f64 {
        self.sgd.lr()
    }
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        self.sgd.set_lr(lr)
    }
    fn steps_taken(&self) -> u64 {
        self.sgd.steps_taken()
    }
    fn state(&self) -> Result<OptimizerState> {
        self.sgd.state()
    }
    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.sgd.load_state(state)
    }
}

/// A NaN gradient, wrong lengths and a refusal by the inner optimizer leave parameters and
/// the full state untouched, and the generator too: the next accepted step is the one an
/// untouched copy takes.
fn rejects_cleanly<F>(rule: F, name: &str)
where
    F: gradus_dist::compression::Feedback<f64>,
{
    let d = 6;
    let sgd = Agm::<f64>::sgd(Layout::flat(d).unwrap(), 0.1).unwrap();
    let inner = Refusing { sgd, calls: 0, refuse: 3 };
    let mut opt = Compressed::wrap(inner, RandK::contractive(d, 2).unwrap(), rule, 7).unwrap();
    let mut f = quad(d, 5);
    let mut x = vec![0.25; d];
    for _ in 0..2 {
        let g = grad(&mut f, &x);
        opt.step(&mut x, &g).unwrap();
    }
    let (x_before, state, twin) = (x.clone(), opt.state().unwrap(), opt.clone());
    let mut bad = grad(&mut f, &x);
    bad[2] = f64::NAN;
    assert_eq!(
        opt.step(&mut x, &bad).unwrap_err(),
        Error::NonFinite { what: "gradient", index: 2 }
    );
    assert!(opt.step(&mut x, &bad[..d - 1]).is_err());
    assert!(opt.step(&mut x[..d - 1], &vec![0.0; d - 1]).is_err());
    let g = grad(&mut f, &x);
    assert_eq!(opt.step(&mut x, &g).unwrap_err(), Error::Unsupported("refused".into()));
    assert_eq!(x, x_before, "{name}");
    assert_eq!(opt.state().unwrap(), state, "{name}");
    // The twin never saw the refused call, so it refuses its next step; skip it there too.
    let mut twin = twin;
    let mut y = x.clone();
    assert!(twin.step(&mut y, &g).is_err());
    opt.step(&mut x, &g).unwrap();
    twin.step(&mut y, &g).unwrap();
    assert_eq!(x, y, "{name}");
    assert_eq!(opt.state().unwrap(), twin.state().unwrap(), "{name}");
    assert_eq!(opt.bits_sent(), twin.bits_sent(), "{name}");
}

#[test]
fn rejected_steps_change_nothing() {
    rejects_cleanly(NoFeedback, "cgd");
    rejects_cleanly(ErrorFeedback::gradient_units(), "ef");
    rejects_cleanly(ErrorFeedback::step_units(0.5).unwrap(), "ef (steps)");
    rejects_cleanly(Ef21Feedback::new(Ef21Init::Compressed), "ef21");
    rejects_cleanly(Ef21Feedback::new(Ef21Init::Gradient), "ef21 (gradient start)");
}

fn logistic(n: usize, d: usize, batch: usize, seed: u64) -> LogisticRegression<f64> {
    let mut r = rng::seeded(seed);
    let (x, labels) = classification::<f64>(n, d, 2, 1.0, 3.0, &mut r).unwrap();
    let y = labels.iter().map(|&l| if l == 0 { -1.0 } else { 1.0 }).collect();
    LogisticRegression::new(x, y, 1e-2, batch).unwrap()
}

#[test]
fn ef21_with_adam_resumes_exactly_and_checks_the_inner_state() {
    let model = logistic(120, 6, 16, 4);
    let dir = std::env::temp_dir().join(format!("gradus-wrapper-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.ck");
    let make = || {
        let rule = Ef21Feedback::new(Ef21Init::Gradient);
        Compressed::wrap(adam(7, 0.05), RandK::contractive(7, 2).unwrap(), rule, 3).unwrap()
    };
    let x0 = vec![0.0; 7];
    let mut t1 = Trainer::new(model.clone(), make(), x0.clone(), 5).unwrap();
    let first = t1.run(40).unwrap();
    t1.save_checkpoint(&path).unwrap();
    let last = t1.run(40).unwrap();
    assert!(last.last_loss < first.last_loss);
    let mut t2 = Trainer::new(model, make(), x0, 5).unwrap();
    t2.resume(&path).unwrap();
    t2.run(40).unwrap();
    assert_eq!(t1.params(), t2.params());
    assert_eq!(t1.optimizer().state().unwrap(), t2.optimizer().state().unwrap());
    std::fs::remove_dir_all(&dir).ok();

    let state = t1.optimizer().state().unwrap();
    let names: Vec<&str> = state.buffers.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["d", "inner.m", "inner.v"]);
    let fresh = make();
    let untouched = fresh.state().unwrap();
    // A NaN in the inner optimizer's moment is refused by the inner optimizer, and nothing
    // of the wrapper changes either.
    let mut bad = state.clone();
    bad.buffers[1].data = gradus_optim::BufferData::F64(vec![f64::NAN; 7]);
    let mut opt = make();
    assert!(opt.load_state(&bad).is_err());
    assert_eq!(opt.state().unwrap(), untouched);
    // An unknown buffer, another inner optimizer, another rule.
    let mut bad = state.clone();
    bad.buffers[0].name = "e".into();
    assert!(matches!(opt.load_state(&bad), Err(Error::StateMismatch { field: "buffers", .. })));
    let sgd = Agm::<f64>::sgd(Layout::flat(7).unwrap(), 0.05).unwrap();
    let rule = Ef21Feedback::new(Ef21Init::Gradient);
    let mut other = Compressed::wrap(sgd, RandK::contractive(7, 2).unwrap(), rule, 3).unwrap();
    assert!(matches!(
        other.load_state(&state),
        Err(Error::StateMismatch { field: "optimizer", .. })
    ));
    let mut compressed_start = Compressed::wrap(
        adam(7, 0.05),
        RandK::contractive(7, 2).unwrap(),
        Ef21Feedback::new(Ef21Init::Compressed),
        3,
    )
    .unwrap();
    assert!(matches!(
        compressed_start.load_state(&state),
        Err(Error::StateMismatch { field: "EF21 initialisation", .. })
    ));
    assert_eq!(opt.state().unwrap(), untouched);
    opt.load_state(&state).unwrap();
    assert_eq!(opt.state().unwrap(), state);
}

#[test]
fn ef_units_are_part_of_the_checkpoint() {
    let l = || Layout::flat(5).unwrap();
    let mut paper = Ef::new(l(), TopK::new(5, 2).unwrap(), 0.1, 0).unwrap();
    paper.step(&mut vec![0.0; 5], &[1.0, -2.0, 3.0, 0.5, 0.1]).unwrap();
    let sgd = Agm::<f64>::sgd(l(), 1.0).unwrap();
    let rule = ErrorFeedback::gradient_units();
    let mut grad_units = Compressed::wrap(sgd, TopK::new(5, 2).unwrap(), rule, 0).unwrap();
    // Same inner SGD, different names ("ef" vs "ef+sgd") and units: refused either way.
    assert!(grad_units.load_state(&paper.state().unwrap()).is_err());
    let mut renamed = paper.state().unwrap();
    renamed.optimizer = "ef+sgd".into();
    assert!(matches!(
        grad_units.load_state(&renamed),
        Err(Error::StateMismatch { field: "error feedback units", .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(64)))]

    /// EF loses nothing: over any gradient sequence, the messages sent plus the final memory
    /// add up to the gradients received (gradient units), up to rounding.
    #[test]
    fn error_feedback_conserves_the_gradient_sum(
        grads in prop::collection::vec(prop::collection::vec(-10.0f64..10.0, 6), 1..30),
        k in 1usize..6,
    ) {
        let rule = ErrorFeedback::gradient_units();
        let mut opt = Compressed::wrap(adam(6, 0.01), TopK::new(6, k).unwrap(), rule, 0).unwrap();
        let mut x = vec![0.0; 6];
        let (mut sent, mut received) = (vec![0.0; 6], vec![0.0; 6]);
        for g in &grads {
            opt.step(&mut x, g).unwrap();
            for i in 0..6 {
                sent[i] += opt.last_message()[i];
                received[i] += g[i];
            }
        }
        for i in 0..6 {
            let total = sent[i] + opt.error()[i];
            prop_assert!((total - received[i]).abs() <= 1e-12 * (1.0 + grads.len() as f64) * 10.0);
        }
    }
}
