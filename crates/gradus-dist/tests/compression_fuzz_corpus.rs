//! Replays the committed corpus of the `compress` fuzz target (`fuzz/corpus/compress/*`) and
//! inputs with special values built here, so CI checks them without a fuzzer.

use std::fs;
use std::path::Path;

use gradus_dist::compression::fuzzing::compress;

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
}

#[test]
fn scaled_sign_input_whose_scale_underflows() {
    // v = (1e-45, 0) in f32: ||v||_1 / d rounds to 0, which would send C(v) = 0 with one
    // nonzero claimed and leave the ball (eps = 1/2).
    compress(&[2, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
}
