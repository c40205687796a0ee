//! The mean's SIMD kernel allocates nothing per column piece or per group of four clients:
//! the number of heap allocations of `Aggregator::Mean` does not grow with `n` or `d`. A
//! counting global allocator proves it; it counts only on the thread that enables it.

use gradus_core::Par;
use gradus_dist::federated::aggregate::Aggregator;
use gradus_dist::federated::{NonFinitePolicy, Updates};
use gradus_kernels::chunk::CHUNK;

use gradus_core::alloc_count::{CountingAllocator, count_allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn the_mean_allocates_the_same_whatever_n_and_d() {
    let mut counts = Vec::new();
    for (n, d) in [(4, 8), (4, 4 * CHUNK + 5), (13, 4 * CHUNK + 5)] {
        let x: Vec<f64> = (0..n * d).map(|i| ((i * 7919) % 1013) as f64 - 500.0).collect();
        let u = Updates::new(&x, n, d).unwrap();
        let (res, k) =
            count_allocations(|| Aggregator::Mean.aggregate(u, NonFinitePolicy::Reject, Par::Seq));
        assert_eq!(res.unwrap().vector.len(), d);
        counts.push(k);
    }
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "allocations per call: {counts:?}");
}
