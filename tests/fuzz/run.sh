#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for RUNS iterations or SECONDS,
# whichever ends first, starting from the committed seed corpus
# (tests/fuzz/corpus/<target>/) when there is one. New inputs go to a scratch
# directory, never into the repo. The targets that write files per input (log
# recovery, replicated append) reach about 10,000 runs in `make test`'s 20 s;
# `make fuzz` gives each an hour.
set -euo pipefail
build=${1:-build-fuzz}
runs=${2:-20000}
seconds=${3:-120}
here=$(cd "$(dirname "$0")" && pwd)
# The targets that open logs write and sync files for every input: on a tmpfs
# (/dev/shm) they run 20-40 times faster than on the disk, so they get there.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  TMPDIR=$(mktemp -d /dev/shm/runnel-fuzz.XXXXXX)
  export TMPDIR
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"; case "${TMPDIR:-}" in /dev/shm/runnel-fuzz.*) rm -rf "$TMPDIR" ;; esac' EXIT
# Targets run FUZZ_JOBS at a time (default: one per core): each fuzzer is
# single-threaded. Their verdicts are printed in the targets' order.
jobs=${FUZZ_JOBS:-$(nproc)}
run_target() {
  local target=$1 name
  name=$(basename "$target")
  mkdir -p "$scratch/$name"
  local seeds=()
  [ -d "$here/corpus/$name" ] && seeds+=("$here/corpus/$name")
  local start executed
  start=$(date +%s)
  if "$target" -runs="$runs" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
      "$scratch/$name" "${seeds[@]}" >"$scratch/$name.log" 2>&1; then
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$name.log" | tail -1)
    echo "fuzz $name: ok (${executed:-?} runs in $(( $(date +%s) - start )) s)" >"$scratch/$name.verdict"
  else
    { echo "fuzz $name: FAILED"; tail -40 "$scratch/$name.log"; } >"$scratch/$name.verdict"
    return 1
  fi
}
shopt -s nullglob
targets=()
for target in "$build"/fuzz_*; do
  [ -x "$target" ] && targets+=("$target")
done
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$target" &
  running=$((running + 1))
done
wait || true
passed=0
failed=0
for target in "${targets[@]}"; do
  name=$(basename "$target")
  cat "$scratch/$name.verdict" 2>/dev/null || echo "fuzz $name: FAILED (no verdict)"
  if grep -q "^fuzz $name: ok" "$scratch/$name.verdict" 2>/dev/null; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
