#!/usr/bin/env bash
# Integration tests: the real runnel binary driven by real Kafka clients.
#
#   ./tests/integration/run.sh BUILD_DIR        (what `make test` runs)
#
# Uses $RUNNEL_BIN if set, else BUILD_DIR/runnel; the librdkafka suite needs
# BUILD_DIR/rdkafka_tests. Every suite starts its own brokers (free loopback
# port, fresh temp data dir). SUITES=regex runs only the matching suites;
# KEEP_BROKER_LOGS=1 keeps broker data dirs and logs (under the run's TMPDIR,
# /tmp/runnel-it-tmp.*, printed at the end).
# Ends with one line: `integration: N passed, N failed` (N counts suites).
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${1:-build}"
# relative to the caller's directory, else to the repository root
if [ -d "$BUILD_DIR" ]; then BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
else case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$REPO/$BUILD_DIR" ;; esac
fi

RUNNEL_BIN="${RUNNEL_BIN:-$BUILD_DIR/runnel}"
case "$RUNNEL_BIN" in /*) ;; *) RUNNEL_BIN="$(pwd)/$RUNNEL_BIN" ;; esac
export RUNNEL_BIN
SUITES="${SUITES:-.}"
SUITE_TIMEOUT="${SUITE_TIMEOUT:-180}"
PY=/usr/bin/python3

if [ ! -x "$RUNNEL_BIN" ]; then
  echo "runnel binary not found or not executable: $RUNNEL_BIN" >&2
  echo "integration: 0 passed, 1 failed"
  exit 1
fi

RUNNEL_IT_PIDS="$(mktemp -d /tmp/runnel-it-pids.XXXXXX)"
export RUNNEL_IT_PIDS
# The loopback ports handed out to every suite of the run, an entry each: the
# suites run side by side, and a port one of them was given but has not bound
# yet is free to the kernel, which could give it to another (lib.sh,
# python/broker.py, js/broker.js, local_port.h and the NestJS test claim here).
RUNNEL_IT_PORTS="$(mktemp -d /tmp/runnel-it-ports.XXXXXX)"
export RUNNEL_IT_PORTS
LOGDIR="$(mktemp -d /tmp/runnel-it-logs.XXXXXX)"
# Every temporary file and directory of the suites (data dirs, certificates,
# a browser's profile) goes under one directory that goes when the run ends,
# also what a suite left behind: a test that made a directory and then
# failed, or one that does not clean up after itself.
TMPDIR="$(mktemp -d /tmp/runnel-it-tmp.XXXXXX)"
export TMPDIR
cleanup() {
  # Safety net: brokers whose suite was killed before it could stop them.
  local f pid
  for f in "$RUNNEL_IT_PIDS"/*; do
    [ -e "$f" ] || continue
    pid="$(basename "$f")"
    if kill -0 "$pid" 2>/dev/null && grep -q runnel "/proc/$pid/cmdline" 2>/dev/null; then
      echo "killing leftover broker $pid" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$RUNNEL_IT_PIDS" "$RUNNEL_IT_PORTS" "$LOGDIR"
  if [ -n "${KEEP_BROKER_LOGS:-}" ]; then echo "kept the suites' temporary files: $TMPDIR" >&2
  else rm -rf "$TMPDIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export HERE PY

PASSED=0
FAILED=0
FAILED_NAMES=()

# Suites run INTEGRATION_JOBS at a time (default 4): most of a suite's time is
# spent waiting on brokers, timeouts and client back-offs, not on the CPU, and
# every suite has its own ports and data dirs. On the 2-vCPU development VM,
# two at a time kept the CPU 25-35% busy and took 798 s; four at a time 487 s
# at ~50%, with no suite more than 16% slower than with two at a time. A
# suite's output is printed as one block when it ends. Suites that need the
# machine to themselves (fault injection) go through run_alone.
JOBS="${INTEGRATION_JOBS:-4}"
declare -A JOB_NAME JOB_START JOB_LOG JOB_LIMIT
RUNNING=0

# report NAME RC START LOG LIMIT: prints a finished suite's log and verdict.
report() {
  local name=$1 rc=$2 start=$3 log=$4 limit=$5
  echo "=== $name"
  sed 's/^/    /' "$log"
  if [ "$rc" -eq 0 ]; then
    PASSED=$((PASSED + 1))
    echo "--- PASS $name ($(( $(date +%s) - start )) s)"
  else
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    [ "$rc" -eq 124 ] && echo "    (timed out after $limit s)"
    echo "--- FAIL $name ($(( $(date +%s) - start )) s, exit $rc)"
  fi
}

# finish_one: waits for any running suite and reports it.
finish_one() {
  local pid rc
  wait -n -p pid
  rc=$?
  report "${JOB_NAME[$pid]}" "$rc" "${JOB_START[$pid]}" "${JOB_LOG[$pid]}" "${JOB_LIMIT[$pid]}"
  unset "JOB_NAME[$pid]" "JOB_START[$pid]" "JOB_LOG[$pid]" "JOB_LIMIT[$pid]"
  RUNNING=$((RUNNING - 1))
}

drain() {
  while [ "$RUNNING" -gt 0 ]; do finish_one; done
}

# run_suite NAME COMMAND...: starts a suite in the repo root with a time limit
# (SUITE_TIMEOUT), once fewer than JOBS are running.
run_suite() {
  local name=$1; shift
  [[ "$name" =~ $SUITES ]] || return 0
  while [ "$RUNNING" -ge "$JOBS" ]; do finish_one; done
  local log="$LOGDIR/$(echo "$name" | tr '/ ' '__').log"
  (cd "$REPO" && exec timeout -k 10 "$SUITE_TIMEOUT" "$@") >"$log" 2>&1 &
  JOB_NAME[$!]=$name
  JOB_START[$!]=$(date +%s)
  JOB_LOG[$!]=$log
  JOB_LIMIT[$!]=$SUITE_TIMEOUT
  RUNNING=$((RUNNING + 1))
}

# run_alone NAME COMMAND...: a suite with the machine to itself.
run_alone() {
  [[ "$1" =~ $SUITES ]] || return 0
  drain
  run_suite "$@"
  drain
}

echo "runnel: $RUNNEL_BIN"

# kcat
for s in "$HERE"/kcat/*.sh; do
  [ "$(basename "$s")" = common.sh ] && continue
  run_suite "kcat/$(basename "$s" .sh)" bash "$s"
done

# A current librdkafka (KIP-848's group.protocol=consumer) for
# python/test_consumer_group_protocol and python/test_mixed_groups: built once
# per build dir from the npm registry's node-rdkafka source
# (current_librdkafka.sh), here rather than in the suites so that the first
# build does not count against SUITE_TIMEOUT. The suites skip, with the
# reason, when it cannot be had.
if [[ "python/test_consumer_group_protocol" =~ $SUITES || "python/test_mixed_groups" =~ $SUITES ]]; then
  echo "=== librdkafka (current) for python/test_consumer_group_protocol"
  rdk_start=$(date +%s)
  if timeout -k 10 "${RDKAFKA_BUILD_TIMEOUT:-1200}" bash "$HERE/current_librdkafka.sh" "$BUILD_DIR" \
      >"$LOGDIR/current_librdkafka.out" 2>"$LOGDIR/current_librdkafka.err"; then
    RUNNEL_CURRENT_LIBRDKAFKA="$(tail -1 "$LOGDIR/current_librdkafka.out")"
    export RUNNEL_CURRENT_LIBRDKAFKA
    echo "    $RUNNEL_CURRENT_LIBRDKAFKA ($(( $(date +%s) - rdk_start )) s)"
  else
    RUNNEL_CURRENT_LIBRDKAFKA_ERROR="current librdkafka unavailable: $(tail -3 "$LOGDIR/current_librdkafka.err" | tr '\n' ' ')"
    export RUNNEL_CURRENT_LIBRDKAFKA_ERROR
    echo "    $RUNNEL_CURRENT_LIBRDKAFKA_ERROR"
  fi
fi

# kafka-python (stdlib unittest, Debian's python3-kafka)
py_suite() {
  cd "$HERE/python" && PYTHONDONTWRITEBYTECODE=1 exec "$PY" -m unittest -v "$1"
}
export -f py_suite
for t in "$HERE"/python/test_*.py; do
  run_suite "python/$(basename "$t" .py)" bash -c 'py_suite "$1"' _ "$(basename "$t" .py)"
done

# kafkajs
js_suite() {
  cd "$HERE/js" || return 1
  if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error || return 1
  fi
  node --test --test-concurrency=3 --test-timeout=60000 --test-reporter=spec test/*.test.js
}
export -f js_suite
run_suite "js/kafkajs" bash -c js_suite

# the kafka-nestjs tutorial app (examples/nestjs) end to end
run_suite "nestjs/e2e" bash "$HERE/nestjs/run.sh" "$BUILD_DIR"
# The same against etcd and three brokers, one of them killed and restarted.
if command -v etcd >/dev/null; then
  # ... with kafkajs' idempotent producer (KAFKA_IDEMPOTENT=1) while a broker is killed.
  run_suite "nestjs/e2e-cluster" env RUNNEL_CLUSTER=1 KAFKA_IDEMPOTENT=1 NESTJS_E2E_TIMEOUT=170 bash "$HERE/nestjs/run.sh" "$BUILD_DIR"
else
  echo "=== nestjs/e2e-cluster: skipped, etcd is not installed (make deps installs etcd-server)"
fi

# librdkafka C++ (GoogleTest), against a broker started here
run_suite "rdkafka/gtest" bash "$HERE/rdkafka.sh" "$BUILD_DIR"

# fault injection (tests/chaos): a short fixed-seed round with every fault kind; needs
# root, else skipped.
CHAOS_SHORT_FAULTS_DEFAULT=all
export CHAOS_SHORT_FAULTS_DEFAULT
chaos_short() {
  CHAOS_SECONDS="${CHAOS_SHORT_SECONDS:-120}" CHAOS_SEED="${CHAOS_SHORT_SEED:-20261201}" \
    CHAOS_FAULTS="${CHAOS_SHORT_FAULTS:-$CHAOS_SHORT_FAULTS_DEFAULT}" "$PY" "$REPO/tests/chaos/chaos.py"
  local rc=$?
  [ $rc -eq 77 ] && return 0
  return $rc
}
export -f chaos_short
export REPO
SUITE_TIMEOUT="${CHAOS_SUITE_TIMEOUT:-480}" run_alone "chaos/short" bash -c chaos_short

drain
echo
if [ $FAILED -gt 0 ]; then
  echo "failed suites: ${FAILED_NAMES[*]}"
fi
echo "integration: $PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
