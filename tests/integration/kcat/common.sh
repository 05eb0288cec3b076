# Sourced by the kcat suites: lib.sh plus kcat wrappers bound to the running broker.
HERE_KCAT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE_KCAT/../lib.sh"

KCAT_TIMEOUT=${KCAT_TIMEOUT:-20}

now_ms() { /usr/bin/python3 -c 'import time; print(int(time.time()*1000))'; }

# kc_produce TOPIC [kcat args...] < input
kc_produce() {
  local topic=$1; shift
  timeout "$KCAT_TIMEOUT" kcat -P -q -b "$BOOTSTRAP" -m 10 -t "$topic" -X linger.ms=5 "$@"
}

# kc_consume TOPIC [kcat args...]: reads from the beginning (unless -o given) up to
# the end of every partition, then exits.
kc_consume() {
  local topic=$1; shift
  timeout "$KCAT_TIMEOUT" kcat -C -q -e -b "$BOOTSTRAP" -m 10 -t "$topic" -X fetch.wait.max.ms=100 "$@"
}

# kc_json_meta [TOPIC]: metadata as JSON
kc_json_meta() {
  if [ $# -gt 0 ]; then
    timeout "$KCAT_TIMEOUT" kcat -L -J -b "$BOOTSTRAP" -m 10 -t "$1"
  else
    timeout "$KCAT_TIMEOUT" kcat -L -J -b "$BOOTSTRAP" -m 10
  fi
}

# seq_lines PREFIX N: PREFIX0 .. PREFIX(N-1), one per line
seq_lines() {
  local i
  for ((i = 0; i < $2; i++)); do echo "$1$i"; done
}

# py: run an inline /usr/bin/python3 check; non-zero exit fails the test.
py() { /usr/bin/python3 -c "$@"; }

start_default_broker() {
  start_broker --set num.partitions=3 --set auto.create.topics.enable=true "$@"
}

# Scratch directory for the suite, removed on exit.
WORK=$(mktemp -d /tmp/runnel-it-work.XXXXXX)
_LIB_TMPDIRS+=("$WORK")

# own_broker [--set ...]: a broker private to one test function (run_test runs each
# test in a subshell, so a test that stops or restarts its broker must own it:
# then `wait` sees the real exit status, and the subshell's trap stops it).
own_broker() {
  _LIB_TMPDIRS=()
  trap _lib_cleanup EXIT
  start_default_broker "$@"
}
