//! CGD, EF and EF21 as optimizers and as a multi-worker cluster: their recursions against
//! hand-written references, the eps = 0 reductions to gradient descent, Trainer integration
//! and exact resumption, rejected steps, and thread-count independence.

use gradus_core::{Error, Layout, Objective, Par, Result, Rng, rng};
use gradus_dist::compression::{
    Cgd, Cluster, Ef, Ef21, Ef21Init, Identity, Method, RandK, TopK, index_bits,
};
use gradus_models::data::classification;
use gradus_models::{Differentiable, LogisticRegression, Quadratic};
use gradus_optim::{Agm, Optimizer, Trainer};

fn quad(d: usize, seed: u64) -> Quadratic<f64> {
    Quadratic::ill_conditioned(d, 20.0, seed).unwrap()
}

fn grad(f: &mut Quadratic<f64>, x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    f.full_loss_grad(x, &mut g).unwrap();
    g
}

/// Top-k through a full sort (magnitude descending, index ascending).
fn topk_ref(v: &[f64], k: usize) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].abs().total_cmp(&v[a].abs()).then(a.cmp(&b)));
    let mut out = vec![0.0; v.len()];
    for &i in &idx[..k] {
        out[i] = v[i];
    }
    out
}

fn logistic(n: usize, d: usize, batch: usize, seed: u64) -> LogisticRegression<f64> {
    let mut r = rng::seeded(seed);
    let (x, labels) = classification::<f64>(n, d, 2, 1.0, 3.0, &mut r).unwrap();
    let y = labels.iter().map(|&l| if l == 0 { -1.0 } else { 1.0 }).collect();
    LogisticRegression::new(x, y, 1e-2, batch).unwrap()
}

#[test]
fn without_compression_every_method_is_gradient_descent() {
    let (d, eta) = (8, 0.5);
    let layout = Layout::flat(d).unwrap();
    let mut f = quad(d, 1);
    let id = || Identity::new(d).unwrap();
    let mut ef = Ef::new(layout.clone(), id(), eta, 0).unwrap();
    let mut cgd = Cgd::new(layout.clone(), id(), eta, 0).unwrap();
    let mut ef21 = Ef21::new(layout, id(), eta, Ef21Init::Compressed, 0).unwrap();
    let (mut x_ef, mut x_cgd, mut x_ef21) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let (mut gd_sub, mut gd_fma) = (vec![0.0f64; d], vec![0.0f64; d]);
    for _ in 0..60 {
        let g = grad(&mut f, &gd_sub);
        gd_sub.iter_mut().zip(&g).for_each(|(x, g)| *x -= eta * g);
        let g = grad(&mut f, &gd_fma);
        gd_fma.iter_mut().zip(&g).for_each(|(x, g)| *x = (-eta).mul_add(*g, *x));
        let g = grad(&mut f, &x_ef);
        ef.step(&mut x_ef, &g).unwrap();
        let g = grad(&mut f, &x_cgd);
        cgd.step(&mut x_cgd, &g).unwrap();
        let g = grad(&mut f, &x_ef21);
        ef21.step(&mut x_ef21, &g).unwrap();
        // EF: x - (0 + eta g) rounds exactly like GD's x - eta g, and e stays 0.
        assert_eq!(x_ef, gd_sub);
        assert!(ef.error().iter().all(|&e| e == 0.0));
        assert_eq!(x_cgd, gd_fma);
        // EF21: d + (g - d) equals g only up to rounding.
        for (a, b) in x_ef21.iter().zip(&gd_fma) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()));
        }
    }
}

#[test]
fn methods_follow_their_recursions() {
    let (d, k, eta) = (12, 3, 0.3);
    let layout = Layout::flat(d).unwrap();
    let mut f = quad(d, 2);
    let x0: Vec<f64> = (0..d).map(|i| (i as f64 * 0.7).sin()).collect();
    // EF: v = e + eta g, c = C(v), x -= c, e = v - c.
    let mut opt = Ef::new(layout.clone(), TopK::new(d, k).unwrap(), eta, 0).unwrap();
    let (mut x, mut xr, mut e) = (x0.clone(), x0.clone(), vec![0.0; d]);
    for _ in 0..40 {
        let g = grad(&mut f, &x);
        opt.step(&mut x, &g).unwrap();
        let gr = grad(&mut f, &xr);
        let v: Vec<f64> = (0..d).map(|i| eta.mul_add(gr[i], e[i])).collect();
        let c = topk_ref(&v, k);
        (0..d).for_each(|i| {
            xr[i] -= c[i];
            e[i] = v[i] - c[i];
        });
        assert_eq!(x, xr);
        assert_eq!(opt.error(), &e[..]);
        assert_eq!(opt.last_message(), &c[..]);
    }
    // CGD: x -= eta C(g).
    let mut opt = Cgd::new(layout.clone(), TopK::new(d, k).unwrap(), eta, 0).unwrap();
    let (mut x, mut xr) = (x0.clone(), x0.clone());
    for _ in 0..40 {
        let g = grad(&mut f, &x);
        opt.step(&mut x, &g).unwrap();
        let c = topk_ref(&grad(&mut f, &xr), k);
        (0..d).for_each(|i| xr[i] = (-eta).mul_add(c[i], xr[i]));
        assert_eq!(x, xr);
    }
    // EF21: d += C(g - d), x -= eta d.
    let mut opt =
        Ef21::new(layout, TopK::new(d, k).unwrap(), eta, Ef21Init::Compressed, 0).unwrap();
    let (mut x, mut xr, mut dr) = (x0.clone(), x0, vec![0.0; d]);
    for _ in 0..40 {
        let g = grad(&mut f, &x);
        opt.step(&mut x, &g).unwrap();
        let gr = grad(&mut f, &xr);
        let u: Vec<f64> = (0..d).map(|i| gr[i] - dr[i]).collect();
        let c = topk_ref(&u, k);
        (0..d).for_each(|i| {
            dr[i] += c[i];
            xr[i] = (-eta).mul_add(dr[i], xr[i]);
        });
        assert_eq!(x, xr);
        assert_eq!(opt.estimate(), &dr[..]);
    }
}

#[test]
fn ef21_gradient_initialisation_sends_the_full_gradient_first() {
    let d = 10;
    let mut f = quad(d, 3);
    let x0 = vec![0.5; d];
    let g = grad(&mut f, &x0);
    let mut opt =
        Ef21::new(Layout::flat(d).unwrap(), TopK::new(d, 2).unwrap(), 0.1, Ef21Init::Gradient, 0)
            .unwrap();
    let mut x = x0.clone();
    opt.step(&mut x, &g).unwrap();
    assert_eq!(opt.estimate(), &g[..]);
    assert_eq!(opt.bits_sent(), 10 * 64);
    let g1 = grad(&mut f, &x);
    opt.step(&mut x, &g1).unwrap();
    assert_eq!(opt.bits_sent(), 640 + 2 * (64 + index_bits(d)));
}

/// Trains `steps`, saves, trains `steps` more; a fresh trainer resumed from the checkpoint
/// must reach the same parameters bit for bit (compressor randomness included).
fn resume_exactly<O: Optimizer<f64> + Clone + Send>(opt: O, name: &str) {
    let model = logistic(120, 6, 16, 4);
    let dir =
        std::env::temp_dir().join(format!("gradus-compression-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.ck");
    let x0 = vec![0.0; 7];
    let mut t1 = Trainer::new(model.clone(), opt.clone(), x0.clone(), 5).unwrap();
    let first = t1.run(40).unwrap();
    t1.save_checkpoint(&path).unwrap();
    let last = t1.run(40).unwrap();
    assert!(last.last_loss < first.last_loss, "{name} did not make progress");
    let mut t2 = Trainer::new(model, opt, x0, 5).unwrap();
    t2.resume(&path).unwrap();
    t2.run(40).unwrap();
    assert_eq!(t1.params(), t2.params(), "{name}");
    assert_eq!(t1.optimizer().state().unwrap(), t2.optimizer().state().unwrap(), "{name}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn trainer_runs_the_methods_and_resumes_exactly() {
    let l = || Layout::flat(7).unwrap();
    resume_exactly(Cgd::new(l(), RandK::unbiased(7, 3).unwrap(), 0.2, 1).unwrap(), "cgd");
    resume_exactly(Ef::new(l(), RandK::contractive(7, 2).unwrap(), 0.5, 2).unwrap(), "ef");
    resume_exactly(
        Ef21::new(l(), RandK::contractive(7, 2).unwrap(), 0.5, Ef21Init::Gradient, 3).unwrap(),
        "ef21",
    );
}

/// A NaN gradient, a wrong length and an overflowing compressor input are rejected with the
/// parameters and the full state untouched.
fn rejects_cleanly<O: Optimizer<f64>>(mut opt: O, name: &str) {
    let d = opt.layout().len();
    let mut x = vec![0.25; d];
    opt.step(&mut x, &vec![0.5; d]).unwrap();
    let (x_before, state) = (x.clone(), opt.state().unwrap());
    let mut bad = vec![0.1; d];
    bad[2] = f64::NAN;
    assert_eq!(
        opt.step(&mut x, &bad).unwrap_err(),
        Error::NonFinite { what: "gradient", index: 2 }
    );
    assert!(opt.step(&mut x, &bad[..d - 1]).is_err());
    assert!(opt.step(&mut x[..d - 1], &vec![0.0; d - 1]).is_err());
    assert_eq!(x, x_before, "{name}");
    assert_eq!(opt.state().unwrap(), state, "{name}");
}

#[test]
fn rejected_steps_change_nothing() {
    let (d, l) = (5, || Layout::flat(5).unwrap());
    rejects_cleanly(Cgd::new(l(), RandK::unbiased(d, 2).unwrap(), 0.1, 0).unwrap(), "cgd");
    rejects_cleanly(Ef::new(l(), RandK::contractive(d, 2).unwrap(), 0.1, 0).unwrap(), "ef");
    rejects_cleanly(
        Ef21::new(l(), RandK::contractive(d, 2).unwrap(), 0.1, Ef21Init::Compressed, 0).unwrap(),
        "ef21",
    );
    // EF's v = e + eta g overflows: the compressor refuses it and nothing moves.
    let mut ef = Ef::new(l(), RandK::contractive(d, 2).unwrap(), 1.0, 0).unwrap();
    ef.set_error(&[f64::MAX; 5]).unwrap();
    let state = ef.state().unwrap();
    let mut x = vec![1.0; d];
    assert!(matches!(ef.step(&mut x, &[f64::MAX; 5]), Err(Error::NonFinite { .. })));
    assert_eq!((x, ef.state().unwrap()), (vec![1.0; d], state));
    assert!(ef.set_error(&[f64::NAN; 5]).is_err());
    assert!(ef.set_error(&[0.0; 4]).is_err());
    assert!(Ef::<f64, _>::new(l(), TopK::new(4, 2).unwrap(), 0.1, 0).is_err());
    assert!(Ef::<f64, _>::new(l(), TopK::new(5, 2).unwrap(), 0.0, 0).is_err());
    assert!(Cgd::<f64, _>::new(l(), TopK::new(5, 2).unwrap(), f64::NAN, 0).is_err());
}

#[test]
fn load_state_refuses_mismatches() {
    let (d, l) = (6, || Layout::flat(6).unwrap());
    let mut ef = Ef::new(l(), TopK::new(d, 2).unwrap(), 0.1, 0).unwrap();
    ef.step(&mut vec![0.0; d], &[1.0, -2.0, 3.0, 0.5, 0.1, 0.0]).unwrap();
    let state = ef.state().unwrap();
    let mut other_k = Ef::<f64, _>::new(l(), TopK::new(d, 3).unwrap(), 0.1, 0).unwrap();
    assert!(matches!(
        other_k.load_state(&state),
        Err(Error::StateMismatch { field: "compressor", .. })
    ));
    let mut ef21 =
        Ef21::<f64, _>::new(l(), TopK::new(d, 2).unwrap(), 0.1, Ef21Init::Compressed, 0).unwrap();
    assert!(matches!(
        ef21.load_state(&state),
        Err(Error::StateMismatch { field: "optimizer", .. })
    ));
    let mut fresh = Ef::<f64, _>::new(l(), TopK::new(d, 2).unwrap(), 0.1, 0).unwrap();
    let mut bad = state.clone();
    bad.buffers[0].data = gradus_optim::BufferData::F64(vec![f64::NAN; d]);
    assert!(fresh.load_state(&bad).is_err());
    let mut bad = state.clone();
    bad.config = serde_json::json!({"eta": -1.0});
    assert!(fresh.load_state(&bad).is_err());
    assert_eq!(
        fresh.state().unwrap(),
        Ef::<f64, _>::new(l(), TopK::new(d, 2).unwrap(), 0.1, 0).unwrap().state().unwrap()
    );
    fresh.load_state(&state).unwrap();
    assert_eq!(fresh.state().unwrap(), state);
}

/// Quadratics `f_i` with different minimisers, one per worker.
fn workers(n: usize, d: usize) -> Vec<Quadratic<f64>> {
    (0..n).map(|i| quad(d, 100 + i as u64)).collect()
}

#[test]
fn one_worker_is_the_single_agent_method() {
    let (d, k, eta) = (9, 2, 0.4);
    let x0 = vec![0.3; d];
    for method in [Method::Cgd, Method::Ef, Method::Ef21] {
        let cluster = Cluster::new(workers(1, d), TopK::new(d, k).unwrap(), method).unwrap();
        let sgd = Agm::<f64>::sgd(Layout::flat(d).unwrap(), eta).unwrap();
        let mut t = Trainer::new(cluster, sgd, x0.clone(), 0).unwrap();
        t.run(50).unwrap();
        let mut f = workers(1, d).remove(0);
        let mut x = x0.clone();
        let l = Layout::flat(d).unwrap();
        let mut single: Box<dyn Optimizer<f64>> = match method {
            Method::Cgd => Box::new(Cgd::new(l, TopK::new(d, k).unwrap(), eta, 0).unwrap()),
            Method::Ef => Box::new(Ef::new(l, TopK::new(d, k).unwrap(), eta, 0).unwrap()),
            Method::Ef21 => Box::new(
                Ef21::new(l, TopK::new(d, k).unwrap(), eta, Ef21Init::Compressed, 0).unwrap(),
            ),
        };
        for _ in 0..50 {
            let g = grad(&mut f, &x);
            single.step(&mut x, &g).unwrap();
        }
        if method == Method::Ef {
            // Memory in gradient units: equal up to rounding for a homogeneous compressor.
            for (a, b) in t.params().iter().zip(&x) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "EF: {a} vs {b}");
            }
        } else {
            assert_eq!(t.params(), &x[..], "{method:?}");
        }
    }
}

#[test]
fn cluster_follows_the_multi_worker_recursion() {
    let (n, d, k, eta) = (3, 10, 3, 0.25f64);
    for method in [Method::Cgd, Method::Ef, Method::Ef21] {
        let mut cl = Cluster::new(workers(n, d), TopK::new(d, k).unwrap(), method).unwrap();
        let mut fs = workers(n, d);
        let mut x = vec![0.2; d];
        let mut mem = vec![vec![0.0; d]; n];
        let mut server = vec![0.0; d];
        let mut u = vec![0.0; d];
        let mut r = rng::seeded(1);
        for round in 0..25 {
            let loss = cl.loss_grad(&x, &mut u, &mut r).unwrap();
            let mut sum = vec![0.0; d];
            let mut mean_loss = 0.0;
            for i in 0..n {
                let mut g = vec![0.0; d];
                mean_loss += fs[i].full_loss_grad(&x, &mut g).unwrap() / n as f64;
                let c = match method {
                    Method::Cgd => topk_ref(&g, k),
                    Method::Ef => {
                        let v: Vec<f64> = (0..d).map(|j| g[j] + mem[i][j]).collect();
                        let c = topk_ref(&v, k);
                        (0..d).for_each(|j| mem[i][j] = v[j] - c[j]);
                        c
                    }
                    Method::Ef21 => {
                        let w: Vec<f64> = (0..d).map(|j| g[j] - mem[i][j]).collect();
                        let c = topk_ref(&w, k);
                        (0..d).for_each(|j| mem[i][j] += c[j]);
                        c
                    }
                };
                (0..d).for_each(|j| sum[j] = if i == 0 { c[j] } else { sum[j] + c[j] });
            }
            let mean: Vec<f64> = sum.iter().map(|s| s * (1.0 / n as f64)).collect();
            let want = if method == Method::Ef21 {
                (0..d).for_each(|j| server[j] += mean[j]);
                server.clone()
            } else {
                mean
            };
            assert_eq!(u, want, "{method:?} round {round}");
            assert!((loss - mean_loss).abs() <= 1e-14 * mean_loss.abs().max(1.0));
            for (i, mi) in mem.iter().enumerate() {
                let m = cl.memory(i).unwrap();
                assert_eq!(m, if method == Method::Cgd { &[][..] } else { &mi[..] });
            }
            x.iter_mut().zip(&u).for_each(|(x, u)| *x = (-eta).mul_add(*u, *x));
        }
        assert_eq!(cl.rounds(), 25);
        assert_eq!(cl.bits_up(), 25 * n as u64 * k as u64 * (64 + index_bits(d)));
        assert_eq!(cl.last_round().nnz, n * k);
    }
}

#[test]
fn cluster_results_do_not_depend_on_the_thread_count() {
    let (n, d) = (5, 9);
    let run = |method: Method, par: Par, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let objs: Vec<_> = (0..n).map(|i| logistic(60, d - 1, 8, 30 + i as u64)).collect();
            let comp = RandK::contractive(d, 3).unwrap();
            let cl = Cluster::new(objs, comp, method)
                .unwrap()
                .with_par(par)
                .with_init(Ef21Init::Gradient);
            let sgd = Agm::<f64>::sgd(Layout::flat(d).unwrap(), 0.3).unwrap();
            let mut t = Trainer::new(cl, sgd, vec![0.0; d], 8).unwrap();
            t.run(30).unwrap();
            (t.params().to_vec(), t.objective().bits_up())
        })
    };
    for method in [Method::Cgd, Method::Ef, Method::Ef21] {
        let one = run(method, Par::Rayon, 1);
        assert_eq!(one, run(method, Par::Rayon, 3), "{method:?}");
        assert_eq!(one, run(method, Par::Seq, 3), "{method:?}");
    }
}

/// A quadratic whose gradient turns NaN on its `bad`-th evaluation.
#[derive(Clone)]
struct Poisoned {
    inner: Quadratic<f64>,
    calls: usize,
    bad: usize,
}

impl Objective<f64> for Poisoned {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn loss_grad(&mut self, p: &[f64], g: &mut [f64], r: &mut Rng) -> Result<f64> {
        self.calls += 1;
        let f = self.inner.loss_grad(p, g, r)?;
        if self.calls == self.bad {
            g[0] = f64::NAN;
        }
        Ok(f)
    }
}

#[test]
fn a_failed_round_changes_no_memory() {
    let d = 6;
    for method in [Method::Ef, Method::Ef21] {
        let objs = vec![
            Poisoned { inner: quad(d, 1), calls: 0, bad: usize::MAX },
            Poisoned { inner: quad(d, 2), calls: 0, bad: 4 },
        ];
        let mut cl = Cluster::new(objs, TopK::new(d, 2).unwrap(), method).unwrap();
        let (x, mut u, mut r) = (vec![1.0; d], vec![0.0; d], rng::seeded(0));
        for _ in 0..3 {
            cl.loss_grad(&x, &mut u, &mut r).unwrap();
        }
        let before: Vec<Vec<f64>> = (0..2).map(|i| cl.memory(i).unwrap().to_vec()).collect();
        let (server, bits) = (cl.server_estimate().to_vec(), cl.bits_up());
        let err = cl.loss_grad(&x, &mut u, &mut r).unwrap_err();
        // The error names the worker (1), not the coordinate of the NaN (0).
        assert_eq!(
            err,
            Error::NonFinite { what: "worker gradient (index is the worker)", index: 1 }
        );
        for (i, b) in before.iter().enumerate() {
            assert_eq!(cl.memory(i).unwrap(), &b[..], "{method:?} worker {i}");
        }
        assert_eq!((cl.server_estimate().to_vec(), cl.bits_up(), cl.rounds()), (server, bits, 3));
    }
    let mismatched = vec![quad(4, 1), quad(5, 2)];
    assert!(Cluster::new(mismatched, TopK::new(4, 1).unwrap(), Method::Ef).is_err());
    assert!(
        Cluster::new(Vec::<Quadratic<f64>>::new(), TopK::new(4, 1).unwrap(), Method::Ef).is_err()
    );
    assert!(Cluster::new(vec![quad(4, 1)], TopK::new(5, 1).unwrap(), Method::Ef).is_err());
}

/// `f_i(x) = |x - c_i|^2 / 2` plus noise `N(0, 0.1^2)` per coordinate drawn from the
/// generator passed in: a gradient costs one pass, and the rng matters.
#[derive(Clone)]
struct NoisyShift {
    c: Vec<f64>,
}

impl Objective<f64> for NoisyShift {
    fn dim(&self) -> usize {
        self.c.len()
    }
    fn loss_grad(&mut self, x: &[f64], g: &mut [f64], r: &mut Rng) -> Result<f64> {
        let mut f = 0.0;
        for ((g, &x), &c) in g.iter_mut().zip(x).zip(&self.c) {
            *g = x - c + 0.1 * gradus_models::data::normal(r);
            f += 0.5 * (x - c) * (x - c);
        }
        Ok(f)
    }
}

#[test]
fn cluster_server_sum_over_several_pieces_does_not_depend_on_the_thread_count() {
    // More than two pieces of the server's parallel sum (PIECE = 2^14) and an odd tail.
    let (n, d) = (3, 2 * (1 << 14) + 7);
    let run = |method: Method, par: Par, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let objs: Vec<_> = (0..n)
                .map(|i| NoisyShift {
                    c: (0..d).map(|j| ((i * 7 + j) % 13) as f64 - 6.0).collect(),
                })
                .collect();
            let comp = RandK::contractive(d, d / 3).unwrap();
            let cl = Cluster::new(objs, comp, method)
                .unwrap()
                .with_par(par)
                .with_init(Ef21Init::Gradient);
            let sgd = Agm::<f64>::sgd(Layout::flat(d).unwrap(), 0.3).unwrap();
            let mut t = Trainer::new(cl, sgd, vec![0.0; d], 8).unwrap();
            t.run(4).unwrap();
            (t.params().to_vec(), t.objective().server_estimate().to_vec(), t.objective().bits_up())
        })
    };
    for method in [Method::Cgd, Method::Ef, Method::Ef21] {
        let one = run(method, Par::Rayon, 1);
        assert!(one.0.iter().any(|&x| x != 0.0));
        assert_eq!(one, run(method, Par::Rayon, 3), "{method:?}");
        assert_eq!(one, run(method, Par::Seq, 3), "{method:?}");
    }
}
