#!/usr/bin/env bash
# Issue 14's A/B measurement with the lean client (runnel-bench blast / fetch-blast): one
# broker with PLAINTEXT, SSL and SASL_SSL (PLAIN) listeners, ROUNDS rounds, each running
# produce acks=1, produce acks=all and a whole-log consume over every protocol, the order of
# the protocols reversed every other round. Prints one line per run (records/s, MB/s,
# CPU µs per MB of client and broker, load average) and the TLS / plaintext share per round.
#
#   bench/tls_ab.sh BUILD_DIR
#
# Workload "sink": the same Produce requests (acks=0) into runnel-bench sink, a receiver that
# only reads or decrypts and discards (no broker): the floor under the broker's receive path.
#
# Environment: ROUNDS (3), RECORDS (500000), RECORD_SIZE (1024), PARTITIONS (16), WINDOW (8),
# BATCH_RECORDS (32), PROTOCOLS ("plain tls sasl"), WORKLOADS ("sink acks1 acksall consume"),
# BROKER_CPUS / CLIENT_CPUS (taskset -c lists: e.g. 1 and 0 give each side a core of its own),
# BENCH_DIR (/var/tmp), PERF=1 (perf record -g the broker during round 1's TLS runs:
# BUILD_DIR/tls-ab-perf-WORKLOAD.txt), OUT (a file for the per-run lines, also printed).
set -uo pipefail
BUILD_DIR=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNNEL_BIN=$(readlink -f "${RUNNEL_BIN:-$BUILD_DIR/runnel}")
BENCH_BIN=$(readlink -f "${BENCH_BIN:-$BUILD_DIR/runnel-bench}")
ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-500000}
RECORD_SIZE=${RECORD_SIZE:-1024}
PARTITIONS=${PARTITIONS:-16}
WINDOW=${WINDOW:-8}
BATCH_RECORDS=${BATCH_RECORDS:-32}
PROTOCOLS=${PROTOCOLS:-plain tls sasl}
WORKLOADS=${WORKLOADS:-sink acks1 acksall consume}
OUT=${OUT:-/dev/null}
ON_BROKER=() ON_CLIENT=()
[ -n "${BROKER_CPUS:-}" ] && ON_BROKER=(taskset -c "$BROKER_CPUS")
[ -n "${CLIENT_CPUS:-}" ] && ON_CLIENT=(taskset -c "$CLIENT_CPUS")
source "$ROOT/bench/tls_certs.sh"

WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/runnel-tls-ab.XXXXXX")
PID=""
PERF_PID=""
cleanup() {
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

make_tls_certs "$WORK/tls" || { echo "openssl failed: $(tail -3 "$WORK/tls/openssl.log")" >&2; exit 1; }
"$RUNNEL_BIN" user set bench --password bench-secret --mechanism SCRAM-SHA-512 --data-dir "$WORK/data" \
  >"$WORK/user.log" 2>&1 || { cat "$WORK/user.log" >&2; exit 1; }
P1=$(free_port) P2=$(free_port) P3=$(free_port)
"${ON_BROKER[@]}" "$RUNNEL_BIN" serve --data-dir "$WORK/data" --listen "127.0.0.1:$P1" --set num.partitions=1 \
  --set "listeners=PLAINTEXT://127.0.0.1:$P1,SSL://127.0.0.1:$P2,SASL_SSL://127.0.0.1:$P3" \
  --set ssl.keystore.type=PEM --set "ssl.keystore.location=$WORK/tls/keystore.pem" \
  --set sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN >"$WORK/runnel.log" 2>&1 &
PID=$!
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$P1") 2>/dev/null && break; sleep 0.05; done

args_of() {  # protocol -> connection arguments
  case $1 in
    plain) echo "--bootstrap 127.0.0.1:$P1" ;;
    tls) echo "--bootstrap 127.0.0.1:$P2 -X security.protocol=SSL -X ssl.ca.location=$WORK/tls/ca.pem" ;;
    sasl) echo "--bootstrap 127.0.0.1:$P3 -X security.protocol=SASL_SSL -X ssl.ca.location=$WORK/tls/ca.pem" \
      "-X sasl.mechanism=PLAIN -X sasl.username=bench -X sasl.password=bench-secret" ;;
  esac
}
field() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j.get(sys.argv[2], "-"))' "$1" "$2"; }

# The consumers' log: written once over plaintext, read by every protocol in every round.
"$BENCH_BIN" blast $(args_of plain) --topic t-fill --partitions "$PARTITIONS" --record-size "$RECORD_SIZE" \
  --records "$RECORDS" --acks 1 --window "$WINDOW" --batch-records "$BATCH_RECORDS" --quiet >/dev/null ||
  { echo "filling t-fill failed" >&2; exit 1; }

printf '%-5s %-8s %-6s %10s %8s %13s %13s %11s %s\n' round workload proto rec/s MB/s client-us/MB \
  broker-us/MB cpu-c/b-s load | tee -a "$OUT"
declare -A RATE CPU
for round in $(seq "$ROUNDS"); do
  order=$PROTOCOLS
  [ $((round % 2)) = 0 ] && order=$(echo "$PROTOCOLS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for w in $WORKLOADS; do
    for proto in $order; do
      json=$WORK/r$round-$w-$proto.json
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      if [ "${PERF:-0}" = 1 ] && [ "$round" = 1 ] && [ "$proto" = tls ]; then
        perf record -F 999 -g -p "$PID" -o "$WORK/perf-$w.data" >/dev/null 2>&1 &
        PERF_PID=$!
        sleep 0.3
      fi
      if [ "$w" = sink ]; then
        # The floor: the same requests (acks=0) into a receiver that only reads (or decrypts)
        # and discards them (runnel-bench sink); its CPU per MB stands in the broker column.
        [ "$proto" = sasl ] && continue
        sport=$(free_port) sx=()
        [ "$proto" = tls ] && sx=(-X security.protocol=SSL -X "ssl.keystore.location=$WORK/tls/keystore.pem")
        "${ON_BROKER[@]}" "$BENCH_BIN" sink --bootstrap "127.0.0.1:$sport" "${sx[@]}" --json "$json.sink" --quiet >/dev/null &
        spid=$!
        for _ in $(seq 100); do ss -ltn "sport = :$sport" | grep -q LISTEN && break; sleep 0.02; done
        "${ON_CLIENT[@]}" "$BENCH_BIN" blast $(args_of "$proto" | sed "s/127.0.0.1:[0-9]*/127.0.0.1:$sport/") --no-topic \
          --partitions "$PARTITIONS" --record-size "$RECORD_SIZE" --records "$RECORDS" --acks 0 \
          --batch-records "$BATCH_RECORDS" --json "$json" --quiet >/dev/null
        wait "$spid"
        python3 - "$json" "$json.sink" <<'PY'
import json, sys
b, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
b["broker_cpu_us_per_mb"], b["broker_cpu_s"] = s["sink_cpu_us_per_mb"], s["sink_cpu_s"]
json.dump(b, open(sys.argv[1], "w"))
PY
      elif [ "$w" = consume ]; then
        "${ON_CLIENT[@]}" "$BENCH_BIN" fetch-blast $(args_of "$proto") --topic t-fill --record-size "$RECORD_SIZE" \
          --broker-pid "$PID" --json "$json" --quiet >/dev/null
      else
        "${ON_CLIENT[@]}" "$BENCH_BIN" blast $(args_of "$proto") --topic "t-$w-$proto-$round" --partitions "$PARTITIONS" \
          --record-size "$RECORD_SIZE" --records "$RECORDS" --acks "${w#acks}" --window "$WINDOW" \
          --batch-records "$BATCH_RECORDS" --broker-pid "$PID" --json "$json" --quiet >/dev/null
      fi
      if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null; PERF_PID=""
        perf report -i "$WORK/perf-$w.data" --stdio --no-children --percent-limit 0.5 2>/dev/null |
          head -400 >"$BUILD_DIR/tls-ab-perf-$w.txt"
      fi
      [ -f "$json" ] || { echo "$round $w $proto failed" | tee -a "$OUT"; continue; }
      RATE[$round-$w-$proto]=$(field "$json" records_per_s)
      CPU[$round-$w-$proto]=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["broker_cpu_us_per_mb"] + j["client_cpu_us_per_mb"])' "$json")
      printf '%-5s %-8s %-6s %10.0f %8.1f %13.0f %13.0f %5.2f/%-5.2f %s\n' "$round" "$w" "$proto" \
        "$(field "$json" records_per_s)" "$(field "$json" mb_per_s)" "$(field "$json" client_cpu_us_per_mb)" \
        "$(field "$json" broker_cpu_us_per_mb)" "$(field "$json" blast_client_cpu_s)" \
        "$(field "$json" broker_cpu_s)" "$load" | tee -a "$OUT"
    done
  done
done
echo "TLS / plaintext, same round: records/s, and CPU-bound share (plaintext CPU per MB over TLS's, broker + client):" | tee -a "$OUT"
for round in $(seq "$ROUNDS"); do
  for w in $WORKLOADS; do
    for proto in $PROTOCOLS; do
      [ "$proto" = plain ] && continue
      [ -n "${RATE[$round-$w-$proto]:-}" ] || continue
      python3 -c 'import sys; a,b,c,d=map(float, sys.argv[1:5]); print(f"  round {sys.argv[5]} {sys.argv[6]:8} {sys.argv[7]:5} {a/b:.2f}   cpu-bound {c/d:.2f}")' \
        "${RATE[$round-$w-$proto]}" "${RATE[$round-$w-plain]:-1}" "${CPU[$round-$w-plain]:-0}" "${CPU[$round-$w-$proto]}" \
        "$round" "$w" "$proto" | tee -a "$OUT"
    done
  done
done
