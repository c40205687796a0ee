//! `mpirun -np P mpi-check`: checks on every rank that the MPI runs follow the in-process
//! runs bit for bit, and that checkpoints resume the same trajectory. Prints one line per
//! check on rank 0 and closes with `mpi-check: N passed, M failed`; the exit code is non-zero
//! when any check failed on any rank.

use std::process::ExitCode;
use std::time::Duration;

use gradus_core::{Objective, Result, rng};
use gradus_dist::comm::{RankCluster, Transport, block};
use gradus_dist::compression::{Cluster, Compressor, Ef21Init, Method, RandK, TopK};
use gradus_mpi::problem::Spec;
use gradus_mpi::run::fingerprint;
use gradus_mpi::transport::Mpi;
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

const ETA: f64 = 0.5;
const ROUNDS: u64 = 10;

fn spec() -> Spec {
    Spec { features: 40, rows: 8, l2: 1e-3, seed: 21 }
}

fn comp(randk: bool) -> Box<dyn Compressor<f64>> {
    let d = spec().dim();
    if randk {
        Box::new(RandK::new(d, 5, false).expect("valid rand-k"))
    } else {
        Box::new(TopK::new(d, 5).expect("valid top-k"))
    }
}

/// Per-round (loss bits, parameter fingerprint) and the accounted bits, in process.
fn reference(
    n: usize,
    method: Method,
    init: Ef21Init,
    randk: bool,
) -> Result<(Vec<(u64, u64)>, u64)> {
    let mut cl = Cluster::new(spec().shards(0..n)?, comp(randk), method)?.with_init(init);
    let mut x = vec![0.0; cl.dim()];
    let mut trace = Vec::new();
    gradus_mpi::driver::rounds(&mut cl, &mut x, ETA, 7, 0..ROUNDS, |_, r, x| {
        trace.push((r.loss.to_bits(), fingerprint(x)));
        Ok(())
    })?;
    Ok((trace, cl.bits_up()))
}

fn distributed(
    world: &SimpleCommunicator,
    n: usize,
    method: Method,
    init: Ef21Init,
    randk: bool,
) -> Result<(Vec<(u64, u64)>, u64)> {
    let t = Mpi::new(world.duplicate(), Duration::from_secs(60))?;
    let range = block(n, t.ranks(), t.rank());
    let mut cl =
        RankCluster::new(t, n, spec().shards(range)?, comp(randk), method)?.with_init(init);
    let mut x = vec![0.0; cl.dim()];
    let mut trace = Vec::new();
    gradus_mpi::driver::rounds(&mut cl, &mut x, ETA, 7, 0..ROUNDS, |_, r, x| {
        trace.push((r.loss.to_bits(), fingerprint(x)));
        Ok(())
    })?;
    Ok((trace, cl.bits_up()))
}

/// Straight run of `ROUNDS` vs. half, checkpoint, fresh cluster, resume, other half.
fn resume(world: &SimpleCommunicator, n: usize) -> Result<bool> {
    let rank = world.rank() as usize;
    // One directory for the job: rank 0's process id.
    let mut pid = std::process::id() as u64;
    world.process_at_rank(0).broadcast_into(&mut pid);
    let dir = std::env::temp_dir().join(format!("gradus-mpi-check-{pid}"));
    std::fs::create_dir_all(&dir).map_err(|e| gradus_core::Error::io(dir.display(), e))?;
    let make = || -> Result<_> {
        let t = Mpi::new(world.duplicate(), Duration::from_secs(60))?;
        let range = block(n, t.ranks(), t.rank());
        RankCluster::new(t, n, spec().shards(range)?, comp(true), Method::Ef)
    };
    let mut a = make()?;
    let mut xa = vec![0.0; a.dim()];
    gradus_mpi::driver::rounds(&mut a, &mut xa, ETA, 9, 0..ROUNDS, |_, _, _| Ok(()))?;
    let mut b = make()?;
    let mut xb = vec![0.0; b.dim()];
    let half = ROUNDS / 2;
    gradus_mpi::driver::rounds(&mut b, &mut xb, ETA, 9, 0..half, |_, _, _| Ok(()))?;
    let file = dir.join(format!("rank{rank}.ck"));
    b.save_checkpoint(&file, &xb)?;
    let mut c = make()?;
    let mut xc = vec![0.0; c.dim()];
    c.load_checkpoint(&file, &mut xc)?;
    gradus_mpi::driver::rounds(&mut c, &mut xc, ETA, 9, half..ROUNDS, |_, _, _| Ok(()))?;
    world.barrier();
    if rank == 0 {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(fingerprint(&xa) == fingerprint(&xc) && a.bits_up() == c.bits_up())
}

/// Federated rounds over MPI (clients spread over the ranks, defence on rank 0) against
/// `Federation::run` in process, for each robust rule and the LSH screen, under attack.
fn federated(world: &SimpleCommunicator) -> Vec<(String, std::result::Result<(), String>)> {
    use gradus_core::{Layout, Par};
    use gradus_dist::comm::fed::{self, FedPart};
    use gradus_dist::federated::aggregate::{Aggregator, Krum, Weiszfeld};
    use gradus_dist::federated::attack::Attack;
    use gradus_dist::federated::data::{Dataset, split, synthetic};
    use gradus_dist::federated::screening::HammingScreen;
    use gradus_dist::federated::sim::{Benchmark, Defense, FedConfig, Federation};
    use gradus_optim::{Agm, AgmConfig};

    let sgd = |l: Layout| Agm::new("sgd", AgmConfig::sgd(0.1).with_par(Par::Seq), l);
    let clients = 12;
    let setup = || -> Result<(Vec<Dataset>, Dataset, Dataset)> {
        let mut r = rng::seeded(31);
        let all = synthetic::gaussian_mixture(clients * 40 + 300, 6, 3, 1.0, &mut r)?;
        let idx = |a: usize, b: usize| (a..b).collect::<Vec<_>>();
        let server = all.subset(&idx(clients * 40, clients * 40 + 100))?;
        let test = all.subset(&idx(clients * 40 + 100, clients * 40 + 300))?;
        let train = all.subset(&idx(0, clients * 40))?;
        let parts = split::iid(train.len(), clients, &mut r)?;
        let sets = parts.iter().map(|p| train.subset(p)).collect::<Result<Vec<_>>>()?;
        Ok((sets, server, test))
    };
    let defenses = [
        Defense::Aggregate(Aggregator::Krum(Krum::new(2))),
        Defense::Aggregate(Aggregator::GeometricMedian(Weiszfeld::default())),
        Defense::Aggregate(Aggregator::TrimmedMean { b: 2 }),
        Defense::LshScreen {
            r: 4,
            benchmark: Benchmark::ServerUpdate,
            screen: HammingScreen::default(),
            then: Aggregator::Mean,
        },
    ];
    let mut out = Vec::new();
    for defense in defenses {
        let cfg = FedConfig {
            rounds: 5,
            participants: 9,
            local_steps: 3,
            batch: 8,
            byzantine_fraction: 0.25,
            attack: Attack::SignFlip { scale: 4.0 },
            defense: defense.clone(),
            seed: 5,
            par: Par::Seq,
            ..FedConfig::default()
        };
        let name = format!(
            "federated {} under sign flip, {clients} clients on {} ranks: same history as in-process",
            defense.name(),
            world.size()
        );
        let verdict = (|| -> Result<bool> {
            let (sets, server, test) = setup()?;
            let want =
                Federation::new(sets.clone(), server.clone(), test.clone())?.run(&cfg, sgd)?;
            let mut t = Mpi::new(world.duplicate(), Duration::from_secs(60))?;
            let mine = block(clients, t.ranks(), t.rank());
            let part = FedPart { clients, local: sets[mine].to_vec(), server, test };
            let got = fed::run(&mut t, &part, &cfg, sgd)?;
            let b = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            Ok(b(&got.params) == b(&want.params) && got.rounds == want.rounds)
        })();
        out.push((
            name,
            match verdict {
                Ok(true) => Ok(()),
                Ok(false) => Err("histories differ".into()),
                Err(e) => Err(e.to_string()),
            },
        ));
    }
    out
}

fn main() -> ExitCode {
    let Some(universe) = mpi::initialize() else {
        gradus_mpi::eprintln_whole!("mpi-check: MPI could not be initialised");
        return ExitCode::from(2);
    };
    let world = universe.world();
    let (rank, ranks) = (world.rank() as usize, world.size() as usize);
    let n = 2 * ranks + 1;
    let mut results: Vec<(String, std::result::Result<(), String>)> = Vec::new();
    let cases = [
        (Method::Cgd, Ef21Init::Compressed),
        (Method::Ef, Ef21Init::Compressed),
        (Method::Ef21, Ef21Init::Compressed),
        (Method::Ef21, Ef21Init::Gradient),
    ];
    for (method, init) in cases {
        for randk in [false, true] {
            let name = format!(
                "{} {init:?} {} {n} workers on {ranks} ranks: same trajectory as in-process",
                method.label(),
                if randk { "rand-k" } else { "top-k" }
            );
            let got = distributed(&world, n, method, init, randk);
            let want = reference(n, method, init, randk);
            let verdict = match (got, want) {
                (Ok(g), Ok(w)) if g == w => Ok(()),
                (Ok(g), Ok(w)) => {
                    let k = g.0.iter().zip(&w.0).position(|(a, b)| a != b);
                    Err(format!("differs from round {k:?} (bits {} vs {})", g.1, w.1))
                }
                (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
            };
            results.push((name, verdict));
        }
    }
    let r = resume(&world, n);
    results.push((
        "EF rand-k: checkpoint at half-way and resume = straight run".into(),
        match r {
            Ok(true) => Ok(()),
            Ok(false) => Err("resumed run differs".into()),
            Err(e) => Err(e.to_string()),
        },
    ));
    results.extend(federated(&world));
    // Every rank checked its own trajectory; a check passes only if it passed everywhere.
    let mut passed = 0usize;
    let mut failed = 0usize;
    for (name, v) in &results {
        let bad_here: u64 = u64::from(v.is_err());
        let mut bad: u64 = 0;
        world.all_reduce_into(&bad_here, &mut bad, SystemOperation::sum());
        if let Err(e) = v {
            gradus_mpi::eprintln_whole!("mpi-check: rank {rank}: FAILED {name}: {e}");
        }
        if bad == 0 {
            passed += 1;
            if rank == 0 {
                println!("ok   {name}");
            }
        } else {
            failed += 1;
            if rank == 0 {
                println!("FAIL {name} (on {bad} rank(s))");
            }
        }
    }
    if rank == 0 {
        println!("mpi-check: {passed} passed, {failed} failed");
    }
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
