//! The deterministic limits of the order parameters under online SGD (paper 02, section
//! "ODE at the critical scale", RECONSTRUCTED in the spec from Ben Arous, Gheissari &
//! Jagannath 2022 and Saad & Solla 1995).
//!
//! In gradient-flow time `tau = steps * delta` and with `kappa = delta N`, one step moves
//! `R_in` by `delta e sigma'(lambda_i) rho_n` and `Q_ik` by
//! `delta e (sigma'(lambda_i) lambda_k + sigma'(lambda_k) lambda_i) + delta^2 e^2 sigma'_i sigma'_k |X|^2`,
//! and `|X|^2 = N (1 + O(N^{-1/2}))`. Averaging over the fresh sample gives
//! ```text
//! dR_in/dtau = E[e sigma'(lambda_i) rho_n]
//! dQ_ik/dtau = E[e (sigma'_i lambda_k + sigma'_k lambda_i)] + kappa E[e^2 sigma'_i sigma'_k]
//! ```
//! The first terms are the population-loss gradient flow (the ballistic limit, `kappa -> 0`
//! when `delta N -> 0`); the `kappa` term is the corrector of the critical scaling
//! `delta = c / N` (`kappa = c`), the `delta^2` variance of the step. Label noise enters only
//! the corrector, through `Delta E[sigma'_i sigma'_k]`.
//!
//! Single-index models (`K = M = 1`, state `(m, Q)` with `m = R`) use a 2-D Gauss-Hermite rule
//! for any activation; erf units use the closed forms of [`super::erf_integrals`] (also for
//! committees, state `(Q, R)`).

use gradus_core::{Error, Result};
use gradus_ode::{DopriParams, Solution, dopri5};

use super::Activation;
use super::chebyshev::ChebyshevInterpolant;
use super::erf_integrals::{Field, Overlaps, i2, i3, i4};
use super::hermite::GaussHermite;

/// How the Gaussian expectations of the single-index drift are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectations {
    /// Closed forms (erf only).
    ClosedForm,
    /// Tensor Gauss-Hermite rule.
    Quadrature,
}

/// The limit ODE of a single-index model in `(m, Q) = (<x, v>, |x|^2)`.
#[derive(Debug, Clone)]
pub struct SingleIndexOde {
    /// Activation of teacher and student.
    pub activation: Activation,
    /// Corrector weight `kappa = delta N` (`0`: pure gradient flow).
    pub kappa: f64,
    /// Label-noise variance `Delta`.
    pub noise_var: f64,
    /// Evaluation method.
    pub method: Expectations,
    quad: GaussHermite,
    /// The spherical drift of Hermite units as an exact polynomial interpolant in `m`,
    /// sampled from the quadrature once for the `(activation, kappa, noise_var)` it stores
    /// (the fields are public: a changed field falls back to the quadrature).
    sphere_poly: Option<((Activation, f64, f64), ChebyshevInterpolant)>,
}

impl SingleIndexOde {
    /// The ODE with a `nodes`-point rule per dimension; erf uses its closed forms.
    pub fn new(activation: Activation, kappa: f64, noise_var: f64, nodes: usize) -> Result<Self> {
        activation.check()?;
        gradus_core::validate::non_negative("corrector weight kappa", kappa)?;
        gradus_core::validate::non_negative("label noise variance", noise_var)?;
        let method = if activation == Activation::Erf {
            Expectations::ClosedForm
        } else {
            Expectations::Quadrature
        };
        let mut ode = SingleIndexOde {
            activation,
            kappa,
            noise_var,
            method,
            quad: GaussHermite::new(nodes)?,
            sphere_poly: None,
        };
        if let Activation::Hermite(k) = activation {
            // The drift integrand has degree at most 4k - 1 in each Gaussian coordinate, and
            // its expectation degree at most 4k - 1 in `m`: an `n`-node rule is exact up to
            // degree 2n - 1, so with `n >= 2k` the interpolant equals the quadrature drift.
            let k = k as usize;
            if nodes >= 2 * k {
                let poly = ChebyshevInterpolant::sample(4 * k, |m| ode.sphere_drift_quadrature(m))?;
                ode.sphere_poly = Some(((activation, kappa, noise_var), poly));
            }
        }
        Ok(ode)
    }

    /// Forces the evaluation method (to compare closed forms with quadrature).
    pub fn with_method(mut self, method: Expectations) -> Result<Self> {
        if method == Expectations::ClosedForm && self.activation != Activation::Erf {
            return Err(Error::Unsupported("closed-form drift exists for erf units only".into()));
        }
        self.method = method;
        Ok(self)
    }

    /// `r_perp = sqrt(Q - m^2)`, checking the state is a possible one. The teacher itself
    /// (`r_perp = 0`) lies on the boundary of the state space, and with label noise the
    /// corrector pushes `r_perp^2` back up from it, but the integrator's trial stages may
    /// overshoot it (the field has a square-root singularity there). States with
    /// `r_perp^2 >= -0.1 max(Q, 1)` are evaluated at `r_perp = 0` (a continuous extension of
    /// the field); farther ones are an error.
    fn r_perp(m: f64, q: f64) -> Result<f64> {
        if !(m.is_finite() && q.is_finite()) {
            return Err(Error::NonFinite { what: "single-index state (m, Q)", index: 0 });
        }
        let r2 = q - m * m;
        if r2 < -0.1 * q.abs().max(1.0) {
            return Err(Error::hyper("overlap Q", q, "must be at least m^2 (r_perp^2 >= 0)"));
        }
        Ok(r2.max(0.0).sqrt())
    }

    /// `E h(lambda_v, lambda_x)` over `(lambda_v, lambda_x) ~ N(0, [[1, m], [m, Q]])`.
    fn expect2(&self, m: f64, rp: f64, mut h: impl FnMut(f64, f64) -> f64) -> f64 {
        let g = &self.quad;
        let mut s = 0.0;
        for (&z1, &w1) in g.nodes.iter().zip(&g.weights) {
            let mut inner = 0.0;
            for (&z2, &w2) in g.nodes.iter().zip(&g.weights) {
                inner += w2 * h(z1, m * z1 + rp * z2);
            }
            s += w1 * inner;
        }
        s
    }

    /// `(dm/dtau, dQ/dtau)` at `(m, Q)`.
    pub fn drift(&self, m: f64, q: f64) -> Result<[f64; 2]> {
        let rp = Self::r_perp(m, q)?;
        let d = match self.method {
            Expectations::ClosedForm => {
                let mut dq = [0.0];
                let mut dr = [0.0];
                committee_erf_drift(
                    &Overlaps::single(m, q),
                    self.kappa,
                    self.noise_var,
                    &mut dq,
                    &mut dr,
                );
                [dr[0], dq[0]]
            }
            Expectations::Quadrature => {
                let a = self.activation;
                let (k, nv) = (self.kappa, self.noise_var);
                let dm =
                    self.expect2(m, rp, |lv, lx| (a.value(lv) - a.value(lx)) * a.deriv(lx) * lv);
                let dq = self.expect2(m, rp, |lv, lx| {
                    let (e, d) = (a.value(lv) - a.value(lx), a.deriv(lx));
                    2.0 * e * d * lx + k * (e * e + nv) * d * d
                });
                [dm, dq]
            }
        };
        if let Some(index) = d.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite { what: "single-index drift", index });
        }
        Ok(d)
    }

    /// `dm/dtau` of the spherical model (`|x| = 1` kept by renormalising after each step):
    /// `E[g lambda_v] - m E[g lambda_x] - (kappa / 2) m E[g^2]` with `g = e sigma'(lambda_x)`
    /// and `Q = 1`. The last term is the corrector: the second-order shrinkage of `m` by the
    /// renormalisation `|x + delta g X|^{-1}`. For `h_k` and `kappa = 0` this is
    /// `k m^{k-1} (1 - m^2)`, the gradient of `E[h_k(lambda_v) h_k(lambda_x)] = m^k`.
    ///
    /// Hermite units evaluate a polynomial interpolant sampled once from the quadrature
    /// (see [`super::chebyshev`]); the long escape-time solves call this millions of times.
    pub fn sphere_drift(&self, m: f64) -> Result<f64> {
        if !(m.is_finite() && m.abs() <= 1.0 + 1e-12) {
            return Err(Error::hyper("spherical overlap m", m, "must lie in [-1, 1]"));
        }
        let m = m.clamp(-1.0, 1.0);
        let d = match &self.sphere_poly {
            Some((key, p)) if *key == (self.activation, self.kappa, self.noise_var) => p.eval(m),
            _ => return self.sphere_drift_quadrature(m),
        };
        if d.is_finite() {
            Ok(d)
        } else {
            Err(Error::NonFinite { what: "spherical drift", index: 0 })
        }
    }

    /// [`Self::sphere_drift`] by the tensor Gauss-Hermite rule, for `m` in `[-1, 1]`.
    fn sphere_drift_quadrature(&self, m: f64) -> Result<f64> {
        let rp = (1.0 - m * m).max(0.0).sqrt();
        let a = self.activation;
        let (k, nv) = (self.kappa, self.noise_var);
        let d = self.expect2(m, rp, |lv, lx| {
            let (e, d) = (a.value(lv) - a.value(lx), a.deriv(lx));
            let g = e * d;
            g * lv - m * g * lx - 0.5 * k * m * (e * e + nv) * d * d
        });
        if d.is_finite() {
            Ok(d)
        } else {
            Err(Error::NonFinite { what: "spherical drift", index: 0 })
        }
    }

    /// A zero of the spherical drift reached from `m0`: the ODE run to `tau_max`, then Newton
    /// steps (central-difference slope). Errors unless `|drift| < 1e-11` at the end.
    pub fn sphere_fixed_point(&self, m0: f64, tau_max: f64) -> Result<f64> {
        let mut m = self.solve_sphere(m0, &[0.0, tau_max])?.last()[0];
        for _ in 0..20 {
            let f = self.sphere_drift(m)?;
            if f.abs() < 1e-13 {
                break;
            }
            let h = 1e-6;
            let slope = (self.sphere_drift((m + h).min(1.0))? - self.sphere_drift(m - h)?)
                / ((m + h).min(1.0) - (m - h));
            if !(slope.abs() > 1e-300) {
                return Err(Error::Singular {
                    detail: "spherical drift slope at the fixed point".into(),
                });
            }
            m = (m - f / slope).clamp(-1.0, 1.0);
        }
        let res = self.sphere_drift(m)?.abs();
        if res < 1e-11 {
            Ok(m)
        } else {
            Err(Error::NoConvergence {
                method: "spherical fixed point",
                iterations: 20,
                residual: res,
            })
        }
    }

    /// The Ornstein-Uhlenbeck law of `sqrt(N) (m - m*)` on the sphere near a fixed point
    /// `m*`: returns `(a, b, b / (2a))` with `a = -d(drift)/dm` the mean-reversion rate and
    /// `b = kappa Var(g lambda_v - m* g lambda_x - (kappa/2) m* g^2)` the diffusion
    /// coefficient (the one-sample increment of `m` divided by `delta`: the renormalisation
    /// term is of the same order because `|X|^2 ~ N`; label noise included, a 5-node rule in
    /// the noise is exact for this quartic). Errors unless `a > 0`.
    pub fn sphere_ou(&self, m: f64) -> Result<(f64, f64, f64)> {
        let h = 1e-6;
        let hi = (m + h).min(1.0);
        let a = -(self.sphere_drift(hi)? - self.sphere_drift(m - h)?) / (hi - (m - h));
        if !(a > 0.0) {
            return Err(Error::NotPositiveDefinite {
                detail: format!("spherical fixed point {m} is not stable (rate {a:e})"),
            });
        }
        let rp = (1.0 - m * m).max(0.0).sqrt();
        let act = self.activation;
        let eps = GaussHermite::new(5)?;
        let sd = self.noise_var.sqrt();
        let kappa = self.kappa;
        let (mut m1, mut m2) = (0.0, 0.0);
        for (&z3, &w3) in eps.nodes.iter().zip(&eps.weights) {
            let inc = |lv: f64, lx: f64| {
                let g = (act.value(lv) + sd * z3 - act.value(lx)) * act.deriv(lx);
                g * lv - m * g * lx - 0.5 * kappa * m * g * g
            };
            m1 += w3 * self.expect2(m, rp, inc);
            m2 += w3 * self.expect2(m, rp, |lv, lx| inc(lv, lx).powi(2));
        }
        let b = self.kappa * (m2 - m1 * m1);
        Ok((a, b, b / (2.0 * a)))
    }

    /// Solves the spherical ODE from `m0`, reporting `m` at `times` (one component).
    pub fn solve_sphere(&self, m0: f64, times: &[f64]) -> Result<Solution> {
        let p = DopriParams { rtol: 1e-9, atol: 1e-14, ..Default::default() };
        let f = |_t: f64, y: &[f64], dy: &mut [f64]| {
            dy[0] = self.sphere_drift(y[0])?;
            Ok(())
        };
        dopri5(f, &[m0], times, &p).map(|(s, _)| s)
    }

    /// Population risk `1/2 E(sigma(lambda_v) - sigma(lambda_x))^2` (without the noise floor);
    /// with closed forms, the erf formula [`super::erf_integrals::generalisation_error`].
    pub fn risk(&self, m: f64, q: f64) -> Result<f64> {
        let rp = Self::r_perp(m, q)?;
        if self.method == Expectations::ClosedForm {
            return Ok(super::erf_integrals::generalisation_error(&Overlaps::single(m, q)));
        }
        let a = self.activation;
        Ok(0.5 * self.expect2(m, rp, |lv, lx| (a.value(lv) - a.value(lx)).powi(2)))
    }

    /// Solves from `(m0, Q0)` with Dormand-Prince (rtol 1e-9, steps at most 0.5: near a fixed
    /// point close to `r_perp = 0` longer steps put trial stages far outside the state space),
    /// reporting at `times`.
    pub fn solve(&self, m0: f64, q0: f64, times: &[f64]) -> Result<Solution> {
        let p = DopriParams { rtol: 1e-9, atol: 1e-12, h_max: Some(0.5), ..Default::default() };
        let f = |_t: f64, y: &[f64], dy: &mut [f64]| {
            let d = self.drift(y[0], y[1])?;
            dy.copy_from_slice(&d);
            Ok(())
        };
        dopri5(f, &[m0, q0], times, &p).map(|(s, _)| s)
    }

    /// Jacobian of the drift at `(m, Q)` by central differences (the drift is smooth).
    pub fn jacobian(&self, m: f64, q: f64) -> Result<[[f64; 2]; 2]> {
        let h = 1e-5;
        let mut j = [[0.0; 2]; 2];
        for (col, (dm, dq)) in [(h, 0.0), (0.0, h)].into_iter().enumerate() {
            let p = self.drift(m + dm, q + dq)?;
            let n = self.drift(m - dm, q - dq)?;
            for row in 0..2 {
                j[row][col] = (p[row] - n[row]) / (2.0 * h);
            }
        }
        Ok(j)
    }

    /// A zero of the drift reached from `(m0, Q0)`: the ODE run to `tau_max`, then Newton
    /// steps on the drift. Errors unless `|drift| < 1e-11` at the end.
    pub fn fixed_point(&self, m0: f64, q0: f64, tau_max: f64) -> Result<[f64; 2]> {
        let sol = self.solve(m0, q0, &[0.0, tau_max])?;
        let (mut m, mut q) = (sol.last()[0], sol.last()[1]);
        for _ in 0..20 {
            let f = self.drift(m, q)?;
            if f[0].abs().max(f[1].abs()) < 1e-13 {
                break;
            }
            let j = self.jacobian(m, q)?;
            let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
            if !(det.abs() > 1e-300) {
                return Err(Error::Singular { detail: "drift Jacobian at the fixed point".into() });
            }
            m -= (j[1][1] * f[0] - j[0][1] * f[1]) / det;
            q -= (-j[1][0] * f[0] + j[0][0] * f[1]) / det;
        }
        let f = self.drift(m, q)?;
        let res = f[0].abs().max(f[1].abs());
        if res < 1e-11 {
            Ok([m, q])
        } else {
            Err(Error::NoConvergence {
                method: "fixed point (ODE + Newton)",
                iterations: 20,
                residual: res,
            })
        }
    }

    /// Covariance (per unit `kappa`, see [`lyapunov_2x2`]) of the one-sample increment
    /// `G = (e sigma' lambda_v, 2 e sigma' lambda_x + kappa e^2 sigma'^2)` at `(m, Q)`, label
    /// noise included (a 4-node rule in the noise is exact: `G` is quadratic in it).
    pub fn increment_cov(&self, m: f64, q: f64) -> Result<[[f64; 2]; 2]> {
        let rp = Self::r_perp(m, q)?;
        let a = self.activation;
        let eps = GaussHermite::new(4)?;
        let sd = self.noise_var.sqrt();
        let k = self.kappa;
        let mut mom = [0.0; 5];
        for (&z3, &w3) in eps.nodes.iter().zip(&eps.weights) {
            let acc = |f: &dyn Fn(f64, f64) -> f64| self.expect2(m, rp, |lv, lx| f(lv, lx));
            let g = |lv: f64, lx: f64| (a.value(lv) + sd * z3 - a.value(lx)) * a.deriv(lx);
            let g1 = |lv: f64, lx: f64| g(lv, lx) * lv;
            let g2 = |lv: f64, lx: f64| {
                let gg = g(lv, lx);
                2.0 * gg * lx + k * gg * gg
            };
            mom[0] += w3 * acc(&g1);
            mom[1] += w3 * acc(&g2);
            mom[2] += w3 * acc(&|lv, lx| g1(lv, lx).powi(2));
            mom[3] += w3 * acc(&|lv, lx| g1(lv, lx) * g2(lv, lx));
            mom[4] += w3 * acc(&|lv, lx| g2(lv, lx).powi(2));
        }
        let c11 = mom[2] - mom[0] * mom[0];
        let c12 = mom[3] - mom[0] * mom[1];
        let c22 = mom[4] - mom[1] * mom[1];
        Ok([[c11, c12], [c12, c22]])
    }

    /// Stationary covariance of `sqrt(N) (u - u*)`, `u = (m, Q)`, near a stable fixed point
    /// `u*`: the linearised SDE `du = J u dtau + sqrt(kappa) S^{1/2} dB` (S from
    /// [`Self::increment_cov`]) is Ornstein-Uhlenbeck, with `J P + P J^T + kappa S = 0`.
    pub fn ou_covariance(&self, m: f64, q: f64) -> Result<[[f64; 2]; 2]> {
        let j = self.jacobian(m, q)?;
        let s = self.increment_cov(m, q)?;
        let ks = [
            [self.kappa * s[0][0], self.kappa * s[0][1]],
            [self.kappa * s[1][0], self.kappa * s[1][1]],
        ];
        lyapunov_2x2(&j, &ks)
    }
}

/// Solves `J P + P J^T + S = 0` for symmetric `P` (2 x 2). Errors unless `J` is stable
/// (trace < 0 < determinant), the condition for a stationary Ornstein-Uhlenbeck law.
pub fn lyapunov_2x2(j: &[[f64; 2]; 2], s: &[[f64; 2]; 2]) -> Result<[[f64; 2]; 2]> {
    let tr = j[0][0] + j[1][1];
    let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
    if !(tr < 0.0 && det > 0.0) {
        return Err(Error::NotPositiveDefinite {
            detail: format!("drift Jacobian is not stable (trace {tr:e}, det {det:e})"),
        });
    }
    // Unknowns (p11, p12, p22); the three independent entries of J P + P J^T = -S.
    let a = [
        [2.0 * j[0][0], 2.0 * j[0][1], 0.0],
        [j[1][0], j[0][0] + j[1][1], j[0][1]],
        [0.0, 2.0 * j[1][0], 2.0 * j[1][1]],
    ];
    let b = [-s[0][0], -0.5 * (s[0][1] + s[1][0]), -s[1][1]];
    let d3 = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let da = d3(&a);
    let mut p = [0.0; 3];
    for (col, pc) in p.iter_mut().enumerate() {
        let mut ac = a;
        for row in 0..3 {
            ac[row][col] = b[row];
        }
        *pc = d3(&ac) / da;
    }
    Ok([[p[0], p[1]], [p[1], p[2]]])
}

/// The erf soft-committee drift (Saad & Solla 1995, eqs. 9-10 in this normalisation):
/// writes `dQ/dtau` (`k x k`) and `dR/dtau` (`k x m`) at overlaps `o`.
pub fn committee_erf_drift(
    o: &Overlaps,
    kappa: f64,
    noise_var: f64,
    dq: &mut [f64],
    dr: &mut [f64],
) {
    use Field::{Student as S, Teacher as T};
    let (k, m) = (o.k, o.m);
    // A[i][c] = E[e g'(lambda_i) c] for a field c.
    let a = |i: usize, c: Field| {
        let mut s = 0.0;
        for p in 0..m {
            s += i3(&o.cov3([S(i), c, T(p)]));
        }
        for j in 0..k {
            s -= i3(&o.cov3([S(i), c, S(j)]));
        }
        s
    };
    for i in 0..k {
        for n in 0..m {
            dr[i * m + n] = a(i, T(n));
        }
    }
    for i in 0..k {
        for l in i..k {
            let mut b = 0.0;
            for p in 0..m {
                for s in 0..m {
                    b += i4(&o.cov4([S(i), S(l), T(p), T(s)]));
                }
                for j in 0..k {
                    b -= 2.0 * i4(&o.cov4([S(i), S(l), T(p), S(j)]));
                }
            }
            for j in 0..k {
                for jj in 0..k {
                    b += i4(&o.cov4([S(i), S(l), S(j), S(jj)]));
                }
            }
            b += noise_var * i2(o.q[i * k + i], o.q[l * k + l], o.q[i * k + l]);
            let v = a(i, S(l)) + a(l, S(i)) + kappa * b;
            dq[i * k + l] = v;
            dq[l * k + i] = v;
        }
    }
}

/// Solves the erf committee ODE from `o0` (state `(Q, R)`, `T` fixed), reporting the overlaps
/// at `times`.
pub fn solve_committee_erf(
    o0: &Overlaps,
    kappa: f64,
    noise_var: f64,
    times: &[f64],
) -> Result<Vec<Overlaps>> {
    gradus_core::validate::non_negative("corrector weight kappa", kappa)?;
    gradus_core::validate::non_negative("label noise variance", noise_var)?;
    let (k, m) = (o0.k, o0.m);
    gradus_core::validate::same_len("committee Q", k * k, o0.q.len())?;
    gradus_core::validate::same_len("committee R", k * m, o0.r.len())?;
    gradus_core::validate::same_len("committee T", m * m, o0.t.len())?;
    let mut y0 = o0.q.clone();
    y0.extend_from_slice(&o0.r);
    let mut scratch = o0.clone();
    let f = |_t: f64, y: &[f64], dy: &mut [f64]| {
        scratch.q.copy_from_slice(&y[..k * k]);
        scratch.r.copy_from_slice(&y[k * k..]);
        let (dq, dr) = dy.split_at_mut(k * k);
        committee_erf_drift(&scratch, kappa, noise_var, dq, dr);
        Ok(())
    };
    let p = DopriParams { rtol: 1e-9, atol: 1e-12, ..Default::default() };
    let (sol, _) = dopri5(f, &y0, times, &p)?;
    Ok((0..times.len())
        .map(|i| {
            let s = sol.state(i);
            Overlaps { k, m, q: s[..k * k].to_vec(), r: s[k * k..].to_vec(), t: o0.t.clone() }
        })
        .collect())
}
