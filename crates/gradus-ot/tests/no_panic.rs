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
    fn ot_entry_points_never_panic(data in bytes(true), raw in prop::collection::vec(any::<u8>(), 0..128)) {
        for f in [
            gradus_ot::fuzzing::ot_inputs as fn(&[u8]),
            gradus_ot::fuzzing::semidiscrete,
            gradus_ot::fuzzing::discrete,
            gradus_ot::fuzzing::particles,
        ] {
            no_panic("ot harness", || f(&data));
            no_panic("ot harness raw", || f(&raw));
        }
    }
}
