#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for RUNS iterations each, starting
# from the committed seed corpus (tests/fuzz/corpus/<target>/) when there is
# one. New inputs go to a scratch directory, never into the repo.
set -euo pipefail
build=${1:-build-fuzz}
runs=${2:-20000}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
shopt -s nullglob
for target in "$build"/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  mkdir -p "$scratch/$name"
  seeds=()
  [ -d "$here/corpus/$name" ] && seeds+=("$here/corpus/$name")
  if "$target" -runs="$runs" -max_total_time=120 -rss_limit_mb=2048 -print_final_stats=0 \
      "$scratch/$name" "${seeds[@]}" >"$scratch/$name.log" 2>&1; then
    echo "fuzz $name: ok ($runs runs)"
    passed=$((passed + 1))
  else
    echo "fuzz $name: FAILED"
    tail -40 "$scratch/$name.log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
