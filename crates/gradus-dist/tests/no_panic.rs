//! Property test over this crate's public entry points (issue 18): the fuzz harnesses, which
//! call every public routine with the input and check the outcome (an error, or a finite
//! result with the documented invariants), driven here by proptest on every `cargo test`
//! with bytes built from interesting values (0, 1, huge, NaN, infinite, subnormal) as well as
//! raw bytes. A panic fails the property (`catch_unwind` is the oracle).

use std::panic::{AssertUnwindSafe, catch_unwind};

use proptest::prelude::*;

/// Values a careless caller passes, as little-endian `f64` and `f32` bits.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -3.0..3.0f64,
        1 => Just(0.0),
        1 => Just(1.0),
        1 => Just(1e300),
        1 => Just(-1e30),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(5e-324),
    ]
}

/// A header of selector bytes, then the values encoded as `f64` (or `f32`) bits.
fn bytes(wide: bool) -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(any::<u8>(), 0..6), prop::collection::vec(value(), 0..24)).prop_map(
        move |(head, vals)| {
            let mut out = head;
            for v in vals {
                if wide {
                    out.extend_from_slice(&v.to_le_bytes());
                } else {
                    out.extend_from_slice(&(v as f32).to_le_bytes());
                }
            }
            out
        },
    )
}

fn no_panic(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        panic!("{what} panicked");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(gradus_core::testing::proptest_cases(192)))]

    #[test]
    fn compressors_never_panic(data in bytes(false), raw in prop::collection::vec(any::<u8>(), 0..64)) {
        no_panic("compress", || gradus_dist::compression::fuzzing::compress(&data));
        no_panic("compress raw", || gradus_dist::compression::fuzzing::compress(&raw));
    }

    #[test]
    fn aggregators_never_panic(data in bytes(true), raw in prop::collection::vec(any::<u8>(), 0..96)) {
        no_panic("aggregators", || gradus_dist::federated::fuzzing::aggregators(&data));
        no_panic("aggregators raw", || gradus_dist::federated::fuzzing::aggregators(&raw));
    }

    #[test]
    fn data_loaders_never_panic(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        no_panic("cifar10", || gradus_dist::federated::fuzzing::cifar10(&raw));
        no_panic("femnist", || gradus_dist::federated::fuzzing::femnist(&raw));
    }
}
