//! Both integrators against problems with closed-form solutions, at their expected order.

use gradus_core::Error;
use gradus_ode::{DopriParams, dopri5, rk4};

/// Damped rotation `x' = A x`, `A = [[-a, -w], [w, -a]]`: `x(t) = e^{-a t} R(w t) x0`.
fn damped_rotation(a: f64, w: f64) -> impl Fn(f64, &[f64], &mut [f64]) -> gradus_core::Result<()> {
    move |_t, y, dy| {
        dy[0] = -a * y[0] - w * y[1];
        dy[1] = w * y[0] - a * y[1];
        Ok(())
    }
}

fn rotation_exact(a: f64, w: f64, t: f64, x0: [f64; 2]) -> [f64; 2] {
    let (s, c) = (w * t).sin_cos();
    let e = (-a * t).exp();
    [e * (c * x0[0] - s * x0[1]), e * (s * x0[0] + c * x0[1])]
}

/// Logistic growth `y' = r y (1 - y / K)`: `y(t) = K / (1 + (K / y0 - 1) e^{-r t})`.
fn logistic_exact(r: f64, k: f64, y0: f64, t: f64) -> f64 {
    k / (1.0 + (k / y0 - 1.0) * (-r * t).exp())
}

fn grid(t_end: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| t_end * i as f64 / n as f64).collect()
}

fn max_err_rotation(sol: &gradus_ode::Solution, a: f64, w: f64, x0: [f64; 2]) -> f64 {
    (0..sol.times.len())
        .map(|i| {
            let ex = rotation_exact(a, w, sol.times[i], x0);
            let s = sol.state(i);
            (s[0] - ex[0]).abs().max((s[1] - ex[1]).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn rk4_matches_the_matrix_exponential() {
    let (a, w, x0) = (0.3, 2.0, [1.0, -0.5]);
    let g = grid(5.0, 10);
    let sol = rk4(damped_rotation(a, w), &x0, &g, 1e-3).unwrap();
    assert!(max_err_rotation(&sol, a, w, x0) < 1e-11);
}

#[test]
fn rk4_observed_order_is_four() {
    let (r, k, y0) = (1.5, 2.0, 0.1);
    let f = move |_t: f64, y: &[f64], dy: &mut [f64]| {
        dy[0] = r * y[0] * (1.0 - y[0] / k);
        Ok(())
    };
    let g = [0.0, 4.0];
    let err = |h: f64| {
        let sol = rk4(f, &[y0], &g, h).unwrap();
        (sol.last()[0] - logistic_exact(r, k, y0, 4.0)).abs()
    };
    let (e1, e2, e3) = (err(0.2), err(0.1), err(0.05));
    let (q1, q2) = (e1 / e2, e2 / e3);
    // 2^4 = 16 for a fourth-order method, up to higher-order terms.
    assert!((13.0..19.0).contains(&q1), "ratio {q1} ({e1:e} / {e2:e})");
    assert!((14.0..18.0).contains(&q2), "ratio {q2} ({e2:e} / {e3:e})");
}

#[test]
fn dopri5_meets_its_tolerance_on_the_rotation() {
    let (a, w, x0) = (0.1, 3.0, [0.2, 1.0]);
    let g = grid(10.0, 40);
    for rtol in [1e-4, 1e-7, 1e-10] {
        let p = DopriParams { rtol, atol: rtol * 1e-2, ..Default::default() };
        let (sol, st) = dopri5(damped_rotation(a, w), &x0, &g, &p).unwrap();
        let e = max_err_rotation(&sol, a, w, x0);
        // Local control gives a global error of a small multiple of the tolerance here.
        assert!(e < 100.0 * rtol, "rtol {rtol:e}: error {e:e}");
        assert_eq!(st.evaluations, 1 + 6 * (st.accepted + st.rejected));
    }
}

#[test]
fn dopri5_logistic_and_fewer_steps_at_looser_tolerance() {
    let (r, k, y0) = (3.0, 1.0, 1e-3);
    let f = move |_t: f64, y: &[f64], dy: &mut [f64]| {
        dy[0] = r * y[0] * (1.0 - y[0] / k);
        Ok(())
    };
    let g = grid(6.0, 6);
    let run = |rtol: f64| {
        let p = DopriParams { rtol, atol: 1e-14, ..Default::default() };
        dopri5(f, &[y0], &g, &p).unwrap()
    };
    let (tight, st_t) = run(1e-10);
    let (loose, st_l) = run(1e-4);
    for (i, &t) in g.iter().enumerate() {
        let ex = logistic_exact(r, k, y0, t);
        assert!((tight.state(i)[0] - ex).abs() < 1e-8 * ex.max(1e-3), "t = {t}");
        assert!((loose.state(i)[0] - ex).abs() < 1e-2 * ex.max(1e-3), "t = {t}");
    }
    assert!(st_l.accepted < st_t.accepted);
}

#[test]
fn dopri5_rejects_steps_when_the_first_one_is_too_long() {
    let f = damped_rotation(0.0, 20.0);
    let p = DopriParams { rtol: 1e-9, atol: 1e-12, h0: Some(1.0), ..Default::default() };
    let (sol, st) = dopri5(f, &[1.0, 0.0], &[0.0, 1.0], &p).unwrap();
    assert!(st.rejected > 0);
    assert!(max_err_rotation(&sol, 0.0, 20.0, [1.0, 0.0]) < 1e-7);
}

#[test]
fn bad_input_is_an_error() {
    let f = damped_rotation(0.0, 1.0);
    let bad_tol = DopriParams { rtol: -1.0, ..Default::default() };
    assert!(matches!(
        dopri5(f, &[1.0, 0.0], &[0.0, 1.0], &bad_tol),
        Err(Error::InvalidHyperparameter { .. })
    ));
    let nan_tol = DopriParams { atol: f64::NAN, ..Default::default() };
    assert!(dopri5(damped_rotation(0.0, 1.0), &[1.0, 0.0], &[0.0, 1.0], &nan_tol).is_err());
    assert!(matches!(
        rk4(damped_rotation(0.0, 1.0), &[1.0, 0.0], &[0.0, 1.0], 0.0),
        Err(Error::InvalidHyperparameter { .. })
    ));
    assert!(matches!(
        rk4(damped_rotation(0.0, 1.0), &[f64::NAN, 0.0], &[0.0, 1.0], 0.1),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        rk4(damped_rotation(0.0, 1.0), &[1.0, 0.0], &[0.0, 1.0, 1.0], 0.1),
        Err(Error::InvalidShape { .. })
    ));
    assert!(dopri5(damped_rotation(0.0, 1.0), &[], &[0.0, 1.0], &DopriParams::default()).is_err());
}

#[test]
fn blow_up_is_reported_not_returned() {
    // y' = y^2 from y(0) = 1 blows up at t = 1.
    let f = |_t: f64, y: &[f64], dy: &mut [f64]| {
        dy[0] = y[0] * y[0];
        Ok(())
    };
    assert!(rk4(f, &[1.0], &[0.0, 2.0], 0.01).is_err());
    let p = DopriParams { max_steps: 10_000, ..Default::default() };
    assert!(dopri5(f, &[1.0], &[0.0, 2.0], &p).is_err());
}

#[test]
fn errors_from_the_vector_field_propagate() {
    let f = |t: f64, _y: &[f64], _dy: &mut [f64]| {
        if t > 0.5 { Err(Error::Unsupported("left the domain".into())) } else { Ok(()) }
    };
    assert!(matches!(rk4(f, &[1.0], &[0.0, 1.0], 0.1), Err(Error::Unsupported(_))));
    assert!(matches!(
        dopri5(f, &[1.0], &[0.0, 1.0], &DopriParams::default()),
        Err(Error::Unsupported(_))
    ));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Exponential decay y' = -l y: both integrators stay within tolerance of e^{-l t}.
        #[test]
        fn decay_is_tracked(l in 0.01f64..5.0, y0 in -10.0f64..10.0) {
            let f = move |_t: f64, y: &[f64], dy: &mut [f64]| { dy[0] = -l * y[0]; Ok(()) };
            let g = [0.0, 0.5, 1.0, 2.0];
            let (sol, _) = dopri5(f, &[y0], &g, &DopriParams { rtol: 1e-9, atol: 1e-12, ..Default::default() }).unwrap();
            let sol4 = rk4(f, &[y0], &g, 1e-2).unwrap();
            for (i, &t) in g.iter().enumerate() {
                let ex = y0 * (-l * t).exp();
                prop_assert!((sol.state(i)[0] - ex).abs() <= 1e-7 * (1.0 + ex.abs()));
                prop_assert!((sol4.state(i)[0] - ex).abs() <= 1e-7 * (1.0 + ex.abs()));
            }
        }
    }
}
