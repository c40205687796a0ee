#!/usr/bin/env python3
"""Robust aggregation: gradus vs byzfl vs plain numpy, same vectors, side by side.

Run from the repository root (needs `pip install byzfl numpy`):

    cargo build --release -p gradus-bench
    python3 benches/peers/aggregate_byzfl.py --threads 2 --ns 20 50 100 --ds 1e5 1e6

For every (n, d) the script runs `gradus-bench aggregate` (a subprocess that builds the
client vectors itself and writes each aggregate to a temporary folder), then rebuilds the
same vectors bit for bit here (SplitMix64 integer recipe, see crates/gradus-bench/src/aggregate.rs)
and times byzfl's aggregators on them (float64 numpy arrays), a plain numpy Krum that gets
all distances from one matrix product, and numpy geometric medians (Weiszfeld in Gram space
with the same tolerance as gradus, and the classic direct iteration). It prints seconds
(median over repetitions), the speed-up of gradus, and the agreement of every pair of
results (max |a - b| / max(1, max |b|)).

Rows i < f are "Byzantine" (-4 g + noise), the rest honest (g + noise).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

GOLD = np.uint64(0x9E3779B97F4A7C15)


def splitmix(z):
    with np.errstate(over="ignore"):
        z = z + GOLD
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def unit_row(seed, i, d):
    with np.errstate(over="ignore"):
        key = np.uint64(seed) * GOLD
        idx = np.arange(d, dtype=np.uint64) + np.uint64(i) * np.uint64(d)
        return (splitmix(key ^ idx) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def clients(n, d, f, seed):
    g = unit_row(seed, n, d) - 0.5
    x = np.empty((n, d))
    for i in range(n):
        a = -4.0 if i < f else 1.0
        x[i] = a * g + 0.5 * (unit_row(seed, i, d) - 0.5)
    return x


def timed(fn, budget=1.0, max_reps=5):
    t = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t
    times = [first]
    if first < budget:
        for _ in range(max_reps - 1):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
    return statistics.median(times), out


def numpy_krum(x, f):
    n = len(x)
    sq = np.einsum("ij,ij->i", x, x)
    g = x @ x.T
    dist = np.maximum(sq[:, None] + sq[None, :] - 2 * g, 0.0)
    scores = np.sort(dist, axis=1)[:, 1:n - f - 1].sum(axis=1)
    return x[int(np.argmin(scores))]


def numpy_geomed_gram(x, tol=1e-8, nu=1e-6, max_iter=500):
    n = len(x)
    g = x @ x.T
    w = np.full(n, 1.0 / n)

    def dist(w):
        gw = g @ w
        return np.sqrt(np.maximum(w @ gw - 2 * gw + np.diag(g), 0.0))

    r = dist(w)
    obj = r.sum()
    for _ in range(max_iter):
        b = 1.0 / np.maximum(r, nu)
        w = b / b.sum()
        r = dist(w)
        new = r.sum()
        if abs(obj - new) <= tol * new:
            obj = new
            break
        obj = new
    return w @ x


def numpy_geomed_direct(x, tol=1e-8, nu=1e-6, max_iter=500):
    z = x.mean(axis=0)
    obj = np.linalg.norm(x - z, axis=1).sum()
    for _ in range(max_iter):
        r = np.linalg.norm(x - z, axis=1)
        b = 1.0 / np.maximum(r, nu)
        z = (b @ x) / b.sum()
        new = np.linalg.norm(x - z, axis=1).sum()
        if abs(obj - new) <= tol * new:
            break
        obj = new
    return z


def agree(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ns", type=int, nargs="+", default=[20, 50, 100])
    ap.add_argument("--ds", type=float, nargs="+", default=[1e5, 1e6])
    ap.add_argument("--binary", default="target/release/gradus-bench")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    import byzfl
    from byzfl import Average, CenteredClipping, GeometricMedian, Krum, Median, MultiKrum, TrMean

    rows = []
    for d in [int(v) for v in args.ds]:
        for n in args.ns:
            f = n // 5
            with tempfile.TemporaryDirectory() as tmp:
                out = subprocess.run(
                    [args.binary, "aggregate", "--n", str(n), "--d", str(d), "--f", str(f),
                     "--threads", str(args.threads), "--seed", str(args.seed), "--out", tmp],
                    check=True, capture_output=True, text=True).stdout
                ours = {j["name"]: j for j in map(json.loads, out.splitlines())}
                vec = {k: np.fromfile(os.path.join(tmp, k + ".f64"), dtype="<f8")
                       for k in ours if os.path.exists(os.path.join(tmp, k + ".f64"))}
            x = clients(n, d, f, args.seed)
            peers = [
                ("mean", "byzfl Average", lambda: Average()(x)),
                ("median", "byzfl Median", lambda: Median()(x)),
                ("trimmed-mean", "byzfl TrMean", lambda: TrMean(f=f)(x)),
                ("geomed-byzfl-T3", "byzfl GeometricMedian (nu 0.1, T 3)", lambda: GeometricMedian()(x)),
                ("geomed-tol1e-8", "numpy Weiszfeld in Gram space, tol 1e-8", lambda: numpy_geomed_gram(x)),
                ("geomed-tol1e-8", "numpy Weiszfeld direct, tol 1e-8", lambda: numpy_geomed_direct(x)),
                ("krum-byzfl", "byzfl Krum", lambda: Krum(f=f)(x)),
                ("krum", "numpy Krum, one matrix product", lambda: numpy_krum(x, f)),
                ("multikrum-byzfl", "byzfl MultiKrum", lambda: MultiKrum(f=f)(x)),
                ("centered-clipping", "byzfl CenteredClipping", lambda: CenteredClipping()(x)),
            ]
            for name, peer, fn in peers:
                secs, res = timed(fn)
                g = ours[name]["seconds"]
                rows.append((n, d, name, g, peer, secs, secs / g, agree(vec[name], np.asarray(res))))
                print(f"n={n} d={d:.0e} {name}: gradus {g:.4f}s, {peer} {secs:.4f}s", flush=True)
            for k in ("gram", "lsh-hash-one", "lsh-hash-all-clients"):
                j = ours[k]
                rows.append((n, d, k, j["seconds"], f"{j.get('gb_per_s', '')} GB/s" if "gb_per_s" in j else "", None, None, None))
            del x

    print(f"\nbyzfl {byzfl.__version__ if hasattr(byzfl, '__version__') else ''}, numpy {np.__version__}, "
          f"{args.threads} threads, float64\n")
    print("| n | d | gradus rule | gradus s | peer | peer s | peer / gradus | agreement |")
    print("|---|---|---|---|---|---|---|---|")
    for n, d, name, g, peer, ps, ratio, ag in rows:
        if ps is None:
            print(f"| {n} | {d:.0e} | {name} | {g:.4f} | {peer} | | | |")
        else:
            print(f"| {n} | {d:.0e} | {name} | {g:.4f} | {peer} | {ps:.4f} | {ratio:.1f}x | {ag:.1e} |")


if __name__ == "__main__":
    main()
