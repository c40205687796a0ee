//! Launches the binaries under `mpirun` on localhost (feature `mpi`; needs OpenMPI, and as
//! root `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`, which these tests set).
//! Every launch has a deadline: a run that does not end in time fails the test as a hang.
#![cfg(feature = "mpi")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Run {
    code: Option<i32>,
    out: String,
    err: String,
    seconds: f64,
}

fn mpirun(np: usize, bin: &str, args: &[&str], deadline: Duration) -> Run {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "-np", &np.to_string(), bin])
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = c.spawn().expect("mpirun must be installed (openmpi-bin)");
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let ho = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut so, &mut s).ok();
        s
    });
    let he = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut se, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{bin} {args:?} on {np} ranks still running after {deadline:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code(),
        out: ho.join().unwrap(),
        err: he.join().unwrap(),
        seconds: t.elapsed().as_secs_f64(),
    }
}

const CHECK: &str = env!("CARGO_BIN_EXE_mpi-check");
const TRAIN: &str = env!("CARGO_BIN_EXE_train-dist");

#[test]
fn three_ranks_follow_the_in_process_runs_bit_for_bit() {
    let r = mpirun(3, CHECK, &[], Duration::from_secs(300));
    println!("{}\n{}", r.out, r.err);
    assert_eq!(r.code, Some(0), "{}\n{}", r.out, r.err);
    assert!(r.out.contains(" 0 failed"), "{}", r.out);
    assert!(!r.out.contains("FAIL"), "{}", r.out);
}

fn round_lines(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

fn summary(out: &str) -> String {
    out.lines().find(|l| l.starts_with("summary:")).unwrap_or("").to_string()
}

fn tail_fingerprint(out: &str) -> String {
    summary(out).rsplit(' ').next().unwrap_or("").to_string()
}

#[test]
fn train_dist_on_four_ranks_matches_the_in_process_cluster() {
    let args = ["--features", "3000", "--rounds", "12", "--timeout", "60"];
    let r = mpirun(4, TRAIN, &args, Duration::from_secs(300));
    assert_eq!(r.code, Some(0), "{}\n{}", r.out, r.err);
    let rows = round_lines(&r.out);
    assert_eq!(rows.len(), 12, "{}", r.out);
    let loss: Vec<f64> = rows.iter().map(|c| c[1].parse().unwrap()).collect();
    assert!(loss[11] < loss[0], "loss should fall: {loss:?}");
    // Every round moved wire bytes both ways.
    assert!(rows.iter().all(|c| c[3] != "0" && c[4] != "0"), "{}", r.out);
    let local = Command::new(TRAIN)
        .args(["--transport", "cluster", "--workers", "4"])
        .args(args)
        .output()
        .unwrap();
    let lo = String::from_utf8_lossy(&local.stdout).to_string();
    assert!(local.status.success(), "{lo}");
    assert_eq!(tail_fingerprint(&r.out), tail_fingerprint(&lo), "{}\n{lo}", r.out);
    let (a, b) = (round_lines(&r.out), round_lines(&lo));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x[1], y[1], "loss per round");
        assert_eq!(x[2], y[2], "accounted bytes per round");
    }
}

#[test]
fn checkpoints_resume_under_mpirun() {
    let dir = std::env::temp_dir().join(format!("gradus-mpirun-ck-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let base = ["--features", "500", "--timeout", "60"];
    let straight =
        mpirun(3, TRAIN, &[&base[..], &["--rounds", "8"]].concat(), Duration::from_secs(300));
    assert_eq!(straight.code, Some(0), "{}", straight.err);
    let first = mpirun(
        3,
        TRAIN,
        &[&base[..], &["--rounds", "4", "--checkpoint", d, "--checkpoint-every", "4"]].concat(),
        Duration::from_secs(300),
    );
    assert_eq!(first.code, Some(0), "{}", first.err);
    let resumed = mpirun(
        3,
        TRAIN,
        &[&base[..], &["--rounds", "8", "--checkpoint", d, "--resume"]].concat(),
        Duration::from_secs(300),
    );
    assert_eq!(resumed.code, Some(0), "{}", resumed.err);
    assert!(resumed.out.contains("resumed at round 4"), "{}", resumed.out);
    assert_eq!(round_lines(&resumed.out).len(), 4);
    assert_eq!(tail_fingerprint(&straight.out), tail_fingerprint(&resumed.out));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_silent_rank_is_a_clear_error_on_the_server() {
    // The time-out leaves room for slow honest ranks on a loaded machine (4 processes on 2
    // cores), so that only the silent rank can be the one named.
    let args = ["--features", "200", "--rounds", "6", "--timeout", "10", "--fault", "silent"];
    let r = mpirun(
        3,
        TRAIN,
        &[&args[..], &["--fault-rank", "2", "--fault-round", "2"]].concat(),
        Duration::from_secs(120),
    );
    assert_ne!(r.code, Some(0), "{}", r.out);
    assert!(
        r.err.contains("rank 0: error: i/o error on rank 2: sent nothing within 10.0 s"),
        "{}",
        r.err
    );
    assert_eq!(round_lines(&r.out).len(), 2, "rounds 0 and 1 complete: {}", r.out);
    println!("silent rank detected after {:.1} s", r.seconds);
}

#[test]
fn a_garbled_frame_is_a_clear_error_on_the_server() {
    let args = ["--features", "200", "--rounds", "6", "--timeout", "30", "--fault", "garble"];
    let r = mpirun(
        3,
        TRAIN,
        &[&args[..], &["--fault-rank", "1", "--fault-round", "3"]].concat(),
        Duration::from_secs(120),
    );
    assert_ne!(r.code, Some(0), "{}", r.out);
    assert!(
        r.err.contains("rank 0: error: corrupt message from a rank: rank 1: frame checksum"),
        "{}",
        r.err
    );
    assert_eq!(round_lines(&r.out).len(), 3, "{}", r.out);
}

#[test]
fn a_rank_that_exits_ends_the_job() {
    let args = ["--features", "200", "--rounds", "6", "--timeout", "10", "--fault", "exit"];
    let r = mpirun(
        3,
        TRAIN,
        &[&args[..], &["--fault-rank", "2", "--fault-round", "1"]].concat(),
        Duration::from_secs(120),
    );
    assert_ne!(r.code, Some(0), "{}", r.out);
    println!("exit fault: code {:?} after {:.1} s\n{}", r.code, r.seconds, r.err);
}
