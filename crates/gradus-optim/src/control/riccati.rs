//! Linear-quadratic problems in closed form: quadratic loss, linear default dynamics.
//!
//! Infinite horizon: the current-value function `W(θ) = ½ θᵀPθ + bᵀθ + c₀` solves the
//! Hamilton-Jacobi-Bellman equation `γ W = min_u [(1/(2η)) uᵀGu + k L(θ) + ∇Wᵀ(Aθ + u)]`,
//! so `u = -η G⁻¹ ∇W` and, with `Ã = A - γ/2 I`, `S = η G⁻¹`, `Q = k H`,
//!
//! ```text
//! Ãᵀ P + P Ã - P S P + Q = 0                    (continuous algebraic Riccati equation)
//! (γ I + P S - Aᵀ) b = -k H μ,    γ c₀ = -½ bᵀ S b + (k/2) μᵀ H μ
//! θ̇ = K θ + c,   K = A - S P,  c = -S b          (the optimal feedback law)
//! ```
//!
//! `P` is the stabilising solution (`Ã - S P` Hurwitz), found from the matrix sign function of
//! the Hamiltonian `[[Ã, -S], [-Q, -Ãᵀ]]` (Newton iteration with norm scaling; Byers 1987):
//! with `W = sign(Z)`, `P` solves `[W₁₂; W₂₂ + I] P = -[W₁₁ + I; W₂₁]` in least squares.
//!
//! Finite horizon: [`LqProblem::solve_discrete`] minimises the discretised action of
//! [`super::DiscreteAction`] exactly, by the backward Riccati recursion of the equivalent
//! discrete-time problem `x_{n+1} = (I + Δt A) x_n + v_n` (free end).

use faer::linalg::solvers::{Solve, SolveLstsq};
use faer::{Mat, Side};
use gradus_core::numeric::dot;
use gradus_core::validate::{all_finite, same_len};
use gradus_core::{Error, Result};

use super::action::TimeGrid;
use super::dense::{self, from_row_major, norm_fro, to_row_major};
use super::potential::QuadraticLoss;
use super::problem::ControlProblem;

/// A control problem with a quadratic loss.
#[derive(Debug, Clone, PartialEq)]
pub struct LqProblem {
    problem: ControlProblem,
    loss: QuadraticLoss,
}

/// The infinite-horizon optimum (module docs). Matrices are row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LqSolution {
    dim: usize,
    /// `P`, the Hessian of the value function.
    pub p: Vec<f64>,
    /// `b`, the linear term of the value function.
    pub b: Vec<f64>,
    /// `K = A - η G⁻¹ P`.
    pub closed_loop: Vec<f64>,
    /// `c = -η G⁻¹ b`.
    pub offset: Vec<f64>,
    /// Relative residual of the Riccati equation, `|Ãᵀ P + P Ã - P S P + Q|_F / scale`.
    pub residual: f64,
    /// Newton iterations of the sign function.
    pub iterations: usize,
    /// `c₀`, or `None` when the value is infinite (`γ = 0` with a fixed point that keeps
    /// paying a running cost).
    value_const: Option<f64>,
}

const SIGN_MAX_ITERATIONS: usize = 100;

impl LqProblem {
    /// Errors if the dimensions differ.
    pub fn new(problem: ControlProblem, loss: QuadraticLoss) -> Result<Self> {
        use super::potential::Potential;
        same_len("loss dimension", problem.dim(), loss.dim())?;
        Ok(LqProblem { problem, loss })
    }

    /// The control problem.
    pub fn problem(&self) -> &ControlProblem {
        &self.problem
    }

    /// The loss.
    pub fn loss(&self) -> &QuadraticLoss {
        &self.loss
    }

    /// `(S, Q, A)` as faer matrices.
    fn matrices(&self) -> Result<(Mat<f64>, Mat<f64>, Mat<f64>)> {
        let d = self.problem.dim();
        let g = from_row_major(d, &self.problem.metric_dense());
        let ginv = dense::inverse(&g)
            .ok_or_else(|| Error::Singular { detail: "metric G is singular".into() })?;
        let eta = self.problem.eta();
        let k = self.problem.k();
        let s = Mat::from_fn(d, d, |i, j| eta * ginv[(i, j)]);
        let h = self.loss.hessian_matrix();
        let q = Mat::from_fn(d, d, |i, j| k * h[i * d + j]);
        Ok((s, q, from_row_major(d, &self.problem.dynamics_dense())))
    }

    /// The infinite-horizon optimum.
    ///
    /// Errors: [`Error::Singular`] when the Hamiltonian has eigenvalues on the imaginary axis
    /// (no stabilising solution: e.g. a direction of zero curvature with `γ = 0` and no
    /// dynamics, where the optimum never settles), [`Error::NoConvergence`] when the sign
    /// iteration or the Riccati residual fails its tolerance.
    pub fn solve(&self) -> Result<LqSolution> {
        let d = self.problem.dim();
        let (s, q, a) = self.matrices()?;
        let half_gamma = 0.5 * self.problem.gamma();
        let at = Mat::from_fn(d, d, |i, j| a[(i, j)] - if i == j { half_gamma } else { 0.0 });
        let n2 = 2 * d;
        let mut z = Mat::from_fn(n2, n2, |i, j| match (i < d, j < d) {
            (true, true) => at[(i, j)],
            (true, false) => -s[(i, j - d)],
            (false, true) => -q[(i - d, j)],
            (false, false) => -at[(j - d, i - d)],
        });
        let singular = || Error::Singular {
            detail: "the Hamiltonian has eigenvalues on the imaginary axis: no stabilising \
                     Riccati solution (a flat direction with gamma = 0?)"
                .into(),
        };
        let mut iterations = 0;
        let mut change = f64::INFINITY;
        while iterations < SIGN_MAX_ITERATIONS {
            let zinv = dense::inverse(&z).ok_or_else(singular)?;
            let (nz, ni) = (norm_fro(&z), norm_fro(&zinv));
            // Norm scaling `Z ← (c Z + Z⁻¹/c)/2`, `c = sqrt(|Z⁻¹|/|Z|)` (Higham), speeds the
            // early iterations; near convergence it is 1 anyway and dropping it lets the
            // quadratic convergence finish cleanly.
            let c = if change > 1e-2 { (ni / nz).sqrt() } else { 1.0 };
            let next = Mat::from_fn(n2, n2, |i, j| 0.5 * (c * z[(i, j)] + zinv[(i, j)] / c));
            let diff = Mat::from_fn(n2, n2, |i, j| next[(i, j)] - z[(i, j)]);
            change = norm_fro(&diff) / norm_fro(&next);
            z = next;
            iterations += 1;
            if !change.is_finite() || norm_fro(&z) > 1e150 {
                return Err(singular());
            }
            if change < 1e-13 {
                break;
            }
        }
        if change >= 1e-10 {
            return Err(Error::NoConvergence {
                method: "matrix sign function (Riccati)",
                iterations,
                residual: change,
            });
        }
        let lhs = Mat::from_fn(n2, d, |i, j| {
            if i < d { z[(i, j + d)] } else { z[(i, j + d)] + if i - d == j { 1.0 } else { 0.0 } }
        });
        let rhs = Mat::from_fn(n2, d, |i, j| {
            if i < d { -(z[(i, j)] + if i == j { 1.0 } else { 0.0 }) } else { -z[(i, j)] }
        });
        let x = lhs.qr().solve_lstsq(&rhs);
        let p = Mat::from_fn(d, d, |i, j| 0.5 * (x[(i, j)] + x[(j, i)]));
        let atp = at.transpose() * &p;
        let psp = &p * &s * &p;
        let res = Mat::from_fn(d, d, |i, j| atp[(i, j)] + atp[(j, i)] - psp[(i, j)] + q[(i, j)]);
        let scale = norm_fro(&q).max(norm_fro(&atp)).max(norm_fro(&psp)).max(f64::MIN_POSITIVE);
        let residual = norm_fro(&res) / scale;
        if residual.is_nan() || residual > 1e-8 {
            return Err(Error::NoConvergence {
                method: "Riccati equation by the sign function",
                iterations,
                residual,
            });
        }
        let sol = self.complete(p, s, q, a, residual, iterations)?;
        // A residual within tolerance can still come with an overflowed affine term or
        // feedback (huge curvature against a tiny discount): refuse it rather than hand
        // infinities to the caller (found by the `control_inputs` fuzz target).
        let all = sol.p.iter().chain(&sol.b).chain(&sol.closed_loop).chain(&sol.offset);
        if let Some(index) = all.copied().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                what: "Riccati solution (P, b, closed loop, offset)",
                index,
            });
        }
        Ok(sol)
    }

    /// The affine term, the feedback law and the value constant for a solved `P`.
    fn complete(
        &self,
        p: Mat<f64>,
        s: Mat<f64>,
        q: Mat<f64>,
        a: Mat<f64>,
        residual: f64,
        iterations: usize,
    ) -> Result<LqSolution> {
        let d = self.problem.dim();
        let gamma = self.problem.gamma();
        let mu = Mat::from_fn(d, 1, |i, _| self.loss.minimiser()[i]);
        let ps = &p * &s;
        let mb =
            Mat::from_fn(d, d, |i, j| (if i == j { gamma } else { 0.0 }) + ps[(i, j)] - a[(j, i)]);
        let qmu = &q * &mu;
        let neg_qmu = Mat::from_fn(d, 1, |i, _| -qmu[(i, 0)]);
        let b = mb.partial_piv_lu().solve(&neg_qmu);
        let sp = &s * &p;
        let k_mat = Mat::from_fn(d, d, |i, j| a[(i, j)] - sp[(i, j)]);
        let sb = &s * &b;
        let offset: Vec<f64> = (0..d).map(|i| -sb[(i, 0)]).collect();
        let bv: Vec<f64> = (0..d).map(|i| b[(i, 0)]).collect();
        all_finite("Riccati affine term", &bv)?;
        let bsb: f64 = (0..d).map(|i| bv[i] * sb[(i, 0)]).sum();
        let muqmu: f64 = (0..d).map(|i| mu[(i, 0)] * qmu[(i, 0)]).sum();
        let mut sol = LqSolution {
            dim: d,
            p: to_row_major(&p),
            b: bv,
            closed_loop: to_row_major(&k_mat),
            offset,
            residual,
            iterations,
            value_const: None,
        };
        sol.value_const = if gamma > 0.0 {
            Some((-0.5 * bsb + 0.5 * muqmu) / gamma)
        } else {
            // Undiscounted: finite only if the fixed point costs nothing to hold.
            let star = sol.fixed_point()?;
            let mut grad = vec![0.0; d];
            let loss_star = {
                use super::potential::Potential;
                self.loss.value_grad(&star, &mut grad)
            };
            let mut hold = vec![0.0; d];
            self.problem.apply_dynamics(&star, &mut hold);
            let mut ghold = vec![0.0; d];
            self.problem.apply_metric(&hold, &mut ghold);
            let running = 0.5 / self.problem.eta()
                * hold.iter().zip(&ghold).map(|(x, y)| x * y).sum::<f64>()
                + self.problem.k() * loss_star;
            if running.abs() <= 1e-12 * (1.0 + 0.5 * muqmu.abs()) {
                Some(-(0.5 * quad(&sol.p, &star) + dot(&sol.b, &star)))
            } else {
                None
            }
        };
        Ok(sol)
    }

    /// The exact minimiser of the discretised action on `grid` from `theta0` with a free end
    /// (the same `J_Δ` as [`super::DiscreteAction`]), by the backward Riccati recursion
    /// `P_n = w_n Q + Bᵀ P_{n+1} B - Bᵀ P_{n+1} M_n⁻¹ P_{n+1} B`, `M_n = w_n R + P_{n+1}`,
    /// with `R = G/(η Δt²)`, `B = I + Δt A`, `w_n = Δt e^{-γ t_n}`. Returns the path,
    /// node-major.
    pub fn solve_discrete(&self, grid: TimeGrid, theta0: &[f64]) -> Result<Vec<f64>> {
        let d = self.problem.dim();
        same_len("start", d, theta0.len())?;
        all_finite("start", theta0)?;
        let (_, q, a) = self.matrices()?;
        let dt = grid.dt();
        let eta = self.problem.eta();
        let gm = from_row_major(d, &self.problem.metric_dense());
        let r = Mat::from_fn(d, d, |i, j| gm[(i, j)] / (eta * dt * dt));
        let bm = Mat::from_fn(d, d, |i, j| (if i == j { 1.0 } else { 0.0 }) + dt * a[(i, j)]);
        let mu = Mat::from_fn(d, 1, |i, _| self.loss.minimiser()[i]);
        let qmu = &q * &mu;
        let n = grid.intervals();
        let mut p_next = Mat::<f64>::zeros(d, d);
        let mut pv_next = Mat::<f64>::zeros(d, 1);
        let mut gains: Vec<(Mat<f64>, Mat<f64>)> = Vec::with_capacity(n);
        for step in (0..n).rev() {
            let w = dt * (-self.problem.gamma() * grid.time(step)).exp();
            let m = Mat::from_fn(d, d, |i, j| w * r[(i, j)] + p_next[(i, j)]);
            let llt = m.llt(Side::Lower).map_err(|_| Error::NotPositiveDefinite {
                detail: format!("discrete Riccati step {step}: w R + P is not positive definite"),
            })?;
            let pb = &p_next * &bm;
            let f = llt.solve(&pb);
            let fv = llt.solve(&pv_next);
            let bt = bm.transpose();
            let bpf = bt * &p_next * &f;
            let bpb = bt * &pb;
            let bpfv = bt * &p_next * &fv;
            let btp = bt * &pv_next;
            let p_new = Mat::from_fn(d, d, |i, j| w * q[(i, j)] + bpb[(i, j)] - bpf[(i, j)]);
            p_next = Mat::from_fn(d, d, |i, j| 0.5 * (p_new[(i, j)] + p_new[(j, i)]));
            pv_next = Mat::from_fn(d, 1, |i, _| -w * qmu[(i, 0)] + btp[(i, 0)] - bpfv[(i, 0)]);
            gains.push((f, fv));
        }
        gains.reverse();
        let mut path = Vec::with_capacity((n + 1) * d);
        path.extend_from_slice(theta0);
        let mut x = Mat::from_fn(d, 1, |i, _| theta0[i]);
        for (f, fv) in &gains {
            let bx = &bm * &x;
            let fx = f * &x;
            x = Mat::from_fn(d, 1, |i, _| bx[(i, 0)] - fx[(i, 0)] - fv[(i, 0)]);
            path.extend((0..d).map(|i| x[(i, 0)]));
        }
        all_finite("discrete Riccati path", &path)?;
        Ok(path)
    }
}

impl LqSolution {
    /// Number of parameters.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The optimal velocity `θ̇ = K θ + c` at `theta`.
    pub fn velocity(&self, theta: &[f64], out: &mut [f64]) -> Result<()> {
        same_len("theta", self.dim, theta.len())?;
        same_len("velocity", self.dim, out.len())?;
        dense::matvec(&self.closed_loop, theta, out);
        out.iter_mut().zip(&self.offset).for_each(|(o, c)| *o += c);
        Ok(())
    }

    /// The point the optimum converges to, `K θ* = -c`. [`Error::Singular`] when `K` is
    /// singular (a flat, discounted direction: every point on it is a fixed point).
    pub fn fixed_point(&self) -> Result<Vec<f64>> {
        let d = self.dim;
        let k = from_row_major(d, &self.closed_loop);
        let kinv = dense::inverse(&k)
            .ok_or_else(|| Error::Singular { detail: "closed-loop matrix K is singular".into() })?;
        let mut out = vec![0.0; d];
        let neg_c: Vec<f64> = self.offset.iter().map(|c| -c).collect();
        dense::matvec(&to_row_major(&kinv), &neg_c, &mut out);
        all_finite("fixed point", &out)?;
        Ok(out)
    }

    /// `θ(t)` at each of `times` from `theta0`, node-major: the exact solution of
    /// `θ̇ = K θ + c`, `exp([[K, c], [0, 0]] t) (θ₀, 1)`.
    pub fn trajectory(&self, theta0: &[f64], times: &[f64]) -> Result<Vec<f64>> {
        let d = self.dim;
        same_len("start", d, theta0.len())?;
        all_finite("start", theta0)?;
        all_finite("times", times)?;
        let mut out = Vec::with_capacity(times.len() * d);
        for &t in times {
            let m = Mat::from_fn(d + 1, d + 1, |i, j| match (i < d, j < d) {
                (true, true) => t * self.closed_loop[i * d + j],
                (true, false) => t * self.offset[i],
                _ => 0.0,
            });
            let e = dense::expm(&m);
            out.extend(
                (0..d).map(|i| (0..d).map(|j| e[(i, j)] * theta0[j]).sum::<f64>() + e[(i, d)]),
            );
        }
        Ok(out)
    }

    /// The optimal discounted cost from `theta0`, `W(θ₀) = ½ θ₀ᵀPθ₀ + bᵀθ₀ + c₀`. Errors
    /// ([`Error::Unsupported`]) when it is infinite.
    pub fn value(&self, theta0: &[f64]) -> Result<f64> {
        same_len("start", self.dim, theta0.len())?;
        all_finite("start", theta0)?;
        let c0 = self.value_const.ok_or_else(|| {
            Error::Unsupported(
                "with gamma = 0 the optimum settles where holding still costs a positive \
                 running cost: the undiscounted value is infinite"
                    .into(),
            )
        })?;
        let w = 0.5 * quad(&self.p, theta0) + dot(&self.b, theta0) + c0;
        // Finite inputs can still overflow to `inf - inf` (found by the control_inputs fuzz
        // target in CI): an undefined value is an error, not a NaN.
        if w.is_nan() {
            return Err(Error::NonFinite { what: "value W(theta0)", index: 0 });
        }
        Ok(w)
    }
}

fn quad(m: &[f64], x: &[f64]) -> f64 {
    let mut mx = vec![0.0; x.len()];
    dense::matvec(m, x, &mut mx);
    dot(x, &mx)
}
