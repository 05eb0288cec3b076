# Shared shell helpers for the integration suites: start and stop a real runnel
# broker on a free loopback port with a fresh data directory.
#
#   source tests/integration/lib.sh
#   start_broker [--set key=value ...]   # sets BROKER_PID BROKER_PORT BROKER_DIR BOOTSTRAP
#   stop_broker                         # SIGTERM, then SIGKILL after 10 s
#   kill9_broker / restart_broker       # crash and restart on the same data dir
#
# The broker binary is $RUNNEL_BIN. A trap on EXIT stops the broker and removes
# the data directory, even when the calling script fails.

: "${RUNNEL_BIN:?RUNNEL_BIN must point at the runnel binary}"

BROKER_PID=""
BROKER_PORT=""
BROKER_DIR=""
BROKER_LOG=""
BOOTSTRAP=""
BROKER_ARGS=()
_LIB_TMPDIRS=()

# free_port: a loopback port nothing listens on and this script was not given
# before (the kernel may hand a just-closed port out again). `$(free_port)` runs
# in a subshell, so the ports handed out are kept in a directory: under run.sh
# the whole run's ($RUNNEL_IT_PORTS), since suites run side by side and a port
# one of them holds but has not bound yet is free to the kernel.
if [ -n "${RUNNEL_IT_PORTS:-}" ]; then
  _PORTS_HANDED_OUT=$RUNNEL_IT_PORTS
else
  _PORTS_HANDED_OUT=$(mktemp -d /tmp/runnel-it-ports.XXXXXX)
  _LIB_TMPDIRS+=("$_PORTS_HANDED_OUT")
fi
free_port() {
  local port
  while :; do
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    if mkdir "$_PORTS_HANDED_OUT/$port" 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# wait_port PORT [TIMEOUT_S]: returns 0 once a TCP connect to 127.0.0.1:PORT succeeds.
wait_port() {
  local port=$1 timeout=${2:-10}
  /usr/bin/python3 - "$port" "$timeout" <<'PY'
import socket, sys, time
port, timeout = int(sys.argv[1]), float(sys.argv[2])
deadline = time.time() + timeout
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

_launch_broker() {
  "$RUNNEL_BIN" serve --data-dir "$BROKER_DIR" --listen "127.0.0.1:$BROKER_PORT" "${BROKER_ARGS[@]}" \
    >>"$BROKER_LOG" 2>&1 &
  BROKER_PID=$!
  [ -n "${RUNNEL_IT_PIDS:-}" ] && : >"$RUNNEL_IT_PIDS/$BROKER_PID"
  if ! wait_port "$BROKER_PORT" 15; then
    echo "broker did not accept connections on port $BROKER_PORT; log:" >&2
    cat "$BROKER_LOG" >&2
    return 1
  fi
  if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "broker exited during start-up; log:" >&2
    cat "$BROKER_LOG" >&2
    return 1
  fi
}

start_broker() {
  BROKER_ARGS=()
  local a
  for a in "$@"; do BROKER_ARGS+=("$a"); done
  BROKER_DIR=$(mktemp -d /tmp/runnel-it.XXXXXX)
  _LIB_TMPDIRS+=("$BROKER_DIR")
  BROKER_LOG="$BROKER_DIR.log"
  : >"$BROKER_LOG"
  BROKER_PORT=$(free_port)
  BOOTSTRAP="127.0.0.1:$BROKER_PORT"
  mkdir -p "$BROKER_DIR/data"
  BROKER_DIR="$BROKER_DIR/data"
  _launch_broker
}

# stop_broker: SIGTERM, wait up to 10 s, then SIGKILL. Sets BROKER_EXIT_CODE and
# BROKER_STOP_MS (how long the clean stop took).
stop_broker() {
  [ -n "$BROKER_PID" ] || return 0
  local t0=$(date +%s%N)
  if kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
      kill -0 "$BROKER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$BROKER_PID" 2>/dev/null || true
  fi
  BROKER_EXIT_CODE=0
  wait "$BROKER_PID" 2>/dev/null || BROKER_EXIT_CODE=$?
  BROKER_STOP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ -n "${RUNNEL_IT_PIDS:-}" ] && rm -f "$RUNNEL_IT_PIDS/$BROKER_PID"
  BROKER_PID=""
}

kill9_broker() {
  [ -n "$BROKER_PID" ] || return 0
  kill -KILL "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  [ -n "${RUNNEL_IT_PIDS:-}" ] && rm -f "$RUNNEL_IT_PIDS/$BROKER_PID"
  BROKER_PID=""
}

# Restart on the same data dir and port.
restart_broker() {
  _launch_broker
}

broker_alive() {
  [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null
}

_lib_cleanup() {
  stop_broker
  local d
  for d in "${_LIB_TMPDIRS[@]}"; do
    if [ -n "${KEEP_BROKER_LOGS:-}" ]; then echo "kept broker data: $d (log $d.log)" >&2; continue; fi
    rm -rf "$d" "$d.log"
  done
}
trap _lib_cleanup EXIT
trap 'exit 130' INT TERM

# ---- tiny assertion helpers for the shell suites ----
T_PASS=0
T_FAIL=0
T_FAILED_NAMES=()

# run_test NAME FUNCTION: runs FUNCTION in a subshell, records pass/fail.
run_test() {
  local name=$1 fn=$2 out rc tmp
  # Not part of an && / || list: `set -e` inside the subshell must stay active.
  tmp=$(mktemp)
  (set -eo pipefail; "$fn") >"$tmp" 2>&1
  rc=$?
  out=$(cat "$tmp"); rm -f "$tmp"
  if [ $rc -eq 0 ]; then
    T_PASS=$((T_PASS + 1)); echo "  ok   $name"
  else
    T_FAIL=$((T_FAIL + 1)); T_FAILED_NAMES+=("$name"); echo "  FAIL $name"
    echo "$out" | sed 's/^/       | /' | tail -n 40
    _report_dead_broker
  fi
}

_BROKER_DEATH_REPORTED=""
# After a failure: if the suite's broker died, say so once, with its log tail.
_report_dead_broker() {
  [ -n "$BROKER_PID" ] && [ -z "$_BROKER_DEATH_REPORTED" ] || return 0
  kill -0 "$BROKER_PID" 2>/dev/null && return 0
  _BROKER_DEATH_REPORTED=1
  local rc=0
  wait "$BROKER_PID" 2>/dev/null || rc=$?
  echo "  !! the broker (pid $BROKER_PID) died, exit status $rc; log tail:"
  tail -n 30 "$BROKER_LOG" | sed 's/^/       | /'
}

fail() { echo "assertion failed: $*" >&2; return 1; }

# assert_eq EXPECTED ACTUAL [MESSAGE]
assert_eq() {
  if [ "$1" != "$2" ]; then
    echo "assertion failed: ${3:-values differ}" >&2
    echo "  expected: $(printf '%q' "$1" | cut -c1-400)" >&2
    echo "  actual:   $(printf '%q' "$2" | cut -c1-400)" >&2
    return 1
  fi
}

# Ends a shell suite: prints the summary line run.sh parses and sets the exit code.
finish_suite() {
  if [ -n "$BROKER_PID" ] && ! kill -0 "$BROKER_PID" 2>/dev/null && [ -z "$_BROKER_DEATH_REPORTED" ]; then
    T_FAIL=$((T_FAIL + 1))
    _report_dead_broker
  fi
  echo "  tests: $T_PASS passed, $T_FAIL failed"
  echo "RESULT $T_PASS $T_FAIL"
  [ "$T_FAIL" -eq 0 ]
}
