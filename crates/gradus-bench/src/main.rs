//! `gradus-bench SUBCOMMAND [--key value ...]`: timing runs for the peer-comparison scripts in
//! `benches/peers/`. Prints one JSON object per measurement (median over repetitions).
//!
//! Subcommands:
//! - `optim-step --n N --threads T`: fused kernels, full optimizer steps, STREAM triads.

mod optim_step;
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
    let threads: usize = opts.get("threads").and_then(|t| t.parse().ok()).unwrap_or(2);
    if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global() {
        eprintln!("error: thread pool: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cmd.as_str() {
        "optim-step" => optim_step::run(&opts, threads),
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
