//! The `train-dist` run: logistic regression with CGD / EF / EF21 and top-k or rand-k over
//! any transport, or the in-process [`Cluster`] for comparison.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gradus_core::{Error, Objective, Result};
use gradus_dist::comm::{RankCluster, Transport, block};
use gradus_dist::compression::{Cluster, Compressor, Ef21Init, Method, RandK, TopK};
use gradus_models::LogisticRegression;

use crate::driver;
use crate::problem::Spec;

/// Settings of a `train-dist` run (every rank must use the same).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The data.
    pub spec: Spec,
    /// Workers (at least the number of ranks).
    pub workers: usize,
    /// CGD, EF or EF21.
    pub method: Method,
    /// Values each message keeps.
    pub k: usize,
    /// Rand-k instead of top-k.
    pub randk: bool,
    /// Step size.
    pub eta: f64,
    /// Rounds to reach (a resumed run continues up to this round).
    pub rounds: u64,
    /// Seed of the rounds (data has its own in `spec`).
    pub seed: u64,
    /// Receive time-out.
    pub timeout: Duration,
    /// Directory of the per-rank checkpoints.
    pub checkpoint: Option<PathBuf>,
    /// Save every this many rounds (and at the end).
    pub checkpoint_every: u64,
    /// Resume from the checkpoints in `checkpoint`.
    pub resume: bool,
}

/// Parses `cgd`, `ef` or `ef21`.
pub fn parse_method(s: &str) -> Result<Method> {
    match s.to_ascii_lowercase().as_str() {
        "cgd" => Ok(Method::Cgd),
        "ef" => Ok(Method::Ef),
        "ef21" => Ok(Method::Ef21),
        _ => Err(Error::Unsupported(format!("method `{s}` (cgd | ef | ef21)"))),
    }
}

/// The run's compressor.
pub fn compressor(s: &Settings) -> Result<Box<dyn Compressor<f64>>> {
    let d = s.spec.dim();
    Ok(if s.randk { Box::new(RandK::new(d, s.k, false)?) } else { Box::new(TopK::new(d, s.k)?) })
}

/// One printed line per round, and the totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Rounds run by this call.
    pub rounds: u64,
    /// Seconds over those rounds.
    pub seconds: f64,
    /// Accounted bits sent by the workers over those rounds.
    pub accounted_bits: u64,
    /// Frame bytes rank 0 received (workers to server) over those rounds.
    pub up_bytes: u64,
    /// Frame bytes rank 0 sent (server to workers) over those rounds.
    pub down_bytes: u64,
    /// Last mean loss.
    pub loss: f64,
    /// FNV-1a fingerprint of the final parameters' bits.
    pub fingerprint: u64,
}

impl Summary {
    /// The closing lines.
    pub fn lines(&self) -> String {
        let r = self.rounds.max(1) as f64;
        format!(
            "summary: {} rounds in {:.3} s = {:.2} rounds/s; per round: accounted {:.0} bytes up, \
             wire {:.0} bytes up + {:.0} bytes down; final loss {:.6}; params fingerprint {:016x}",
            self.rounds,
            self.seconds,
            self.rounds as f64 / self.seconds.max(1e-12),
            self.accounted_bits as f64 / 8.0 / r,
            self.up_bytes as f64 / r,
            self.down_bytes as f64 / r,
            self.loss,
            self.fingerprint
        )
    }
}

/// FNV-1a over the bits of `x`.
pub fn fingerprint(x: &[f64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in x {
        for b in v.to_bits().to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn header(s: &Settings, ranks: usize, transport: &str) -> String {
    let c = if s.randk { "rand-k" } else { "top-k" };
    format!(
        "# train-dist: {} + {c}(k={}), {} workers on {ranks} rank(s) ({transport}), d = {}, \
         {} rows per worker, eta {}, seed {}\nround loss accounted_bytes_up wire_bytes_up \
         wire_bytes_down ms",
        s.method.label(),
        s.k,
        s.workers,
        s.spec.dim(),
        s.spec.rows,
        s.eta,
        s.seed
    )
}

/// Runs this rank's part over `transport`; rank 0 prints one line per round to `out`.
pub fn over<X: Transport>(
    s: &Settings,
    transport: X,
    name: &str,
    out: &mut dyn FnMut(&str),
) -> Result<Summary> {
    let (rank, ranks) = (transport.rank(), transport.ranks());
    let objs = s.spec.shards(block(s.workers, ranks, rank))?;
    let mut cl = RankCluster::new(transport, s.workers, objs, compressor(s)?, s.method)?
        .with_init(Ef21Init::Compressed);
    let mut x = vec![0.0; s.spec.dim()];
    let ck = |r: usize| s.checkpoint.as_ref().map(|d| d.join(format!("rank{r}.ck")));
    if let Some(d) = &s.checkpoint {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d.display(), e))?;
    }
    if s.resume {
        let path =
            ck(rank).ok_or_else(|| Error::Unsupported("resume needs --checkpoint".into()))?;
        cl.load_checkpoint(path, &mut x)?;
    }
    let start = cl.rounds();
    if rank == 0 {
        out(&header(s, ranks, name));
        if s.resume {
            out(&format!("# resumed at round {start}"));
        }
    }
    let mut sum = Summary::default();
    let t0 = Instant::now();
    driver::rounds(&mut cl, &mut x, s.eta, s.seed, start..s.rounds.max(start), |cl, r, x| {
        let w = cl.wire();
        let acc = cl.last_round().bits;
        sum.rounds += 1;
        sum.accounted_bits += acc;
        sum.up_bytes += w.last_received;
        sum.down_bytes += w.last_sent;
        sum.loss = r.loss;
        if rank == 0 {
            out(&format!(
                "{} {:.6} {} {} {} {:.2}",
                r.round,
                r.loss,
                acc / 8,
                w.last_received,
                w.last_sent,
                r.seconds * 1e3
            ));
        }
        let due = s.checkpoint_every > 0 && (r.round + 1) % s.checkpoint_every == 0;
        if let (Some(p), true) = (ck(rank), due) {
            cl.save_checkpoint(p, x)?;
        }
        Ok(())
    })?;
    sum.seconds = t0.elapsed().as_secs_f64();
    sum.fingerprint = fingerprint(&x);
    if rank == 0 {
        out(&sum.lines());
    }
    Ok(sum)
}

/// The same run with the in-process [`Cluster`] (all workers in this process).
pub fn in_process(s: &Settings, out: &mut dyn FnMut(&str)) -> Result<Summary> {
    let objs: Vec<LogisticRegression<f64>> = s.spec.shards(0..s.workers)?;
    let mut cl = Cluster::new(objs, compressor(s)?, s.method)?;
    let mut x = vec![0.0; cl.dim()];
    out(&header(s, 1, "in-process cluster"));
    let mut sum = Summary::default();
    let t0 = Instant::now();
    driver::rounds(&mut cl, &mut x, s.eta, s.seed, 0..s.rounds, |cl, r, _| {
        let acc = cl.last_round().bits;
        sum.rounds += 1;
        sum.accounted_bits += acc;
        sum.loss = r.loss;
        out(&format!("{} {:.6} {} 0 0 {:.2}", r.round, r.loss, acc / 8, r.seconds * 1e3));
        Ok(())
    })?;
    sum.seconds = t0.elapsed().as_secs_f64();
    sum.fingerprint = fingerprint(&x);
    out(&sum.lines());
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradus_dist::comm::Local;

    fn settings() -> Settings {
        Settings {
            spec: Spec { features: 30, rows: 6, l2: 1e-4, seed: 4 },
            workers: 3,
            method: Method::Ef21,
            k: 4,
            randk: false,
            eta: 0.5,
            rounds: 6,
            seed: 8,
            timeout: Duration::from_secs(20),
            checkpoint: None,
            checkpoint_every: 0,
            resume: false,
        }
    }

    #[test]
    fn thread_ranks_match_the_in_process_cluster() {
        let s = settings();
        let want = in_process(&s, &mut |_| {}).unwrap();
        let mesh = Local::mesh(3, s.timeout).unwrap();
        let got: Vec<Summary> = std::thread::scope(|sc| {
            let hs: Vec<_> = mesh
                .into_iter()
                .map(|t| sc.spawn(|| over(&s, t, "threads", &mut |_| {}).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for g in &got {
            assert_eq!(g.fingerprint, want.fingerprint);
            assert_eq!(g.loss.to_bits(), want.loss.to_bits());
            assert_eq!(g.accounted_bits, want.accounted_bits);
        }
        assert!(got[0].up_bytes > 0 && got[0].down_bytes > 0);
        assert!(parse_method("EF21").is_ok() && parse_method("sgd").is_err());
    }
}
