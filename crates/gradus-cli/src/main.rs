//! `gradus`: list and reproduce the experiments of the gradus engine.

mod ctx;
mod experiments;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gradus",
    version,
    about = "Reproduce the gradus experiments: tables, CSV and SVG plots"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the experiments.
    List,
    /// Run one experiment (or `all`) and write its report.
    Reproduce {
        /// Experiment name from `gradus list`, or `all`.
        name: String,
        /// Smaller problems and fewer steps (each experiment finishes in under a minute).
        #[arg(long)]
        quick: bool,
        /// Output directory; each experiment writes `<out>/<name>/`.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Base seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Experiment option `key=value` (repeatable; `gradus list` shows each experiment's).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for e in experiments::all() {
                println!("{:<18} {}", e.name, e.title);
                for (key, help) in e.options {
                    println!("{:<18}   --set {key}=...  {help}", "");
                }
            }
            ExitCode::SUCCESS
        }
        Command::Reproduce { name, quick, out, seed, threads, set } => {
            if let Some(t) = threads {
                if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(t).build_global() {
                    eprintln!("error: cannot set {t} threads: {e}");
                    return ExitCode::FAILURE;
                }
            }
            let chosen: Vec<_> = experiments::all()
                .into_iter()
                .filter(|e| name == "all" || e.name == name)
                .collect();
            if chosen.is_empty() {
                eprintln!("error: no experiment `{name}` (see `gradus list`)");
                return ExitCode::FAILURE;
            }
            let mut options = std::collections::BTreeMap::new();
            for kv in &set {
                let Some((k, v)) = kv.split_once('=') else {
                    eprintln!("error: --set expects KEY=VALUE, got `{kv}`");
                    return ExitCode::FAILURE;
                };
                if let Some(e) = chosen.iter().find(|e| !e.options.iter().any(|(key, _)| *key == k))
                {
                    eprintln!(
                        "error: experiment `{}` has no option `{k}` (see `gradus list`)",
                        e.name
                    );
                    return ExitCode::FAILURE;
                }
                options.insert(k.to_string(), v.to_string());
            }
            let ctx = ctx::Ctx { quick, seed, options };
            let mut index = Vec::new();
            let mut failed = false;
            for e in chosen {
                eprintln!("== {} ({})", e.name, e.title);
                let started = std::time::Instant::now();
                let mut verdicts = String::new();
                let status = match (e.run)(&ctx).map_err(|err| err.to_string()).and_then(|report| {
                    verdicts = report.judged().summary();
                    report.write(&out).map_err(|err| format!("writing report: {err}"))
                }) {
                    Ok(dir) => {
                        eprintln!(
                            "   wrote {} in {:.1} s",
                            dir.display(),
                            started.elapsed().as_secs_f64()
                        );
                        format!(
                            "ok ({:.1} s{}); {}",
                            started.elapsed().as_secs_f64(),
                            if quick { ", quick" } else { "" },
                            verdicts
                        )
                    }
                    Err(err) => {
                        eprintln!("   FAILED: {err}");
                        failed = true;
                        format!("failed: {err}")
                    }
                };
                index.push((e.name.to_string(), e.title.to_string(), status));
            }
            if let Err(err) =
                std::fs::create_dir_all(&out).and_then(|_| gradus_report::write_index(&out, &index))
            {
                eprintln!("error: writing index: {err}");
                return ExitCode::FAILURE;
            }
            if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
    }
}
