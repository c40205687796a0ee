//! `EarlyStopping::observe` allocates nothing: the checkpoint buffer is allocated once by
//! `new`, so the rule can sit inside an allocation-free training loop.

use gradus_core::alloc_count::{CountingAllocator, count_allocations};
use gradus_models::EarlyStopping;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn observe_does_not_allocate() {
    // The counter works: a vector allocates.
    assert!(count_allocations(|| vec![0u8; 16]).1 >= 1);
    let mut rule = EarlyStopping::new(0.01, 5, 1000).unwrap();
    let mut params = vec![0.0; 1000];
    let (fired, allocations) = count_allocations(|| {
        let mut fired = None;
        // Falls (every value a new best: the checkpoint is copied each time), then rises.
        for k in 0..40 {
            let v = if k < 20 { 1.0 / (1.0 + k as f64) } else { 0.05 * k as f64 };
            params[0] = k as f64;
            if rule.observe(v, &params).unwrap().converged {
                fired = rule.converged_at();
                break;
            }
        }
        fired
    });
    assert_eq!(allocations, 0);
    assert_eq!(fired, Some(25));
    assert_eq!(rule.best_at(), Some(20));
    assert_eq!(rule.best_params().unwrap()[0], 19.0);
}
