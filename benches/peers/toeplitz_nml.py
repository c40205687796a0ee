#!/usr/bin/env python3
"""Toeplitz covariance ML on the same data: gradus (Fisher-scoring ML; over-parameterised GD
with K = 2P and 4P, Algorithm 2) against the `nml-toeplitz` package (FFT-accelerated Newton
ML, C). Run from the repository root:

    cargo build --release -p gradus-bench
    pip install nml-toeplitz numpy
    python3 benches/peers/toeplitz_nml.py

Both minimise log det R + tr(R^{-1} S) over Toeplitz R (gradus GD adds the paper's ridge
delta = 1e-3 I to its sinusoid model, so its optimum can sit slightly above the unridged
one). Reported: final objective and wall time of each solver, in one run.

nml-toeplitz runs in a child process with a time limit (`--nml-timeout`, default 120 s): on
the machine these figures were first taken on, nml-toeplitz 0.1.1 never returned from its first
Newton iteration (stuck inside its `lev_dur_complex`, for every P and N tried), and a peer that
hangs must not hang the comparison.
"""
import json
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time

import numpy as np
from nml import NMLSolver

BIN = "target/release/gradus-bench"


def true_cov(p, rng):
    w = np.sort(rng.uniform(0, 2 * np.pi, p))
    a = np.sort(rng.uniform(0, 2.5, p)) ** 2
    lags = np.arange(p)
    r = (a[None, :] * np.exp(1j * np.outer(lags, w))).sum(axis=1)
    r[0] = r[0].real + 0.17 ** 2
    idx = np.arange(p)
    R = np.where(idx[:, None] >= idx[None, :], r[np.abs(idx[:, None] - idx[None, :])], np.conj(r[np.abs(idx[:, None] - idx[None, :])]))
    return R


def objective(r, S):
    p = len(r)
    idx = np.arange(p)
    R = np.where(idx[:, None] >= idx[None, :], r[np.abs(idx[:, None] - idx[None, :])], np.conj(r[np.abs(idx[:, None] - idx[None, :])]))
    sign, logdet = np.linalg.slogdet(R)
    return logdet + np.real(np.trace(np.linalg.solve(R, S)))


def nml_child(X, queue):
    solver = NMLSolver(X.shape[0])
    t = time.perf_counter()
    res = solver.solve(np.asfortranarray(X))
    el = time.perf_counter() - t
    # nml returns x = Re r (with the diagonal halved) and y = -Im r of the first column.
    r = np.concatenate([[2 * res["x"][0]], res["x"][1:] - 1j * res["y"]])
    solver.free()
    queue.put((r, el, res["iter"]))


def run_nml(X, timeout):
    queue = mp.Queue()
    proc = mp.Process(target=nml_child, args=(X, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return queue.get() if not queue.empty() else None


def main():
    timeout = 120.0
    if "--nml-timeout" in sys.argv:
        timeout = float(sys.argv[sys.argv.index("--nml-timeout") + 1])
    cases = [(15, 20), (15, 80), (32, 100)]
    if "--large" in sys.argv:
        cases.append((64, 200))  # gradus GD with K = 4P runs for many minutes here
    print("| P | N | solver | objective log det R + tr(R^-1 S) | wall time | iterations |")
    print("|---|---|---|---|---|---|", flush=True)
    for p, n in cases:
        rows = []
        rng = np.random.default_rng(p * 1000 + n)
        R = true_cov(p, rng)
        L = np.linalg.cholesky(R)
        Z = (rng.standard_normal((p, n)) + 1j * rng.standard_normal((p, n))) / np.sqrt(2)
        X = L @ Z  # p x n
        S = X @ X.conj().T / n
        with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
            snaps = X.T.copy()  # n x p, row-major
            inter = np.empty(2 * n * p)
            inter[0::2] = snaps.real.ravel()
            inter[1::2] = snaps.imag.ravel()
            inter.astype("<f8").tofile(f.name)
            out = subprocess.run([BIN, "covariance", "--what", "fit", "--p", str(p), "--n", str(n), "--data", f.name], check=True, capture_output=True, text=True).stdout
        for d in map(json.loads, out.splitlines()):
            rows.append((p, n, "gradus " + d["name"], d["loss"], d["seconds"], d["iterations"]))
        res = run_nml(X, timeout)
        if res is None:
            rows.append((p, n, "nml-toeplitz (Newton)", float("nan"), timeout, f"timed out after {timeout:.0f} s"))
        else:
            r, el, it = res
            rows.append((p, n, "nml-toeplitz (Newton)", objective(r, S), el, it))
        for p_, n_, name, obj, sec, it in rows:
            print(f"| {p_} | {n_} | {name} | {obj:.6f} | {sec * 1e3:.1f} ms | {it} |", flush=True)


if __name__ == "__main__":
    main()
