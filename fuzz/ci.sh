#!/usr/bin/env bash
# Fuzzing stage of CI (also runnable by hand from any directory):
#   1. build every target of fuzz/fuzz_targets with cargo-fuzz (libFuzzer, coverage-guided);
#   2. replay each target's committed corpus (fuzz/corpus/TARGET), every input once;
#   3. fuzz each target for FUZZ_SECONDS (default 20) seconds.
# A crash, panic, timeout or out-of-memory fails the script; libFuzzer and cargo-fuzz print the
# input (bytes, base64 and its Debug form), and the script dumps every saved artifact in hex.
#
# Environment: FUZZ_SECONDS (per target, default 20), FUZZ_TARGETS (space-separated subset,
# default all), FUZZ_SANITIZER (`none`, the default, or `address`).
# cargo-fuzz passes nightly-only `-Z` flags to rustc; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them (CI has only stable).
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-20}"
# A fixed libFuzzer seed makes a CI run explore the same input sequence every time (it stops
# after `seconds`, so a faster machine goes further along it): a failure reproduces with
# the same seed, and a stop can be checked here first with a longer run of the same seed.
# FUZZ_SEED=0 lets libFuzzer pick a fresh seed (for local campaigns).
fuzz_seed="${FUZZ_SEED:-1}"
sanitizer="${FUZZ_SANITIZER:-none}"
targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
# New inputs found in CI go to a scratch directory: the committed corpus stays as it is.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

dump_artifacts() {
  local t="$1"
  for f in fuzz/artifacts/"$t"/*; do
    [ -f "$f" ] || continue
    echo "---- $f ($(wc -c <"$f") bytes, first 4 KiB in hex)"
    head -c 4096 "$f" | od -A x -t x1z -v
  done
}

echo "-- building $(echo "$targets" | wc -w) fuzz targets (sanitizer: $sanitizer)"
start=$(date +%s)
cargo fuzz build -s "$sanitizer"
echo "-- fuzz build took $(($(date +%s) - start)) s"

for t in $targets; do
  mkdir -p "$scratch/$t"
  corpus="fuzz/corpus/$t"
  [ -d "$corpus" ] || corpus=""
  echo "-- $t: replaying the corpus ($(ls ${corpus:-/dev/null} 2>/dev/null | wc -l) inputs)"
  if ! cargo fuzz run -s "$sanitizer" "$t" "$scratch/$t" $corpus -- -runs=0; then
    echo "FAIL: $t crashed on a committed corpus input"
    dump_artifacts "$t"
    exit 1
  fi
  echo "-- $t: fuzzing for $seconds s"
  start=$(date +%s)
  # libFuzzer prints a line per coverage gain (thousands): keep them in a log and show its end
  # (the crash report, the input and how to reproduce it) only when the run fails.
  log="$scratch/$t.log"
  if ! cargo fuzz run -s "$sanitizer" "$t" "$scratch/$t" $corpus -- \
      -seed="$fuzz_seed" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -n 300 "$log"
    echo "FAIL: $t found a crashing input (above, and saved under fuzz/artifacts/$t)"
    dump_artifacts "$t"
    exit 1
  fi
  grep -E '^(Done [0-9]+ runs|stat::(number_of_executed_units|peak_rss_mb|new_units_added))' "$log" || true
  echo "-- $t: ok ($(($(date +%s) - start)) s)"
done
echo "fuzzing: $(echo "$targets" | wc -w) targets, corpus replayed, ${seconds} s each, no crash"
