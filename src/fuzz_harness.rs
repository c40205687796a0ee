//! Bodies of the fuzz targets in `fuzz/`, shared with the test that replays the committed
//! corpus (`tests/fuzz_corpus.rs`). Each must return normally for *every* input: an error
//! value is fine, a panic is a bug.

use gradus_core::Layout;
use gradus_optim::checkpoint;
use gradus_optim::{Agm, AgmConfig, Optimizer, Partition, StatePrecision};

/// Decodes arbitrary bytes as a checkpoint; when that succeeds, loads the state into a
/// matching optimizer (which validates it again).
pub fn checkpoint_decode(data: &[u8]) {
    if let Ok(ck) = checkpoint::decode(data) {
        let layout = ck.optimizer.layout.clone();
        if layout.is_empty() || layout.len() > 1 << 20 {
            return;
        }
        if let Ok(mut opt) = Agm::<f32>::adam(layout, 1e-3) {
            let _ = opt.load_state(&ck.optimizer);
        }
    }
}

/// Interprets bytes as an optimizer choice, a parameter length and gradient values (raw f32
/// bits, so NaN, infinities and subnormals all occur), then steps: must give an error or
/// finite parameters.
pub fn optimizer_step(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let kind = data[0] % 6;
    let n = 1 + (data[1] as usize % 64);
    let grads: Vec<f32> =
        data[2..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    // Two blocks when possible, so block-wise statistics have something to partition.
    let layout = if n >= 2 {
        Layout::new().vector("a", n / 2).and_then(|l| l.vector("b", n - n / 2))
    } else {
        Layout::flat(n)
    };
    let Ok(layout) = layout else { return };
    let cfg = match kind {
        0 => AgmConfig::sgd(0.1),
        1 => AgmConfig::adam(0.1),
        2 => AgmConfig { precision: StatePrecision::Bf16, amsgrad: true, ..AgmConfig::adam(0.1) },
        3 => AgmConfig { centered: true, ..AgmConfig::rmsprop(0.1) },
        4 => AgmConfig::adam(0.1).with_partition(Partition::LayoutBlocks),
        _ => AgmConfig { max_grad_norm: Some(1.0), exponent: 0.3, ..AgmConfig::adam(0.1) },
    };
    let Ok(mut opt) = Agm::<f32>::new("fuzz", cfg, layout) else { return };
    let mut params = vec![0.5f32; n];
    let before = opt.state();
    match opt.step(&mut params, &grads) {
        Ok(_) => {
            // Finite gradients of any magnitude: clipping-free steps may overflow only when
            // the gradient itself is astronomically large; the parameters must never be NaN.
            assert!(params.iter().all(|p| !p.is_nan()), "NaN parameters from finite gradients");
        }
        Err(_) => {
            assert!(params.iter().all(|&p| p == 0.5), "a rejected step changed the parameters");
            assert_eq!(opt.state(), before, "a rejected step changed the state");
        }
    }
}
