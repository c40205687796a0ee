#!/usr/bin/env python3
"""Optional cross-check of paper 06's tight rates with PEPit (performance estimation).

Not part of the test suite. Needs `pip install pepit` (pulls in cvxpy and its open-source
solvers; the paper used MOSEK, here Clarabel or SCS). Run from the repository root:

    python3 benches/peers/ef_pepit.py --kappas 2 4 10 --eps 0.25 0.5 0.75

For each (kappa, eps) it solves the one-step PEP of EF, EF21 and CGD at their optimal steps
with the Lyapunov functions of paper 06 (V_EF = ||x - x* - e||^2 + ||e||^2 / s,
V_EF21 = ||g - d||^2 + s ||g||^2, V_CGD = f - f*) and prints the worst ratio V_1 / V_0 next
to the closed forms that gradus implements (`gradus_dist::compression::theory`). The solver
returns the worst case over all of F_{mu,L}, not only quadratics; agreement to solver
tolerance (about 1e-6) confirms both the closed forms and that quadratics attain them.
"""
import argparse
import math

from PEPit import PEP
from PEPit.functions import SmoothStronglyConvexFunction


def closed_forms(L, mu, eps):
    s = math.sqrt(eps)
    eta = 2 / (L + mu) * (1 - s) / (1 + s)
    lam = eta / (L + mu) * ((1 - s) * (L - mu) + (1 + s) * math.sqrt((L - mu) ** 2 + 16 * L * mu * s / (1 + s) ** 2))
    rho = s + 0.25 * (1 + s) * (L - mu) * lam
    eta_c = 2 / ((1 - s) * mu + (1 + s) * L)
    ke = (L / mu) * (1 + s) / (1 - s)
    return eta, rho, eta_c, ((ke - 1) / (ke + 1)) ** 2


def pep_ef(L, mu, eps, eta, solver):
    s = math.sqrt(eps)
    p = PEP()
    f = p.declare_function(SmoothStronglyConvexFunction, mu=mu, L=L)
    xs = f.stationary_point()
    x0, e0, c = p.set_initial_point(), p.set_initial_point(), p.set_initial_point()
    v = e0 + eta * f.gradient(x0)
    p.add_constraint((c - v) ** 2 <= eps * v ** 2)
    x1, e1 = x0 - c, v - c
    p.set_initial_condition((x0 - xs - e0) ** 2 + (1 / s) * e0 ** 2 <= 1)
    p.set_performance_metric((x1 - xs - e1) ** 2 + (1 / s) * e1 ** 2)
    return p.solve(verbose=0, wrapper="cvxpy", solver=solver)


def pep_ef21(L, mu, eps, eta, solver):
    s = math.sqrt(eps)
    p = PEP()
    f = p.declare_function(SmoothStronglyConvexFunction, mu=mu, L=L)
    f.stationary_point()
    x0, d0, c = p.set_initial_point(), p.set_initial_point(), p.set_initial_point()
    g0 = f.gradient(x0)
    x1 = x0 - eta * d0
    g1 = f.gradient(x1)
    p.add_constraint((c - (g1 - d0)) ** 2 <= eps * (g1 - d0) ** 2)
    d1 = d0 + c
    p.set_initial_condition((g0 - d0) ** 2 + s * g0 ** 2 <= 1)
    p.set_performance_metric((g1 - d1) ** 2 + s * g1 ** 2)
    return p.solve(verbose=0, wrapper="cvxpy", solver=solver)


def pep_cgd(L, mu, eps, eta, solver):
    p = PEP()
    f = p.declare_function(SmoothStronglyConvexFunction, mu=mu, L=L)
    xs = f.stationary_point()
    fs = f(xs)
    x0, c = p.set_initial_point(), p.set_initial_point()
    g0 = f.gradient(x0)
    p.add_constraint((c - g0) ** 2 <= eps * g0 ** 2)
    x1 = x0 - eta * c
    p.set_initial_condition(f(x0) - fs <= 1)
    p.set_performance_metric(f(x1) - fs)
    return p.solve(verbose=0, wrapper="cvxpy", solver=solver)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kappas", type=float, nargs="+", default=[2, 4, 10])
    ap.add_argument("--eps", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    ap.add_argument("--solver", default="CLARABEL")
    args = ap.parse_args()
    print("| kappa | eps | rho closed form | PEP EF | PEP EF21 | rho_CGD closed form | PEP CGD |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for kappa in args.kappas:
        L, mu = 1.0, 1.0 / kappa
        for eps in args.eps:
            eta, rho, eta_c, rho_c = closed_forms(L, mu, eps)
            a = pep_ef(L, mu, eps, eta, args.solver)
            b = pep_ef21(L, mu, eps, eta, args.solver)
            c = pep_cgd(L, mu, eps, eta_c, args.solver)
            worst = max(worst, abs(a - rho), abs(b - rho), abs(c - rho_c))
            print(f"| {kappa:g} | {eps:g} | {rho:.7f} | {a:.7f} | {b:.7f} | {rho_c:.7f} | {c:.7f} |", flush=True)
    print(f"\nlargest |PEP - closed form| = {worst:.2e}")


if __name__ == "__main__":
    main()
