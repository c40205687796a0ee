//! Bodies of the `compress` and `compressed_step` fuzz targets (`fuzz/fuzz_targets/`), shared
//! with the tests that replay their corpora. They must return normally for every input: an
//! error is fine, a panic is a bug.

use gradus_core::{Error, rng};

use gradus_core::Layout;
use gradus_optim::{Agm, Optimizer};

use super::{
    Chain, Class, Compressed, Compressor, Ef21Feedback, Ef21Init, ErrorFeedback, Feedback, Induced,
    NaturalCompression, NaturalDithering, NoFeedback, Qsgd, RandK, Scaled, ScaledSign, TopK,
};

/// Interprets bytes as a compressor choice, a parameter and input values (raw `f32` bits, so
/// NaN, infinities and subnormals occur), compresses, and checks the result: an error for
/// non-finite input, otherwise a finite output, the promised sparsity, and the contraction
/// bound for deterministic contractive compressors.
pub fn compress(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let (kind, param) = (data[0] % 9, data[1] as usize);
    let v: Vec<f32> =
        data[2..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let d = v.len();
    if d == 0 {
        return;
    }
    let k = 1 + param % d;
    let levels = 1 + (param % 8) as u32;
    let c: Box<dyn Compressor<f32>> = match kind {
        0 => match TopK::new(d, k) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
        1 => match RandK::new(d, k, param % 2 == 0) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
        2 => match ScaledSign::new(d) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
        3 => match Qsgd::new(d, levels) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
        4 => match NaturalDithering::new(d, levels) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
        5 => match NaturalCompression::new(d) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
        6 => match RandK::unbiased(d, k).and_then(Scaled::new::<f32>) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
        7 => match TopK::new(d, k).and_then(|t| Chain::new(t, NaturalCompression::new(d)?)) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
        _ => match TopK::new(d, k).and_then(|t| Induced::new(t, RandK::unbiased(d, k)?)) {
            Ok(c) => Box::new(c),
            Err(_) => return,
        },
    };
    let mut c = c;
    let mut out = vec![0.0f32; d];
    let mut r = rng::seeded(param as u64);
    let finite = v.iter().all(|x| x.is_finite());
    match c.compress(&v, &mut out, &mut r) {
        Err(e) => {
            // Finite input is refused only when the quantisers' norm does not fit the type.
            let norm = Error::NonFinite { what: "compressor input norm", index: 0 };
            assert!(!finite || e == norm, "finite input rejected by {}: {e}", c.name());
        }
        Ok(msg) => {
            assert!(finite, "non-finite input accepted by {}", c.name());
            // The induced compressor sends two messages, so up to 2d values.
            assert!(msg.nnz <= 2 * d, "{} claims {} values of {d}", c.name(), msg.nnz);
            assert!(msg.bits <= 2 * (d as u64 * 64 + 64), "{}: {} bits", c.name(), msg.bits);
            // Finite inputs near f32::MAX may legitimately overflow in the scaled variants
            // (a rescaling by d/k); deterministic contractions must stay finite and inside
            // their ball, measured in f64.
            if let Class::Contractive { eps, in_expectation: false } = c.class() {
                assert!(out.iter().all(|x| x.is_finite()), "{} overflowed", c.name());
                let err: f64 =
                    v.iter().zip(&out).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
                let norm: f64 = v.iter().map(|&a| (a as f64).powi(2)).sum();
                assert!(err <= eps * norm * (1.0 + 1e-5) + 1e-300, "{} left its ball", c.name());
            }
        }
    }
}

/// Interprets bytes as a feedback rule, a dimension, a sparsity and a sequence of gradients
/// (raw `f32` bits), and feeds them to [`Compressed`] over Adam: a rejected step must leave
/// parameters and state unchanged, an accepted one finite parameters, and the state must
/// survive a save / load round trip into a fresh wrapper.
pub fn compressed_step(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let (rule, d, k) = (data[0] % 5, 1 + data[1] as usize % 8, 1 + data[2] as usize);
    let v: Vec<f32> =
        data[3..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    match rule {
        0 => drive(NoFeedback, d, k, &v),
        1 => drive(ErrorFeedback::gradient_units(), d, k, &v),
        2 => match ErrorFeedback::step_units(0.5) {
            Ok(r) => drive(r, d, k, &v),
            Err(e) => panic!("valid step size refused: {e}"),
        },
        3 => drive(Ef21Feedback::new(Ef21Init::Compressed), d, k, &v),
        _ => drive(Ef21Feedback::new(Ef21Init::Gradient), d, k, &v),
    }
}

fn drive<F: Feedback<f32>>(rule: F, d: usize, k: usize, values: &[f32]) {
    let make = |rule: F| {
        let adam = Agm::<f32>::adam(Layout::flat(d).ok()?, 0.01).ok()?;
        Compressed::wrap(adam, TopK::new(d, k.min(d)).ok()?, rule, 0).ok()
    };
    let Some(mut opt) = make(rule.clone()) else { return };
    let mut x = vec![0.5f32; d];
    for (i, g) in values.chunks(d).enumerate() {
        let (before, state) = (x.clone(), opt.state());
        // A short last chunk exercises the length check.
        match opt.step(&mut x, g) {
            Err(_) => {
                assert!(
                    x.iter().zip(&before).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "step {i}: parameters moved on a rejected step"
                );
                assert_eq!(opt.state(), state, "step {i}: state changed on a rejected step");
            }
            Ok(_) => assert!(x.iter().all(|a| a.is_finite()), "step {i}: non-finite parameters"),
        }
    }
    let Ok(state) = opt.state() else { panic!("state of a valid wrapper failed") };
    let Some(mut fresh) = make(rule) else { return };
    if let Err(e) = fresh.load_state(&state) {
        panic!("own state refused: {e}");
    }
    assert_eq!(fresh.state().ok(), Some(state));
}
