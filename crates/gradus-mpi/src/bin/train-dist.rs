//! `mpirun -np 4 train-dist [options]`: logistic regression with EF21 + top-k (or CGD / EF,
//! rand-k) across MPI ranks, rank 0 the server; prints per-round loss, bytes and time.
//!
//! `--transport threads --ranks N` runs the same protocol over threads of one process, and
//! `--transport cluster` the in-process `Cluster`, for comparison. Checkpoints: every rank
//! writes `DIR/rank{r}.ck` every `--checkpoint-every` rounds; `--resume` continues from them.
//! On any error the rank prints it and the MPI job is aborted, so no rank is left waiting.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gradus_dist::comm::Local;
use gradus_mpi::fault::{Fault, Faulty};
use gradus_mpi::problem::Spec;
use gradus_mpi::run::{self, Settings};
use gradus_mpi::transport::Mpi;

#[derive(Parser, Debug)]
#[command(name = "train-dist", about = "Compressed data-parallel logistic regression over MPI")]
struct Args {
    /// mpi (launch with mpirun), threads (one process, --ranks threads) or cluster.
    #[arg(long, default_value = "mpi")]
    transport: String,
    /// Ranks for --transport threads.
    #[arg(long, default_value_t = 4)]
    ranks: usize,
    /// Workers (default: one per rank).
    #[arg(long)]
    workers: Option<usize>,
    /// Features (the model has features + 1 parameters).
    #[arg(long, default_value_t = 10_000)]
    features: usize,
    /// Rows per worker.
    #[arg(long, default_value_t = 16)]
    rows: usize,
    /// Values per message (default: 1% of the parameters).
    #[arg(long)]
    k: Option<usize>,
    /// cgd, ef or ef21.
    #[arg(long, default_value = "ef21")]
    method: String,
    /// Rand-k instead of top-k.
    #[arg(long)]
    randk: bool,
    /// Step size (the loss is at most 1/4-smooth: features have unit expected row norm).
    #[arg(long, default_value_t = 2.0)]
    eta: f64,
    #[arg(long, default_value_t = 1e-4)]
    l2: f64,
    #[arg(long, default_value_t = 20)]
    rounds: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 1)]
    data_seed: u64,
    /// Receive time-out in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Directory of the per-rank checkpoints.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    checkpoint_every: u64,
    #[arg(long)]
    resume: bool,
    /// Test hook: silent | garble | exit, on --fault-rank from --fault-round on.
    #[arg(long, hide = true)]
    fault: Option<String>,
    #[arg(long, hide = true, default_value_t = 1)]
    fault_rank: usize,
    #[arg(long, hide = true, default_value_t = 1)]
    fault_round: usize,
}

fn settings(a: &Args, ranks: usize) -> Result<Settings, String> {
    let spec = Spec { features: a.features, rows: a.rows, l2: a.l2, seed: a.data_seed };
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        return Err(format!("--timeout {} must be positive", a.timeout));
    }
    Ok(Settings {
        spec,
        workers: a.workers.unwrap_or(ranks),
        method: run::parse_method(&a.method).map_err(|e| e.to_string())?,
        k: a.k.unwrap_or((spec.dim() / 100).max(1)),
        randk: a.randk,
        eta: a.eta,
        rounds: a.rounds,
        seed: a.seed,
        timeout: Duration::from_secs_f64(a.timeout),
        checkpoint: a.checkpoint.clone(),
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
    })
}

fn main() -> ExitCode {
    let a = Args::parse();
    let print = &mut |l: &str| println!("{l}");
    match a.transport.as_str() {
        "cluster" => {
            let s = match settings(&a, 1) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            match run::in_process(&s, print) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        "threads" => {
            let s = match settings(&a, a.ranks) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            let mesh = match Local::mesh(a.ranks, s.timeout) {
                Ok(m) => m,
                Err(e) => return fail(&e.to_string()),
            };
            let fault = a.fault.as_deref().map(|f| Fault::parse(f, s.timeout * 3));
            let fault = match fault.transpose() {
                Ok(f) => f.map(|f| (f, a.fault_rank, a.fault_round)),
                Err(e) => return fail(&e.to_string()),
            };
            let results: Vec<Result<(), String>> = std::thread::scope(|sc| {
                let hs: Vec<_> = mesh
                    .into_iter()
                    .map(|t| {
                        let s = &s;
                        sc.spawn(move || {
                            let r = t_rank(&t);
                            let mut p = |l: &str| println!("{l}");
                            run::over(s, Faulty::new(t, fault), "threads", &mut p)
                                .map(|_| ())
                                .map_err(|e| format!("rank {r}: {e}"))
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap_or(Err("a rank panicked".into()))).collect()
            });
            let errs: Vec<String> = results.into_iter().filter_map(|r| r.err()).collect();
            if errs.is_empty() { ExitCode::SUCCESS } else { fail(&errs.join("\n")) }
        }
        "mpi" => mpi_main(&a),
        t => fail(&format!("--transport {t} (mpi | threads | cluster)")),
    }
}

fn t_rank(t: &Local) -> usize {
    use gradus_dist::comm::Transport;
    t.rank()
}

fn mpi_main(a: &Args) -> ExitCode {
    let Some(universe) = mpi::initialize() else {
        return fail("MPI could not be initialised (was it initialised twice?)");
    };
    let world = universe.world();
    use mpi::traits::Communicator;
    let (rank, ranks) = (world.rank() as usize, world.size() as usize);
    let s = match settings(a, ranks) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let fault = a.fault.as_deref().map(|f| Fault::parse(f, s.timeout * 3));
    let fault = match fault.transpose() {
        Ok(f) => f.map(|f| (f, a.fault_rank, a.fault_round)),
        Err(e) => return fail(&e.to_string()),
    };
    let t = match Mpi::new(world, s.timeout) {
        Ok(t) => t,
        Err(e) => return fail(&e.to_string()),
    };
    let t = Faulty::new(t, fault);
    let print = &mut |l: &str| println!("{l}");
    // `over` consumes the transport; keep a communicator to abort with.
    let abort_world = universe.world();
    match run::over(&s, t, "mpi", print) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            gradus_mpi::eprintln_whole!("train-dist: rank {rank}: error: {e}");
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            // Ends every rank: none is left waiting for a round that will not come.
            abort_world.abort(if rank == 0 { 2 } else { 3 })
        }
    }
}

fn fail(e: &str) -> ExitCode {
    gradus_mpi::eprintln_whole!("train-dist: error: {e}");
    ExitCode::from(2)
}
