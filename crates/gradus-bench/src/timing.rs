//! Median-of-repetitions timing and JSON-line output.

use std::time::Instant;

/// Runs `f` a few times to warm up, then `reps` timed times; returns the median seconds.
pub fn median_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..2 {
        f();
    }
    let mut t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// [`median_secs`] of a fallible call: the first error stops the measurement and is
/// returned, so a failing call is reported as an error and never timed as if it had worked.
pub fn try_median_secs<E: std::fmt::Display>(
    reps: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<f64, String> {
    let mut err: Option<String> = None;
    let t = median_secs(reps, || {
        if err.is_none() {
            if let Err(e) = f() {
                err = Some(e.to_string());
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(t),
    }
}

/// Repetitions that take roughly `budget` seconds for work of `n` elements at ~1 ns each.
pub fn reps_for(n: usize, budget: f64) -> usize {
    ((budget / (n as f64 * 1.5e-9)) as usize).clamp(5, 200)
}

/// Prints one measurement as a JSON line.
pub fn emit(suite: &str, name: &str, n: usize, threads: usize, secs: f64, bytes_per_elem: f64) {
    let ns = secs * 1e9 / n as f64;
    let gbs = bytes_per_elem * n as f64 / secs / 1e9;
    println!(
        "{{\"impl\":\"gradus\",\"suite\":\"{suite}\",\"name\":\"{name}\",\"n\":{n},\"threads\":{threads},\"seconds\":{secs:.6e},\"ns_per_elem\":{ns:.4},\"gb_per_s\":{gbs:.3}}}"
    );
}
