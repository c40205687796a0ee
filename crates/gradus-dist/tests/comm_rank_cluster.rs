//! `RankCluster` over the in-process transport against `Cluster`: same trajectory bit for
//! bit, errors on every rank, time-outs, malformed frames and checkpoint resume.

use std::time::Duration;

use gradus_core::{Error, Objective, Result, Rng, rng};
use gradus_dist::comm::{Local, RankCluster, Transport, block};
use gradus_dist::compression::{Cluster, Compressor, Ef21Init, Method, RandK, TopK};
use gradus_models::{Dense, LogisticRegression};
use rand::Rng as _;

/// Worker `i`'s logistic regression on its own shard (minibatches of 4 of 12 rows, so the
/// workers' generator streams matter), optionally failing at a given call.
#[derive(Clone)]
struct Shard {
    inner: LogisticRegression<f64>,
    fail_at: Option<usize>,
    calls: usize,
}

impl Objective<f64> for Shard {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn loss_grad(&mut self, p: &[f64], g: &mut [f64], r: &mut Rng) -> Result<f64> {
        let l = self.inner.loss_grad(p, g, r)?;
        self.calls += 1;
        if Some(self.calls) == self.fail_at {
            g[1] = f64::NAN;
        }
        Ok(l)
    }
}

fn shard(i: usize, d: usize) -> Shard {
    let mut r = rng::stream(77, i as u64);
    let rows = 12;
    let x: Vec<f64> = (0..rows * d).map(|_| r.random_range(-1.0..1.0)).collect();
    let y: Vec<f64> = (0..rows).map(|k| if (k + i) % 3 == 0 { 1.0 } else { -1.0 }).collect();
    let x = Dense::from_row_major(rows, d, x).unwrap();
    Shard { inner: LogisticRegression::new(x, y, 1e-3, 4).unwrap(), fail_at: None, calls: 0 }
}

const D: usize = 15; // 14 weights + bias
const ETA: f64 = 0.5;

/// `rounds` rounds of `x -= eta u` with the in-process cluster; returns (params, losses,
/// bits).
fn reference<C: Compressor<f64> + Clone>(
    n: usize,
    c: C,
    method: Method,
    init: Ef21Init,
    rounds: usize,
) -> (Vec<f64>, Vec<f64>, u64) {
    let objs = (0..n).map(|i| shard(i, D - 1)).collect();
    let mut cl = Cluster::new(objs, c, method).unwrap().with_init(init);
    let mut x = vec![0.0; D];
    let mut u = vec![0.0; D];
    let mut r = rng::seeded(5);
    let mut losses = Vec::new();
    for _ in 0..rounds {
        losses.push(cl.loss_grad(&x, &mut u, &mut r).unwrap());
        x.iter_mut().zip(&u).for_each(|(x, u)| *x -= ETA * u);
    }
    (x, losses, cl.bits_up())
}

/// Runs `f` on every endpoint of a mesh of `ranks`, one thread each; results in rank order.
fn on_ranks<R: Send>(ranks: usize, timeout: Duration, f: impl Fn(Local) -> R + Sync) -> Vec<R> {
    let mesh = Local::mesh(ranks, timeout).unwrap();
    std::thread::scope(|s| {
        let hs: Vec<_> = mesh.into_iter().map(|t| s.spawn(|| f(t))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn dist<C: Compressor<f64> + Clone, X: Transport>(
    t: X,
    n: usize,
    c: C,
    method: Method,
) -> RankCluster<f64, Shard, C, X> {
    let range = block(n, t.ranks(), t.rank());
    let objs = range.map(|i| shard(i, D - 1)).collect();
    RankCluster::new(t, n, objs, c, method).unwrap()
}

fn run_dist<C: Compressor<f64> + Clone, X: Transport>(
    cl: &mut RankCluster<f64, Shard, C, X>,
    x: &mut [f64],
    r: &mut Rng,
    rounds: usize,
) -> Result<Vec<f64>> {
    let mut u = vec![0.0; D];
    let mut losses = Vec::new();
    for _ in 0..rounds {
        losses.push(cl.loss_grad(x, &mut u, r)?);
        x.iter_mut().zip(&u).for_each(|(x, u)| *x -= ETA * u);
    }
    Ok(losses)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn ranks_follow_the_in_process_cluster_bit_for_bit() {
    let (n, rounds) = (5, 8);
    let cases = [
        (Method::Cgd, Ef21Init::Compressed),
        (Method::Ef, Ef21Init::Compressed),
        (Method::Ef21, Ef21Init::Compressed),
        (Method::Ef21, Ef21Init::Gradient),
    ];
    for (method, init) in cases {
        for random in [false, true] {
            let (want_x, want_l, want_bits) = if random {
                reference(n, RandK::new(D, 3, false).unwrap(), method, init, rounds)
            } else {
                reference(n, TopK::new(D, 3).unwrap(), method, init, rounds)
            };
            for ranks in [1, 2, 3] {
                let got = on_ranks(ranks, Duration::from_secs(20), |t| {
                    let mut x = vec![0.0; D];
                    let mut r = rng::seeded(5);
                    let (l, b, wire) = if random {
                        let mut cl =
                            dist(t, n, RandK::new(D, 3, false).unwrap(), method).with_init(init);
                        let l = run_dist(&mut cl, &mut x, &mut r, rounds).unwrap();
                        (l, cl.bits_up(), cl.wire())
                    } else {
                        let mut cl = dist(t, n, TopK::new(D, 3).unwrap(), method).with_init(init);
                        let l = run_dist(&mut cl, &mut x, &mut r, rounds).unwrap();
                        (l, cl.bits_up(), cl.wire())
                    };
                    (x, l, b, wire)
                });
                for (rank, (x, l, b, wire)) in got.iter().enumerate() {
                    let what = format!("{method:?} {init:?} random={random} rank {rank}/{ranks}");
                    assert_eq!(bits(x), bits(&want_x), "{what}");
                    assert_eq!(bits(l), bits(&want_l), "{what}");
                    assert_eq!(*b, want_bits, "{what}");
                    if rank == 0 {
                        // Plain-value sparsifiers: the packets are the accounted size.
                        assert_eq!(wire.payload_bits_up, want_bits, "{what}");
                        assert_eq!(wire.bytes_sent > 0, ranks > 1, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_failing_worker_fails_the_round_on_every_rank() {
    let (n, ranks) = (4, 2);
    let mk = |i: usize| {
        let mut s = shard(i, D - 1);
        if i == 3 {
            s.fail_at = Some(2);
        }
        s
    };
    let mut cl =
        Cluster::new((0..n).map(mk).collect(), TopK::new(D, 2).unwrap(), Method::Ef21).unwrap();
    let (mut x, mut u, mut r) = (vec![0.0; D], vec![0.0; D], rng::seeded(1));
    cl.loss_grad(&x, &mut u, &mut r).unwrap();
    x.iter_mut().zip(&u).for_each(|(x, u)| *x -= ETA * u);
    let want = cl.loss_grad(&x, &mut u, &mut r).unwrap_err();
    assert!(matches!(want, Error::NonFinite { index: 3, .. }));
    let got = on_ranks(ranks, Duration::from_secs(20), |t| {
        let range = block(n, t.ranks(), t.rank());
        let mut cl =
            RankCluster::new(t, n, range.map(mk).collect(), TopK::new(D, 2).unwrap(), Method::Ef21)
                .unwrap();
        let (mut x, mut u, mut r) = (vec![0.0; D], vec![0.0; D], rng::seeded(1));
        cl.loss_grad(&x, &mut u, &mut r).unwrap();
        x.iter_mut().zip(&u).for_each(|(x, u)| *x -= ETA * u);
        let before = cl.server_estimate().to_vec();
        let e = cl.loss_grad(&x, &mut u, &mut r).unwrap_err();
        assert_eq!(cl.server_estimate(), &before[..], "no state change");
        assert_eq!(cl.rounds(), 1);
        e
    });
    assert!(got.iter().all(|e| *e == want), "{got:?} vs {want:?}");
}

#[test]
fn a_silent_rank_is_a_timeout_naming_it() {
    let got = on_ranks(3, Duration::from_secs(1), |t| {
        let rank = t.rank();
        let mut cl = dist(t, 3, TopK::new(D, 2).unwrap(), Method::Ef);
        let (mut x, mut r) = (vec![0.0; D], rng::seeded(2));
        let first = run_dist(&mut cl, &mut x, &mut r, 1);
        if rank == 2 {
            // Stays alive but never takes part in round 2.
            std::thread::sleep(Duration::from_millis(3500));
            return (first.map(|_| ()), Ok(()));
        }
        (first.map(|_| ()), run_dist(&mut cl, &mut x, &mut r, 1).map(|_| ()))
    });
    assert!(got.iter().all(|(a, _)| a.is_ok()));
    match &got[0].1 {
        Err(Error::Io { path, message }) => {
            assert_eq!(path, "rank 2");
            assert!(message.contains("within"), "{message}");
        }
        e => panic!("server: {e:?}"),
    }
    match &got[1].1 {
        Err(Error::Io { path, message }) => {
            assert_eq!(path, "rank 0");
            assert!(message.contains("stopped the run") && message.contains("rank 2"), "{message}");
        }
        e => panic!("rank 1: {e:?}"),
    }
}

#[test]
fn an_exited_rank_is_an_error_not_a_hang() {
    let got = on_ranks(2, Duration::from_secs(30), |t| {
        if t.rank() == 1 {
            return Ok(());
        }
        let mut cl = dist(t, 2, TopK::new(D, 2).unwrap(), Method::Cgd);
        let (mut x, mut r) = (vec![0.0; D], rng::seeded(2));
        run_dist(&mut cl, &mut x, &mut r, 1).map(|_| ())
    });
    assert!(matches!(&got[0], Err(Error::Io { path, .. }) if path == "rank 1"), "{:?}", got[0]);
}

/// A transport that garbles one byte of every frame it sends.
struct Garble<X>(X, usize);

impl<X: Transport> Transport for Garble<X> {
    fn rank(&self) -> usize {
        self.0.rank()
    }
    fn ranks(&self) -> usize {
        self.0.ranks()
    }
    fn send(&mut self, to: usize, tag: u32, bytes: &[u8]) -> Result<()> {
        let mut b = bytes.to_vec();
        let at = self.1.min(b.len() - 1);
        b[at] ^= 0xff;
        self.0.send(to, tag, &b)
    }
    fn recv(&mut self, from: usize, tag: u32) -> Result<Vec<u8>> {
        self.0.recv(from, tag)
    }
}

#[test]
fn malformed_frames_are_clear_errors() {
    // Byte 0: magic; byte 6: rank; byte 40: worker range; byte 70: inside the packet.
    for at in [0usize, 6, 40, 70, 10_000] {
        let got = on_ranks(2, Duration::from_secs(20), |t| {
            let mut cl = if t.rank() == 1 {
                let g: Box<dyn Transport + Send> = Box::new(Garble(t, at));
                dist(g, 2, TopK::new(D, 2).unwrap(), Method::Ef21)
            } else {
                let g: Box<dyn Transport + Send> = Box::new(t);
                dist(g, 2, TopK::new(D, 2).unwrap(), Method::Ef21)
            };
            let (mut x, mut r) = (vec![0.0; D], rng::seeded(3));
            run_dist(&mut cl, &mut x, &mut r, 1).map(|_| ())
        });
        match &got[0] {
            Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("rank 1"), "{detail}"),
            Err(Error::NonFinite { .. }) => {}
            e => panic!("byte {at}: server got {e:?}"),
        }
        assert!(got[1].is_err(), "byte {at}");
    }
}

#[test]
fn checkpoints_resume_the_same_trajectory() {
    let dir = std::env::temp_dir().join(format!("gradus-comm-ck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (n, ranks) = (4, 3);
    let straight = on_ranks(ranks, Duration::from_secs(20), |t| {
        let mut cl = dist(t, n, RandK::new(D, 4, false).unwrap(), Method::Ef21);
        let mut x = vec![0.0; D];
        for k in 0..6 {
            run_dist(&mut cl, &mut x, &mut rng::stream(9, k), 1).unwrap();
        }
        x
    });
    let dir2 = dir.clone();
    let first = on_ranks(ranks, Duration::from_secs(20), move |t| {
        let rank = t.rank();
        let mut cl = dist(t, n, RandK::new(D, 4, false).unwrap(), Method::Ef21);
        let mut x = vec![0.0; D];
        for k in 0..3 {
            run_dist(&mut cl, &mut x, &mut rng::stream(9, k), 1).unwrap();
        }
        cl.save_checkpoint(dir2.join(format!("rank{rank}.ck")), &x).unwrap();
    });
    assert_eq!(first.len(), ranks);
    let resumed = on_ranks(ranks, Duration::from_secs(20), |t| {
        let rank = t.rank();
        let mut cl = dist(t, n, RandK::new(D, 4, false).unwrap(), Method::Ef21);
        let mut x = vec![0.0; D];
        cl.load_checkpoint(dir.join(format!("rank{rank}.ck")), &mut x).unwrap();
        assert_eq!(cl.rounds(), 3);
        for k in 3..6 {
            run_dist(&mut cl, &mut x, &mut rng::stream(9, k), 1).unwrap();
        }
        x
    });
    for (a, b) in straight.iter().zip(&resumed) {
        assert_eq!(bits(a), bits(b));
    }
    // Rank 2 loading rank 1's file: refused on every rank, nothing loaded.
    let refused = on_ranks(ranks, Duration::from_secs(20), |t| {
        let rank = t.rank();
        let mut cl = dist(t, n, RandK::new(D, 4, false).unwrap(), Method::Ef21);
        let mut x = vec![0.0; D];
        let file = if rank == 2 { 1 } else { rank };
        let r = cl.load_checkpoint(dir.join(format!("rank{file}.ck")), &mut x);
        (r, cl.rounds(), x)
    });
    for (r, rounds, x) in &refused {
        assert!(matches!(r, Err(Error::Corrupt { .. }) | Err(Error::StateMismatch { .. })));
        assert_eq!(*rounds, 0);
        assert!(x.iter().all(|&v| v == 0.0));
    }
    std::fs::remove_dir_all(&dir).ok();
}
