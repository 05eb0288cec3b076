#!/usr/bin/env python3
"""What the disk gives a durable log that appends, against `make bench`'s fio figure.

    log_ceiling_probe.py [--dir D] [--seconds 6] [--rounds 2] [--write-kib 1024]

No broker. Issue 17 asks for 1 KiB x 16 partitions acks=all at >= 0.70 of
`make bench`'s fio job, which overwrites one 512 MiB file with 1 MiB writes,
each followed by fdatasync. A log cannot overwrite: each partition appends to
its own files. This probe writes the same 1 MiB + fdatasync pattern in the
ways a log could, one row each, in the same run:

  overwrite-1         fio's job: one file written once, then overwritten
  append-16           16 files (one per partition), each appended by its own
                      thread, buffered (runnel today)
  append-16-direct    the same with O_DIRECT from a page-aligned buffer
  fallocate-16-direct the same into files sized ahead with fallocate
                      (unwritten extents, converted as they are written)
  overwrite-16        16 files written once, then overwritten in place: what
                      recycled segment files would get (a fresh log has none)
  zerofill-16         16 threads laying out segments of zeros ahead of a log
                      (1 MiB buffered writes, one fdatasync per 256 MiB
                      segment): the price of making a fresh log's appends
                      overwrites. A log that zero-fills ahead writes every
                      byte twice, so at the disk's limit it gets at most
                      1 / (1/zerofill-16 + 1/overwrite-16), printed after it.

An appending file starts over (a new file, the old one deleted) every 256 MiB,
as a log rolls its segments. Prints MB/s per row and its share of
overwrite-1. Not in `make bench`.
"""
import argparse
import mmap
import os
import threading
import time

ROLL = 256 << 20


def fdatasync_loop(path, buf, mode, start_at, stop_at, counter, lock):
    direct = mode.endswith("direct")
    flags = os.O_CREAT | os.O_WRONLY | (os.O_DIRECT if direct else 0)
    generation = 0

    def fresh():
        nonlocal generation
        generation += 1
        p = "%s.%d" % (path, generation)
        fd = os.open(p, flags | os.O_TRUNC, 0o644)
        if mode.startswith("fallocate"):
            os.posix_fallocate(fd, 0, ROLL)
        return p, fd

    if mode.startswith("zerofill"):
        return zerofill_loop(path, buf, start_at, stop_at, counter, lock)
    if mode.startswith("overwrite"):
        p = path + ".ow"
        fd = os.open(p, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
        size = 512 << 20 if mode == "overwrite-1" else ROLL
        chunk = b"\0" * (1 << 20)
        for _ in range(size >> 20):
            os.write(fd, chunk)
        os.fsync(fd)
        limit = size
    else:
        p, fd = fresh()
        limit = ROLL
    pos = 0
    done = 0
    late = time.monotonic() - start_at
    if late > 0:
        print("  (%s: laid out %.1f s after the start)" % (mode, late))
    else:
        time.sleep(-late)
    while time.monotonic() < stop_at:
        if pos + len(buf) > limit:
            if mode.startswith("overwrite"):
                pos = 0
            else:
                os.close(fd)
                os.unlink(p)
                p, fd = fresh()
                pos = 0
        os.pwrite(fd, buf, pos)
        os.fdatasync(fd)
        pos += len(buf)
        done += len(buf)
    os.close(fd)
    os.unlink(p)
    with lock:
        counter[0] += done


def zerofill_loop(path, buf, start_at, stop_at, counter, lock):
    zeros = b"\0" * len(buf)
    time.sleep(max(0.0, start_at - time.monotonic()))
    done = 0
    generation = 0
    while time.monotonic() < stop_at:
        generation += 1
        p = "%s.z%d" % (path, generation)
        fd = os.open(p, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
        pos = 0
        while pos + len(zeros) <= ROLL and time.monotonic() < stop_at:
            os.pwrite(fd, zeros, pos)
            pos += len(zeros)
        os.fdatasync(fd)  # counted: a segment laid out is one made durable
        os.close(fd)
        os.unlink(p)
        done += pos
    with lock:
        counter[0] += done


def row(directory, mode, files, seconds, write_bytes):
    # One page-aligned buffer per thread (O_DIRECT needs the alignment).
    bufs = []
    for _ in range(files):
        m = mmap.mmap(-1, write_bytes)
        m.write(b"x" * write_bytes)
        bufs.append(m)
    counter, lock = [0], threading.Lock()
    # Files are laid out before the clock starts (overwrite rows).
    start_at = time.monotonic() + (8.0 if mode.startswith("overwrite") else 0.5)
    stop_at = start_at + seconds
    threads = [
        threading.Thread(target=fdatasync_loop,
                         args=(os.path.join(directory, "ceiling-%d-%d" % (os.getpid(), i)), bufs[i], mode, start_at,
                               stop_at, counter, lock)) for i in range(files)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counter[0] / seconds / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--write-kib", type=int, default=1024)
    a = ap.parse_args()
    wb = a.write_kib * 1024
    modes = [("overwrite-1", 1), ("append-16", 16), ("append-16-direct", 16), ("fallocate-16-direct", 16),
             ("overwrite-16", 16), ("zerofill-16", 16)]
    for r in range(a.rounds):
        base = None
        got = {}
        for mode, files in modes:
            mbps = row(a.dir, mode, files, a.seconds, wb)
            got[mode] = mbps
            base = base or mbps
            print("round %d  %-20s %7.0f MB/s  %.2f of overwrite-1" % (r + 1, mode, mbps, mbps / base), flush=True)
        both = 1 / (1 / got["zerofill-16"] + 1 / got["overwrite-16"])
        print("round %d  %-20s %7.0f MB/s  %.2f of overwrite-1" % (r + 1, "zero-filled log", both, both / base),
              flush=True)


if __name__ == "__main__":
    main()
