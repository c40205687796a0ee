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
        2 => AgmConfig::adam(0.1).with_precision(StatePrecision::Bf16).with_amsgrad(true),
        3 => AgmConfig::rmsprop(0.1).with_centered(true),
        4 => AgmConfig::adam(0.1).with_partition(Partition::LayoutBlocks),
        _ => AgmConfig::adam(0.1).with_max_grad_norm(Some(1.0)).with_exponent(0.3),
    };
    let Ok(mut opt) = Agm::<f32>::new("fuzz", cfg, layout) else { return };
    let mut params = vec![0.5f32; n];
    let before = opt.state().ok();
    match opt.step(&mut params, &grads) {
        Ok(_) => {
            // Finite gradients of any magnitude: clipping-free steps may overflow only when
            // the gradient itself is astronomically large; the parameters must never be NaN.
            assert!(params.iter().all(|p| !p.is_nan()), "NaN parameters from finite gradients");
        }
        Err(_) => {
            assert!(params.iter().all(|&p| p == 0.5), "a rejected step changed the parameters");
            assert_eq!(opt.state().ok(), before, "a rejected step changed the state");
        }
    }
}

/// Reads little-endian `f64`s from bytes (raw bits, so every NaN, infinity and subnormal
/// occurs).
fn f64s(data: &[u8]) -> Vec<f64> {
    data.chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}

/// Every Toeplitz routine on arbitrary first columns, rows and right-hand sides: errors are
/// fine, panics are not, and a claimed solution must be finite.
pub fn toeplitz_solvers(data: &[u8]) {
    use gradus_linalg::toeplitz::{
        GohbergSemencul, LevinsonWorkspace, Preconditioner, RealToeplitzOp, durbin, levinson_solve,
        pcg_solve, toeplitz_solve_general,
    };
    let v = f64s(data);
    let n = (v.len() / 3).min(64);
    if n == 0 {
        return;
    }
    let (t, rest) = v.split_at(n);
    let (row, b) = rest.split_at(n);
    let b = &b[..n];
    if let Ok(d) = durbin(t) {
        assert!(
            !d.logdet.is_nan(),
            "Levinson-Durbin returned a NaN log-determinant without an error"
        );
    }
    let mut x = vec![0.0; n];
    if levinson_solve(t, b, &mut x, &mut LevinsonWorkspace::new(n)).is_ok() {
        assert!(x.iter().all(|v| !v.is_nan()), "Levinson returned NaN without an error");
    }
    let mut row = row.to_vec();
    row[0] = t[0];
    if let Ok(x) = toeplitz_solve_general(t, &row, b) {
        assert!(x.iter().all(|v| v.is_finite()));
    }
    if let Ok(mut op) = RealToeplitzOp::new(t, &row) {
        let mut y = vec![0.0; n];
        let _ = op.apply(b, &mut y);
    }
    if let Ok(mut gs) = GohbergSemencul::new(t) {
        let bc: Vec<num_complex::Complex64> =
            b.iter().map(|&v| num_complex::Complex64::new(v, 0.0)).collect();
        let mut y = bc.clone();
        let _ = gs.apply(&bc, &mut y);
    }
    for kind in [Preconditioner::None, Preconditioner::Chan, Preconditioner::Strang] {
        let _ = pcg_solve(t, b, kind, 1e-8, 50);
    }
}

/// Symmetric eigendecomposition and inverse roots of arbitrary small matrices (made
/// symmetric from the bytes): an error or a finite root, never a panic.
pub fn eigh_and_roots(data: &[u8]) {
    use gradus_linalg::{Backend, RootMethod, RootParams, eigh, matfn::inverse_root_owned};
    let v = f64s(data);
    let n = ((v.len() as f64).sqrt() as usize).min(12);
    if n == 0 {
        return;
    }
    let a = faer::Mat::<f64>::from_fn(n, n, |i, j| 0.5 * (v[i * n + j] + v[j * n + i]));
    let _ = eigh(a.as_ref(), Backend::Faer, gradus_core::Par::Seq);
    for method in [RootMethod::Eigh, RootMethod::Newton] {
        let p = RootParams::default().with_method(method).with_newton_max_iter(30);
        if let Ok((x, _)) = inverse_root_owned(a.as_ref(), &p, gradus_core::Par::Seq) {
            for j in 0..n {
                for i in 0..n {
                    assert!(x[(i, j)].is_finite(), "non-finite root accepted");
                }
            }
        }
    }
}

/// Paper 10's control inputs: a linear-quadratic problem built from raw `f64` bits (costs,
/// metric, dynamics, curvature, minimum; matrices symmetrised where they must be), solved in
/// closed form and on a short grid; and the bytes read as a `ControlRuleConfig` in JSON (as
/// `load_state` would), then a step. Errors are fine; a solution that is returned must be
/// finite, and a rejected step must change nothing.
pub fn control_inputs(data: &[u8]) {
    use gradus_optim::control::{
        ControlProblem, ControlRule, ControlRuleConfig, LqProblem, QuadraticLoss, TimeGrid,
    };
    if data.is_empty() {
        return;
    }
    let d = 1 + data[0] as usize % 3;
    let v = f64s(&data[1..]);
    if v.len() >= 3 + 3 * d * d + 2 * d {
        let sym = |o: usize| -> Vec<f64> {
            (0..d * d).map(|ij| 0.5 * (v[o + ij] + v[o + (ij % d) * d + ij / d])).collect()
        };
        let (g, a, h) = (sym(3), v[3 + d * d..3 + 2 * d * d].to_vec(), sym(3 + 2 * d * d));
        let mu = v[3 + 3 * d * d..3 + 3 * d * d + d].to_vec();
        let x0 = v[3 + 3 * d * d + d..3 + 3 * d * d + 2 * d].to_vec();
        let problem = ControlProblem::new(d, v[0], v[1], v[2])
            .and_then(|p| p.with_metric(g))
            .and_then(|p| p.with_dynamics(a));
        let lq = problem
            .and_then(|p| QuadraticLoss::new(h, mu).and_then(|loss| LqProblem::new(p, loss)));
        if let Ok(lq) = lq {
            if let Ok(sol) = lq.solve() {
                let all = sol.p.iter().chain(&sol.b).chain(&sol.closed_loop).chain(&sol.offset);
                assert!(all.copied().all(f64::is_finite), "non-finite Riccati solution accepted");
                if let Ok(w) = sol.value(&x0) {
                    assert!(!w.is_nan(), "NaN value accepted");
                }
                let _ = sol.trajectory(&x0, &[0.0, 0.5]);
                let _ = sol.fixed_point();
            }
            if let Ok(grid) = TimeGrid::new(1.0, 8) {
                if let Ok(path) = lq.solve_discrete(grid, &x0) {
                    assert!(path.iter().all(|x| x.is_finite()), "non-finite discrete path");
                }
            }
        }
    }
    if let Ok(cfg) = serde_json::from_slice::<ControlRuleConfig>(data) {
        let Ok(layout) = Layout::flat(4) else { return };
        if let Ok(mut rule) = ControlRule::<f32>::new("fuzz", cfg, layout) {
            let mut params = vec![0.5f32; 4];
            let before = rule.state().ok();
            if rule.step(&mut params, &[0.5, -1.0, f32::NAN, 2.0]).is_ok() {
                panic!("a NaN gradient was accepted");
            }
            assert!(params.iter().all(|&p| p == 0.5) && rule.state().ok() == before);
            let _ = rule.step(&mut params, &[0.5, -1.0, 0.25, 2.0]);
        }
    }
}
