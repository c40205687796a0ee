//! After the first step, `Trainer::run` performs zero heap allocations per step, for every
//! optimizer configuration. A counting global allocator proves it; it counts only on the
//! thread that enables it, so other tests cannot disturb the count.

use std::sync::atomic::{AtomicUsize, Ordering};

use gradus::core::{Layout, Par, rng};
use gradus::models::{SoftmaxRegression, data::classification};
use gradus::optim::{
    Agm, AgmConfig, Control, LossLog, Momentum, Partition, Shampoo, ShampooConfig, StatePrecision,
    Trainer,
};
use gradus::{Optimizer, Schedule};

use gradus::core::alloc_count::{CountingAllocator, count_allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn configs() -> Vec<(&'static str, AgmConfig)> {
    let seq = |mut c: AgmConfig| {
        c.par = Par::Seq;
        c.max_grad_norm = Some(10.0);
        c
    };
    vec![
        ("sgd", seq(AgmConfig::sgd(0.1))),
        (
            "nesterov",
            seq(AgmConfig::sgd(0.1).with_momentum(Momentum::HeavyBall {
                mu: 0.9,
                dampening: 0.0,
                nesterov: true,
            })),
        ),
        ("adam", seq(AgmConfig::adam(0.01))),
        ("amsgrad", seq(AgmConfig::adam(0.01).with_amsgrad(true))),
        ("adam-bf16", seq(AgmConfig::adam(0.01).with_precision(StatePrecision::Bf16))),
        ("rmsprop-centered", seq(AgmConfig::rmsprop(0.01).with_centered(true))),
        ("adagrad", seq(AgmConfig::adagrad(0.1))),
        ("adam-mini", seq(AgmConfig::adam(0.01).with_partition(Partition::LayoutBlocks))),
        (
            "adalayer",
            seq(AgmConfig::adam(0.01)
                .with_partition(Partition::LayoutBlocksWithRows { row_blocks: vec!["W".into()] })),
        ),
        ("adam-e (reference path)", seq(AgmConfig::adam(0.01).with_exponent(0.3))),
    ]
}

#[test]
fn trainer_steps_allocate_nothing() {
    let mut r = rng::seeded(1);
    let (x, labels) = classification::<f32>(200, 20, 5, 1.0, 10.0, &mut r).unwrap();
    for (name, cfg) in configs() {
        let model = SoftmaxRegression::new(x.clone(), labels.clone(), 5, 1e-3, 16).unwrap();
        let layout = model.layout();
        let opt = Agm::<f32>::new(name, cfg, layout.clone()).unwrap();
        let fired = std::sync::Arc::new(AtomicUsize::new(0));
        let fired_in = fired.clone();
        // `Par::Seq`: the loop stays on this (counting) thread.
        let mut trainer = Trainer::new(model, opt, vec![0.0f32; layout.len()], 7)
            .unwrap()
            .with_par(Par::Seq)
            .with_schedule(Schedule::Cosine { warmup: 10, total: 500, final_factor: 0.1 })
            .unwrap()
            .observe(LossLog::new(10, 100))
            .observe(move |rec: &gradus::optim::StepRecord<'_, f32>| {
                fired_in.fetch_add(rec.step as usize, Ordering::Relaxed);
                Ok(Control::Continue)
            });
        trainer.run(1).unwrap();
        let (summary, allocs) = count_allocations(|| trainer.run(300).unwrap());
        assert_eq!(summary.steps, 300);
        assert_eq!(allocs, 0, "{name}: {allocs} heap allocations in 300 steps");
        // The observer saw every step 1..=301.
        assert_eq!(fired.load(Ordering::Relaxed), 301 * 302 / 2);
    }

    // Shampoo, with root recomputations (eigendecompositions) inside the counted window.
    let model = SoftmaxRegression::new(x.clone(), labels.clone(), 5, 1e-3, 16).unwrap();
    let layout = model.layout();
    let cfg = ShampooConfig::new(0.01).with_precondition_frequency(7).with_par(Par::Seq);
    let opt = Shampoo::<f32>::new(cfg, layout.clone()).unwrap();
    let mut trainer =
        Trainer::new(model, opt, vec![0.0f32; layout.len()], 3).unwrap().with_par(Par::Seq);
    trainer.run(1).unwrap();
    let (_, allocs) = count_allocations(|| trainer.run(50).unwrap());
    assert_eq!(allocs, 0, "shampoo: {allocs} heap allocations in 50 steps");

    // A large buffer on the fused kernels with sequential execution.
    let n = 1 << 20;
    let mut opt =
        Agm::<f32>::new("adam", AgmConfig::adam(1e-3).with_par(Par::Seq), Layout::flat(n).unwrap())
            .unwrap();
    let (mut p, g) = (vec![1.0f32; n], vec![0.5f32; n]);
    opt.step(&mut p, &g).unwrap();
    let (_, allocs) = count_allocations(|| opt.step(&mut p, &g).unwrap());
    assert_eq!(allocs, 0, "sequential fused Adam on 2^20 parameters allocated");
}
