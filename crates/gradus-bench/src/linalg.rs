//! Linear-algebra timings for `benches/peers/linalg.py`: eigendecomposition and inverse 4th
//! root (faer or LAPACK, f32/f64), Levinson solve, Toeplitz matvec, PCG, and a Shampoo step.
//!
//! `gradus-bench linalg --what eigh|root|levinson|matvec|pcg|shampoo|shampoo-amortised --n N
//!  [--dtype f32|f64] [--backend faer|lapack|auto] [--threads T]`
//!
//! A call that fails is an error (exit status 1), never a timing.

use std::collections::HashMap;
use std::time::Instant;

use faer::Mat;
use gradus_core::{Layout, Par};
use gradus_linalg::toeplitz::{
    LevinsonWorkspace, Preconditioner, RealToeplitzOp, levinson_solve, pcg_solve,
};
use gradus_linalg::{
    Backend, EighWorkspace, LinalgScalar, RootParams, RootWorkspace, eigh_into, inverse_root,
};
use gradus_optim::{Agm, AgmConfig, Grafting, Optimizer, Shampoo, ShampooConfig};

use crate::timing::{emit, try_median_secs};

fn reps_for_secs(one: f64, budget: f64) -> usize {
    ((budget / one.max(1e-9)) as usize).clamp(3, 200)
}

/// Median seconds of `f` over repetitions filling about two seconds; the first error is
/// returned instead of a time.
fn time_adaptive(mut f: impl FnMut() -> gradus_core::Result<()>) -> Result<f64, String> {
    let s = Instant::now();
    f().map_err(|e| e.to_string())?;
    let one = s.elapsed().as_secs_f64();
    try_median_secs(reps_for_secs(one, 2.0), f)
}

fn spd<T: LinalgScalar>(n: usize) -> Mat<T> {
    // A G G^T / n + I style SPD matrix from a deterministic pseudo-random G.
    let g =
        Mat::<f64>::from_fn(n, n, |i, j| ((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0 - 0.5);
    let mut a = Mat::<f64>::zeros(n, n);
    faer::linalg::matmul::matmul(
        a.as_mut(),
        faer::Accum::Replace,
        g.as_ref(),
        g.as_ref().transpose(),
        1.0 / n as f64,
        faer::Par::rayon(0),
    );
    Mat::from_fn(n, n, |i, j| {
        T::from_f64(0.5 * (a[(i, j)] + a[(j, i)]) + if i == j { 1e-3 } else { 0.0 })
    })
}

fn dense_suite<T: LinalgScalar>(
    what: &str,
    n: usize,
    backend: &str,
    threads: usize,
) -> Result<(), String> {
    let par = if threads > 1 { Par::Rayon } else { Par::Seq };
    let a = spd::<T>(n);
    let be = match backend {
        "faer" => Backend::Faer,
        "lapack" => Backend::Lapack,
        "auto" => Backend::Auto,
        other => return Err(format!("unknown --backend {other} (faer, lapack or auto)")),
    };
    let e = |e: gradus_core::Error| e.to_string();
    let name = format!("{what}-{}-{backend}", T::NAME);
    let secs = match what {
        "eigh" => {
            let mut ws = EighWorkspace::<T>::with_backend(n, par, be).map_err(e)?;
            let (mut w, mut u) = (vec![T::ZERO; n], Mat::<T>::zeros(n, n));
            time_adaptive(|| eigh_into(a.as_ref(), &mut w, u.as_mut(), &mut ws))?
        }
        "root" => {
            let mut ws = RootWorkspace::<T>::with_backend(n, par, be).map_err(e)?;
            let mut out = Mat::<T>::zeros(n, n);
            let p = RootParams::default().with_residual(false);
            time_adaptive(|| inverse_root(a.as_ref(), out.as_mut(), &p, &mut ws).map(|_| ()))?
        }
        _ => return Err(format!("unsupported --what {what}")),
    };
    emit("linalg", &name, n, threads, secs, 0.0);
    Ok(())
}

fn toeplitz_column(n: usize) -> Vec<f64> {
    (0..n).map(|k| if k == 0 { 2.0 } else { 1.0 / ((1 + k) as f64).powf(1.5) }).collect()
}

pub fn run(opts: &HashMap<String, String>, threads: usize) -> Result<(), String> {
    let what = opts.get("what").map(String::as_str).ok_or("--what required")?;
    let n: usize = opts
        .get("n")
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as usize)
        .ok_or("--n N required")?;
    let dtype = opts.get("dtype").map(String::as_str).unwrap_or("f64");
    let backend = opts.get("backend").map(String::as_str).unwrap_or("faer");
    match what {
        "eigh" | "root" => match dtype {
            "f32" => dense_suite::<f32>(what, n, backend, threads),
            _ => dense_suite::<f64>(what, n, backend, threads),
        },
        "levinson" => {
            let t = toeplitz_column(n);
            let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.1).sin()).collect();
            let (mut x, mut ws) = (vec![0.0; n], LevinsonWorkspace::new(n));
            let secs = time_adaptive(|| levinson_solve(&t, &b, &mut x, &mut ws).map(|_| ()))?;
            emit("linalg", "levinson-solve", n, threads, secs, 0.0);
            Ok(())
        }
        "matvec" => {
            let t = toeplitz_column(n);
            let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.1).sin()).collect();
            let mut op = RealToeplitzOp::symmetric(&t).map_err(|e| e.to_string())?;
            let mut y = vec![0.0; n];
            let secs = time_adaptive(|| op.apply(&x, &mut y))?;
            emit("linalg", "toeplitz-matvec", n, threads, secs, 0.0);
            Ok(())
        }
        "pcg" => {
            let t = toeplitz_column(n);
            let b: Vec<f64> = (0..n).map(|i| ((i % 7) as f64 - 3.0) / 3.0).collect();
            for (kind, name) in [
                (Preconditioner::Chan, "pcg-chan"),
                (Preconditioner::Strang, "pcg-strang"),
                (Preconditioner::None, "cg"),
            ] {
                let s = Instant::now();
                let (_, info) = pcg_solve(&t, &b, kind, 1e-8, 10_000).map_err(|e| e.to_string())?;
                let secs = s.elapsed().as_secs_f64();
                println!(
                    "{{\"impl\":\"gradus\",\"suite\":\"linalg\",\"name\":\"{name}\",\"n\":{n},\"threads\":{threads},\"seconds\":{secs:.6e},\"iterations\":{},\"relative_residual\":{:.3e}}}",
                    info.iterations, info.relative_residual
                );
            }
            Ok(())
        }
        "shampoo" => {
            let layout = Layout::new().matrix("w", n, n).map_err(|e| e.to_string())?;
            let par = if threads > 1 { Par::Rayon } else { Par::Seq };
            let g: Vec<f32> = (0..n * n).map(|i| (i % 1013) as f32 / 1013.0 - 0.5).collect();
            for (freq, name) in
                [(1u64, "shampoo-step-with-roots"), (u64::MAX, "shampoo-step-plain")]
            {
                let cfg = ShampooConfig::new(1e-3)
                    .with_precondition_frequency(freq)
                    .with_start_preconditioning_step(1)
                    .with_grafting(Grafting::Adam { beta2: 0.999 })
                    .with_par(par);
                let mut opt =
                    Shampoo::<f32>::new(cfg, layout.clone()).map_err(|e| e.to_string())?;
                let mut p = vec![0.0f32; n * n];
                // First step computes the roots once (frequency u64::MAX: only at step 1).
                opt.step(&mut p, &g).map_err(|e| e.to_string())?;
                let secs = time_adaptive(|| opt.step(&mut p, &g).map(|_| ()))?;
                emit("linalg", name, n, threads, secs, 0.0);
            }
            Ok(())
        }
        "shampoo-amortised" => shampoo_amortised(opts, n, threads),
        other => Err(format!("unknown --what {other}")),
    }
}

/// Amortised Shampoo step on one `n x n` f32 block with the roots refreshed every `--freq`
/// steps (default 100): the wall time of `freq` consecutive steps (exactly one of which
/// recomputes both inverse 4th roots) divided by `freq`, next to the median Adam step on the
/// same parameters, both with the same parallelism.
fn shampoo_amortised(
    opts: &HashMap<String, String>,
    n: usize,
    threads: usize,
) -> Result<(), String> {
    let freq: u64 = match opts.get("freq") {
        Some(f) => f.parse().map_err(|_| format!("bad --freq {f}"))?,
        None => 100,
    };
    let e = |e: gradus_core::Error| e.to_string();
    let layout = Layout::new().matrix("w", n, n).map_err(e)?;
    let par = if threads > 1 { Par::Rayon } else { Par::Seq };
    let g: Vec<f32> = (0..n * n).map(|i| (i % 1013) as f32 / 1013.0 - 0.5).collect();
    let cfg = ShampooConfig {
        precondition_frequency: freq,
        start_preconditioning_step: 1,
        grafting: Grafting::Adam { beta2: 0.999 },
        par,
        ..ShampooConfig::new(1e-3)
    };
    let mut opt = Shampoo::<f32>::new(cfg, layout.clone()).map_err(e)?;
    let mut p = vec![0.0f32; n * n];
    opt.step(&mut p, &g).map_err(e)?;
    let s = Instant::now();
    for _ in 0..freq {
        opt.step(&mut p, &g).map_err(e)?;
    }
    let shampoo = s.elapsed().as_secs_f64() / freq as f64;
    emit("linalg", &format!("shampoo-amortised-every-{freq}"), n, threads, shampoo, 0.0);
    let mut adam =
        Agm::<f32>::new("adam", AgmConfig { par, ..AgmConfig::adam(1e-3) }, layout).map_err(e)?;
    let t_adam = try_median_secs(50, || adam.step(&mut p, &g).map(|_| ()))?;
    emit("linalg", "adam-step", n, threads, t_adam, 0.0);
    println!(
        "{{\"impl\":\"gradus\",\"suite\":\"linalg\",\"name\":\"shampoo-over-adam\",\"n\":{n},\"threads\":{threads},\"ratio\":{:.2}}}",
        shampoo / t_adam
    );
    Ok(())
}
