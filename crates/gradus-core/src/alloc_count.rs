//! A counting global allocator, so a test (or a user's own harness) can prove that a training
//! loop performs no heap allocation per step. [`count_allocations`] counts only on threads that
//! opted in, so concurrent tests in the same binary do not disturb each other's counts;
//! [`count_allocations_all_threads`] counts on every thread (rayon workers included), for the
//! parallel paths, and must run alone in its process (one test per test binary).
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: gradus_core::alloc_count::CountingAllocator = gradus_core::alloc_count::CountingAllocator;
//! let (_, allocations) = gradus_core::alloc_count::count_allocations(|| trainer.run(...));
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Count on every thread, not only those inside [`count_allocations`].
static ALL_THREADS: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting `alloc` and `realloc` calls made on threads inside
/// [`count_allocations`]. Install it with `#[global_allocator]`.
pub struct CountingAllocator;

// SAFETY: every call forwards to `System` unchanged; the counter is a side effect only.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note() {
    // `try_with`: during thread teardown the flag may already be gone; such allocations are
    // outside any counted region anyway.
    if ALL_THREADS.load(Ordering::Relaxed) || COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `f` and returns its result with the number of heap allocations the calling thread
/// made meanwhile (0 unless [`CountingAllocator`] is the global allocator). Allocations on
/// other threads (e.g. rayon workers) are not counted.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

/// Runs `f` and returns its result with the number of heap allocations made meanwhile on
/// *every* thread of the process (rayon workers included; 0 unless [`CountingAllocator`] is the
/// global allocator). Anything else running concurrently is counted too, so a test using it
/// should be the only test in its binary.
pub fn count_allocations_all_threads<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    ALL_THREADS.store(true, Ordering::SeqCst);
    let r = f();
    ALL_THREADS.store(false, Ordering::SeqCst);
    (r, ALLOCATIONS.load(Ordering::SeqCst) - before)
}
