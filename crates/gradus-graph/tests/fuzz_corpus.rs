//! Replays the committed corpus `fuzz/corpus/agent_reply/*` through the fuzz harness, plus
//! mutations of a valid reply and seeded random bytes, so CI checks them without a fuzzer.

use std::fs;
use std::path::Path;

use gradus_core::rng;
use gradus_graph::fuzzing::agent_reply;
use rand::Rng as _;

#[test]
fn committed_corpus_replays_without_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/agent_reply");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            agent_reply(&fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count >= 10, "corpus has {count} files");
}

#[test]
fn truncations_and_byte_mutations_of_valid_replies_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/agent_reply");
    let mut r = rng::seeded(8);
    for name in ["seed-http-good", "seed-http-chunked", "seed-chat-good", "seed-message-good"] {
        let bytes = fs::read(dir.join(name)).unwrap();
        for i in 0..bytes.len() {
            agent_reply(&bytes[..i]);
            let mut b = bytes.clone();
            b[i] = r.random();
            agent_reply(&b);
        }
    }
}

#[test]
fn random_bytes_do_not_panic() {
    let mut r = rng::seeded(9);
    for len in 0..300 {
        for _ in 0..4 {
            let bytes: Vec<u8> = (0..len).map(|_| r.random()).collect();
            agent_reply(&bytes);
        }
    }
}
