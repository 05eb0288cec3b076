#!/usr/bin/env bash
# `make bench`: the standard workloads against a freshly started runnel, the machine's
# physical limits (fio, iperf3) and the peers (Redis Streams, NATS JetStream, RabbitMQ,
# ActiveMQ), one table.
#
#   bench/run.sh BUILD_DIR            (make bench runs: ./bench/run.sh build)
#
# Environment (all optional):
#   RUNNEL_BIN        broker binary (default BUILD_DIR/runnel)
#   BENCH_BIN         runnel-bench binary (default BUILD_DIR/runnel-bench, built if missing)
#   RECORDS_SMALL     records for the 100 B workloads (default 2000000)
#   RECORDS_LARGE     records for the 1 KB workloads (default 500000)
#   MAX_SECONDS       cap on any one produce workload (default 30)
#   LATENCY_SECONDS   length of the latency run (default 10)
#   BENCH_DIR         where data dirs go; must be on the disk under test (default /var/tmp)
#   BENCH_KEEP=1      keep the data dirs and raw results
#   SKIP_PEERS=1, SKIP_LIMITS=1, SKIP_CLUSTER=1, SKIP_RUNNEL=1   leave those parts out
#   ONLY_PEERS=1      the peers alone (= SKIP_LIMITS=1 SKIP_CLUSTER=1 SKIP_RUNNEL=1 SKIP_HARD=1)
#   SKIP_HARD=1       leave out issue 17's hard workloads (bench/hard.py)
#   ONLY_HARD=1       the hard workloads alone (= every other SKIP_*)
#   HARD_SECONDS      length of each hard-workload phase (default 10)
#   HARD_CASES        which hard cases (default easy,wide,idle,backlog,retention,partitions)
#   PEERS             which peers (default "redis nats rabbitmq activemq")
#   DROP_TOPICS=0     keep every row's topics (default: after each row on the main broker,
#                     delete the topics no later row reads and wait until the VM is quiet, with
#                     bench/wait_quiet.py; each row then appends into pages the row before freed,
#                     as a broker at its retention limit does, instead of into free memory this
#                     VM's host has taken back: bench/README.md, "Run of 2026-12-05 04:06")
#   FILL_PAGE_CACHE=1 fill the page cache first (bench/fill_page_cache.py; with DROP_TOPICS=0,
#                     every row then appends into memory reclaimed from that file)
#   PERF=1            perf-record runnel during each produce workload (BUILD_DIR/bench-perf-*.txt)
#   SKIP_TLS=1        leave out the TLS rows (issue 14: 1 KiB x 16 produce and consume over an SSL
#                     listener of the same broker, plus one SASL_SSL SCRAM row, next to plaintext;
#                     and the same with the lean client, runnel-bench blast / fetch-blast)
#
# A benchmark is not a test: this script reports what failed and always exits 0.
set -uo pipefail

BUILD_DIR=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNNEL_BIN=${RUNNEL_BIN:-$BUILD_DIR/runnel}
BENCH_BIN=${BENCH_BIN:-$BUILD_DIR/runnel-bench}
RECORDS_SMALL=${RECORDS_SMALL:-2000000}
RECORDS_LARGE=${RECORDS_LARGE:-500000}
MAX_SECONDS=${MAX_SECONDS:-30}
LATENCY_SECONDS=${LATENCY_SECONDS:-10}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
OUT_JSON=$BUILD_DIR/bench-results.json
if [ "${ONLY_PEERS:-0}" = 1 ]; then SKIP_LIMITS=1 SKIP_CLUSTER=1 SKIP_RUNNEL=1 SKIP_HARD=1; fi
if [ "${ONLY_HARD:-0}" = 1 ]; then SKIP_LIMITS=1 SKIP_CLUSTER=1 SKIP_RUNNEL=1 SKIP_PEERS=1; fi
HARD_SECONDS=${HARD_SECONDS:-10}
HARD_CASES=${HARD_CASES:-easy,wide,idle,backlog,retention,partitions}
PEERS=${PEERS:-redis nats rabbitmq activemq}
peer_on() { case " $PEERS " in *" $1 "*) return 0 ;; esac; return 1; }

log() { printf '\n### %s\n' "$*" >&2; }

# ---------------------------------------------------------------- what we need
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
need=()
# librabbitmq-dev: runnel-bench's RabbitMQ driver (CMake finds it when runnel-bench is configured).
for p in fio iperf3 redis-server redis-tools nats-server rabbitmq-server activemq librabbitmq-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  $SUDO apt-get update -qq || true
  avail=()
  for p in "${need[@]}"; do
    if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then avail+=("$p")
    else echo "not available from apt: $p (its part of the run is skipped)" >&2; fi
  done
  # Where the packaged services start on their default ports, they are left alone: every
  # server below is a private instance on a free loopback port.
  [ ${#avail[@]} -gt 0 ] && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${avail[@]}" >&2 || true
  # runnel-bench was configured before librabbitmq-dev arrived: without a new configure it
  # stays built without its rabbitmq mode and the RabbitMQ rows are skipped.
  if [[ " ${avail[*]} " == *" librabbitmq-dev "* ]] && [ -f "$BUILD_DIR/CMakeCache.txt" ] &&
    ! grep -q '^RABBITMQ_FOUND:INTERNAL=1' "$BUILD_DIR/CMakeCache.txt"; then
    log "reconfiguring $BUILD_DIR for runnel-bench's rabbitmq mode"
    cmake -S . -B "$BUILD_DIR" >&2 && cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target runnel-bench >&2 || true
  fi
fi

if [ ! -x "$BENCH_BIN" ]; then
  log "building runnel-bench in $BUILD_DIR"
  [ -f "$BUILD_DIR/build.ninja" ] || cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
  cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target runnel-bench >&2
fi
if [ ! -x "$BENCH_BIN" ]; then echo "runnel-bench could not be built; no benchmark run" >&2; exit 0; fi
BENCH_BIN=$(readlink -f "$BENCH_BIN")
[ -x "$RUNNEL_BIN" ] && RUNNEL_BIN=$(readlink -f "$RUNNEL_BIN")

# ---------------------------------------------------------------- scratch, cleanup
WORK=$(mktemp -d "$BENCH_DIR/runnel-bench.XXXXXX")
R=$WORK/results
mkdir -p "$R"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  # bench/hard.py's loop-mounted image, should it have been killed before unmounting it.
  for m in "$WORK"/runnel-hard-loop-*/mnt; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  rm -f "$WORK/page-cache-fill"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {  # port, seconds
  local end=$((SECONDS + ${2:-10}))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.02
  done
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
stop_pid() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
}
# make_tls_certs DIR: the run's CA and broker certificate (bench/tls_certs.sh).
source "$ROOT/bench/tls_certs.sh"
# note KEY VALUE: a fact for the report (JSON string)
note() { python3 -c 'import json,sys; print(json.dumps({sys.argv[1]: sys.argv[2]}))' "$1" "$2" >>"$R/notes.jsonl"; }
# bench NAME ARGS...: one runnel-bench run, its JSON kept as NAME.json, failures noted
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# PERF=1: perf-record the broker during workload $1 (perf_start), and write its
# call graph to BUILD_DIR/bench-perf-$1.txt (perf_stop).
perf_pid=""
perf_start() {
  perf_pid=""
  if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    perf record -F 999 -g -p "$RUNNEL_PID" -o "$WORK/perf-$1.data" >/dev/null 2>&1 &
    perf_pid=$!
    PIDS+=($perf_pid)
  fi
}
perf_stop() {
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null
    perf report -i "$WORK/perf-$1.data" --stdio --no-children --percent-limit 1 2>/dev/null |
      head -200 >"$BUILD_DIR/bench-perf-$1.txt"
    echo "profile of runnel during $1: $BUILD_DIR/bench-perf-$1.txt" >&2
  fi
  perf_pid=""
}
bench() {
  local name=$1; shift
  log "$name: runnel-bench $*"
  local t0=0
  [ -n "${RUNNEL_PID:-}" ] && t0=$(cpu_ticks "$RUNNEL_PID")
  timeout --signal=INT --kill-after=15 $((MAX_SECONDS + 90)) "$BENCH_BIN" "$1" --label "$name" \
    --json "$R/$name.json" "${@:2}" 2> >(tee "$R/$name.err" >&2) >&2
  local rc=$?
  # The broker's CPU time during the workload (user + system, seconds).
  [ -n "${RUNNEL_PID:-}" ] && kill -0 "$RUNNEL_PID" 2>/dev/null &&
    echo "$(( $(cpu_ticks "$RUNNEL_PID") - t0 )) $(getconf CLK_TCK)" | awk '{print $1 / $2}' >"$R/$name.broker_cpu"
  if [ $rc -ne 0 ]; then
    note "failed:$name" "exit $rc: $(grep -v '^\[' "$R/$name.err" | tail -3 | tr '\n' ' ')"
  fi
  [ "$DROPPING" = 1 ] && drop_row_topics "$name"
  return $rc
}
# DROP_TOPICS (default 1): after a row on the main broker, delete every topic but those later
# rows read, then wait for the stall that freeing their cached pages causes on this VM.
DROPPING=0
KEEP_TOPICS="t-100-1-all t-1024-16-all t-1024-16-all-tls"
drop_row_topics() {
  local topics
  topics=$("$RUNNEL_BIN" topic --bootstrap "$BOOT" --format json list 2>/dev/null |
    python3 -c 'import json,sys; keep=set(sys.argv[1].split()); print(" ".join(t["name"] for t in json.load(sys.stdin) if t["name"] not in keep and not t["name"].startswith("__")))' "$KEEP_TOPICS" 2>/dev/null)
  [ -n "$topics" ] && "$RUNNEL_BIN" topic --bootstrap "$BOOT" delete $topics >/dev/null 2>&1 && settle "after $1"
  return 0
}
# settle WHAT: wait (at most 60 s) until the VM has not stalled for 3 s before a latency row.
# Page-cache memory freed before it (a probe's deleted files, a deleted topic) goes back to
# the VM's host over the next ~10-20 s, stalling every vCPU for up to ~300 ms at a time
# meanwhile; a latency row started then measures that, not the broker (bench/README.md,
# "What a deleted topic costs the rows after it").
settle() {
  python3 "$ROOT/bench/wait_quiet.py" >&2 || note "unsettled:$1" "the machine was not quiet within 60 s before $1"
}

# cpu_speed WHEN: how fast the VM's CPU runs right now (bench/cpu_speed.py, 2 s), so a latency
# row reads next to the machine's speed in the same minute (bench/README.md, "The paced row
# against perfect brokers with the requests": a quiet VM does a unit in 0.89-1.04 ms).
cpu_speed() {
  python3 "$ROOT/bench/cpu_speed.py" --seconds 2 --json "$R/cpu-speed-$1.json" >&2 ||
    note "failed:cpu-speed-$1" "bench/cpu_speed.py exited non-zero"
  return 0
}

# net_floor_row MODE BYTES [SUFFIX]: the perfect broker over loopback TCP (bench/net_floor.c,
# compiled once into WORK) under the paced row's load, MODE serial or handoff, requests of
# BYTES, its JSON kept as net-floor-paced-MODE[SUFFIX].json (SUFFIX -before: ahead of the
# row). Fails only when net_floor.c does not compile.
net_floor_row() {
  local name="$1${3:-}"
  if [ ! -x "$WORK/net_floor" ] && ! cc -O2 -o "$WORK/net_floor" "$ROOT/bench/net_floor.c" -lpthread; then
    note "failed:net-floor" "bench/net_floor.c did not compile"
    return 1
  fi
  settle "net-floor-$name"
  log "perfect broker over TCP under the paced load, $1${3:+, before the row} (bench/net_floor.c, $LATENCY_SECONDS s)"
  "$WORK/net_floor" "$WORK" "$LATENCY_SECONDS" 200 "$2" 8 "$1" "$R/net-floor-paced-$name.json" >&2 ||
    note "failed:net-floor-$name" "bench/net_floor.c exited non-zero"
  return 0
}

# ---------------------------------------------------------------- the machine
{
  echo "nproc=$(nproc)"
  echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "disk=$(df -hT "$WORK" | awk 'NR==2 {print $1" "$2", "$3" size, "$4" used, "$5" free, mounted on "$7}')"
  echo "load=$(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at the start: other work on the machine skews every figure)"
  echo "command=RUNNEL_BIN=$RUNNEL_BIN $0 $BUILD_DIR (RECORDS_SMALL=$RECORDS_SMALL RECORDS_LARGE=$RECORDS_LARGE$([ "${ONLY_HARD:-0}" = 1 ] && echo " ONLY_HARD=1")$([ "${SKIP_HARD:-0}" = 1 ] && echo " SKIP_HARD=1") HARD_SECONDS=$HARD_SECONDS)"
  echo "date=$(date -u +%FT%TZ)"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null)"
} >"$R/machine.txt"
cpu_speed start
cat "$R/machine.txt" >&2

# ---------------------------------------------------------------- a full page cache
# FILL_PAGE_CACHE=1 only (7a174cd made it the default, 2026-12-05 04:06's measurements undid
# that): one file fills the page cache and stays until the end, so that rows append into
# memory reclaimed from it. On this VM that left the rows writing into free memory the host
# had taken back as MemFree fell, at up to 3x the broker's CPU per MB (bench/README.md, "Run
# of 2026-12-05 04:06").
if [ "${FILL_PAGE_CACHE:-0}" = 1 ]; then
  log "filling the page cache (bench/fill_page_cache.py)"
  python3 "$ROOT/bench/fill_page_cache.py" "$WORK/page-cache-fill" | tee "$R/page-cache-fill.txt" >&2 ||
    note "failed:page-cache-fill" "bench/fill_page_cache.py exited non-zero"
fi

# ---------------------------------------------------------------- physical limits
if [ "${SKIP_LIMITS:-0}" != 1 ]; then
  if command -v fio >/dev/null; then
    mkdir -p "$WORK/fio"
    for bs in 64k 256k 1m; do
      log "fio: sequential write, bs=$bs, fdatasync after every write, in $WORK/fio"
      fio --name="seqwrite-$bs" --directory="$WORK/fio" --rw=write --bs=$bs --size=512m \
        --fdatasync=1 --ioengine=psync --runtime=8 --time_based --end_fsync=1 \
        --output-format=json --output="$R/fio-$bs.json" >/dev/null 2>"$R/fio-$bs.err" ||
        note "failed:fio-$bs" "$(tail -2 "$R/fio-$bs.err")"
      rm -f "$WORK/fio"/*
    done
    log "fio: 4k writes + fdatasync (the floor of an acks=all round trip)"
    fio --name=sync4k --directory="$WORK/fio" --rw=write --bs=4k --size=64m --fdatasync=1 \
      --ioengine=psync --runtime=5 --time_based --output-format=json --output="$R/fio-4k.json" \
      >/dev/null 2>"$R/fio-4k.err" || note "failed:fio-4k" "$(tail -2 "$R/fio-4k.err")"
    rm -f "$WORK/fio"/*
    # The jobs above wrap around a file written once: after the first pass every write
    # overwrites blocks already allocated and written, so an fdatasync carries no file-system
    # metadata. A log never does that: it appends, and each sync also commits the new size and
    # blocks. The same jobs appending (no fallocate, files grown as segments are; 16 files as
    # the 1 KiB row's 16 partitions) are the limit of that pattern (bench/README.md, "What a
    # log's appends get from the disk").
    log "fio: 16 files appended, bs=1m, fdatasync after every write, in $WORK/fio"
    fio --name=append16-1m --directory="$WORK/fio" --rw=write --bs=1m --size=2g --fallocate=none \
      --numjobs=16 --group_reporting --fdatasync=1 --ioengine=psync --runtime=8 --time_based \
      --end_fsync=1 --output-format=json --output="$R/fio-append16-1m.json" >/dev/null \
      2>"$R/fio-append16-1m.err" || note "failed:fio-append16-1m" "$(tail -2 "$R/fio-append16-1m.err")"
    rm -f "$WORK/fio"/*
    log "fio: 4k appends + fdatasync (the floor of an acks=all round trip on a growing log)"
    fio --name=append4k --directory="$WORK/fio" --rw=write --bs=4k --size=1g --fallocate=none \
      --fdatasync=1 --ioengine=psync --runtime=5 --time_based --output-format=json \
      --output="$R/fio-append-4k.json" >/dev/null 2>"$R/fio-append-4k.err" ||
      note "failed:fio-append-4k" "$(tail -2 "$R/fio-append-4k.err")"
    rm -rf "$WORK/fio"
  else
    # The same sequential fdatasync'd writes with our own probe, so that the 1 KiB acks=all
    # row still has its disk limit (bench/disk_bandwidth.py says how it matches fio's job).
    note "skipped:fio" "fio is not installed and could not be installed; bench/disk_bandwidth.py measures instead"
    mkdir -p "$WORK/disk"
    log "disk_bandwidth.py: sequential write, bs=64k/256k/1m, fdatasync after every write, in $WORK/disk"
    python3 "$ROOT/bench/disk_bandwidth.py" --dir "$WORK/disk" --seconds 8 --json-prefix "$R/disk" >&2 ||
      note "failed:disk_bandwidth" "see the log"
    log "disk_bandwidth.py: 16 files appended, bs=1m, fdatasync after every write"
    python3 "$ROOT/bench/disk_bandwidth.py" --dir "$WORK/disk" --seconds 8 --bs 1m --files 16 --append \
      --json-prefix "$R/disk-append16" >&2 || note "failed:disk_bandwidth-append" "see the log"
    rm -rf "$WORK/disk"
  fi
  if command -v iperf3 >/dev/null; then
    port=$(free_port)
    iperf3 -s -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
    ipid=$!
    PIDS+=($ipid)
    sleep 0.5  # (no probe connection: iperf3 would take it for a test)
    log "iperf3: loopback TCP, one stream, 5 s"
    iperf3 -c 127.0.0.1 -p "$port" -t 5 -J >"$R/iperf3.json" 2>"$R/iperf3.err" ||
      note "failed:iperf3" "$(tail -2 "$R/iperf3.err") $(grep -o '"error":.*' "$R/iperf3.json")"
    stop_pid $ipid
  else
    note "skipped:iperf3" "iperf3 is not installed and could not be installed"
  fi
fi

# ---------------------------------------------------------------- runnel
RUNNEL_OK=0
RUNNEL_PID=""
if [ "${SKIP_RUNNEL:-0}" = 1 ]; then
  :
elif [ ! -x "$RUNNEL_BIN" ]; then
  note "skipped:runnel" "no broker binary at $RUNNEL_BIN (build it, or set RUNNEL_BIN)"
else
  port=$(free_port)
  bench startup startup --bootstrap "127.0.0.1:$port" --repeat 5 -- \
    "$RUNNEL_BIN" serve --data-dir "$WORK/runnel-startup" --listen "127.0.0.1:$port" --set num.partitions=1
  rm -rf "$WORK/runnel-startup"

  port=$(free_port)
  BOOT=127.0.0.1:$port
  # The admin listener: latency rows add the broker's own stage percentiles from /metrics.
  ADMIN=127.0.0.1:$(free_port)
  mkdir -p "$WORK/runnel"
  # Issue 14: the same broker also has an SSL listener and a SASL_SSL one (SCRAM-SHA-512, one
  # user made offline before start-up), for the TLS rows next to the plaintext ones.
  TLS_ARGS=()
  TLS_BOOT="" SASL_SSL_BOOT=""
  if [ "${SKIP_TLS:-0}" = 1 ]; then
    :
  elif ! command -v openssl >/dev/null; then
    note "skipped:tls" "the openssl command is not installed (it makes the run's certificates)"
  elif ! make_tls_certs "$WORK/tls"; then
    note "skipped:tls" "openssl could not make the certificates: $(tail -2 "$WORK/tls/openssl.log" | tr '\n' ' ')"
  elif ! "$RUNNEL_BIN" user set bench --password bench-secret --mechanism SCRAM-SHA-512 \
    --data-dir "$WORK/runnel" >"$WORK/tls/user.log" 2>&1; then
    note "skipped:tls" "runnel user set failed: $(tail -2 "$WORK/tls/user.log" | tr '\n' ' ')"
  else
    TLS_BOOT=127.0.0.1:$(free_port)
    SASL_SSL_BOOT=127.0.0.1:$(free_port)
    TLS_ARGS=(--set "listeners=PLAINTEXT://$BOOT,SSL://$TLS_BOOT,SASL_SSL://$SASL_SSL_BOOT"
      --set ssl.keystore.type=PEM --set "ssl.keystore.location=$WORK/tls/keystore.pem"
      --set sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN)
  fi
  "$RUNNEL_BIN" serve --data-dir "$WORK/runnel" --listen "$BOOT" --admin "$ADMIN" --set num.partitions=1 \
    "${TLS_ARGS[@]}" >"$WORK/runnel.log" 2>&1 &
  RUNNEL_PID=$!
  PIDS+=($RUNNEL_PID)
  if wait_port "$port" 10; then
    RUNNEL_OK=1
    sleep 1
    echo "$(rss_kb $RUNNEL_PID)" >"$R/rss-idle.txt"
    # Resident memory under load: sampled every 200 ms while the workloads run.
    (while kill -0 $RUNNEL_PID 2>/dev/null; do rss_kb $RUNNEL_PID; sleep 0.2; done >"$R/rss-samples.txt") &
    PIDS+=($!)
  else
    note "failed:runnel-start" "runnel did not accept a connection on $BOOT within 10 s: $(tail -3 "$WORK/runnel.log" | tr '\n' ' ')"
  fi
fi

runnel_alive() {
  kill -0 "$RUNNEL_PID" 2>/dev/null && return 0
  note "failed:runnel-died" "runnel exited during '$1': $(tail -5 "$WORK/runnel.log" | tr '\n' ' ')"
  RUNNEL_OK=0
  return 1
}

DROPPING=${DROP_TOPICS:-1}
if [ $RUNNEL_OK = 1 ]; then
  for w in "100 1 $RECORDS_SMALL" "1024 16 $RECORDS_LARGE"; do
    set -- $w
    size=$1 parts=$2 n=$3
    for acks in 1 all; do
      name="produce-${size}B-${parts}p-acks${acks}"
      [ $RUNNEL_OK = 1 ] || break
      perf_start "$name"
      bench "$name" produce --bootstrap "$BOOT" --topic "t-${size}-${parts}-${acks}" --partitions "$parts" \
        --record-size "$size" --records "$n" --duration "$MAX_SECONDS" --acks "$acks"
      perf_stop "$name"
      runnel_alive "$name"
    done
  done
  # Issue 14: 1 KiB x 16 partitions over the SSL listener of the same broker, acks=1 and
  # acks=all, right after the plaintext rows (target: TLS costs under 30% of their throughput),
  # and acks=all over SASL_SSL with SCRAM-SHA-512 (the login is per connection: the records go
  # through the same TLS stream). The client verifies the broker's certificate against the
  # run's CA (it names 127.0.0.1).
  TLS_CLIENT=(-X security.protocol=SSL -X "ssl.ca.location=$WORK/tls/ca.pem")
  if [ -n "$TLS_BOOT" ]; then
    for acks in 1 all; do
      [ $RUNNEL_OK = 1 ] || break
      name="tls-produce-1024B-16p-acks${acks}"
      perf_start "$name"
      bench "$name" produce --bootstrap "$TLS_BOOT" --topic "t-1024-16-${acks}-tls" --partitions 16 \
        --record-size 1024 --records "$RECORDS_LARGE" --duration "$MAX_SECONDS" --acks "$acks" "${TLS_CLIENT[@]}"
      perf_stop "$name"
      runnel_alive "$name"
    done
    if [ $RUNNEL_OK = 1 ]; then
      bench tls-produce-1024B-16p-acksall-sasl-scram produce --bootstrap "$SASL_SSL_BOOT" \
        --topic t-1024-16-all-sasl --partitions 16 --record-size 1024 --records "$RECORDS_LARGE" \
        --duration "$MAX_SECONDS" --acks all -X security.protocol=SASL_SSL -X "ssl.ca.location=$WORK/tls/ca.pem" \
        -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=bench -X sasl.password=bench-secret
      runnel_alive tls-produce-sasl-scram
    fi
  fi
  # The same acks=all workloads with an idempotent producer (issue 12's target:
  # under 5% below the plain acks=all rows of the same run).
  for w in "100 1 $RECORDS_SMALL" "1024 16 $RECORDS_LARGE"; do
    set -- $w
    [ $RUNNEL_OK = 1 ] || break
    bench "produce-${1}B-${2}p-acksall-idempotent" produce --bootstrap "$BOOT" --topic "t-${1}-${2}-idem" \
      --partitions "$2" --record-size "$1" --records "$3" --duration "$MAX_SECONDS" --acks all \
      -X enable.idempotence=true
    runnel_alive "produce-${1}B-idempotent"
  done
  # Transactions of 100 records each (issue 12's target: at least half of the plain acks=all
  # rows of the same run). One producer commits each transaction before it begins the next
  # (commit_transaction waits for every record's acknowledgement), as a consume-transform-
  # produce loop does; the 1 KiB row runs 4 such producers, each with its own transactional.id.
  # The -16producers rows run 16 of them at once (many consume-transform-produce instances):
  # one producer is bound by its round trips, many show what the broker sustains.
  for w in "100 1 1" "1024 16 4" "100 1 16 -16producers" "1024 16 16 -16producers"; do
    set -- $w
    [ $RUNNEL_OK = 1 ] || break
    bench "produce-${1}B-${2}p-acksall${4:-}-txn100" produce --bootstrap "$BOOT" --topic "t-${1}-${2}-txn${4:-}" \
      --partitions "$2" --record-size "$1" --records 100000000 --duration "$MAX_SECONDS" --acks all \
      --producers "$3" --txn-records 100 --linger-ms 0
    runnel_alive "produce-${1}B-txn100${4:-}"
  done
  # One record per ProduceRequest, acks=all, up to 5 requests in flight on one connection:
  # requests/s against fio's fdatasyncs/s shows whether requests in flight share a sync.
  if [ $RUNNEL_OK = 1 ]; then
    bench produce-100B-1p-acksall-1perrequest produce --bootstrap "$BOOT" --topic t-perrequest \
      --partitions 1 --record-size 100 --records 3000 --duration 10 --acks all --linger-ms 0 \
      -X batch.num.messages=1 -X max.in.flight.requests.per.connection=5
    runnel_alive produce-1perrequest
  fi
  # Cold consumers (a new client, nothing cached in it) reading whole logs written above.
  for t in "t-100-1-all consume-100B-1p 100" "t-1024-16-all consume-1024B-16p 1024"; do
    set -- $t
    [ $RUNNEL_OK = 1 ] || break
    [ -f "$R/produce-${2#consume-}-acksall.json" ] || continue
    bench "$2" consume --bootstrap "$BOOT" --topic "$1" --record-size "$3" --duration "$MAX_SECONDS"
    runnel_alive "$2"
  done
  # Issue 14: the cold consumer of the log written over TLS above, over TLS (plaintext reads
  # with sendfile; TLS reads the file and encrypts it: this VM's kernel has no kTLS).
  if [ -n "$TLS_BOOT" ] && [ $RUNNEL_OK = 1 ] && [ -f "$R/tls-produce-1024B-16p-acksall.json" ]; then
    bench tls-consume-1024B-16p consume --bootstrap "$TLS_BOOT" --topic t-1024-16-all-tls --record-size 1024 \
      --duration "$MAX_SECONDS" "${TLS_CLIENT[@]}"
    runnel_alive tls-consume-1024B-16p
  fi
  # Issue 14 with the lean client (runnel-bench blast / fetch-blast: hand-encoded requests on
  # one socket, OpenSSL writing full 16 KiB records, no librdkafka on the data path), each
  # plaintext row right before its TLS row, SASL_SSL (PLAIN) for acks=all, and the whole
  # acks=all log read by fetch-blast over both listeners. With --broker-pid each reports the
  # broker's and its own CPU per MB: bench/README.md "TLS (issue 14)".
  if [ -n "$TLS_BOOT" ] && [ $RUNNEL_OK = 1 ]; then
    BLAST=(--partitions 16 --record-size 1024 --records "$RECORDS_LARGE" --duration "$MAX_SECONDS"
      --window 8 --batch-records 32 --broker-pid "$RUNNEL_PID")
    for acks in 1 all; do
      for proto in plain tls sasl; do
        [ $RUNNEL_OK = 1 ] || break
        case $proto in
          plain) conn=(--bootstrap "$BOOT") prefix="" ;;
          tls) conn=(--bootstrap "$TLS_BOOT" "${TLS_CLIENT[@]}") prefix="tls-" ;;
          sasl) [ "$acks" = all ] || continue
            conn=(--bootstrap "$SASL_SSL_BOOT" -X security.protocol=SASL_SSL -X "ssl.ca.location=$WORK/tls/ca.pem"
              -X sasl.mechanism=PLAIN -X sasl.username=bench -X sasl.password=bench-secret) prefix="sasl-ssl-" ;;
        esac
        name="blast-${prefix}produce-1024B-16p-acks${acks}"
        perf_start "$name"
        bench "$name" blast "${conn[@]}" --topic "t-blast-${acks}-${proto}" --acks "$acks" "${BLAST[@]}"
        perf_stop "$name"
        runnel_alive "$name"
      done
    done
    if [ -f "$R/produce-1024B-16p-acksall.json" ]; then
      for proto in plain tls; do
        [ $RUNNEL_OK = 1 ] || break
        conn=(--bootstrap "$BOOT") prefix=""
        [ $proto = tls ] && conn=(--bootstrap "$TLS_BOOT" "${TLS_CLIENT[@]}") prefix="tls-"
        bench "blast-${prefix}consume-1024B-16p" fetch-blast "${conn[@]}" --topic t-1024-16-all --record-size 1024 \
          --duration "$MAX_SECONDS" --broker-pid "$RUNNEL_PID"
        runnel_alive "blast-${prefix}consume"
      done
    fi
  fi
  # Issue 12 with the lean client: idempotent acks=all next to the same without idempotence,
  # both 5 requests in flight (an idempotent producer's limit), so that the broker's cost of
  # the sequence checks shows without librdkafka's own (bench/README.md "Idempotent and
  # transactional producers").
  for idem in plain idempotent; do
    [ $RUNNEL_OK = 1 ] || break
    flag=()
    [ $idem = idempotent ] && flag=(--idempotent)
    bench "blast-produce-1024B-16p-acksall-w5-$idem" blast --bootstrap "$BOOT" --topic "t-blast-w5-$idem" \
      --acks all --partitions 16 --record-size 1024 --records "$RECORDS_LARGE" --duration "$MAX_SECONDS" \
      --window 5 --batch-records 32 --broker-pid "$RUNNEL_PID" "${flag[@]}"
    runnel_alive "blast-$idem"
  done
  # Issue 12 with the lean client: transactions of 100 records (100 B x 1 partition: one batch
  # per transaction; runnel-bench txn-blast), 1, 16 and 64 producers at once, next to plain acks=all
  # with the same 100-record batches, 8 in flight: the broker's cost per transaction without
  # librdkafka's (bench/README.md "Transactions with the lean client").
  if [ $RUNNEL_OK = 1 ]; then
    bench blast-produce-100B-1p-acksall-b100 blast --bootstrap "$BOOT" --topic t-blast-b100 --acks all \
      --partitions 1 --record-size 100 --records "$RECORDS_SMALL" --duration "$MAX_SECONDS" --window 8 \
      --batch-records 100 --broker-pid "$RUNNEL_PID"
    runnel_alive blast-b100
    for n in 1 16 64; do
      [ $RUNNEL_OK = 1 ] || break
      bench "blast-txn100-100B-1p-${n}producers" txn-blast --bootstrap "$BOOT" --topic "t-txnblast-$n" \
        --partitions 1 --record-size 100 --batch-records 100 --producers "$n" --duration 10 \
        --broker-pid "$RUNNEL_PID"
      runnel_alive "blast-txn100-$n"
    done
    # What a perfect broker with runnel's durability rules gets for the same two shapes on this
    # disk and kernel (bench/txn_floor.c: threads, files and group-committed fdatasyncs only).
    # Its transaction log has as many files as the broker's __transaction_state has partitions
    # on one node: one per shard, one shard per core.
    txnlog_files=$(nproc)
    if cc -O2 -o "$WORK/txn_floor" "$ROOT/bench/txn_floor.c" -lpthread; then
      for n in 16 64; do
        log "transaction floor, $n producers (bench/txn_floor.c)"
        "$WORK/txn_floor" "$WORK" 8 "$n" "$txnlog_files" 8 10961 "$R/txn-floor-${n}producers.json" >&2 ||
          note "failed:txn-floor-$n" "bench/txn_floor.c exited non-zero"
        # ... and with the Kafka requests a client sends, over loopback TCP.
        log "transaction floor with requests, $n producers (bench/txn_floor.c, TXN_FLOOR_NET=1)"
        TXN_FLOOR_NET=1 "$WORK/txn_floor" "$WORK" 8 "$n" "$txnlog_files" 8 10961 "$R/txn-floor-net-${n}producers.json" >&2 ||
          note "failed:txn-floor-net-$n" "bench/txn_floor.c exited non-zero"
      done
      # ... and with each sync handed to a thread of its own, as an event-loop broker does.
      log "transaction floor with requests and sync hand-off, 64 producers (TXN_FLOOR_NET=1 TXN_FLOOR_HANDOFF=1)"
      TXN_FLOOR_NET=1 TXN_FLOOR_HANDOFF=1 "$WORK/txn_floor" "$WORK" 8 64 "$txnlog_files" 8 10961 \
        "$R/txn-floor-net-handoff-64producers.json" >&2 ||
        note "failed:txn-floor-net-handoff-64" "bench/txn_floor.c exited non-zero"
    else
      note "failed:txn-floor" "bench/txn_floor.c did not compile"
    fi
  fi
  # End-to-end latency at half the measured maximum of 100 B, 1 partition, acks=all.
  if [ $RUNNEL_OK = 1 ] && [ -f "$R/produce-100B-1p-acksall.json" ]; then
    max=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_per_s"])' "$R/produce-100B-1p-acksall.json")
    rate=$(python3 -c "print(max(100, int(float('$max') * 0.5)))")
    # linger 0 (what end-to-end latency tests use), then librdkafka's default linger (5 ms),
    # the configuration the maximum was measured with.
    settle latency-100B-1p-acksall
    bench "latency-100B-1p-acksall" latency --bootstrap "$BOOT" --topic t-latency --partitions 1 \
      --record-size 100 --acks all --rate "$rate" --duration "$LATENCY_SECONDS" --linger-ms 0 \
      --broker-metrics "$ADMIN"
    runnel_alive latency && settle latency-100B-1p-acksall-linger5 &&
      bench "latency-100B-1p-acksall-linger5" latency --bootstrap "$BOOT" --topic t-latency --partitions 1 \
        --record-size 100 --acks all --rate "$rate" --duration "$LATENCY_SECONDS" --linger-ms 5 \
        --broker-metrics "$ADMIN"
    runnel_alive latency
    # The same offered load from the lean client, paced: a request of 5 ms worth of records
    # (linger 5's batches) every 5 ms, its latency from its scheduled send time; the client
    # then uses a few percent of a core instead of most of the machine, so the row shows the
    # broker's and the disk's share of the 50%-load latency (bench/README.md "Latency at 50%
    # load with the lean client").
    batch=$(python3 -c "print(max(1, int(float('$rate') * 0.005)))")
    # The perfect broker of runnel's shape right before the row as well as after it, so that
    # neither side of the comparison is the one that always runs first (bench/net_floor.c). The
    # row's request size is not known before it runs: a blast request of N 100 B records is
    # N * 110 + 62 bytes (measured: 4155 records, 457112 bytes; 4205, 462612).
    runnel_alive latency && net_floor_row handoff $((batch * 110 + 62)) -before
    runnel_alive latency && settle blast-latency-100B-1p-acksall-paced &&
      cpu_speed before-paced &&
      bench "blast-latency-100B-1p-acksall-paced" blast --bootstrap "$BOOT" --topic t-blast-paced --partitions 1 \
        --record-size 100 --acks all --rate "$rate" --batch-records "$batch" --records 1000000000 \
        --duration "$LATENCY_SECONDS" --window 8 --broker-pid "$RUNNEL_PID" --broker-metrics "$ADMIN"
    runnel_alive blast-paced
    # What a perfect broker would show for that paced load on this disk, right after it:
    # the same requests written and fdatasynced as they arrive (bench/disk_floor.py
    # --request-bytes).
    if [ $RUNNEL_OK = 1 ] && [ -f "$R/blast-latency-100B-1p-acksall-paced.json" ]; then
      request_bytes=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["request_bytes"]))' \
        "$R/blast-latency-100B-1p-acksall-paced.json")
      settle disk-floor-paced
      log "disk floor under the paced load (bench/disk_floor.py, $LATENCY_SECONDS s)"
      python3 "$ROOT/bench/disk_floor.py" --dir "$WORK" --seconds "$LATENCY_SECONDS" --rate 200 \
        --request-bytes "$request_bytes" --json "$R/disk-floor-paced.json" >&2 ||
        note "failed:disk-floor-paced" "bench/disk_floor.py --request-bytes exited non-zero"
      # The same requests over loopback TCP to a perfect broker of one thread, and of runnel's
      # shape (a reader thread and a sync thread): what the socket and the hand-offs cost on
      # this VM in the same minute (bench/net_floor.c).
      net_floor_row serial "$request_bytes" && net_floor_row handoff "$request_bytes"
    fi
  fi
  # Light load (2,000 rec/s, one record per request): issue 17's acks=all tail against
  # acks=1 and the broker's own fdatasync p99 in the same run, and against the floor the
  # disk sets right before: a perfect broker's latency at that rate on this disk's
  # fdatasyncs (bench/disk_floor.py; one stall of the disk delays every record behind it).
  if [ $RUNNEL_OK = 1 ]; then
    settle disk-floor
    log "disk floor at 2,000 rec/s (bench/disk_floor.py, $LATENCY_SECONDS s)"
    python3 "$ROOT/bench/disk_floor.py" --dir "$WORK" --seconds "$LATENCY_SECONDS" --rate 2000 \
      --json "$R/disk-floor.json" >&2 || note "failed:disk-floor" "bench/disk_floor.py exited non-zero"
  fi
  for acks in 1 all; do
    [ $RUNNEL_OK = 1 ] || break
    settle "latency-100B-1p-acks${acks}-light"
    bench "latency-100B-1p-acks${acks}-light" latency --bootstrap "$BOOT" --topic t-latency-light \
      --partitions 1 --record-size 100 --acks "$acks" --rate 2000 --duration "$LATENCY_SECONDS" --linger-ms 0 \
      --broker-metrics "$ADMIN"
    runnel_alive latency-light
  done
  if [ $RUNNEL_OK = 1 ]; then
    sort -n "$R/rss-samples.txt" | tail -1 >"$R/rss-loaded.txt"
    hwm_kb $RUNNEL_PID >"$R/rss-hwm.txt"
    du -sk "$WORK/runnel" | cut -f1 >"$R/runnel-du.txt"
    stop_pid $RUNNEL_PID
  fi
fi
DROPPING=0

# ---------------------------------------------------------------- peers
VALUE_SMALL=$(head -c 100 /dev/zero | tr '\0' 'x')
VALUE_LARGE=$(head -c 1024 /dev/zero | tr '\0' 'x')
if [ "${SKIP_PEERS:-0}" != 1 ]; then
  if ! peer_on redis; then
    :
  elif command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    port=$(free_port)
    bench redis-startup startup --bootstrap "127.0.0.1:$port" --repeat 5 -- \
      redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK"
    for fsync in always everysec; do
      port=$(free_port)
      mkdir -p "$WORK/redis-$fsync"
      redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/redis-$fsync" --save "" \
        --appendonly yes --appendfsync "$fsync" --protected-mode yes >"$WORK/redis-$fsync.log" 2>&1 &
      rpid=$!
      PIDS+=($rpid)
      if ! wait_port "$port" 10; then
        note "failed:redis-$fsync" "redis-server did not start: $(tail -2 "$WORK/redis-$fsync.log")"
        continue
      fi
      sleep 0.5
      [ "$fsync" = always ] && rss_kb $rpid >"$R/redis-rss-idle.txt"
      for w in "100 $RECORDS_SMALL $VALUE_SMALL" "1024 $RECORDS_LARGE $VALUE_LARGE"; do
        set -- $w
        log "redis XADD, appendfsync $fsync, $1 B x $2 (redis-benchmark, 16 clients x pipeline 32)"
        timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -n "$2" -c 16 -P 32 --csv \
          XADD "bench-$1" '*' v "$3" >"$R/redis-$fsync-$1.csv" 2>"$R/redis-$fsync-$1.err" ||
          note "failed:redis-$fsync-$1" "$(tail -2 "$R/redis-$fsync-$1.err")"
        tail -1 "$R/redis-$fsync-$1.csv" | awk -F'","' '{print "  requests/s " $2 ", p50 " $5 " ms, p99 " $7 " ms"}' >&2
        redis-cli -h 127.0.0.1 -p "$port" XLEN "bench-$1" >"$R/redis-$fsync-$1.xlen" 2>/dev/null
      done
      [ "$fsync" = always ] && rss_kb $rpid >"$R/redis-rss-loaded.txt"
      stop_pid $rpid
      rm -rf "$WORK/redis-$fsync"
    done
  else
    note "skipped:redis" "redis-server / redis-benchmark not installed and not installable"
  fi

  if ! peer_on nats; then
    :
  elif command -v nats-server >/dev/null; then
    port=$(free_port)
    bench nats-startup startup --bootstrap "127.0.0.1:$port" --repeat 5 -- \
      nats-server -a 127.0.0.1 -p "$port"
    port=$(free_port)
    mkdir -p "$WORK/nats"
    nats-server -a 127.0.0.1 -p "$port" -js -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
    npid=$!
    PIDS+=($npid)
    if wait_port "$port" 10; then
      sleep 0.5
      rss_kb $npid >"$R/nats-rss-idle.txt"
      nats-server --version >"$R/nats-version.txt" 2>&1
      bench nats-100B nats --bootstrap "127.0.0.1:$port" --topic bench100 --record-size 100 \
        --records "$RECORDS_SMALL" --duration "$MAX_SECONDS"
      bench nats-1024B nats --bootstrap "127.0.0.1:$port" --topic bench1024 --record-size 1024 \
        --records "$RECORDS_LARGE" --duration "$MAX_SECONDS"
      rss_kb $npid >"$R/nats-rss-loaded.txt"
      stop_pid $npid
    else
      note "failed:nats" "nats-server did not start: $(tail -2 "$WORK/nats.log")"
    fi
  else
    note "skipped:nats" "nats-server is not installed and not installable from apt"
  fi

  # Light load for a peer's produce->ack latency: 2,000 records/s (runnel's light rows) or a
  # tenth of the peer's own 100 B maximum measured just before, whichever is lower.
  light_rate() {
    python3 -c 'import json,sys
try: m = json.load(open(sys.argv[1]))["records_per_s"]
except Exception: m = 20000
print(max(50, int(min(2000, 0.1 * m))))' "$1"
  }

  # RabbitMQ 3.10 (Debian's rabbitmq-server): a private node (own name, epmd port, distribution
  # port, mnesia and log dirs under $WORK, no plugins: stream queues over AMQP 0-9-1 need
  # none), the AMQP listener on a free loopback port. RUNNING_UNDER_SYSTEMD=1 makes the
  # script exec the Erlang VM, so the pid we hold is the VM's. Driven by runnel-bench rabbitmq
  # (librabbitmq): persistent messages, publisher confirms, 4000 unconfirmed at most.
  if ! peer_on rabbitmq; then
    :
  elif [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && command -v epmd >/dev/null; then
    RQ=$WORK/rabbitmq
    mkdir -p "$RQ/mnesia" "$RQ/log"
    qport=$(free_port)
    printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\nlog.console = false\nlog.file.level = warning\n' \
      "$qport" >"$RQ/rabbitmq.conf"
    : >"$RQ/enabled_plugins"
    eport=$(free_port)
    epmd -port "$eport" -address 127.0.0.1 >/dev/null 2>&1 &
    epid=$!
    PIDS+=($epid)
    # env -C: the node's working dir (where Erlang writes crash dumps and MnesiaCore files).
    rq_env=(-C "$RQ" HOME="$RQ" ERL_EPMD_PORT="$eport" RUNNING_UNDER_SYSTEMD=1 RABBITMQ_NODENAME="runnelbench$$@localhost"
      RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$qport" RABBITMQ_DIST_PORT="$(free_port)"
      RABBITMQ_MNESIA_BASE="$RQ/mnesia" RABBITMQ_LOG_BASE="$RQ/log" RABBITMQ_CONFIG_FILE="$RQ/rabbitmq.conf"
      RABBITMQ_ENABLED_PLUGINS_FILE="$RQ/enabled_plugins" RABBITMQ_PID_FILE="$RQ/rabbit.pid"
      ERL_CRASH_DUMP="$RQ/erl_crash.dump")
    dpkg-query -W -f='${Version}' rabbitmq-server >"$R/rabbitmq-version.txt" 2>/dev/null
    bench rabbitmq-startup startup --bootstrap "127.0.0.1:$qport" --repeat 3 --duration 60 -- \
      env "${rq_env[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
    env "${rq_env[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server >"$RQ/server.log" 2>&1 &
    qpid=$!
    PIDS+=($qpid)
    if wait_port "$qport" 60; then
      sleep 1
      rss_kb $qpid >"$R/rabbitmq-rss-idle.txt"
      for qt in classic stream; do
        bench "rabbitmq-$qt-100B" rabbitmq --bootstrap "127.0.0.1:$qport" --topic "bench-$qt-100" --queue-type $qt \
          --record-size 100 --records "$RECORDS_SMALL" --duration "$MAX_SECONDS" --window 4000 --prefetch 1000
        if [ $? -eq 3 ]; then
          note "skipped:rabbitmq" "runnel-bench was built without librabbitmq (apt install librabbitmq-dev, re-run cmake)"
          break
        fi
        bench "rabbitmq-$qt-1024B" rabbitmq --bootstrap "127.0.0.1:$qport" --topic "bench-$qt-1024" --queue-type $qt \
          --record-size 1024 --records "$RECORDS_LARGE" --duration "$MAX_SECONDS" --window 4000 --prefetch 1000
        bench "rabbitmq-$qt-100B-light" rabbitmq --bootstrap "127.0.0.1:$qport" --topic "bench-$qt-light" \
          --queue-type $qt --record-size 100 --rate "$(light_rate "$R/rabbitmq-$qt-100B.json")" \
          --duration "$LATENCY_SECONDS" --window 4000
      done
      rss_kb $qpid >"$R/rabbitmq-rss-loaded.txt"
      hwm_kb $qpid >"$R/rabbitmq-rss-hwm.txt"
      stop_pid $qpid
    else
      note "failed:rabbitmq" "rabbitmq-server did not start: $(tail -3 "$RQ/server.log" | tr '\n' ' ')"
      stop_pid $qpid
    fi
    stop_pid $epid
  else
    note "skipped:rabbitmq" "rabbitmq-server is not installed and not installable from apt"
  fi

  # ActiveMQ 5.17 (Debian's activemq): the java command line of the package's /usr/bin/activemq,
  # with a generated activemq.xml under $WORK: KahaDB (its defaults, enableJournalDiskSyncs
  # true: a persistent message is on disk before the broker answers), a STOMP connector on a
  # free loopback port, no JMX; heap -Xms512M -Xmx512M (the package's default options).
  # Driven by runnel-bench activemq (STOMP 1.2, SEND persistent:true with a receipt each).
  if ! peer_on activemq; then
    :
  elif [ -f /usr/share/activemq/bin/activemq.jar ] && command -v java >/dev/null; then
    AQ=$WORK/activemq
    mkdir -p "$AQ/data" "$AQ/tmp"
    aport=$(free_port)
    cat >"$AQ/activemq.xml" <<XML
<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="runnelbench" useJmx="false"
          persistent="true" dataDirectory="$AQ/data">
    <persistenceAdapter><kahaDB directory="$AQ/data/kahadb" enableJournalDiskSyncs="true"/></persistenceAdapter>
    <transportConnectors><transportConnector name="stomp" uri="stomp://127.0.0.1:$aport"/></transportConnectors>
  </broker>
</beans>
XML
    aq_cmd=(env -C "$AQ" java -Xms512M -Xmx512M -Djava.io.tmpdir="$AQ/tmp" -Dactivemq.home=/usr/share/activemq
      -Dactivemq.base="$AQ" -Dactivemq.conf="$AQ" -Dactivemq.data="$AQ/data"
      -jar /usr/share/activemq/bin/activemq.jar start "xbean:file:$AQ/activemq.xml")
    dpkg-query -W -f='${Version}' activemq >"$R/activemq-version.txt" 2>/dev/null
    bench activemq-startup startup --bootstrap "127.0.0.1:$aport" --repeat 3 --duration 60 -- "${aq_cmd[@]}"
    "${aq_cmd[@]}" >"$AQ/server.log" 2>&1 &
    apid=$!
    PIDS+=($apid)
    if wait_port "$aport" 60; then
      sleep 1
      rss_kb $apid >"$R/activemq-rss-idle.txt"
      bench activemq-100B activemq --bootstrap "127.0.0.1:$aport" --topic bench100 --record-size 100 \
        --records "$RECORDS_SMALL" --duration "$MAX_SECONDS" --window 4000 --prefetch 1000
      bench activemq-1024B activemq --bootstrap "127.0.0.1:$aport" --topic bench1024 --record-size 1024 \
        --records "$RECORDS_LARGE" --duration "$MAX_SECONDS" --window 4000 --prefetch 1000
      bench activemq-100B-light activemq --bootstrap "127.0.0.1:$aport" --topic benchlight --record-size 100 \
        --rate "$(light_rate "$R/activemq-100B.json")" --duration "$LATENCY_SECONDS" --window 4000
      rss_kb $apid >"$R/activemq-rss-loaded.txt"
      hwm_kb $apid >"$R/activemq-rss-hwm.txt"
      stop_pid $apid
    else
      note "failed:activemq" "activemq did not start: $(tail -3 "$AQ/server.log" | tr '\n' ' ')"
      stop_pid $apid
    fi
  else
    note "skipped:activemq" "activemq (and java) is not installed and not installable from apt"
  fi
fi

# ---------------------------------------------------------------- three brokers
# Issue 10's workload: etcd and three brokers on this machine, RF 3, min ISR 2, acks=all,
# next to one broker in the same run, and the time from a leader's kill -9 to the first
# acknowledged write on the new leader, and issue 17's latency rows for one broker and RF 3
# (bench/cluster.py; needs etcd-server).
if [ "${SKIP_CLUSTER:-0}" != 1 ]; then
  if command -v etcd >/dev/null; then
    log "three brokers, RF 3 (bench/cluster.py)"
    RUNNEL_BIN="$RUNNEL_BIN" BENCH_BIN="$BENCH_BIN" LATENCY_SECONDS="$LATENCY_SECONDS" timeout 900 \
      /usr/bin/python3 "$ROOT/bench/cluster.py" \
      "$BUILD_DIR" --records "$RECORDS_SMALL" --json "$R/cluster.json" >&2 ||
      note "failed:cluster" "bench/cluster.py failed (see above)"
  else
    note "skipped:cluster" "etcd is not installed (make deps installs etcd-server)"
  fi
fi

# ---------------------------------------------------------------- hard workloads
# Issue 17's hard workloads (many clients over 1,000 partitions, retention on a half-full
# disk, a backlog drain, 10,000 partitions, 10,000 idle connections), each next to the easy
# case of the same run (bench/hard.py; the loop-mounted disk of the retention case needs root).
if [ "${SKIP_HARD:-0}" != 1 ]; then
  if [ -x "$RUNNEL_BIN" ]; then
    log "hard workloads (bench/hard.py, cases $HARD_CASES, ${HARD_SECONDS} s per phase)"
    RUNNEL_BIN="$RUNNEL_BIN" BENCH_BIN="$BENCH_BIN" timeout 1800 /usr/bin/python3 "$ROOT/bench/hard.py" "$BUILD_DIR" \
      --seconds "$HARD_SECONDS" --cases "$HARD_CASES" --bench-dir "$WORK" --json "$R/hard.json" >"$R/hard.txt" ||
      note "failed:hard" "bench/hard.py failed (see above)"
  else
    note "skipped:hard" "no broker binary at $RUNNEL_BIN"
  fi
fi

# ---------------------------------------------------------------- the table
mkdir -p "$BUILD_DIR"
python3 "$ROOT/bench/report.py" "$R" "$OUT_JSON" || echo "report failed; raw results in $R" >&2
exit 0
