//! Every public entry point of gradus-core, driven with arbitrary shapes and values (0, 1,
//! huge, NaN, infinite, overflowing sizes, duplicate names, serialised garbage): an error or a
//! consistent result, never a panic (issue 18).

use std::panic::{AssertUnwindSafe, catch_unwind};

use gradus_core::{BlockHyper, Layout, Par, rng, validate};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -3.0..3.0f64,
        1 => Just(0.0),
        1 => Just(1.0),
        1 => Just(1e300),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0usize..5, 1 => Just(usize::MAX), 1 => Just(usize::MAX / 2 + 1)]
}

fn no_panic<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => panic!("{what} panicked"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(256)))]

    #[test]
    fn layouts_never_panic_and_stay_consistent(
        blocks in prop::collection::vec((0usize..3, any::<bool>(), size(), size()), 0..5),
        lr_scale in value(), wd in prop::option::of(value()), flat in size(),
    ) {
        let _ = no_panic("flat", || Layout::flat(flat));
        let mut l = Layout::new();
        for (name, is_matrix, a, b) in blocks {
            let name = ["w", "b", "w"][name];
            let next = no_panic("block", || if is_matrix { l.clone().matrix(name, a, b) } else { l.clone().vector(name, a) });
            if let Ok(n) = next {
                l = n;
            }
        }
        // Offsets tile 0..len without overlap, and every name is found again.
        let mut end = 0;
        for blk in l.blocks() {
            prop_assert_eq!(blk.range().start, end);
            end = blk.range().end;
            prop_assert!(l.block(&blk.name).is_some());
        }
        prop_assert_eq!(end, l.len());
        let h = BlockHyper { lr_scale, weight_decay: wd };
        let _ = no_panic("with_hyper", || l.clone().with_hyper("w", h));
        let _ = no_panic("with_hyper missing", || l.clone().with_hyper("missing", h));
        let _ = no_panic("signature", || l.signature());
        let json = serde_json::to_string(&l).unwrap();
        let back: Layout = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, l);
    }

    #[test]
    fn validators_never_panic(xs in prop::collection::vec(value(), 0..8), x in value(), a in size(), b in size()) {
        let all = no_panic("all_finite", || validate::all_finite("xs", &xs));
        prop_assert_eq!(all.is_ok(), xs.iter().all(|v| v.is_finite()));
        prop_assert_eq!(validate::same_len("x", a, b).is_ok(), a == b);
        let pos = no_panic("positive", || validate::positive("x", x));
        prop_assert_eq!(pos.is_ok(), x.is_finite() && x > 0.0);
        prop_assert_eq!(validate::non_negative("x", x).is_ok(), x.is_finite() && x >= 0.0);
        prop_assert_eq!(validate::unit_interval("x", x).is_ok(), (0.0..=1.0).contains(&x));
        prop_assert_eq!(validate::unit_interval_open_right("x", x).is_ok(), (0.0..1.0).contains(&x));
    }

    #[test]
    fn seeding_and_pools_never_panic(seed in any::<u64>(), index in any::<u64>(), seq in any::<bool>()) {
        let _ = no_panic("seeded", || rng::seeded(seed));
        let _ = no_panic("stream", || rng::stream(seed, index));
        prop_assert_eq!(rng::derive_seed(seed, index), rng::derive_seed(seed, index));
        let par = if seq { Par::Seq } else { Par::Rayon };
        prop_assert_eq!(no_panic("on_pool", || par.on_pool(|| seed ^ index)), seed ^ index);
    }

    #[test]
    fn layout_deserialisation_of_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = no_panic("from_slice", || serde_json::from_slice::<Layout>(&bytes));
    }
}
