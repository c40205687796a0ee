#!/usr/bin/env bash
# Regression check of the benchmarks against the committed baseline (benches/baseline/).
#
#   benches/compare.sh              instruction counts (benches/instructions.rs under callgrind)
#                                   against baseline/instructions.json; exit 1 if one is more
#                                   than 2% above its baseline (or missing)
#   benches/compare.sh --criterion  also run the criterion benches of baseline/criterion.json
#                                   (kernels, optim_step, linalg) and report their medians
#                                   against it: report only, wall time never fails
#   benches/compare.sh --update     rewrite the baseline(s) from this run instead (on purpose,
#                                   after an intended change; commit the JSON with the change)
#
# Extra arguments after `--` go to `cargo bench` (e.g. `-- --features regression-canary`).
# Needs valgrind and gungraun-runner of the gungraun version in Cargo.lock (see
# docs/benchmarks.md); GUNGRAUN_RUNNER may point at the runner binary.
set -euo pipefail
cd "$(dirname "$0")/.."

criterion=no
update=no
threshold="${BENCH_THRESHOLD:-2}"
cargo_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --criterion) criterion=yes ;;
    --update) update=yes ;;
    --) shift; cargo_args=("$@"); break ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done

# A fresh gungraun home: only this run's summaries are compared (a stale summary of a deleted
# benchmark must not hide that it is missing).
home="$PWD/target/gungraun-compare"
rm -rf "$home"
cargo bench --bench instructions ${cargo_args[@]+"${cargo_args[@]}"} -- \
  --home="$home" --save-summary=json
compare=(cargo run --release -q -p gradus-bench -- compare --gungraun "$home"
  --threshold "$threshold" --update "$update")

if [ "$criterion" = yes ]; then
  # target/criterion is kept: it holds the baselines saved with `--save-baseline NAME`.
  for b in kernels optim_step linalg; do
    cargo bench --bench "$b" ${cargo_args[@]+"${cargo_args[@]}"} -- --noplot
  done
  compare+=(--criterion target/criterion)
fi
# Instruction counts are exact for one binary on one CPU model, but glibc and faer pick their
# code paths per CPU (memcpy variants, SIMD levels), so counts from another model can differ
# by a few percent with no code change. The baseline records its model (baseline/cpu.txt); a
# regression fails only on that model and is reported as a warning elsewhere.
cpu_file=benches/baseline/cpu.txt
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
if [ "$update" = yes ]; then
  "${compare[@]}"
  echo "$cpu" >"$cpu_file"
elif ! "${compare[@]}"; then
  if [ "$cpu" = "$(cat "$cpu_file" 2>/dev/null)" ]; then
    exit 1
  fi
  echo "WARNING: baseline recorded on '$(cat "$cpu_file" 2>/dev/null)', this CPU is '$cpu':"
  echo "         counts compared but not enforced; re-record with benches/compare.sh --update"
fi
