//! Robust aggregation timing (issue 6): every aggregator of `gradus_dist::federated` on the
//! same synthetic client vectors that `benches/peers/aggregate_byzfl.py` rebuilds bit for bit
//! in numpy, plus LSH hashing throughput. With `--out DIR` each aggregate is written as raw
//! little-endian f64 (`DIR/<name>.f64`) for the script's agreement check.

use std::collections::HashMap;

use gradus_core::{Layout, Par};
use gradus_dist::federated::aggregate::{Aggregator, CenteredClipping, Krum, Weiszfeld};
use gradus_dist::federated::gram::gram;
use gradus_dist::federated::{LshHasher, NonFinitePolicy, Updates};
use rayon::prelude::*;

use crate::timing::median_secs;

/// SplitMix64 finaliser; the script implements the same integer recipe in numpy.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in [0, 1) from the 53 high bits of `splitmix(seed * phi ^ (i d + j))`.
fn unit(seed: u64, i: usize, j: usize, d: usize) -> f64 {
    let key = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((i * d + j) as u64);
    (splitmix(key) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Rows `i >= f`: `g + 0.5 (u_i - 0.5)`; rows `i < f` (Byzantine): `-4 g + 0.5 (u_i - 0.5)`,
/// with `g = u_n - 0.5` the common direction.
pub fn clients(n: usize, d: usize, f: usize, seed: u64) -> Vec<f64> {
    let g: Vec<f64> = (0..d).map(|j| unit(seed, n, j, d) - 0.5).collect();
    let mut x = vec![0.0; n * d];
    x.par_chunks_mut(d).enumerate().for_each(|(i, row)| {
        let a = if i < f { -4.0 } else { 1.0 };
        for (j, v) in row.iter_mut().enumerate() {
            *v = a * g[j] + 0.5 * (unit(seed, i, j, d) - 0.5);
        }
    });
    x
}

fn write_f64(dir: &str, name: &str, v: &[f64]) -> Result<(), String> {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(format!("{dir}/{name}.f64"), bytes).map_err(|e| format!("{dir}/{name}: {e}"))
}

pub fn run(opts: &HashMap<String, String>, threads: usize) -> Result<(), String> {
    let get = |k: &str, default: f64| -> Result<f64, String> {
        opts.get(k).map_or(Ok(default), |v| v.parse::<f64>().map_err(|e| format!("--{k}: {e}")))
    };
    let n = get("n", 20.0)? as usize;
    let d = get("d", 1e5)? as usize;
    let f = get("f", (n / 5) as f64)? as usize;
    let seed = get("seed", 1.0)? as u64;
    let reps = get("reps", 5.0)? as usize;
    let out = opts.get("out").cloned();
    let x = clients(n, d, f, seed);
    let u = Updates::new(&x, n, d).map_err(|e| e.to_string())?;
    let par = Par::Rayon;
    let gm = Weiszfeld { tol: 1e-8, ..Weiszfeld::default() };
    let rules: Vec<(&str, Aggregator)> = vec![
        ("mean", Aggregator::Mean),
        ("median", Aggregator::Median),
        ("trimmed-mean", Aggregator::TrimmedMean { b: f }),
        ("geomed-tol1e-8", Aggregator::GeometricMedian(gm)),
        ("geomed-byzfl-T3", Aggregator::GeometricMedian(Weiszfeld::byzfl())),
        ("krum", Aggregator::Krum(Krum::new(f))),
        ("krum-byzfl", Aggregator::Krum(Krum { f, m: 1, neighbours: Some(n - f - 1) })),
        ("multikrum-byzfl", Aggregator::Krum(Krum { f, m: n - f, neighbours: Some(n - f - 1) })),
        ("centered-clipping", Aggregator::CenteredClipping(CenteredClipping::default())),
    ];
    for (name, rule) in &rules {
        let mut last = None;
        let secs = median_secs(reps, || {
            last = Some(rule.aggregate(u, NonFinitePolicy::Reject, par));
        });
        let a = last.ok_or("no run")?.map_err(|e| format!("{name}: {e}"))?;
        println!(
            "{{\"impl\":\"gradus\",\"suite\":\"aggregate\",\"name\":\"{name}\",\"n\":{n},\"d\":{d},\"f\":{f},\"threads\":{threads},\"seconds\":{secs:.6e},\"iterations\":{},\"objective\":{},\"selected\":{:?}}}",
            a.iterations,
            a.objective.map_or("null".to_string(), |o| format!("{o:.17e}")),
            a.selected.iter().take(3).collect::<Vec<_>>(),
        );
        if let Some(dir) = &out {
            write_f64(dir, name, &a.vector)?;
        }
    }
    gram(u, par).map_err(|e| format!("gram: {e}"))?;
    let secs = median_secs(reps, || {
        std::hint::black_box(gram(u, par).map(|g| g.len()).unwrap_or(0));
    });
    println!(
        "{{\"impl\":\"gradus\",\"suite\":\"aggregate\",\"name\":\"gram\",\"n\":{n},\"d\":{d},\"f\":{f},\"threads\":{threads},\"seconds\":{secs:.6e}}}"
    );
    // LSH: an FC-like layer of 128 rows (paper 05's MNIST fc1 has 128 x 1568), r = 5.
    let rows = 128.min(d);
    let cols = d / rows;
    let layout = Layout::new().matrix("w", rows, cols).map_err(|e| e.to_string())?;
    let h = LshHasher::new(&layout, 5, 3).map_err(|e| e.to_string())?;
    let m = rows * cols;
    let one = median_secs(reps, || {
        std::hint::black_box(h.hash(&x[..m]).map(|c| c.bits()).unwrap_or(0));
    });
    let all = median_secs(reps, || {
        let codes: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| h.hash(&x[i * d..i * d + m]).map(|c| c.bits()).unwrap_or(0))
            .collect();
        std::hint::black_box(codes);
    });
    for (name, secs, bytes) in
        [("lsh-hash-one", one, 8.0 * m as f64), ("lsh-hash-all-clients", all, 8.0 * (n * m) as f64)]
    {
        println!(
            "{{\"impl\":\"gradus\",\"suite\":\"aggregate\",\"name\":\"{name}\",\"n\":{n},\"d\":{m},\"f\":{f},\"threads\":{threads},\"seconds\":{secs:.6e},\"gb_per_s\":{:.3},\"code_bytes\":{},\"full_bytes_f32\":{}}}",
            bytes / secs / 1e9,
            h.code_bytes(),
            h.full_bytes_f32()
        );
    }
    Ok(())
}
