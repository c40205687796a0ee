#!/usr/bin/env python3
"""Side-by-side optimizer-step throughput: gradus vs PyTorch (CPU), with a STREAM triad.

Run from the repository root (needs `pip install torch numpy`):

    cargo build --release -p gradus-bench
    python3 benches/peers/optim_step.py --threads 2 --sizes 1e6 1e7 1e8 --rounds 3

Besides torch's unchecked fused/foreach steps, two checked torch paths are timed (the peers
of gradus' default step, which rejects NaN/Inf gradients and computes the clipping norm):
clip_grad_norm_(error_if_nonfinite=True) + fused Adam, and GradScaler's non-finite check +
fused Adam.

Each round measures every size for gradus (a subprocess of `gradus-bench optim-step`) and then
for torch in this process, so the two alternate on the same machine within minutes. The
table reports the median over rounds of each round's median step time, ns per parameter,
effective GB/s (28 bytes/parameter for f32 Adam: read p, g, m, v; write p, m, v) and the
ratio gradus time / peer time (below 1 means gradus is faster).
"""
import argparse
import json
import statistics
import subprocess
import time

import torch

BYTES = {"adam": 28, "adamw": 28, "sgd-momentum": 20}


def torch_step_time(n, kind, flavour, reps, checked=None):
    """Median seconds of one optimizer step. `checked` adds torch's own safety in front of
    the step, the like-for-like peers of gradus' validated step:
    - "clip": clip_grad_norm_(error_if_nonfinite=True) (norm pass, error on NaN/Inf, then the
      gradient scaled in place by min(1, max_norm / norm)), then the step;
    - "scaler": torch.amp.GradScaler (init_scale 1): its non-finite check over the gradient
      (_amp_foreach_non_finite_check_and_unscale_) and the step, skipped on NaN/Inf (fused
      Adam receives found_inf)."""
    p = torch.zeros(n, dtype=torch.float32, requires_grad=True)
    p.grad = torch.sin(torch.arange(n, dtype=torch.float32) % 1000 * 1e-3)
    if kind == "adam":
        opt = torch.optim.Adam([p], lr=1e-3, **flavour)
    elif kind == "adamw":
        opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=1e-2, **flavour)
    else:
        opt = torch.optim.SGD([p], lr=1e-3, momentum=0.9, **flavour)
    if checked == "clip":
        def step():
            # max_norm far above the norm: the scale is 1, as in gradus' run (no clipping
            # happens, every pass still runs).
            torch.nn.utils.clip_grad_norm_([p], max_norm=1e6, error_if_nonfinite=True)
            opt.step()
    elif checked == "scaler":
        scaler = torch.amp.GradScaler("cpu", init_scale=1.0)
        loss = torch.ones(())

        def step():
            scaler.scale(loss)  # what a training loop scales before backward; sets up the scale
            scaler.step(opt)
            scaler.update()
    else:
        step = opt.step
    for _ in range(2):
        step()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def gradus_times(binary, n, threads):
    out = subprocess.run([binary, "optim-step", "--n", str(int(n)), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return {d["name"]: d["seconds"] for d in map(json.loads, out.splitlines())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--binary", default="target/release/gradus-bench")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    samples = {}
    for r in range(args.rounds):
        for n in args.sizes:
            n = int(n)
            reps = max(5, min(100, int(1.0 / (n * 1.5e-9))))
            for name, t in gradus_times(args.binary, n, args.threads).items():
                samples.setdefault((n, "gradus " + name), []).append(t)
            for kind in ["adam", "adamw", "sgd-momentum"]:
                flavours = [("foreach", {"foreach": True}, None)]
                if kind != "sgd-momentum":
                    flavours.insert(0, ("fused", {"fused": True}, None))
                if kind == "adam":
                    flavours += [("fused clip-checked", {"fused": True}, "clip"),
                                 ("fused scaler-checked", {"fused": True}, "scaler")]
                for fname, fl, checked in flavours:
                    samples.setdefault((n, f"torch {kind} {fname}"), []).append(torch_step_time(n, kind, fl, reps, checked))
            print(f"round {r + 1}/{args.rounds} n={n:.0e} done", flush=True)

    def med(n, key):
        return statistics.median(samples[(n, key)])

    print(f"\ntorch {torch.__version__}, {args.threads} threads, median of {args.rounds} rounds\n")
    print("| N | implementation | ns/param | GB/s | gradus / peer |")
    print("|---|---|---|---|---|")
    pairs = [
        ("gradus adam-f32-kernel", "torch adam fused", 28),
        ("gradus adam-f32-step", "torch adam fused", 28),
        ("gradus adam-f32-step", "torch adam foreach", 28),
        ("gradus adam-f32-step-unchecked", "torch adam fused", 28),
        ("gradus adam-f32-step", "torch adam fused clip-checked", 28),
        ("gradus adam-f32-step", "torch adam fused scaler-checked", 28),
        ("gradus adam-f32-step-clip", "torch adam fused clip-checked", 28),
        ("gradus adam-f32-step", "gradus adam-f32-step-unchecked", 28),
        ("gradus adam-bf16-step", "torch adam fused", 28),
        ("gradus adam-bf16-kernel", "torch adam fused", 28),
        ("gradus adam-bf16-step-unchecked", "torch adam fused", 28),
        ("gradus adam-bf16-sr-kernel", "torch adam fused", 28),
        ("gradus adam-bf16-sr-step", "torch adam fused", 28),
        ("gradus adam-bf16-sr-kernel", "gradus adam-bf16-kernel", 20),
        ("gradus adamw-f32-step", "torch adamw fused", 28),
        ("gradus sgd-momentum-f32-step", "torch sgd-momentum foreach", 20),
    ]
    for n in sorted({k[0] for k in samples}):
        shown = set()
        for ours, peer, b in pairs:
            for key in (peer, ours):
                if key in shown and key != ours:
                    continue
                shown.add(key)
                t = med(n, key)
                nbytes = 20 if "bf16" in key else b
                ratio = ""
                if (n, key) not in samples:
                    continue  # measured by a newer gradus-bench only
                if key == ours:
                    ratio = f"{t / med(n, peer):.2f} vs {peer}"
                    print(f"| {n:.0e} | {key} | {t * 1e9 / n:.3f} | {nbytes * n / t / 1e9:.1f} | {ratio} |")
                    continue
                print(f"| {n:.0e} | {key} | {t * 1e9 / n:.3f} | {nbytes * n / t / 1e9:.1f} | {ratio} |")
        for key in ("gradus stream-triad", "gradus stream-triad-nt"):
            t = med(n, key)
            print(f"| {n:.0e} | {key} | {t * 1e9 / n:.3f} | {12 * n / t / 1e9:.1f} | |")
        ad = med(n, "gradus adam-f32-step")
        nt = med(n, "gradus stream-triad-nt")
        print(f"| {n:.0e} | adam f32 step vs NT triad bandwidth | | | {28 / ad / (12 / nt):.2f} of triad GB/s |")


if __name__ == "__main__":
    main()
