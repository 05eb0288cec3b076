#!/usr/bin/env python3
"""The disk's fdatasync'd sequential write bandwidth, where fio is not installed (issue 17).

`make bench` takes the 1 KiB acks=all row's physical limit from fio: a
sequential write of BS blocks with an fdatasync after every write, psync, 8 s
time-based over a 512 MiB file laid out beforehand (fio's
`--rw=write --bs=BS --size=512m --fdatasync=1 --ioengine=psync --runtime=8
--time_based --end_fsync=1`). This does the same with os.pwrite and
os.fdatasync: the file is reserved with posix_fallocate (fio's default
`fallocate=native`), written from offset 0, wrapping to 0 at its end, each
write followed by fdatasync, then one final fsync inside the timed span.
Python's cost per write (microseconds) is small next to an fdatasync
(hundreds of microseconds and more), so the figure is the disk's.

    disk_bandwidth.py [--dir D] [--seconds 8] [--bs 64k,256k,1m] [--json-prefix PREFIX]

Prints one line per block size and, with --json-prefix, writes PREFIX-BS.json
for each ({"tool", "bs", "bw_bytes", "writes", "seconds", "sync_p50_ms",
"sync_p99_ms", "sync_max_ms"}).
"""
import argparse
import json
import os
import time

FILE_SIZE = 512 << 20


def parse_size(s):
    units = {"k": 1 << 10, "m": 1 << 20}
    return int(s[:-1]) * units[s[-1].lower()] if s[-1].lower() in units else int(s)


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def measure(directory, bs, seconds):
    path = os.path.join(directory, "runnel-disk-bandwidth-%d" % os.getpid())
    buf = os.urandom(bs)
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    syncs = []
    try:
        os.posix_fallocate(fd, 0, FILE_SIZE)
        os.fsync(fd)
        offset = 0
        written = 0
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            if offset + bs > FILE_SIZE:
                offset = 0
            os.pwrite(fd, buf, offset)
            s = time.monotonic()
            os.fdatasync(fd)
            syncs.append(time.monotonic() - s)
            offset += bs
            written += bs
        os.fsync(fd)
        elapsed = time.monotonic() - t0
    finally:
        os.close(fd)
        os.unlink(path)
    syncs.sort()
    return {
        "tool": "bench/disk_bandwidth.py",
        "bs": bs,
        "bw_bytes": written / elapsed,
        "writes": len(syncs),
        "seconds": elapsed,
        "sync_p50_ms": percentile(syncs, 0.50) * 1e3,
        "sync_p99_ms": percentile(syncs, 0.99) * 1e3,
        "sync_max_ms": syncs[-1] * 1e3,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=".")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--bs", default="64k,256k,1m")
    ap.add_argument("--json-prefix")
    args = ap.parse_args()
    for name in args.bs.split(","):
        r = measure(args.dir, parse_size(name), args.seconds)
        print("disk: sequential write bs=%s + fdatasync each: %.1f MB/s (%d writes, sync p50 %.2f ms, "
              "p99 %.2f ms, max %.1f ms)" % (name, r["bw_bytes"] / 1e6, r["writes"], r["sync_p50_ms"],
                                              r["sync_p99_ms"], r["sync_max_ms"]))
        if args.json_prefix:
            with open("%s-%s.json" % (args.json_prefix, name), "w") as f:
                json.dump(r, f)


if __name__ == "__main__":
    main()
