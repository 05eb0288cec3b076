#!/usr/bin/env bash
# End-to-end test of examples/nestjs (the kafka-nestjs tutorial) against runnel.
#
#   tests/integration/nestjs/run.sh BUILD_DIR
#
# Installs the example's dependencies from its lockfile when node_modules is
# missing (`npm ci`), builds it (`npm run build`), then runs
# examples/nestjs/test/e2e.test.mjs with node's test runner. The test starts
# runnel (${RUNNEL_BIN:-BUILD_DIR/runnel}) on a free port with a fresh data
# directory and --set num.partitions=2 --set group.initial.rebalance.delay.ms=0,
# and one, then two instances of the app on free HTTP ports.
#
# Everything started here runs in one process group that the EXIT trap kills;
# a watchdog ends the run after NESTJS_E2E_TIMEOUT seconds (default 140).
# Set NESTJS_E2E_LOG_DIR=DIR to keep the broker's and the apps' logs.
# The last line is `nestjs: N passed, N failed`.
set -uo pipefail

BUILD_DIR=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
APP_DIR=$ROOT/examples/nestjs
RUNNEL_BIN=${RUNNEL_BIN:-$BUILD_DIR/runnel}
case $RUNNEL_BIN in /*) ;; *) RUNNEL_BIN=$PWD/$RUNNEL_BIN ;; esac
export RUNNEL_BIN
TIMEOUT=${NESTJS_E2E_TIMEOUT:-140}

summary() { echo "nestjs: $1 passed, $2 failed"; }
die() { echo "nestjs: $*" >&2; summary 0 1; exit 1; }

command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed (apt-get install nodejs npm)"
[ -x "$RUNNEL_BIN" ] || die "no runnel binary at $RUNNEL_BIN"

TMP=$(mktemp -d /tmp/runnel-nestjs.XXXXXX)
RUN_PID=""
cleanup() {
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM -- "-$RUN_PID" 2>/dev/null || kill -TERM "$RUN_PID" 2>/dev/null
    sleep 1
    kill -KILL -- "-$RUN_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$APP_DIR" || die "no $APP_DIR"
# nestjs/e2e and nestjs/e2e-cluster run at the same time (tests/integration/run.sh runs
# two suites at once) on this one app directory: `nest build` empties dist/ first, so a
# second build while the other suite starts an app made that app miss dist/main.js. One
# suite at a time installs and builds, and a build that is newer than every source is
# not redone.
exec 9>"/tmp/runnel-nestjs-build.lock"
flock -x 9 || die "cannot lock /tmp/runnel-nestjs-build.lock"
if [ ! -d node_modules ]; then
  echo "nestjs: npm ci"
  npm ci --no-audit --no-fund --loglevel=error >"$TMP/npm-ci.log" 2>&1 || { cat "$TMP/npm-ci.log" >&2; die "npm ci failed"; }
fi
if [ -f dist/main.js ] &&
  [ -z "$(find src package.json package-lock.json tsconfig*.json nest-cli.json -newer dist/main.js -print -quit 2>/dev/null)" ]; then
  echo "nestjs: dist/ is newer than the sources, not rebuilt"
else
  echo "nestjs: npm run build"
  npm run build >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log" >&2; die "npm run build failed"; }
fi
flock -u 9
exec 9>&-

# `timeout` runs node in a process group of its own and, when time is up,
# signals that whole group: runnel and the apps with it.
timeout --kill-after=10 "$TIMEOUT" node --test \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$TMP/tap.txt" \
  test/e2e.test.mjs &
RUN_PID=$!
wait "$RUN_PID"
rc=$?
RUN_PID=""
[ $rc -eq 124 ] && echo "nestjs: timed out after $TIMEOUT s" >&2

pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$TMP/tap.txt" 2>/dev/null | tail -n 1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$TMP/tap.txt" 2>/dev/null | tail -n 1)
cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$TMP/tap.txt" 2>/dev/null | tail -n 1)
pass=${pass:-0}
fail=$(( ${fail:-0} + ${cancelled:-0} ))
if [ $rc -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
summary "$pass" "$fail"
[ "$fail" -eq 0 ] && [ $rc -eq 0 ]
