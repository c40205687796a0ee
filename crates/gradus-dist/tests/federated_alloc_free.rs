//! The mean's SIMD kernel allocates nothing per column piece or per group of four clients:
//! the number of heap allocations of `Aggregator::Mean` does not grow with `n` or `d`. A
//! counting global allocator proves it; it counts only on the thread that enables it.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use gradus_core::Par;
use gradus_dist::federated::aggregate::Aggregator;
use gradus_dist::federated::{NonFinitePolicy, Updates};
use gradus_kernels::chunk::CHUNK;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

#[test]
fn the_mean_allocates_the_same_whatever_n_and_d() {
    let mut counts = Vec::new();
    for (n, d) in [(4, 8), (4, 4 * CHUNK + 5), (13, 4 * CHUNK + 5)] {
        let x: Vec<f64> = (0..n * d).map(|i| ((i * 7919) % 1013) as f64 - 500.0).collect();
        let u = Updates::new(&x, n, d).unwrap();
        let (res, k) = count(|| Aggregator::Mean.aggregate(u, NonFinitePolicy::Reject, Par::Seq));
        assert_eq!(res.unwrap().vector.len(), d);
        counts.push(k);
    }
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "allocations per call: {counts:?}");
}
