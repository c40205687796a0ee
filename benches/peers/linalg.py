#!/usr/bin/env python3
"""Side-by-side linear-algebra timings: gradus (faer, optional LAPACK backend) vs numpy, scipy
and torch on the same machine in one run.

    cargo build --release -p gradus-bench --features openblas-system   # needs libopenblas-dev
    pip install numpy scipy torch threadpoolctl
    python3 benches/peers/linalg.py [--quick]
    python3 benches/peers/linalg.py --section evd --sizes 256 512 1024 2048 --threads 1 2

`--section evd` compares only gradus' LAPACK backend (dsyevd/ssyevd), faer and the root on
Backend::Auto against scipy.linalg.eigh(driver="evd"), both sides in the same run.

Sections: eigendecomposition and inverse 4th root (f32/f64, 1 and 2 threads), Levinson solve
vs scipy.linalg.solve_toeplitz, Toeplitz matvec vs scipy.linalg.matmul_toeplitz and a numpy
FFT padded to a fast length with the column transform cached, PCG at n = 1e6, a Shampoo step.
Each peer runs with its thread pools limited (threadpoolctl, torch.set_num_threads) and gradus
with the same thread count; times are medians of repeated runs; ratio = gradus / peer.
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
import scipy
import scipy.fft
import scipy.linalg as sl
from threadpoolctl import threadpool_limits

try:
    import torch
except ImportError:  # torch is optional
    torch = None

BIN = "target/release/gradus-bench"


def gradus(args, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([BIN, "linalg", "--threads", str(threads)] + args, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(l) for l in out.splitlines()]


def med(f, budget=2.0):
    t = time.perf_counter()
    f()
    one = time.perf_counter() - t
    reps = max(3, min(100, int(budget / max(one, 1e-9))))
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def spd(n, dtype):
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    g = ((i * 7919 + j * 104729) % 1000) / 1000.0 - 0.5
    a = g @ g.T / n
    a = 0.5 * (a + a.T) + 1e-3 * np.eye(n)
    return a.astype(dtype)


def inv_root_numpy(a, p=4):
    w, u = np.linalg.eigh(a)
    w = np.maximum(w + 1e-12, 1e-12)
    return (u * w ** (-1.0 / p)) @ u.T


def inv_root_torch(a, p=4):
    w, u = torch.linalg.eigh(a)
    w = torch.clamp(w + 1e-12, min=1e-12)
    return (u * w ** (-1.0 / p)) @ u.T


def inv_root_scipy_evd(a, p=4):
    w, u = sl.eigh(a, driver="evd")
    w = np.maximum(w + 1e-12, 1e-12)
    return (u * w ** (-1.0 / p)) @ u.T


def evd(sizes, threads_list, dtypes, table):
    """gradus' LAPACK backend (dsyevd/ssyevd on the system OpenBLAS), Backend::Auto and faer
    against scipy.linalg.eigh(driver="evd") on scipy's bundled OpenBLAS, measured back to back
    in one run: eigendecomposition and the inverse 4th root."""
    row(table, "n", "dtype", "threads", "gradus eigh LAPACK", "gradus eigh faer", "scipy eigh evd", "LAPACK / scipy", "faer / scipy",
        "gradus root (Auto)", "scipy evd root", "root / scipy")
    table.append("|" + "---|" * 12)
    ms = lambda s: f"{s * 1e3:.1f} ms"
    for threads in threads_list:
        for n in sizes:
            for dname in dtypes:
                dt = np.float32 if dname == "f32" else np.float64
                g = {}
                for what, backend in (("eigh", "lapack"), ("eigh", "faer"), ("root", "auto")):
                    for d in gradus(["--what", what, "--n", str(n), "--dtype", dname, "--backend", backend], threads):
                        g[d["name"]] = d["seconds"]
                a = spd(n, dt)
                with threadpool_limits(threads):
                    t_sp = med(lambda: sl.eigh(a, driver="evd"))
                    r_sp = med(lambda: inv_root_scipy_evd(a))
                la, fa, ro = g[f"eigh-{dname}-lapack"], g[f"eigh-{dname}-faer"], g[f"root-{dname}-auto"]
                row(table, n, dname, threads, ms(la), ms(fa), ms(t_sp), f"{la / t_sp:.2f}", f"{fa / t_sp:.2f}", ms(ro), ms(r_sp), f"{ro / r_sp:.2f}")
                print(table[-1], flush=True)


def row(table, *cells):
    table.append("| " + " | ".join(str(c) for c in cells) + " |")


def dense(sizes, table):
    row(table, "n", "dtype", "threads", "gradus eigh (faer)", "gradus eigh (LAPACK)", "numpy eigh", "scipy eigh evd", "torch eigh", "faer / fastest peer",
        "gradus root", "numpy root", "torch root", "root / fastest")
    table.append("|" + "---|" * 13)
    for threads in (1, 2):
        torch and torch.set_num_threads(threads)
        for n in sizes:
            for dt, dname in ((np.float32, "f32"), (np.float64, "f64")):
                g = {d["name"]: d["seconds"] for d in gradus(["--what", "eigh", "--n", str(n), "--dtype", dname], threads)}
                g.update({d["name"]: d["seconds"] for d in gradus(["--what", "root", "--n", str(n), "--dtype", dname], threads)})
                try:
                    g.update({d["name"]: d["seconds"] for d in gradus(["--what", "eigh", "--n", str(n), "--dtype", dname, "--backend", "lapack"], threads)})
                except subprocess.CalledProcessError:
                    pass
                a = spd(n, dt)
                with threadpool_limits(threads):
                    t_np = med(lambda: np.linalg.eigh(a))
                    t_sp = med(lambda: sl.eigh(a, driver="evd"))
                    r_np = med(lambda: inv_root_numpy(a))
                t_th = r_th = float("nan")
                if torch is not None:
                    at = torch.from_numpy(a)
                    t_th = med(lambda: torch.linalg.eigh(at))
                    r_th = med(lambda: inv_root_torch(at))
                fe, fr = g[f"eigh-{dname}-faer"], g[f"root-{dname}-faer"]
                la = g.get(f"eigh-{dname}-lapack", float("nan"))
                best = min(x for x in (t_np, t_sp, t_th) if x == x)
                bestr = min(x for x in (r_np, r_th) if x == x)
                ms = lambda s: f"{s * 1e3:.1f} ms"
                row(table, n, dname, threads, ms(fe), ms(la), ms(t_np), ms(t_sp), ms(t_th), f"{fe / best:.2f}", ms(fr), ms(r_np), ms(r_th), f"{fr / bestr:.2f}")
                print(table[-1], flush=True)


def toeplitz(levinson_sizes, matvec_sizes, table):
    row(table, "operation", "n", "gradus", "peer", "peer time", "gradus / peer")
    table.append("|---|---|---|---|---|---|")
    for n in levinson_sizes:
        t = np.array([2.0] + [1.0 / (1 + k) ** 1.5 for k in range(1, n)])
        b = np.sin(np.arange(n) * 0.1)
        g = gradus(["--what", "levinson", "--n", str(n)], 1)[0]["seconds"]
        with threadpool_limits(1):
            s = med(lambda: sl.solve_toeplitz(t, b))
        row(table, "Levinson solve", n, f"{g * 1e3:.2f} ms", "scipy solve_toeplitz", f"{s * 1e3:.2f} ms", f"{g / s:.2f}")
        print(table[-1], flush=True)
    for n in matvec_sizes:
        t = np.array([2.0] + [1.0 / (1 + k) ** 1.5 for k in range(1, n)])
        x = np.sin(np.arange(n) * 0.1)
        g = gradus(["--what", "matvec", "--n", str(n)], 1)[0]["seconds"]
        m = scipy.fft.next_fast_len(2 * n - 1, real=True)
        emb = np.zeros(m)
        emb[:n] = t
        emb[m - n + 1:] = t[1:][::-1]
        spec = np.fft.rfft(emb)
        cached = lambda: np.fft.irfft(spec * np.fft.rfft(x, m), m)[:n]
        with threadpool_limits(1):
            s1 = med(lambda: sl.matmul_toeplitz((t, t), x))
            s2 = med(cached)
        row(table, "Toeplitz matvec", n, f"{g * 1e3:.3f} ms", "scipy matmul_toeplitz", f"{s1 * 1e3:.3f} ms", f"{g / s1:.2f}")
        row(table, "Toeplitz matvec", n, f"{g * 1e3:.3f} ms", "numpy rfft, fast length, cached column", f"{s2 * 1e3:.3f} ms", f"{g / s2:.2f}")
        print(table[-2] + "\n" + table[-1], flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--section", choices=["all", "evd"], default="all",
                    help="evd: only gradus' LAPACK/faer eigh and root vs scipy evd")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dtypes", nargs="+", default=["f64"])
    a = ap.parse_args()
    if a.section == "evd":
        print(f"numpy {np.__version__}, scipy {scipy.__version__}")
        t = []
        evd(a.sizes, a.threads, a.dtypes, t)
        print("\n".join(t))
        return
    sizes = [128, 256, 512] if a.quick else [128, 256, 512, 1024, 2048]
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, torch {torch.__version__ if torch else '-'}")
    t1, t2 = [], []
    dense(sizes, t1)
    toeplitz([1024, 4096] if a.quick else [1024, 4096, 16384], [10_000, 100_000] if a.quick else [10_000, 100_000, 1_000_000], t2)
    print("\n".join(t1))
    print()
    print("\n".join(t2))
    for d in gradus(["--what", "pcg", "--n", "1000000"], 1):
        print(f"PCG n=1e6 {d['name']}: {d['seconds']:.3f} s, {d['iterations']} iterations, residual {d['relative_residual']:.1e}")
    for d in gradus(["--what", "shampoo", "--n", "1024"], 2):
        print(f"Shampoo 1024x1024 {d['name']}: {d['seconds'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
