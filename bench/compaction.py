#!/usr/bin/env python3
"""Log compaction: how long the cleaner takes over a ~1 GB compacted partition,
and what it costs a producer writing to another topic meanwhile.

    bench/compaction.py BUILD_DIR [TOTAL_MB [KEYS [VALUE_BYTES]]]

1. A broker with the cleaner off (log.cleaner.enable=false) takes TOTAL_MB
   (default 1024) of keyed records into topic `compacted` (cleanup.policy=
   compact, segment.bytes 64 MiB, KEYS distinct keys (default 100,000),
   VALUE_BYTES-byte values (default 1000), lz4), so that all but the last
   KEYS records are superseded.
2. Baseline: a producer writes 1 KiB records, acks=1, to topic `other` for
   10 s with the cleaner still off.
3. The broker restarts with the cleaner on (one thread, 128 MiB dedupe buffer,
   unthrottled unless CLEANER_IO_MAX_BPS sets log.cleaner.io.max.bytes.per.second) while the same producer writes to `other` until the cleaner
   logs that it cleaned `compacted-0` (timeout 30 min). The cleaner's own
   log line gives the bytes read and written.

Uses confluent-kafka (Debian's python3-confluent-kafka, librdkafka). Prints one
line per measurement; asserts nothing. BENCH_DIR (default /var/tmp) holds the
data directory, which must be on the disk under test.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import shutil

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

build = sys.argv[1] if len(sys.argv) > 1 else "build"
TOTAL_MB = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
KEYS = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
VALUE = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
# CLEANER_IO_MAX_BPS: log.cleaner.io.max.bytes.per.second for the cleaning
# phase (default: unlimited), to see what a bound buys the other producer.
IO_LIMIT = os.environ.get("CLEANER_IO_MAX_BPS", "")
binary = os.environ.get("RUNNEL_BIN") or os.path.abspath(os.path.join(build, "runnel"))
tmp = tempfile.mkdtemp(prefix="runnel-compaction-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
data = os.path.join(tmp, "data")
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
bootstrap = "127.0.0.1:%d" % port
log_path = os.path.join(tmp, "broker.log")
proc = None


def start(cleaner):
    global proc
    args = [binary, "serve", "--data-dir", data, "--listen", bootstrap,
            "--set", "log.cleaner.enable=%s" % ("true" if cleaner else "false"),
            "--set", "log.cleaner.backoff.ms=1000", "--set", "log.retention.check.interval.ms=5000"]
    if cleaner and IO_LIMIT:
        args += ["--set", "log.cleaner.io.max.bytes.per.second=%s" % IO_LIMIT]
    proc = subprocess.Popen(args, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None:
                sys.exit("broker exited:\n" + open(log_path).read()[-4000:])
            time.sleep(0.05)
    sys.exit("broker did not start")


def stop():
    global proc
    if proc and proc.poll() is None:
        proc.terminate()
        proc.wait(120)
    proc = None


def produce_other(seconds=None, until=None):
    """1 KiB records to `other` until `seconds` pass or `until()` holds: records/s."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5, "queue.buffering.max.kbytes": 65536})
    value = b"o" * 1024
    n = 0
    t0 = time.time()
    while True:
        if seconds is not None and time.time() - t0 >= seconds:
            break
        if until is not None and n % 1000 == 0 and until():
            break
        try:
            p.produce("other", value)
            n += 1
        except BufferError:
            p.poll(0.01)
        if n % 1000 == 0:
            p.poll(0)
    p.flush(60)
    return n / (time.time() - t0)


try:
    start(cleaner=False)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([
        NewTopic("compacted", 1, 1, config={"cleanup.policy": "compact", "segment.bytes": str(64 << 20),
                                            "compression.type": "producer"}),
        # Bounded on disk: the producer writes to it as fast as it can for as
        # long as the cleaning takes.
        NewTopic("other", 1, 1, config={"segment.bytes": str(64 << 20), "retention.bytes": str(256 << 20)})])
    for f in fs.values():
        f.result(30)
    # Batches well under max.message.bytes (1 MiB): larger ones are refused.
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 20, "batch.size": 256 << 10,
                  "compression.type": "lz4", "queue.buffering.max.kbytes": 262144})
    failed = [0]

    def on_delivery(err, _msg):
        if err is not None:
            failed[0] += 1
    # Random values: repeated ones compress to nothing in an lz4 batch, and
    # the partition would never leave its active segment.
    pool = os.urandom(VALUE * 64 + 4096)
    total = TOTAL_MB << 20
    written = 0
    i = 0
    t0 = time.time()
    while written < total:
        key = b"key-%08d" % (i % KEYS)
        at = (i * 7919) % (len(pool) - VALUE)
        value = pool[at:at + VALUE]
        try:
            p.produce("compacted", value, key, on_delivery=on_delivery)
            written += len(value) + len(key)
            i += 1
        except BufferError:
            p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    p.flush(600)
    fill = time.time() - t0
    print("fill: %d records, %.0f MB of keys+values in %.1f s, %d not delivered" % (i, written / 1e6, fill, failed[0]))
    if failed[0]:
        sys.exit("the fill failed; see %s" % log_path)
    print("baseline produce to `other` (cleaner off): %.0f records/s" % produce_other(seconds=10))
    stop()

    size = sum(os.path.getsize(os.path.join(data, "compacted-0", n))
               for n in os.listdir(os.path.join(data, "compacted-0")) if n.endswith(".log"))
    print("compacted-0 on disk before cleaning: %.0f MB" % (size / 1e6))
    mark = os.path.getsize(log_path)
    start(cleaner=True)
    t0 = time.time()
    line = [None]

    def cleaned():
        with open(log_path, "rb") as f:
            f.seek(mark)
            for l in f.read().decode("utf-8", "replace").splitlines():
                if "cleaned compacted-0" in l:
                    line[0] = l
                    return True
        return time.time() - t0 > 1800

    rate = produce_other(until=cleaned)
    took = time.time() - t0
    print("produce to `other` while cleaning: %.0f records/s" % rate)
    if not line[0]:
        print("the cleaner did not finish within 30 min")
    else:
        m = re.search(r"in ([0-9.]+)s: read (\d+) bytes \((\d+) records\), wrote (\d+) bytes", line[0])
        if m:
            secs, read, records, wrote = float(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4))
            print("cleaning round: %.1f s, read %.0f MB (%d records), wrote %.0f MB: %.0f MB/s read"
                  % (secs, read / 1e6, records, wrote / 1e6, read / 1e6 / secs))
        print("first round done %.1f s after the restart" % took)
    size = sum(os.path.getsize(os.path.join(data, "compacted-0", n))
               for n in os.listdir(os.path.join(data, "compacted-0")) if n.endswith(".log"))
    print("compacted-0 on disk after cleaning: %.0f MB" % (size / 1e6))
finally:
    stop()
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)
