#!/usr/bin/env python3
"""Many partitions: start-up, restart and shutdown times, descriptors and RSS of
a broker holding TOPICS x PARTITIONS partitions with ROUNDS segments each.

    bench/many_partitions.py BUILD_DIR [TOPICS PARTITIONS ROUNDS]

Uses kafka-python (Debian's python3-kafka). Prints one line per measurement.
Measures; asserts nothing but that the records come back.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import shutil

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration", "python"))
from kafka import TopicPartition  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

from helpers import admin, consumer, producer  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else "build"
TOPICS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
PARTS = int(sys.argv[3]) if len(sys.argv) > 3 else 100
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 5
binary = os.path.abspath(os.path.join(build, "runnel"))
tmp = tempfile.mkdtemp(prefix="runnel-many-")
data = os.path.join(tmp, "data")
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
bootstrap = "127.0.0.1:%d" % port
log = open(os.path.join(tmp, "broker.log"), "ab")


def start():
    t0 = time.time()
    p = subprocess.Popen([binary, "serve", "--data-dir", data, "--listen", bootstrap,
                          "--set", "log.segment.bytes=100", "--set", "runnel.max.partitions=20000"],
                         stdout=log, stderr=subprocess.STDOUT)
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if p.poll() is not None:
                raise SystemExit("broker exited: see " + tmp)
            time.sleep(0.01)
    return p, time.time() - t0


def stop(p):
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    p.wait(120)
    return time.time() - t0


def fds(p):
    return len(os.listdir("/proc/%d/fd" % p.pid))


def rss_mib(p):
    for line in open("/proc/%d/status" % p.pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return -1


def topic(i):
    return "bench-%d" % i


def report(what, value, unit=""):
    print("%-44s %10s %s" % (what, ("%.2f" % value) if isinstance(value, float) else value, unit), flush=True)


completed = False
try:
    p, t = start()
    report("start-up, empty data dir", t, "s")
    t0 = time.time()
    a = admin(bootstrap, request_timeout_ms=300000)
    for i in range(0, TOPICS, 10):
        a.create_topics([NewTopic(topic(t), PARTS, 1) for t in range(i, min(TOPICS, i + 10))], timeout_ms=300000)
    a.close()
    report("create %d partitions" % (TOPICS * PARTS), time.time() - t0, "s")
    t0 = time.time()
    for r in range(ROUNDS):
        pr = producer(bootstrap, acks="all", linger_ms=50, batch_size=16384, request_timeout_ms=120000)
        fs = [pr.send(topic(t), value=b"r%d" % r, partition=q) for t in range(TOPICS) for q in range(PARTS)]
        pr.flush(300)
        for f in fs:
            f.get(60)
        pr.close()
    report("produce %d rounds to all (acks=all)" % ROUNDS, time.time() - t0, "s")
    # (meta.properties and other files sit next to the partition directories)
    segs = sum(1 for d in os.listdir(data) if os.path.isdir(os.path.join(data, d))
               for f in os.listdir(os.path.join(data, d)) if f.endswith(".log"))
    report("segments on disk", segs)
    report("descriptors after produce", fds(p))
    report("RSS after produce", rss_mib(p), "MiB")
    report("shutdown (SIGTERM to exit)", stop(p), "s")
    p, t = start()
    report("restart (exec to listening)", t, "s")
    report("descriptors after restart", fds(p))
    report("RSS after restart", rss_mib(p), "MiB")
    t0 = time.time()
    c = consumer(bootstrap, max_partition_fetch_bytes=4096, request_timeout_ms=120000)
    tps = [TopicPartition(topic(t), q) for t in range(TOPICS) for q in range(PARTS)]
    c.assign(tps)
    for tp in tps:
        c.seek(tp, 0)
    n = 0
    deadline = time.time() + 600
    while n < len(tps) * ROUNDS and time.time() < deadline:
        n += sum(len(v) for v in c.poll(timeout_ms=1000, max_records=100000).values())
    c.close()
    report("consume everything back (%d records)" % n, time.time() - t0, "s")
    report("descriptors after consuming", fds(p))
    report("RSS after consuming", rss_mib(p), "MiB")
    report("shutdown, nothing written since start", stop(p), "s")
    p, t = start()
    report("restart again", t, "s")
    p.kill()
    p.wait()
    p, t = start()
    report("restart after kill -9 (recovery)", t, "s")
    report("shutdown after recovery", stop(p), "s")
    if n != len(tps) * ROUNDS:
        raise SystemExit("records missing: %d of %d" % (n, len(tps) * ROUNDS))
    completed = True
finally:
    try:
        if p.poll() is None:
            p.kill()
            p.wait()
    except Exception:
        pass
    if os.environ.get("KEEP") or not completed:  # a failed run keeps its broker log and data
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
