//! Allocation-free steps for every objective and optimizer `reproduce` trains with `Trainer`,
//! on the calling thread (`Par::Seq`) and on the default rayon path (issue 18). The rayon
//! path is counted on every thread of the process, so this binary holds a single test that
//! runs its cases one after another.
//!
//! Covered objectives: softmax and logistic regression, the quadratic, and the squared-loss
//! models (linear, diagonal net in both parametrisations, including its parallel chunked
//! passes, matrix factorisation, two-layer net) with label noise. Covered optimizers: every
//! `Agm` configuration family, Shampoo, the control rules of paper 10 and the compressed
//! methods of gradus-dist (CGD, EF, EF21, and the `Compressed` wrapper over Adam). Paths that allocate are documented on `Objective` and `Trainer`
//! (the DRO objectives of gradus-ot are not covered here).

use gradus::core::alloc_count::{
    CountingAllocator, count_allocations, count_allocations_all_threads,
};
use gradus::core::{Layout, Objective, Par, rng};
use gradus::dist::compression::{
    Cgd, Compressed, Ef, Ef21, Ef21Feedback, Ef21Init, ErrorFeedback, TopK,
};
use gradus::models::data::{classification, gaussian_matrix, normal};
use gradus::models::{
    DiagParam, DiagonalNet, LabelNoise, Linear, LogisticRegression, MatrixFactorization, Quadratic,
    Regression, SoftmaxRegression, TwoLayerNet,
};
use gradus::optim::control::{ControlRule, ControlRuleConfig};
use gradus::optim::{Agm, AgmConfig, Optimizer, Shampoo, ShampooConfig, Trainer};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Warms up with a few steps, then counts the allocations of `steps` more.
fn counted<O, P>(name: &str, par: Par, objective: O, opt: P, x0: Vec<f64>, steps: u64)
where
    O: Objective<f64> + Send,
    P: Optimizer<f64> + Send,
{
    let mut t = Trainer::new(objective, opt, x0, 3).unwrap().with_par(par);
    t.run(3).unwrap();
    let n = match par {
        Par::Seq => {
            let (res, n) = count_allocations(|| t.run(steps));
            res.unwrap();
            n
        }
        // The all-threads counter also sees stray allocations elsewhere in the process (a pool
        // thread parking, the harness) now and then; a per-step allocation shows in every
        // window, so the least count over three windows keeps it and drops the strays.
        Par::Rayon => (0..3)
            .map(|_| {
                let (res, n) = count_allocations_all_threads(|| t.run(steps));
                res.unwrap();
                n
            })
            .min()
            .unwrap_or(0),
    };
    assert_eq!(n, 0, "{name} ({par:?}): {n} heap allocations in {steps} steps");
}

fn design(n: usize, d: usize, seed: u64) -> (gradus::models::Dense<f64>, Vec<f64>) {
    let mut r = rng::seeded(seed);
    let x = gaussian_matrix::<f64>(n, d, &mut r);
    let y = (0..n).map(|_| normal(&mut r)).collect();
    (x, y)
}

fn init(d: usize, seed: u64) -> Vec<f64> {
    let mut r = rng::seeded(seed);
    (0..d).map(|_| 0.3 * normal(&mut r)).collect()
}

fn adam(par: Par, layout: Layout) -> Agm<f64> {
    Agm::new("adam", AgmConfig::adam(1e-3).with_par(par).with_max_grad_norm(10.0), layout).unwrap()
}

/// Every objective with Adam, on the given path.
fn objectives(par: Par) {
    let mut r = rng::seeded(1);
    let (x, labels) = classification::<f64>(120, 10, 4, 1.0, 10.0, &mut r).unwrap();
    let soft = SoftmaxRegression::new(x.clone(), labels.clone(), 4, 1e-3, 16).unwrap();
    let l = soft.layout();
    counted("softmax", par, soft, adam(par, l.clone()), vec![0.0; l.len()], 50);

    let y: Vec<f64> = labels.iter().map(|&c| if c % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let logit = LogisticRegression::new(x, y, 1e-3, 16).unwrap();
    let l = logit.layout();
    counted("logistic", par, logit, adam(par, l.clone()), vec![0.0; l.len()], 50);

    let q = Quadratic::<f64>::ill_conditioned(12, 10.0, 2).unwrap().with_noise(0.1).unwrap();
    counted("quadratic", par, q, adam(par, Layout::flat(12).unwrap()), vec![0.0; 12], 50);

    let noise = LabelNoise::PlusMinus(0.1);
    let (x, y) = design(30, 8, 3);
    let lin = Linear::new(x.clone(), y.clone()).unwrap();
    let l = lin.layout();
    let reg = Regression::new(lin, 4, noise).unwrap();
    counted("linear", par, reg, adam(par, l.clone()), init(l.len(), 1), 50);
    for p in [DiagParam::SquareDifference, DiagParam::Product] {
        let net = DiagonalNet::new(x.clone(), y.clone(), p).unwrap();
        let l = net.layout();
        let reg = Regression::new(net, 1, noise).unwrap();
        counted("diagonal net", par, reg, adam(par, l.clone()), init(l.len(), 2), 50);
    }
    // Large enough (2^20 design entries, more than one 4096-column chunk) for the diagonal
    // net's parallel chunked passes.
    let (xl, yl) = design(128, 8200, 4);
    let big = DiagonalNet::new(xl, yl, DiagParam::SquareDifference).unwrap();
    let l = big.layout();
    let reg = Regression::new(big, 128, LabelNoise::None).unwrap();
    counted("diagonal net, chunked", par, reg, adam(par, l.clone()), init(l.len(), 3), 5);

    let obs: Vec<(usize, usize, f64)> =
        (0..20).map(|i| (i % 5, (3 * i) % 6, normal(&mut r))).collect();
    let mf = MatrixFactorization::new(5, 6, 2, obs).unwrap();
    let l = mf.layout();
    let reg = Regression::new(mf, 4, noise).unwrap();
    counted("matrix factorisation", par, reg, adam(par, l.clone()), init(l.len(), 4), 50);

    let two = TwoLayerNet::new(x, y, 4).unwrap();
    let l = two.layout();
    let reg = Regression::new(two, 4, noise).unwrap();
    counted("two-layer net", par, reg, adam(par, l.clone()), init(l.len(), 5), 50);
}

/// Every optimizer family on one quadratic, on the given path.
fn optimizers(par: Par) {
    let d = 24;
    let l = || Layout::new().matrix("w", 4, 6).unwrap();
    let q = || Quadratic::<f64>::ill_conditioned(d, 10.0, 7).unwrap();
    let agm: Vec<(&str, AgmConfig)> = vec![
        ("sgd", AgmConfig::sgd(0.1)),
        ("adam", AgmConfig::adam(1e-2)),
        ("amsgrad", AgmConfig::adam(1e-2).with_amsgrad(true)),
        ("rmsprop-centered", AgmConfig::rmsprop(1e-2).with_centered(true)),
        ("adagrad", AgmConfig::adagrad(0.1)),
        ("adam-mini", AgmConfig::adam(1e-2).with_partition(gradus::optim::Partition::LayoutBlocks)),
        ("adam-e", AgmConfig::adam(1e-2).with_exponent(0.3)),
    ];
    for (name, cfg) in agm {
        let opt = Agm::new(name, cfg.with_par(par).with_max_grad_norm(10.0), l()).unwrap();
        counted(name, par, q(), opt, vec![0.0; d], 50);
    }
    let cfg = ShampooConfig::new(1e-2).with_precondition_frequency(5).with_par(par);
    counted("shampoo", par, q(), Shampoo::<f64>::new(cfg, l()).unwrap(), vec![0.0; d], 20);
    let rules = [
        ("control gd", ControlRuleConfig::gd(0.1)),
        ("control momentum", ControlRuleConfig::momentum(0.1, 0.5, 1.0)),
        ("control ballistic", ControlRuleConfig::ballistic(1e-2, 0.999, 1e-8)),
        ("control adaptive", ControlRuleConfig::adaptive(1e-2, 0.5, 0.999, 1e-8)),
    ];
    for (name, cfg) in rules {
        counted(name, par, q(), ControlRule::<f64>::new(name, cfg, l()).unwrap(), vec![0.0; d], 50);
    }
    let top = || TopK::new(d, 4).unwrap();
    counted("cgd", par, q(), Cgd::<f64, _>::new(l(), top(), 0.1, 0).unwrap(), vec![0.0; d], 50);
    counted("ef", par, q(), Ef::<f64, _>::new(l(), top(), 0.1, 0).unwrap(), vec![0.0; d], 50);
    let ef21 = Ef21::<f64, _>::new(l(), top(), 0.1, Ef21Init::Compressed, 0).unwrap();
    counted("ef21", par, q(), ef21, vec![0.0; d], 50);
    // The same wrapper over Adam (the composition issue 18 asked for).
    let adam = || Agm::<f64>::new("adam", AgmConfig::adam(1e-2).with_par(par), l()).unwrap();
    let rule = Ef21Feedback::new(Ef21Init::Compressed);
    let ef21_adam = Compressed::wrap(adam(), top(), rule, 0).unwrap().with_par(par);
    counted("ef21+adam", par, q(), ef21_adam, vec![0.0; d], 50);
    let rule = ErrorFeedback::gradient_units();
    let ef_adam = Compressed::wrap(adam(), top(), rule, 0).unwrap().with_par(par);
    counted("ef+adam", par, q(), ef_adam, vec![0.0; d], 50);
}

#[test]
fn every_objective_and_optimizer_steps_without_allocating() {
    // The counters see what they must: one allocation on this thread, and the one made on a
    // pool thread (entering the pool from outside may add its own bookkeeping).
    let (v, n) = count_allocations(|| vec![1u8; 16]);
    assert_eq!((v.len(), n), (16, 1));
    Par::Rayon.on_pool(|| ()); // builds the global pool (its threads allocate) outside the count
    let (v, n) = count_allocations_all_threads(|| Par::Rayon.on_pool(|| vec![1u8; 16]));
    assert!(v.len() == 16 && n >= 1, "{n} allocations counted across threads");
    for par in [Par::Seq, Par::Rayon] {
        objectives(par);
        optimizers(par);
    }
}
