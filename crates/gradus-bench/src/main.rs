//! `gradus-bench SUBCOMMAND [--key value ...]`: timing runs for the peer-comparison scripts in
//! `benches/peers/`. Prints one JSON object per measurement (median over repetitions).
//!
//! Subcommands:
//! - `optim-step --n N --threads T`: fused kernels, full optimizer steps, STREAM triads.
//! - `sharpness --d D [--n N]`: diagonal-net training step and Hutchinson probe (paper 01).
//! - `covariance --what eval|fit --p P [--n N --data FILE]`: Toeplitz likelihood (paper 07).
//! - `linalg --what eigh|root|levinson|matvec|pcg|shampoo --n N [--dtype --backend]`.
//! - `aggregate --n N --d D [--f F --reps R --out DIR]`: robust aggregators and LSH hashing.
//! - `compress --n N [--k-frac F --workers W --what compressors|ef21|all]`: compressor
//!   throughput and one EF21 round.
//! - `drag --m M --d D --iters I [--eps E --targets FILE]`, `svgd --n N --d D`: optimal
//!   transport (paper 08) and particle flows (paper 03).
//! - `compare [--gungraun DIR] [--criterion DIR] [--threshold PCT] [--update yes]`: the
//!   regression check of `benches/compare.sh` (instruction counts and criterion medians against
//!   `benches/baseline/`; see `compare.rs`). Exits 1 on an instruction-count regression.

mod aggregate;
mod compare;
mod compress;
mod covariance;
mod linalg;
mod optim_step;
mod ot;
mod sharpness;
mod timing;

use std::collections::HashMap;
use std::process::ExitCode;

fn parse_args(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let key = k.strip_prefix("--").ok_or_else(|| format!("expected --key, got `{k}`"))?;
        let v = it.next().ok_or_else(|| format!("missing value for --{key}"))?;
        out.insert(key.to_string(), v.clone());
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("usage: gradus-bench optim-step --n N [--threads T]");
        return ExitCode::FAILURE;
    };
    let opts = match parse_args(&args[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cmd == "compare" {
        let run = compare::Options::from_args(&opts).and_then(|o| compare::run(&o));
        return match run {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    let threads: usize = opts.get("threads").and_then(|t| t.parse().ok()).unwrap_or(2);
    if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global() {
        eprintln!("error: thread pool: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cmd.as_str() {
        "optim-step" => optim_step::run(&opts, threads),
        "linalg" => linalg::run(&opts, threads),
        "covariance" => covariance::run(&opts),
        "sharpness" => sharpness::run(&opts, threads),
        "aggregate" => aggregate::run(&opts, threads),
        "compress" => compress::run(&opts, threads),
        "drag" => ot::drag(&opts, threads),
        "svgd" => ot::svgd(&opts, threads),
        other => Err(format!("unknown subcommand `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
