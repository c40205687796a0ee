//! Replays the committed corpus `fuzz/corpus/ot_inputs/*` through the fuzz harness, plus
//! seeded random byte strings, so CI checks them without a fuzzer.

use std::fs;
use std::path::Path;

use gradus_core::rng;
use gradus_ot::fuzzing::ot_inputs;
use rand::Rng as _;

#[test]
fn committed_corpus_replays_without_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ot_inputs");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            ot_inputs(&fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count >= 5, "corpus has {count} files");
}

#[test]
fn random_bytes_do_not_panic() {
    let mut r = rng::seeded(12);
    for len in 0..400 {
        for _ in 0..5 {
            let mut bytes: Vec<u8> = (0..len).map(|_| r.random()).collect();
            // Mostly "small number" markers, so inputs get past validation often.
            for (i, b) in bytes.iter_mut().enumerate() {
                if i % 2 == 1 && r.random::<f64>() < 0.8 {
                    *b = 0;
                }
            }
            ot_inputs(&bytes);
        }
    }
}
