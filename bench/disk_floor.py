#!/usr/bin/env python3
"""The latency floor this disk sets for acks=all at a given rate (issue 17).

A perfect broker, one that costs no CPU and no network and acknowledges every
record at the end of the first fdatasync begun after the record arrived (group
commit), still waits for the disk. This measures that wait: it appends 4 KiB
and fdatasyncs back to back for SECONDS, keeping each sync's start and end,
then replays records arriving at RATE per second against that trace.

With --request-bytes, the floor of a loaded broker instead: requests of that
many bytes arrive at RATE per second (as a paced client sends them), and the
perfect broker, whenever any have arrived, writes them all and fdatasyncs,
acknowledging each at the end of the sync that covered it. This runs live,
so the writes are as large as the load makes them.

Why the syncs' own p99 is not the floor: one slow sync holds up every record
that arrives while it runs. A 500 ms stall at 2,000 records/s delays 1,000
records; in a 10 s run that is 5% of them, so even the perfect broker's p99 is
hundreds of milliseconds, while the syncs' p99 (one slow sync among
thousands) stays below a millisecond. The light-load acks=all rows of
`make bench` are to be read against this floor, taken in the same run.

    disk_floor.py [--dir D] [--seconds 10] [--rate 2000] [--request-bytes B] [--json FILE]

Prints one line and, with --json, writes every figure (milliseconds).
"""
import argparse
import bisect
import json
import os
import time


def sync_trace(directory, seconds):
    """(start, end) of each 4 KiB write + fdatasync, back to back, monotonic seconds."""
    path = os.path.join(directory, "runnel-disk-floor-%d" % os.getpid())
    buf = b"f" * 4096
    trace = []
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        end = time.monotonic() + seconds
        while True:
            start = time.monotonic()
            if start >= end:
                break
            os.write(fd, buf)
            os.fdatasync(fd)
            trace.append((start, time.monotonic()))
    finally:
        os.close(fd)
        os.unlink(path)
    return trace


def loaded_floor(directory, seconds, rate, request_bytes):
    """Requests of request_bytes arriving at `rate`/s, written together and fdatasynced by a
    perfect broker as soon as any are waiting. Returns (trace of (start, end) per sync,
    latency per request from its arrival to the end of the sync that covered it)."""
    path = os.path.join(directory, "runnel-disk-floor-%d" % os.getpid())
    chunk = b"f" * request_bytes
    trace, latencies = [], []
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        first = time.monotonic()
        written = 0  # requests written so far; request i arrives at first + i / rate
        while True:
            now = time.monotonic()
            if now - first >= seconds:
                break
            arrived = int((now - first) * rate) + 1
            if arrived <= written:
                time.sleep(max(0.0, first + written / rate - now))
                continue
            for _ in range(arrived - written):
                os.write(fd, chunk)
            os.fdatasync(fd)
            end = time.monotonic()
            trace.append((now, end))
            latencies.extend(end - (first + i / rate) for i in range(written, arrived))
            written = arrived
    finally:
        os.close(fd)
        os.unlink(path)
    return trace, latencies


def floor_latencies(trace, rate):
    """Latency of each record arriving at `rate`/s over the trace: from its arrival to the end
    of the first sync that began at or after it (records after the last sync's start are left
    out: no sync covers them)."""
    starts = [s for s, _ in trace]
    first, last = starts[0], starts[-1]
    out = []
    i = 0
    while True:
        arrival = first + i / rate
        if arrival > last:
            break
        k = bisect.bisect_left(starts, arrival)
        out.append(trace[k][1] - arrival)
        i += 1
    return out


def percentiles(values):
    v = sorted(values)
    pick = lambda q: 1000 * v[min(len(v) - 1, int(len(v) * q))]
    return {"p50": pick(0.5), "p99": pick(0.99), "p999": pick(0.999), "max": 1000 * v[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/var/tmp"), help="a directory on the disk under test")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=2000.0, help="records/s arriving")
    ap.add_argument("--request-bytes", type=int, default=0,
                    help="the loaded floor: requests of this size arrive at --rate/s (default: light, 4 KiB syncs)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    if a.request_bytes > 0:
        trace, latencies = loaded_floor(a.dir, a.seconds, a.rate, a.request_bytes)
    else:
        trace = sync_trace(a.dir, a.seconds)
    if len(trace) < 2:
        raise SystemExit("disk_floor: fewer than two syncs in %.1f s" % a.seconds)
    if a.request_bytes <= 0:
        latencies = floor_latencies(trace, a.rate)
    syncs = percentiles([e - s for s, e in trace])
    floor = percentiles(latencies)
    result = {"seconds": a.seconds, "rate": a.rate, "request_bytes": a.request_bytes, "syncs": len(trace), "syncs_per_s": len(trace) / a.seconds,
              "slow_syncs_over_10ms": sum(1 for s, e in trace if e - s > 0.010)}
    result.update({"sync_%s_ms" % k: v for k, v in syncs.items()})
    result.update({"floor_%s_ms" % k: v for k, v in floor.items()})
    what = "of 4 KiB" if a.request_bytes <= 0 else "of %d-byte requests as they arrived" % a.request_bytes
    print("disk floor: %d syncs %s in %.0f s (p50 %.3f, p99 %.3f, p99.9 %.3f, max %.1f ms; %d over 10 ms); "
          "%s at %.0f/s acknowledged by a perfect group-committing broker: p50 %.3f, p99 %.3f, p99.9 %.3f, "
          "max %.1f ms" % (len(trace), what, a.seconds, syncs["p50"], syncs["p99"], syncs["p999"], syncs["max"],
                           result["slow_syncs_over_10ms"], "requests" if a.request_bytes > 0 else "records", a.rate, floor["p50"], floor["p99"], floor["p999"],
                           floor["max"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
