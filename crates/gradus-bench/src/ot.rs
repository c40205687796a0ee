//! Optimal-transport timings (paper 08 and 03) for `benches/peers/ot_pot.py` and
//! `benches/peers/svgd_torch.py`.
//!
//! - `drag --m M --d D --iters I [--eps E] [--targets FILE] [--threads T]`: DRAG iterations per
//!   second on `M` targets in `[0,1]^d` (read from FILE as raw little-endian f64 when given, so
//!   the peer script can time POT on the very same points), source `U([0,1]^d)`. Reports the
//!   paper's schedule (`eps_k = 0.1 k^-0.33`), fixed `eps` (POT's ASGD setting) and `eps = 0`.
//! - `svgd --n N --d D [--reps R] [--threads T]`: one SVGD step (median bandwidth, RBF kernel)
//!   of `N` particles on the standard Gaussian in `R^d`.

use std::collections::HashMap;
use std::time::Instant;

use gradus_core::{Par, rng};
use gradus_ot::flows::{Bandwidth, Flow, GaussianTarget, Particles, Svgd};
use gradus_ot::semidiscrete::{Drag, DragConfig, EpsilonSchedule, Projection, SemiDiscrete};
use gradus_ot::{DiscreteMeasure, SampleSet, UniformBox};

fn get<T: std::str::FromStr>(opts: &HashMap<String, String>, k: &str) -> Option<T> {
    opts.get(k).and_then(|v| v.parse::<f64>().ok()).and_then(|v| v.to_string().parse().ok())
}

fn targets(opts: &HashMap<String, String>, m: usize, d: usize) -> Result<Vec<f64>, String> {
    if let Some(path) = opts.get("targets") {
        let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        if bytes.len() != m * d * 8 {
            return Err(format!("{path}: {} bytes, expected {}", bytes.len(), m * d * 8));
        }
        return Ok(bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect());
    }
    let cube = UniformBox::cube(d, 0.0, 1.0).map_err(|e| e.to_string())?;
    Ok(SampleSet::draw(&cube, m, 1).points().to_vec())
}

pub fn drag(opts: &HashMap<String, String>, threads: usize) -> Result<(), String> {
    let m: usize = get(opts, "m").ok_or("--m M required")?;
    let d: usize = get(opts, "d").ok_or("--d D required")?;
    let iters: u64 = get(opts, "iters").unwrap_or(1000);
    let eps: f64 = opts.get("eps").and_then(|v| v.parse().ok()).unwrap_or(0.1);
    let reps: usize = get(opts, "reps").unwrap_or(5);
    let pts = targets(opts, m, d)?;
    let nu = DiscreteMeasure::uniform(d, pts).map_err(|e| e.to_string())?;
    let src = UniformBox::cube(d, 0.0, 1.0).map_err(|e| e.to_string())?;
    let pb = SemiDiscrete::new(src, nu).map_err(|e| e.to_string())?;
    let radius = (d as f64).sqrt();
    let base = DragConfig { par: Par::Rayon, ..DragConfig::paper(radius, radius) };
    let variants = [
        ("drag-paper-schedule", base),
        ("asgd-fixed-eps", DragConfig { epsilon: EpsilonSchedule::Constant(eps), ..base }),
        (
            "asgd-fixed-eps-unprojected",
            DragConfig {
                epsilon: EpsilonSchedule::Constant(eps),
                projection: Projection::None,
                ..base
            },
        ),
        ("asgd-eps0", DragConfig { epsilon: EpsilonSchedule::Constant(0.0), ..base }),
    ];
    for (name, cfg) in variants {
        let mut drag = Drag::new(&pb, cfg, None).map_err(|e| e.to_string())?;
        let mut r = rng::seeded(2);
        drag.run(iters.min(100), &mut r).map_err(|e| e.to_string())?;
        let mut times = Vec::with_capacity(reps);
        for _ in 0..reps.max(1) {
            let t = Instant::now();
            drag.run(iters, &mut r).map_err(|e| e.to_string())?;
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let secs = times[times.len() / 2];
        println!(
            "{{\"impl\":\"gradus\",\"suite\":\"drag\",\"name\":\"{name}\",\"m\":{m},\"d\":{d},\"eps\":{eps},\"iters\":{iters},\"threads\":{threads},\"seconds\":{secs:.6e},\"it_per_s\":{:.1}}}",
            iters as f64 / secs
        );
    }
    Ok(())
}

pub fn svgd(opts: &HashMap<String, String>, threads: usize) -> Result<(), String> {
    let n: usize = get(opts, "n").ok_or("--n N required")?;
    let d: usize = get(opts, "d").ok_or("--d D required")?;
    let reps: usize = get(opts, "reps").unwrap_or(5);
    let target = GaussianTarget::isotropic(vec![0.0; d], 1.0).map_err(|e| e.to_string())?;
    let mut r = rng::seeded(3);
    let cube = UniformBox::cube(d, -1.0, 1.0).map_err(|e| e.to_string())?;
    let pos = SampleSet::draw(&cube, n, 4).points().to_vec();
    let mut p = Particles::new(d, pos).map_err(|e| e.to_string())?;
    let mut svgd = Svgd::new(1e-3, Bandwidth::Median, 1.0).map_err(|e| e.to_string())?;
    svgd.step(&mut p, &target, &mut r, Par::Rayon).map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        svgd.step(&mut p, &target, &mut r, Par::Rayon).map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let secs = times[times.len() / 2];
    println!(
        "{{\"impl\":\"gradus\",\"suite\":\"svgd\",\"name\":\"svgd-step-f64\",\"n\":{n},\"d\":{d},\"threads\":{threads},\"seconds\":{secs:.6e}}}"
    );
    Ok(())
}
