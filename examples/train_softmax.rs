use gradus::core::{Layout, rng};
use gradus::models::{SoftmaxRegression, data::classification};
use gradus::optim::{Agm, AgmConfig, LossLog, Schedule, Trainer};

fn main() -> gradus::Result<()> {
    let mut r = rng::seeded(42);
    let (x, labels) = classification::<f32>(1000, 20, 4, 1.0, 10.0, &mut r)?;
    let model = SoftmaxRegression::new(x, labels, 4, 1e-4, 32)?; // minibatches of 32
    let layout: Layout = model.layout(); // blocks "W" (4 x 20) and "b" (4)
    let mut cfg = AgmConfig::adam(1e-2); // or sgd / rmsprop / adagrad / with_partition(...)
    cfg.max_grad_norm = Some(1.0);
    let opt = Agm::<f32>::new("adam", cfg, layout.clone())?;
    let mut trainer = Trainer::new(model, opt, vec![0.0; layout.len()], 7)?
        .with_schedule(Schedule::Cosine { warmup: 50, total: 2000, final_factor: 0.1 })?
        .observe(LossLog::new(100, 32));
    let summary = trainer.run(2000)?; // no heap allocation per step
    trainer.save_checkpoint("run.ck")?; // atomic; `resume` continues bit-exactly
    println!("loss {:.4} after {} steps", summary.last_loss, summary.steps);
    Ok(())
}
