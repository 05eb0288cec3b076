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

    disk_bandwidth.py [--dir D] [--seconds 8] [--bs 64k,256k,1m] [--files N] [--json-prefix PREFIX]

--files N runs N writers at once, each on its own file (fio's --numjobs=N):
the pattern of a broker syncing N partitions concurrently.

--append writes as a log does instead: each file starts empty, is not
reserved and never wraps, so every write extends it and every fdatasync also
commits its new size and blocks (fio's `--fallocate=none` with a size the run
never reaches). Without it, after the first pass over the reserved file every
write overwrites blocks already written, and an fdatasync carries no metadata.

Prints one line per block size and, with --json-prefix, writes PREFIX-BS.json
for each ({"tool", "bs", "bw_bytes", "writes", "seconds", "sync_p50_ms",
"sync_p99_ms", "sync_max_ms"}).
"""
import argparse
import json
import os
import threading
import time

FILE_SIZE = 512 << 20


def parse_size(s):
    units = {"k": 1 << 10, "m": 1 << 20}
    return int(s[:-1]) * units[s[-1].lower()] if s[-1].lower() in units else int(s)


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def write_file(path, bs, append, ready, go, end, syncs, written):
    """One writer: writes of `bs` + fdatasync into its own file until `end`:
    a reserved file, wrapping at its end, or (append) a growing one."""
    buf = os.urandom(bs)
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        if not append:
            os.posix_fallocate(fd, 0, FILE_SIZE)
        os.fsync(fd)
        ready.wait()
        go.wait()
        offset = 0
        while time.monotonic() < end[0]:
            if not append and offset + bs > FILE_SIZE:
                offset = 0
            os.pwrite(fd, buf, offset)
            s = time.monotonic()
            os.fdatasync(fd)
            syncs.append(time.monotonic() - s)
            offset += bs
            written.append(bs)
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(path)


def measure(directory, bs, seconds, files=1, append=False):
    # Python's GIL is released in pwrite and fdatasync, so N threads are N
    # concurrent writers as far as the disk is concerned.
    ready = threading.Barrier(files + 1)  # every file reserved
    go = threading.Event()
    end = [0.0]
    syncs, written = [], []
    threads = [threading.Thread(target=write_file,
                                args=(os.path.join(directory, "runnel-disk-bandwidth-%d-%d" % (os.getpid(), i)),
                                      bs, append, ready, go, end, syncs, written)) for i in range(files)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.monotonic()
    end[0] = t0 + seconds
    go.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    syncs.sort()
    return {
        "tool": "bench/disk_bandwidth.py",
        "bs": bs,
        "files": files,
        "append": append,
        "bw_bytes": sum(written) / elapsed,
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
    ap.add_argument("--files", type=int, default=1)
    ap.add_argument("--append", action="store_true", help="grow each file as a log does (no reservation, no wrap)")
    ap.add_argument("--json-prefix")
    args = ap.parse_args()
    for name in args.bs.split(","):
        r = measure(args.dir, parse_size(name), args.seconds, args.files, args.append)
        print("disk: sequential %s bs=%s + fdatasync each, %d file(s): %.1f MB/s (%d writes, sync p50 %.2f ms, "
              "p99 %.2f ms, max %.1f ms)" % ("append" if args.append else "write", name, args.files,
                                              r["bw_bytes"] / 1e6, r["writes"], r["sync_p50_ms"], r["sync_p99_ms"],
                                              r["sync_max_ms"]))
        if args.json_prefix:
            with open("%s-%s.json" % (args.json_prefix, name), "w") as f:
                json.dump(r, f)


if __name__ == "__main__":
    main()
