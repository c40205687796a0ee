//! The online-SGD simulator allocates nothing per sample.

use gradus_core::alloc_count::{CountingAllocator, count_allocations};
use gradus_models::teacher_student::{Activation, Init, OnlineSgd, SgdConfig};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn online_steps_do_not_allocate() {
    for (k, m, spherical) in [(1, 1, false), (3, 2, false), (1, 1, true)] {
        let cfg = SgdConfig {
            dim: 100_000,
            students: k,
            teachers: m,
            activation: Activation::Erf,
            c: 0.5,
            alpha: 1.0,
            noise_var: 0.1,
            spherical,
        };
        let mut s = OnlineSgd::new(cfg, Init::Random { scale: 1.0 }, 3).unwrap();
        s.step().unwrap();
        let (r, allocations) = count_allocations(|| s.run(20));
        r.unwrap();
        assert_eq!(allocations, 0, "K = {k}, M = {m}");
    }
}
