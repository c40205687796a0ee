//! Toeplitz-likelihood timings (paper 07): one likelihood + gradient evaluation on the
//! structured and the dense path, and a full estimation run for `benches/peers/toeplitz_nml.py`.
//!
//! `gradus-bench covariance --what eval --p P [--n N]`
//! `gradus-bench covariance --what fit --p P --n N --data FILE` (FILE: complex snapshots as
//! interleaved little-endian f64, row-major N x P; prints loss and time of each estimator)

use std::collections::HashMap;
use std::time::Instant;

use gradus_models::toeplitz_cov::baselines::fisher_scoring_ml;
use gradus_models::toeplitz_cov::data::{random_caratheodory, sample};
use gradus_models::toeplitz_cov::estimators::initial_theta;
use gradus_models::toeplitz_cov::{
    ArmijoParams, DataKind, EvalPath, Init, SinusoidModel, ToeplitzNll, armijo_gd,
};
use num_complex::Complex64;

use crate::timing::try_median_secs;

fn line(name: &str, p: usize, n: usize, secs: f64, extra: &str) {
    println!(
        "{{\"impl\":\"gradus\",\"suite\":\"covariance\",\"name\":\"{name}\",\"p\":{p},\"n\":{n},\"seconds\":{secs:.6e}{extra}}}"
    );
}

pub fn run(opts: &HashMap<String, String>) -> Result<(), String> {
    let what = opts.get("what").map(String::as_str).unwrap_or("eval");
    let p: usize = opts.get("p").and_then(|v| v.parse().ok()).ok_or("--p P required")?;
    let n: usize = opts.get("n").and_then(|v| v.parse().ok()).unwrap_or(50);
    let e = |e: gradus_core::Error| e.to_string();
    let x = match opts.get("data") {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            let vals: Vec<f64> = bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            if vals.len() != 2 * n * p {
                return Err(format!("{path}: {} values for n = {n}, p = {p}", vals.len()));
            }
            vals.chunks_exact(2).map(|c| Complex64::new(c[0], c[1])).collect()
        }
        None => {
            sample(&random_caratheodory(p, 1).map_err(e)?, n, DataKind::Complex, 2).map_err(e)?
        }
    };
    match what {
        "eval" => {
            let model = SinusoidModel::new(p, 2 * p, DataKind::Complex).map_err(e)?;
            for (path, name) in
                [(EvalPath::Structured, "nll-grad-structured"), (EvalPath::Dense, "nll-grad-dense")]
            {
                let mut nll = ToeplitzNll::new(model, &x, n, path).map_err(e)?;
                let theta = initial_theta(&model, nll.trace_s(), Init::Spec, 3);
                let mut g = vec![0.0; 4 * p];
                let s = Instant::now();
                nll.loss_grad_theta(&theta, &mut g).map_err(e)?;
                let reps = ((1.0 / s.elapsed().as_secs_f64().max(1e-7)) as usize).clamp(3, 2000);
                let t = try_median_secs(reps, || nll.loss_grad_theta(&theta, &mut g).map(|_| ()))?;
                line(name, p, n, t, "");
            }
            Ok(())
        }
        "fit" => {
            let mut nll = ToeplitzNll::new(
                SinusoidModel::new(p, 2 * p, DataKind::Complex).map_err(e)?,
                &x,
                n,
                EvalPath::Auto,
            )
            .map_err(e)?;
            let s = Instant::now();
            let ml = fisher_scoring_ml(&mut nll, 1e-8, 200).map_err(e)?;
            line(
                "fisher-scoring-ml",
                p,
                n,
                s.elapsed().as_secs_f64(),
                &format!(
                    ",\"loss\":{:.10},\"iterations\":{},\"grad_norm\":{:.3e}",
                    ml.loss, ml.iterations, ml.grad_norm
                ),
            );
            for (k, name) in [(2 * p, "gd-accelerated-K2P"), (4 * p, "gd-accelerated-K4P")] {
                let model = SinusoidModel::new(p, k, DataKind::Complex).map_err(e)?;
                let mut nll = ToeplitzNll::new(model, &x, n, EvalPath::Auto).map_err(e)?;
                let t0 = initial_theta(&model, nll.trace_s(), Init::Spec, 1);
                let s = Instant::now();
                let r = armijo_gd(
                    &mut nll,
                    &model.separate_step_layout(9e-3 / 8e-2).map_err(e)?,
                    &t0,
                    &ArmijoParams::default(),
                )
                .map_err(e)?;
                line(
                    name,
                    p,
                    n,
                    s.elapsed().as_secs_f64(),
                    &format!(",\"loss\":{:.10},\"iterations\":{}", r.loss, r.iterations),
                );
            }
            Ok(())
        }
        other => Err(format!("unknown --what {other}")),
    }
}
