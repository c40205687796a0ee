//! Compressor throughput (GB/s of input) and one EF21 round with many workers.
//!
//! `compress --n N [--k-frac F] [--workers W] [--what compressors|ef21|all]`

use std::collections::HashMap;

use gradus_core::{Objective, Par, Result as GResult, Rng, rng};
use gradus_dist::compression::{
    Cluster, Compressor, Method, NaturalCompression, Qsgd, RandK, ScaledSign, TopK,
};
use gradus_models::data::normal;

use crate::timing::{reps_for, try_median_secs};

fn emit(name: &str, n: usize, k: usize, threads: usize, secs: f64, bytes: f64) {
    println!(
        "{{\"impl\":\"gradus\",\"suite\":\"compress\",\"name\":\"{name}\",\"n\":{n},\"k\":{k},\"threads\":{threads},\"seconds\":{secs:.6e},\"gb_per_s\":{:.3}}}",
        bytes / secs / 1e9
    );
}

/// `f_i(x) = |x - c_i|^2 / 2`: a gradient costs one pass, so a round measures communication.
struct Shifted {
    c: Vec<f32>,
}

impl Objective<f32> for Shifted {
    fn dim(&self) -> usize {
        self.c.len()
    }
    fn loss_grad(&mut self, x: &[f32], g: &mut [f32], _rng: &mut Rng) -> GResult<f32> {
        let mut f = 0.0f32;
        for ((g, &x), &c) in g.iter_mut().zip(x).zip(&self.c) {
            *g = x - c;
            f += 0.5 * *g * *g;
        }
        Ok(f)
    }
}

pub fn run(opts: &HashMap<String, String>, threads: usize) -> Result<(), String> {
    let n: usize = opts
        .get("n")
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as usize)
        .ok_or("--n N required")?;
    let frac: f64 = opts.get("k-frac").and_then(|v| v.parse().ok()).unwrap_or(0.01);
    let workers: usize = opts.get("workers").and_then(|v| v.parse().ok()).unwrap_or(16);
    let what = opts.get("what").map(String::as_str).unwrap_or("all");
    let k = ((n as f64 * frac) as usize).max(1);
    let e = |err: gradus_core::Error| err.to_string();
    let mut r = rng::seeded(1);
    let v: Vec<f32> = (0..n).map(|_| normal(&mut r) as f32).collect();
    let mut out = vec![0.0f32; n];
    let reps = reps_for(n, 1.0).min(50);
    if what == "all" || what == "compressors" {
        let all: Vec<(&str, Box<dyn Compressor<f32>>)> = vec![
            ("top-k", Box::new(TopK::new(n, k).map_err(e)?)),
            ("rand-k", Box::new(RandK::unbiased(n, k).map_err(e)?)),
            ("scaled-sign", Box::new(ScaledSign::new(n).map_err(e)?)),
            ("qsgd-s4", Box::new(Qsgd::new(n, 4).map_err(e)?)),
            ("natural", Box::new(NaturalCompression::new(n).map_err(e)?)),
        ];
        for (name, mut c) in all {
            let mut g = rng::seeded(2);
            let t = try_median_secs(reps, || c.compress(&v, &mut out, &mut g).map(|_| ()))?;
            emit(name, n, k, threads, t, 4.0 * n as f64);
        }
    }
    if what == "all" || what == "ef21" {
        let objs: Vec<Shifted> = (0..workers)
            .map(|i| {
                let mut r = rng::stream(3, i as u64);
                Shifted { c: (0..n).map(|_| normal(&mut r) as f32).collect() }
            })
            .collect();
        let mut cl = Cluster::new(objs, TopK::new(n, k).map_err(e)?, Method::Ef21)
            .map_err(e)?
            .with_par(Par::Rayon);
        let x = vec![0.0f32; n];
        let mut u = vec![0.0f32; n];
        let mut g = rng::seeded(4);
        let t = try_median_secs(reps_for(n * workers, 2.0).min(20), || {
            cl.loss_grad(&x, &mut u, &mut g).map(|_| ())
        })?;
        emit(
            &format!("ef21-round-{workers}-workers"),
            n,
            k,
            threads,
            t,
            4.0 * (n * workers) as f64,
        );
    }
    Ok(())
}
