//! Paper 01 timings: a training step of the diagonal linear network at d = 1e4..1e6 for SGD
//! and Adam, split into gradient and optimizer time, and the cost of one Hutchinson probe.
//!
//! `gradus-bench sharpness --d D [--n N]`

use std::collections::HashMap;
use std::time::Instant;

use gradus_core::{Objective, Par, rng};
use gradus_models::data::gaussian_matrix;
use gradus_models::sharpness::hutchinson_trace;
use gradus_models::{DiagParam, DiagonalNet, LabelNoise, Regression};
use gradus_optim::{Agm, AgmConfig, Optimizer};

use crate::timing::try_median_secs;

pub fn run(opts: &HashMap<String, String>, threads: usize) -> Result<(), String> {
    let d: usize = opts
        .get("d")
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as usize)
        .ok_or("--d D required")?;
    let n: usize = opts.get("n").and_then(|v| v.parse().ok()).unwrap_or(40);
    let e = |e: gradus_core::Error| e.to_string();
    let mut r = rng::seeded(1);
    let x = gaussian_matrix::<f64>(n, d, &mut r);
    let y = vec![0.5; n];
    let net = DiagonalNet::new(x, y, DiagParam::SquareDifference).map_err(e)?;
    let layout = net.layout();
    let mut reg = Regression::new(net, n, LabelNoise::PlusMinus(0.5)).map_err(e)?;
    let mut params = vec![0.5f64; 2 * d];
    let mut grad = vec![0.0f64; 2 * d];
    let reps = ((2e8 / (n * d) as f64) as usize).clamp(5, 500);
    let t_grad = try_median_secs(reps, || reg.loss_grad(&params, &mut grad, &mut r).map(|_| ()))?;
    let par = if threads > 1 { Par::Rayon } else { Par::Seq };
    for (name, cfg) in [("sgd", AgmConfig::sgd(1e-3)), ("adam", AgmConfig::adam(1e-4))] {
        let mut opt = Agm::<f64>::new(name, cfg.with_par(par), layout.clone()).map_err(e)?;
        let t_opt = try_median_secs(reps, || opt.step(&mut params, &grad).map(|_| ()))?;
        let step = t_grad + t_opt;
        println!(
            "{{\"impl\":\"gradus\",\"suite\":\"sharpness\",\"name\":\"diag-net-step-{name}\",\"d\":{d},\"n\":{n},\"threads\":{threads},\"steps_per_s\":{:.1},\"gradient_s\":{t_grad:.3e},\"optimizer_s\":{t_opt:.3e},\"optimizer_share\":{:.3}}}",
            1.0 / step,
            t_opt / step
        );
    }
    let probes = 8;
    let s = Instant::now();
    hutchinson_trace(&mut reg, &params, probes, &mut r).map_err(e)?;
    let per = s.elapsed().as_secs_f64() / probes as f64;
    println!(
        "{{\"impl\":\"gradus\",\"suite\":\"sharpness\",\"name\":\"hutchinson-probe\",\"d\":{d},\"n\":{n},\"seconds_per_probe\":{per:.3e}}}"
    );
    Ok(())
}
