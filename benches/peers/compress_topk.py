#!/usr/bin/env python3
"""Side-by-side compressor throughput: gradus top-k / rand-k vs PyTorch (CPU).

Run from the repository root (needs `pip install torch`):

    cargo build --release -p gradus-bench
    python3 benches/peers/compress_topk.py --threads 2 --sizes 1e6 1e7 --k-frac 0.01 --rounds 3

Each round measures every size for gradus (a subprocess of `gradus-bench compress`) and then
for torch in this process, so the two alternate on the same machine within minutes. Inputs
are float32 standard normal vectors; k = k_frac * n. Throughput is GB/s of input
(4 bytes per element / seconds). gradus `compress` writes the dense vector C(v); the torch
rows show `torch.topk(x.abs(), k)` alone (values and indices only) and followed by the
scatter into a dense output that matches what gradus produces. rand-k in torch draws the
indices with `torch.randperm(n)[:k]` and scales by n/k.
"""
import argparse
import json
import statistics
import subprocess
import time

import torch


def timeit(f, reps):
    for _ in range(2):
        f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def torch_times(n, k, reps):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, generator=g, dtype=torch.float32)
    out = torch.zeros(n, dtype=torch.float32)

    def topk_only():
        torch.topk(x.abs(), k, sorted=False)

    def topk_dense():
        _, idx = torch.topk(x.abs(), k, sorted=False)
        out.zero_()
        out.index_copy_(0, idx, x.index_select(0, idx))

    def randk_dense():
        idx = torch.randperm(n, generator=g)[:k]
        out.zero_()
        out.index_copy_(0, idx, x.index_select(0, idx) * (n / k))

    return {
        "torch topk only": timeit(topk_only, reps),
        "torch topk + dense": timeit(topk_dense, reps),
        "torch rand-k (randperm) + dense": timeit(randk_dense, reps),
    }


def gradus_times(binary, n, k_frac, threads):
    out = subprocess.run(
        [binary, "compress", "--n", str(int(n)), "--k-frac", str(k_frac), "--threads", str(threads),
         "--what", "compressors"],
        check=True, capture_output=True, text=True).stdout
    return {"gradus " + d["name"]: d["seconds"] for d in map(json.loads, out.splitlines())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7])
    ap.add_argument("--k-frac", type=float, default=0.01)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--binary", default="target/release/gradus-bench")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    samples = {}
    for r in range(args.rounds):
        for n in args.sizes:
            n = int(n)
            k = max(1, int(n * args.k_frac))
            reps = max(5, min(50, int(1.0 / (n * 2e-9))))
            for name, t in gradus_times(args.binary, n, args.k_frac, args.threads).items():
                samples.setdefault((n, name), []).append(t)
            for name, t in torch_times(n, k, reps).items():
                samples.setdefault((n, name), []).append(t)
            print(f"round {r + 1}/{args.rounds} n={n:.0e} done", flush=True)

    print(f"\ntorch {torch.__version__}, {args.threads} threads, k = {args.k_frac} n, "
          f"median of {args.rounds} rounds\n")
    print("| n | implementation | ms | GB/s of input | gradus / torch (topk + dense) |")
    print("|---|---|---|---|---|")
    for n in sorted({key[0] for key in samples}):
        peer = statistics.median(samples[(n, "torch topk + dense")])
        for (m, name), ts in sorted(samples.items(), key=lambda kv: kv[0][1]):
            if m != n:
                continue
            t = statistics.median(ts)
            ratio = f"{t / peer:.2f}" if name.startswith("gradus") else ""
            print(f"| {n:.0e} | {name} | {t * 1e3:.3f} | {4 * n / t / 1e9:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
