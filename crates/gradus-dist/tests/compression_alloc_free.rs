//! Compressing allocates nothing: every compressor, and `Trainer::run` with CGD, EF, EF21, the
//! `Compressed` wrapper over Adam (EF21, EF) and a sequential `Cluster`, make zero heap
//! allocations after the first step. A counting global allocator proves it; it counts only on
//! the thread that enables it.

use gradus_core::{Layout, Par, rng};
use gradus_dist::compression::{
    Cgd, Chain, Cluster, Compressed, Compressor, Ef, Ef21, Ef21Feedback, Ef21Init, ErrorFeedback,
    Identity, Induced, Method, NaturalCompression, NaturalDithering, Qsgd, RandK, Scaled,
    ScaledSign, TopK,
};
use gradus_models::Quadratic;
use gradus_optim::{Agm, AgmConfig, Optimizer, Trainer};

use gradus_core::alloc_count::{CountingAllocator, count_allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn compressors_do_not_allocate() {
    // Large enough for top-k's sampled path, small enough to be quick.
    let d = 20_000;
    let v: Vec<f64> = (0..d).map(|i| ((i * 7919) % 1013) as f64 - 500.0).collect();
    let mut out = vec![0.0; d];
    let all: Vec<Box<dyn Compressor<f64>>> = vec![
        Box::new(Identity::new(d).unwrap()),
        Box::new(TopK::new(d, 200).unwrap()),
        Box::new(TopK::new(d, 1).unwrap()),
        Box::new(RandK::unbiased(d, 200).unwrap()),
        Box::new(ScaledSign::new(d).unwrap()),
        Box::new(Qsgd::new(d, 4).unwrap()),
        Box::new(NaturalDithering::new(d, 4).unwrap()),
        Box::new(NaturalCompression::new(d).unwrap()),
        Box::new(Scaled::new::<f64>(RandK::unbiased(d, 20).unwrap()).unwrap()),
        Box::new(
            Chain::new(TopK::new(d, 20).unwrap(), NaturalCompression::new(d).unwrap()).unwrap(),
        ),
        Box::new(Induced::new(TopK::new(d, 20).unwrap(), RandK::unbiased(d, 20).unwrap()).unwrap()),
    ];
    let mut r = rng::seeded(0);
    for mut c in all {
        let (res, n) = count_allocations(|| c.compress(&v, &mut out, &mut r));
        res.unwrap();
        assert_eq!(n, 0, "{} allocated {n} times", c.name());
    }
}

fn run_counted<O: Optimizer<f64> + Send>(opt: O, name: &str) {
    let d = 16;
    let f = Quadratic::<f64>::ill_conditioned(d, 10.0, 1).unwrap();
    // The loop stays on this (counting) thread.
    let mut t = Trainer::new(f, opt, vec![0.0; d], 2).unwrap().with_par(Par::Seq);
    t.run(1).unwrap();
    let (res, n) = count_allocations(|| t.run(100));
    res.unwrap();
    assert_eq!(n, 0, "{name}: {n} allocations in 100 steps");
}

#[test]
fn single_agent_methods_do_not_allocate_per_step() {
    let (d, l) = (16, || Layout::flat(16).unwrap());
    run_counted(
        Cgd::new(l(), RandK::unbiased(d, 4).unwrap(), 0.1, 0).unwrap().with_par(Par::Seq),
        "cgd",
    );
    run_counted(Ef::new(l(), TopK::new(d, 4).unwrap(), 0.1, 0).unwrap().with_par(Par::Seq), "ef");
    run_counted(
        Ef21::new(l(), Qsgd::new(d, 2).unwrap(), 0.1, Ef21Init::Gradient, 0)
            .unwrap()
            .with_par(Par::Seq),
        "ef21",
    );
    // The wrapper over Adam: EF21 and EF in gradient units.
    let adam = || Agm::<f64>::new("adam", AgmConfig::adam(0.01).with_par(Par::Seq), l()).unwrap();
    let ef21 = Ef21Feedback::new(Ef21Init::Compressed);
    run_counted(
        Compressed::wrap(adam(), TopK::new(d, 4).unwrap(), ef21, 0).unwrap().with_par(Par::Seq),
        "ef21+adam",
    );
    let ef = ErrorFeedback::gradient_units();
    run_counted(
        Compressed::wrap(adam(), RandK::contractive(d, 4).unwrap(), ef, 0)
            .unwrap()
            .with_par(Par::Seq),
        "ef+adam",
    );
}

#[test]
fn a_sequential_cluster_does_not_allocate_per_round() {
    let d = 16;
    for method in [Method::Cgd, Method::Ef, Method::Ef21] {
        let objs: Vec<_> =
            (0..4).map(|i| Quadratic::<f64>::ill_conditioned(d, 10.0, i).unwrap()).collect();
        let cl = Cluster::new(objs, TopK::new(d, 3).unwrap(), method).unwrap().with_par(Par::Seq);
        let sgd = Agm::<f64>::new(
            "sgd",
            AgmConfig::sgd(0.1).with_par(Par::Seq),
            Layout::flat(d).unwrap(),
        )
        .unwrap();
        let mut t = Trainer::new(cl, sgd, vec![0.0; d], 3).unwrap().with_par(Par::Seq);
        t.run(1).unwrap();
        let (res, n) = count_allocations(|| t.run(50));
        res.unwrap();
        assert_eq!(n, 0, "{method:?}: {n} allocations in 50 rounds");
    }
}
