//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the fuzz harnesses,
//! plus seed inputs built here, so CI checks them without a fuzzer.

use std::fs;
use std::path::Path;

use gradus::core::Layout;
use gradus::fuzz_harness::{
    checkpoint_decode, control_inputs, eigh_and_roots, optimizer_step, toeplitz_solvers,
};
use gradus::optim::checkpoint::{Checkpoint, encode};
use gradus::optim::{Agm, Optimizer};

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            f(&fs::read(&path).unwrap());
            count += 1;
        }
    }
    count
}

#[test]
fn committed_corpus_replays_without_panics() {
    assert!(replay("checkpoint_decode", checkpoint_decode) > 0);
    assert!(replay("optimizer_step", optimizer_step) > 0);
    assert!(replay("toeplitz_solvers", toeplitz_solvers) > 0);
    assert!(replay("eigh_roots", eigh_and_roots) > 0);
    assert!(replay("control_inputs", control_inputs) > 0);
}

#[test]
fn valid_checkpoint_and_its_mutations() {
    let mut opt =
        Agm::<f32>::adam(Layout::new().matrix("w", 2, 3).unwrap().vector("b", 2).unwrap(), 0.1)
            .unwrap();
    let mut x = vec![0.1f32; 8];
    opt.step(&mut x, &[0.3; 8]).unwrap();
    let bytes = encode(&Checkpoint {
        optimizer: opt.state().unwrap(),
        params: None,
        meta: serde_json::Value::Null,
    });
    checkpoint_decode(&bytes);
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] = b[i].wrapping_add(1);
        checkpoint_decode(&b);
        checkpoint_decode(&bytes[..i]);
    }
}

#[test]
fn special_gradient_values() {
    for kind in 0..6u8 {
        for special in [f32::NAN, f32::INFINITY, f32::MAX, f32::MIN_POSITIVE, 1e-45, -0.0] {
            let mut data = vec![kind, 7];
            for i in 0..8 {
                let v = if i == 3 { special } else { 0.25 * i as f32 };
                data.extend_from_slice(&v.to_le_bytes());
            }
            optimizer_step(&data);
            optimizer_step(&data[..data.len() - 4]);
        }
    }
}
