//! Closed forms of the simulator's two pure test-time-scaling cases, integrated over the
//! question's latent score by quadrature. They are independent of the call-by-call
//! simulation in [`crate::env::SimEnv`] and serve as its reference.
//!
//! Given the latent `t ~ N(0, 1)` that a model's calls on one question share (variance
//! `rho` of the latent score), each call is right independently with probability
//! `pi(t) = Phi((Phi^{-1}(p) + sqrt(rho) t) / sqrt(1 - rho))`.

use gradus_core::{Result, validate};

use super::normal;
use super::task::TaskProfile;

/// `E_t[h(pi(t))]` for `t ~ N(0, 1)` by composite Simpson on `[-9, 9]` (2400 panels).
fn expect(p: f64, rho: f64, h: impl Fn(f64) -> f64) -> f64 {
    let a = normal::quantile(p);
    let (s, c) = (rho.sqrt(), (1.0 - rho).sqrt());
    let (lo, hi, n) = (-9.0, 9.0, 2400usize);
    let step = (hi - lo) / n as f64;
    let pdf = |t: f64| (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let f = |t: f64| pdf(t) * h(normal::cdf((a + s * t) / c));
    let mut sum = f(lo) + f(hi);
    for k in 1..n {
        sum += f(lo + k as f64 * step) * if k % 2 == 1 { 4.0 } else { 2.0 };
    }
    sum * step / 3.0
}

fn check(p: f64, rho: f64) -> Result<()> {
    if !(p > 0.0 && p < 1.0) {
        return Err(gradus_core::Error::hyper("p", p, "must lie in (0, 1)"));
    }
    validate::unit_interval_open_right("rho", rho)
}

/// Accuracy of `n` calls of one model (single-call accuracy `p`, within-model latent
/// correlation `rho`) combined by a plurality vote when every wrong call gives the same
/// wrong answer (binary answers), ties broken by a fair coin:
/// `E_t[sum_j C(n, j) pi^j (1 - pi)^(n - j) (1[2j > n] + 1[2j = n] / 2)]`.
pub fn vote_accuracy(p: f64, rho: f64, n: usize) -> Result<f64> {
    check(p, rho)?;
    if n == 0 {
        return Err(gradus_core::Error::hyper("n", 0.0, "must be at least 1"));
    }
    Ok(expect(p, rho, |pi| {
        let mut total = 0.0;
        let mut binom = 1.0; // C(n, j)
        for j in 0..=n {
            let mass = binom * pi.powi(j as i32) * (1.0 - pi).powi((n - j) as i32);
            total += mass
                * if 2 * j > n {
                    1.0
                } else if 2 * j == n {
                    0.5
                } else {
                    0.0
                };
            binom = binom * (n - j) as f64 / (j + 1) as f64;
        }
        total
    }))
}

/// Accuracy of a generator followed by `depth - 1` refiners of the same model on `task`:
/// given `t`, the chain is a two-state Markov chain, `a_1 = pi`,
/// `a_{r+1} = a_r (1 - (1 - pi) break_at(r)) + (1 - a_r) pi fix_prob`.
pub fn chain_accuracy(p: f64, rho: f64, depth: usize, task: &TaskProfile) -> Result<f64> {
    check(p, rho)?;
    task.validate()?;
    if depth == 0 {
        return Err(gradus_core::Error::hyper("depth", 0.0, "must be at least 1"));
    }
    Ok(expect(p, rho, |pi| {
        let mut a = pi;
        for r in 1..depth {
            a = a * (1.0 - (1.0 - pi) * task.break_at(r as u32)) + (1.0 - a) * pi * task.fix_prob;
        }
        a
    }))
}
