//! Optimizer-step throughput: fused kernels, full `Agm` steps (validation included), and the
//! STREAM triad `a = b + s c` with ordinary and non-temporal stores as the bandwidth ceiling.

use std::collections::HashMap;

use gradus_core::{Layout, Par};
use gradus_kernels::{self as k, AdamConsts, Bf16Vec, SgdConsts};
use gradus_optim::{Agm, AgmConfig, Momentum, Optimizer, StatePrecision, WeightDecay};
use rayon::prelude::*;

use crate::timing::{emit, median_secs, reps_for, try_median_secs};

pub fn run(opts: &HashMap<String, String>, threads: usize) -> Result<(), String> {
    let n: usize = opts
        .get("n")
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as usize)
        .ok_or("--n N required")?;
    let reps = reps_for(n, 1.5);
    let g: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32 * 1e-3).sin()).collect();
    let mut p = vec![0.5f32; n];
    let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
    let par = Par::Rayon;

    let c = AdamConsts::<f32>::new(1e-3, 0.9, 0.999, 1e-8, 10, true);
    let t = try_median_secs(reps, || k::adam_step(par, &c, &mut p, &g, &mut m, &mut v, None))?;
    emit("optim-step", "adam-f32-kernel", n, threads, t, 28.0);

    let (mut mb, mut vb) = (Bf16Vec::zeros(n), Bf16Vec::zeros(n));
    let t =
        try_median_secs(reps, || k::adam_step_bf16(par, &c, &mut p, &g, &mut mb, &mut vb, None))?;
    emit("optim-step", "adam-bf16-kernel", n, threads, t, 20.0);
    let sr = k::Bf16Rounding::Stochastic { key: 1 };
    let t = try_median_secs(reps, || {
        k::adam_step_bf16_rounded(par, &c, sr, &mut p, &g, &mut mb, &mut vb, None)
    })?;
    emit("optim-step", "adam-bf16-sr-kernel", n, threads, t, 20.0);
    drop((mb, vb));

    let t = median_secs(reps, || {
        std::hint::black_box(k::grad_stats(par, &g));
    });
    emit("optim-step", "grad-stats", n, threads, t, 4.0);

    let sc = SgdConsts { momentum: 0.9, ..SgdConsts::<f32>::plain(1e-3) };
    let t = try_median_secs(reps, || k::sgd_step(par, &sc, &mut p, &g, Some(&mut m)))?;
    emit("optim-step", "sgd-momentum-f32-kernel", n, threads, t, 20.0);

    let layout = Layout::flat(n).map_err(|e| e.to_string())?;
    let configs = [
        ("adam-f32-step", AgmConfig::adam(1e-3), 28.0),
        (
            "adamw-f32-step",
            AgmConfig::adam(1e-3)
                .with_weight_decay(WeightDecay { coefficient: 1e-2, decoupled: true }),
            28.0,
        ),
        ("adam-bf16-step", AgmConfig::adam(1e-3).with_precision(StatePrecision::Bf16), 20.0),
        (
            // The norm is far below the threshold: every pass runs, nothing is scaled (as in
            // the torch clip_grad_norm_ peer).
            "adam-f32-step-clip",
            AgmConfig::adam(1e-3).with_max_grad_norm(1e6),
            28.0,
        ),
        (
            "adam-bf16-sr-step",
            AgmConfig::adam(1e-3).with_precision(StatePrecision::Bf16Stochastic),
            20.0,
        ),
        ("adam-f32-step-unchecked", AgmConfig::adam(1e-3).with_check_finite(false), 28.0),
        ("adam-bf16-step", AgmConfig::adam(1e-3).with_precision(StatePrecision::Bf16), 20.0),
        ("adam-f32-step-unchecked", AgmConfig::adam(1e-3).with_check_finite(false), 28.0),
        (
            "adam-bf16-step-unchecked",
            AgmConfig::adam(1e-3).with_check_finite(false).with_precision(StatePrecision::Bf16),
            20.0,
        ),
        (
            "sgd-momentum-f32-step",
            AgmConfig::sgd(1e-3).with_momentum(Momentum::HeavyBall {
                mu: 0.9,
                dampening: 0.0,
                nesterov: false,
            }),
            20.0,
        ),
    ];
    drop((m, v));
    for (name, cfg, bytes) in configs {
        let mut opt = Agm::<f32>::new(name, cfg, layout.clone()).map_err(|e| e.to_string())?;
        let t = try_median_secs(reps, || opt.step(&mut p, &g).map(|_| ()))?;
        emit("optim-step", name, n, threads, t, bytes);
    }
    drop(p);

    let (mut a, b, cc) = (vec![0.0f32; n], vec![1.0f32; n], vec![2.0f32; n]);
    let t = median_secs(reps, || triad(&mut a, &b, &cc, 3.0));
    emit("optim-step", "stream-triad", n, threads, t, 12.0);
    let t = median_secs(reps, || triad_nt(&mut a, &b, &cc, 3.0));
    emit("optim-step", "stream-triad-nt", n, threads, t, 12.0);
    Ok(())
}

const PIECE: usize = 1 << 16;

fn triad(a: &mut [f32], b: &[f32], c: &[f32], s: f32) {
    a.par_chunks_mut(PIECE).zip(b.par_chunks(PIECE)).zip(c.par_chunks(PIECE)).for_each(
        |((a, b), c)| {
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a = b + s * c;
            }
        },
    );
}

/// Triad with non-temporal (streaming) stores, the machine's write-bandwidth ceiling.
fn triad_nt(a: &mut [f32], b: &[f32], c: &[f32], s: f32) {
    a.par_chunks_mut(PIECE).zip(b.par_chunks(PIECE)).zip(c.par_chunks(PIECE)).for_each(
        |((a, b), c)| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx") {
                // SAFETY: AVX was detected at run time.
                unsafe { triad_nt_avx(a, b, c, s) };
                return;
            }
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a = b + s * c;
            }
        },
    );
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn triad_nt_avx(a: &mut [f32], b: &[f32], c: &[f32], s: f32) {
    use std::arch::x86_64::*;
    let n = a.len();
    // Scalar until `a` is 32-byte aligned, as streaming stores require.
    let head = (a.as_ptr().align_offset(32)).min(n);
    for i in 0..head {
        a[i] = b[i] + s * c[i];
    }
    let sv = _mm256_set1_ps(s);
    let mut i = head;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for all three slices (equal lengths); a + i is 32-byte aligned.
        unsafe {
            let x = _mm256_add_ps(
                _mm256_loadu_ps(b.as_ptr().add(i)),
                _mm256_mul_ps(sv, _mm256_loadu_ps(c.as_ptr().add(i))),
            );
            _mm256_stream_ps(a.as_mut_ptr().add(i), x);
        }
        i += 8;
    }
    for j in i..n {
        a[j] = b[j] + s * c[j];
    }
    _mm_sfence();
}
