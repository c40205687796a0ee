//! After warm-up, a step of the DRO objectives (`GfsDro` with every inner sampler, `Erm`), a
//! full-batch validation pass with a re-seeded generator, and a step of the WFR and SVGD
//! flows make no heap allocation, under `Par::Seq` and on the rayon pool. The counting allocator here counts on *every* thread while a window is open (the
//! rayon workers do the per-point work), so this binary holds a single test: nothing else
//! runs while a window is open.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gradus_core::{Objective, Par, Rng, rng};
use gradus_ot::dro::data::GaussianMixture;
use gradus_ot::dro::{Erm, GfsConfig, GfsDro, InnerSampler, MultinomialLogistic};
use gradus_ot::flows::{
    Bandwidth, BirthDeath, Donor, Flow, GaussianTarget, Langevin, Particles, Reaction, Svgd, Wfr,
};

struct AllThreads;

static OPEN: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System`; the counter is a side effect only.
unsafe impl GlobalAlloc for AllThreads {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if OPEN.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if OPEN.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: AllThreads = AllThreads;

/// One step of a flow on particles.
type Stepper = Box<dyn FnMut(&mut Particles, &mut Rng) + Send>;

/// Heap allocations on any thread while `f` runs.
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = COUNT.load(Ordering::SeqCst);
    OPEN.store(true, Ordering::SeqCst);
    let r = f();
    OPEN.store(false, Ordering::SeqCst);
    (r, COUNT.load(Ordering::SeqCst) - before)
}

fn steps(obj: &mut (dyn Objective<f64> + Send), theta: &[f64], r: &mut Rng, k: usize) -> usize {
    let mut g = vec![0.0; theta.len()];
    // Warm-up (grows every buffer), then the counted steps on the same buffers.
    for _ in 0..3 {
        obj.loss_grad(theta, &mut g, r).unwrap();
    }
    // The counter sees every thread, so an unrelated allocation elsewhere in the process (a
    // pool thread parking, the test harness) can land in a window now and then. A per-step
    // allocation shows in every window: the least count over three windows keeps that signal
    // and drops the stray ones.
    (0..3)
        .map(|_| {
            counted(|| {
                for _ in 0..k {
                    obj.loss_grad(theta, &mut g, r).unwrap();
                }
            })
            .1
        })
        .min()
        .unwrap_or(0)
}

#[test]
fn dro_steps_and_flows_do_not_allocate() {
    // The counter sees allocations on the calling thread and on rayon workers (so a zero
    // below means something).
    assert!(counted(|| vec![0u8; 16]).1 >= 1);
    let (_, on_workers) = counted(|| {
        Par::Rayon.on_pool(|| {
            use rayon::prelude::*;
            (0..256usize)
                .into_par_iter()
                .map(|i| std::hint::black_box(vec![i; 3]).len())
                .sum::<usize>()
        })
    });
    assert!(on_workers >= 256, "{on_workers}");

    let gm = GaussianMixture::new(10, 32, 3.0, 1).unwrap();
    let data = gm.sample(200, 2).unwrap();
    let model = MultinomialLogistic::new(32, 10).unwrap();
    let theta = model.init(&mut rng::seeded(3));
    let samplers = [
        ("wgf", InnerSampler::Wgf),
        ("wrm", InnerSampler::Wrm),
        (
            "wfr",
            InnerSampler::Wfr {
                weight_step: 0.1,
                reaction: Reaction::PointMass,
                birth_death: Some(BirthDeath { threshold: 0.95, donor: Donor::Proportional }),
            },
        ),
        (
            "wfr-kde",
            InnerSampler::Wfr {
                weight_step: 0.1,
                reaction: Reaction::Kde(Bandwidth::Median),
                birth_death: Some(BirthDeath { threshold: 0.5, donor: Donor::Heaviest }),
            },
        ),
        ("svgd", InnerSampler::Svgd { init_noise: 0.1, rmsprop: None }),
        ("svgd-rms", InnerSampler::Svgd { init_noise: 0.1, rmsprop: Some(0.9) }),
        ("rgo", InnerSampler::Rgo { smoothness: 1.0, ascent_steps: 5, max_trials: 100 }),
    ];
    for par in [Par::Seq, Par::Rayon] {
        for (name, sampler) in samplers {
            let cfg = GfsConfig {
                lambda: 10.0,
                epsilon: 0.2,
                particles: 8,
                inner_steps: 5,
                step: 0.01,
                sampler,
                clip: None,
                batch: 16,
                par,
            };
            let mut dro = GfsDro::new(&model, &data, cfg).unwrap();
            let mut r = rng::seeded(4);
            // On the pool, as `train` runs it: the parallel passes fork from a worker.
            let n = par.on_pool(|| steps(&mut dro, &theta, &mut r, 4));
            assert_eq!(n, 0, "{name} under {par:?}: {n} allocations in 4 steps");
        }
        // A validation pass as the Sec. 6.3 experiment runs it after every epoch: all points
        // in order (batch 0), the generator re-seeded each time (common random numbers), so
        // repeated passes at the same theta return the same value without allocating.
        let cfg = GfsConfig {
            lambda: 10.0,
            epsilon: 0.2,
            particles: 8,
            inner_steps: 5,
            step: 0.01,
            sampler: InnerSampler::Wgf,
            clip: None,
            batch: 0,
            par,
        };
        let mut val = GfsDro::new(&model, &data, cfg).unwrap();
        let mut g = vec![0.0; theta.len()];
        let (first, n) = par.on_pool(|| {
            let first = val.loss_grad(&theta, &mut g, &mut rng::seeded(7)).unwrap();
            let n = (0..3)
                .map(|_| {
                    counted(|| {
                        let again = val.loss_grad(&theta, &mut g, &mut rng::seeded(7)).unwrap();
                        assert_eq!(again.to_bits(), first.to_bits());
                    })
                    .1
                })
                .min()
                .unwrap_or(0);
            (first, n)
        });
        assert!(first.is_finite());
        assert_eq!(n, 0, "validation pass under {par:?}: {n} allocations");
        let mut erm = Erm::new(&model, &data, 16).unwrap();
        let mut r = rng::seeded(5);
        let n = par.on_pool(|| steps(&mut erm, &theta, &mut r, 10));
        assert_eq!(n, 0, "erm under {par:?}: {n} allocations in 10 steps");
    }

    // The flows on their own on a 2-D Gaussian: WFR with a kernel reaction on 300 particles
    // (several particle blocks, no faer product), SVGD on 60 (its products are direct loops
    // up to 64 particles; beyond, faer allocates packing buffers per product: documented at
    // `rbf_weighted_sums`).
    let target = GaussianTarget::new(vec![1.0, -1.0], &[1.0, 0.3, 0.3, 0.5]).unwrap();
    let start: Vec<f64> = (0..600).map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0).collect();
    for par in [Par::Seq, Par::Rayon] {
        let mut flows: Vec<(&str, usize, Stepper)> = vec![
            (
                "wfr",
                300,
                Box::new({
                    let mut f = Wfr::new(
                        Langevin::new(0.05, 1.0).unwrap(),
                        0.05,
                        Reaction::Kde(Bandwidth::Median),
                    )
                    .unwrap()
                    .with_birth_death(BirthDeath { threshold: 0.5, donor: Donor::Proportional })
                    .unwrap();
                    let t = target.clone();
                    move |p: &mut Particles, r: &mut Rng| f.step(p, &t, r, par).unwrap()
                }),
            ),
            (
                "svgd",
                60,
                Box::new({
                    let mut f =
                        Svgd::new(0.05, Bandwidth::Median, 1.0).unwrap().with_rmsprop(0.9).unwrap();
                    let t = target.clone();
                    move |p: &mut Particles, r: &mut Rng| f.step(p, &t, r, par).unwrap()
                }),
            ),
        ];
        for (name, n, step) in flows.iter_mut() {
            let mut p = Particles::new(2, start[..2 * *n].to_vec()).unwrap();
            let mut r = rng::seeded(6);
            let n = par.on_pool(|| {
                for _ in 0..3 {
                    step(&mut p, &mut r);
                }
                (0..3)
                    .map(|_| {
                        counted(|| {
                            for _ in 0..5 {
                                step(&mut p, &mut r);
                            }
                        })
                        .1
                    })
                    .min()
                    .unwrap_or(0)
            });
            assert_eq!(n, 0, "{name} under {par:?}: {n} allocations in 5 steps");
        }
    }
}
