#!/usr/bin/env python3
"""One SVGD step (gradus) against the same computation in PyTorch (CPU), side by side.

Run from the repository root (needs torch):

    cargo build --release -p gradus-bench
    python3 benches/peers/svgd_torch.py --threads 2 --rounds 3

The step, for n particles on the standard Gaussian in R^d (score s(y) = -y):
  h^2 = lower median of |y_a - y_b|^2 over all ordered pairs of (at most 1024 evenly strided)
        particles, divided by ln n, plus 1e-8 (gradus's `Bandwidth::Median`);
  K_ij = exp(-|y_i - y_j|^2 / (2 h^2)), squared distances as |y_i|^2 + |y_j|^2 - 2 <y_i, y_j>
        clamped at 0;
  phi = (K s + (y * rowsum(K) - K y) / h^2) / n;   y <- y + h phi.
torch runs it in float64 (gradus's precision) and float32. Medians over repetitions within a
round, then over rounds; gradus runs as a subprocess (`gradus-bench svgd`) in each round.
"""
import argparse
import json
import math
import statistics
import subprocess
import time

import torch

SUBSAMPLE = 1024


def torch_step(y, step):
    n = y.shape[0]
    score = -y
    idx = (torch.arange(min(n, SUBSAMPLE)) * n) // min(n, SUBSAMPLE)
    sub = y[idx]
    sq = (sub * sub).sum(1)
    d2s = (sq[:, None] + sq[None, :] - 2.0 * sub @ sub.T).clamp_min(0.0)
    med = d2s.flatten().median()
    h2 = med / math.log(n) + 1e-8
    sq = (y * y).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * y @ y.T).clamp_min(0.0)
    k = torch.exp(-d2 / (2.0 * h2))
    phi = (k @ score + (y * k.sum(1, keepdim=True) - k @ y) / h2) / n
    return y + step * phi


def torch_time(n, d, dtype, reps):
    g = torch.Generator().manual_seed(3)
    y = torch.rand(n, d, generator=g, dtype=dtype) * 2 - 1
    y = torch_step(y, 1e-3)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        y = torch_step(y, 1e-3)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def gradus_time(binary, n, d, threads, reps):
    out = subprocess.run([binary, "svgd", "--n", str(n), "--d", str(d), "--threads", str(threads),
                          "--reps", str(reps)], check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[0])["seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 50])
    ap.add_argument("--binary", default="target/release/gradus-bench")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    samples = {}
    for r in range(args.rounds):
        for n in args.sizes:
            for d in args.dims:
                samples.setdefault((n, d, "gradus f64"), []).append(
                    gradus_time(args.binary, n, d, args.threads, args.reps))
                for name, dt in [("torch f64", torch.float64), ("torch f32", torch.float32)]:
                    samples.setdefault((n, d, name), []).append(torch_time(n, d, dt, args.reps))
                print(f"round {r + 1}/{args.rounds} n={n} d={d} done", flush=True)
    print(f"\ntorch {torch.__version__}, {args.threads} threads, median of {args.rounds} rounds\n")
    print("| n | d | implementation | ms / step | gradus / this |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        for d in args.dims:
            g = statistics.median(samples[(n, d, "gradus f64")])
            for name in ["gradus f64", "torch f64", "torch f32"]:
                t = statistics.median(samples[(n, d, name)])
                ratio = "" if name.startswith("gradus") else f"{g / t:.2f}"
                print(f"| {n} | {d} | {name} | {1e3 * t:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
