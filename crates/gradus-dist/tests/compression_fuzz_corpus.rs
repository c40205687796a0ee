//! Replays the committed corpora of the `compress` and `compressed_step` fuzz targets
//! (`fuzz/corpus/*/`) and inputs with special values built here, so CI checks them without a
//! fuzzer.

use std::fs;
use std::path::Path;

use gradus_dist::compression::fuzzing::{compress, compressed_step};

#[test]
fn committed_corpus_replays_without_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/compress");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            compress(&fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count >= 9);
}

#[test]
fn committed_wrapper_corpus_replays_without_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/compressed_step");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            compressed_step(&fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count >= 9);
}

#[test]
fn special_gradients_through_every_feedback_rule() {
    let specials = [f32::NAN, f32::INFINITY, f32::MAX, -f32::MAX, 1e-45, -0.0];
    for rule in 0..5u8 {
        for special in specials {
            let mut data = vec![rule, 2, 1];
            for i in 0..12 {
                let v = if i % 5 == 4 { special } else { 0.25 * i as f32 - 1.0 };
                data.extend_from_slice(&v.to_le_bytes());
            }
            compressed_step(&data);
            compressed_step(&data[..data.len() - 4]);
        }
    }
}

#[test]
fn special_values_for_every_compressor() {
    let specials =
        [f32::NAN, f32::INFINITY, f32::MAX, -f32::MAX, f32::MIN_POSITIVE, 1e-45, -0.0, 0.0];
    for kind in 0..9u8 {
        for param in [0u8, 1, 5, 255] {
            for special in specials {
                let mut data = vec![kind, param];
                for i in 0..7 {
                    let v = if i == 2 { special } else { 0.5 * i as f32 - 1.0 };
                    data.extend_from_slice(&v.to_le_bytes());
                }
                compress(&data);
                compress(&data[..data.len() - 4]);
                compress(&data[..6]);
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(gradus_core::testing::proptest_cases(2000)))]

    /// A poor man's fuzzer: arbitrary bytes through the harness.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        compress(&data);
    }

    /// The same for the wrapper's steps and checkpoints.
    #[test]
    fn arbitrary_bytes_never_panic_the_wrapper(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        compressed_step(&data);
    }
}

#[test]
fn scaled_sign_input_whose_scale_underflows() {
    // v = (1e-45, 0) in f32: ||v||_1 / d rounds to 0, which would send C(v) = 0 with one
    // nonzero claimed and leave the ball (eps = 1/2).
    compress(&[2, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
}
