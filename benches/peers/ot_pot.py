#!/usr/bin/env python3
"""DRAG iterations per second (gradus) against POT's stochastic semi-dual solvers.

Run from the repository root (needs `pip install pot numpy`):

    cargo build --release -p gradus-bench
    python3 benches/peers/ot_pot.py --threads 2 --rounds 3

For every d in {2, 10} and M in {1e3, 1e4, 1e5} the script draws M targets uniformly in
[0,1]^d, writes them to a temporary file, and in each round times
- gradus (`gradus-bench drag --targets FILE`): DRAG with the paper's schedule, averaged SGD
  with the fixed eps (POT's setting), the same without projection, and eps = 0; the source is
  the continuous U([0,1]^d), every iteration computes the M costs c(x, y_j) from coordinates;
- POT `ot.stochastic.averaged_sgd_entropic_transport` (ASGD) and `sag_entropic_transport` (SAG)
  on the same targets, with the source discretised into `ns` uniform samples and the
  (ns x M) cost matrix precomputed outside the timed region (POT's API needs it); these are the
  inner loops of `ot.stochastic.solve_semi_dual_entropic`, whose final plan computation is
  excluded.

Both sides run the same number of iterations (one source sample per iteration, reg = 0.1).
The table reports medians over rounds of iterations per second and the ratio gradus / POT.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import ot
from ot.stochastic import averaged_sgd_entropic_transport, sag_entropic_transport


def iterations(m):
    return {1000: 20000, 10000: 2000, 100000: 200}.get(m, max(50, int(2e7 / m)))


def gradus_rates(binary, path, m, d, iters, threads, eps):
    out = subprocess.run(
        [binary, "drag", "--m", str(m), "--d", str(d), "--iters", str(iters), "--eps", str(eps),
         "--targets", path, "--threads", str(threads), "--reps", "3"],
        check=True, capture_output=True, text=True).stdout
    return {r["name"]: r["it_per_s"] for r in map(json.loads, out.splitlines())}


def pot_rates(y, iters, eps, ns, seed):
    rng = np.random.default_rng(seed)
    m, d = y.shape
    xs = rng.random((ns, d))
    cost = 0.5 * ot.dist(xs, y)  # squared Euclidean / 2, the cost of paper 08
    a, b = np.full(ns, 1.0 / ns), np.full(m, 1.0 / m)
    out = {}
    for name, solver in [("asgd", averaged_sgd_entropic_transport), ("sag", sag_entropic_transport)]:
        t = time.perf_counter()
        solver(a, b, cost, eps, numItermax=iters, lr=float(np.sqrt(d)), random_state=seed)
        out[name] = iters / (time.perf_counter() - t)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 10])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5])
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--binary", default="target/release/gradus-bench")
    args = ap.parse_args()
    samples = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for d in args.dims:
                for m in map(int, args.sizes):
                    rng = np.random.default_rng(1000 * d + m)
                    y = rng.random((m, d))
                    path = os.path.join(tmp, f"y_{d}_{m}.bin")
                    y.astype("<f8").tofile(path)
                    iters = iterations(m)
                    ns = int(min(1000, 2e7 / m))
                    for k, v in gradus_rates(args.binary, path, m, d, iters, args.threads, args.eps).items():
                        samples.setdefault((d, m, "gradus " + k), []).append(v)
                    for k, v in pot_rates(y, iters, args.eps, ns, r).items():
                        samples.setdefault((d, m, "POT " + k), []).append(v)
                    print(f"round {r + 1}/{args.rounds} d={d} M={m:.0e} done", flush=True)

    def med(key):
        return statistics.median(samples[key])

    print(f"\nPOT {ot.__version__}, numpy {np.__version__}, {args.threads} gradus threads, "
          f"eps = {args.eps}, median of {args.rounds} rounds\n")
    print("| d | M | iterations | implementation | it/s | gradus / POT ASGD |")
    print("|---|---|---|---|---|---|")
    for d in args.dims:
        for m in map(int, args.sizes):
            base = med((d, m, "POT asgd"))
            for key in sorted(k for k in samples if k[0] == d and k[1] == m):
                name = key[2]
                ratio = f"{med(key) / base:.1f}x" if name.startswith("gradus") else ""
                print(f"| {d} | {m:.0e} | {iterations(m)} | {name} | {med(key):,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
