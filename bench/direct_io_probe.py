#!/usr/bin/env python3
"""Issue 17's 1 KiB-path spike, the disk's half: can O_DIRECT appends beat the page cache?

    direct_io_probe.py [--dir D] [--seconds 6] [--rounds 2]

No broker. 16 threads; each round appends 64 KiB to each of 16 files (a broker syncing
16 partitions) and makes every file durable with its own fdatasync, buffered (runnel's
path today) or with O_DIRECT from a page-aligned buffer; then the same with one file.
Prints MB/s and this process's CPU per MB (user + system). The probe's own per-write
cost is the same in every row, so the rows compare the kernel's paths.
"""
import argparse
import mmap
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor

CHUNK = 64 * 1024


def run(directory, seconds, files, direct, pool, buf):
    flags = os.O_CREAT | os.O_TRUNC | os.O_WRONLY | (os.O_DIRECT if direct else 0)
    paths = [os.path.join(directory, "runnel-direct-probe-%d-%d" % (os.getpid(), i)) for i in range(files)]
    fds = [os.open(p, flags, 0o644) for p in paths]

    def append(fd):
        os.write(fd, buf)
        os.fdatasync(fd)

    try:
        before, total, start = resource.getrusage(resource.RUSAGE_SELF), 0, time.monotonic()
        while time.monotonic() - start < seconds:
            list(pool.map(append, fds))
            total += CHUNK * files
        elapsed, after = time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF)
    finally:
        for fd in fds:
            os.close(fd)
        for p in paths:
            os.unlink(p)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return total / elapsed / 1e6, cpu * 1e3 / (total / 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/var/tmp"), help="a directory on the disk under test")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    buf = mmap.mmap(-1, CHUNK)  # page-aligned, as O_DIRECT needs
    buf.write(os.urandom(CHUNK))
    with ThreadPoolExecutor(16) as pool:
        for r in range(1, a.rounds + 1):
            for files in (16, 1):
                for direct in (False, True):
                    mb, cpu = run(a.dir, a.seconds, files, direct, pool, buf)
                    print("round %d, %2d file%s, %-8s write + fdatasync: %6.0f MB/s, %.2f ms CPU per MB" % (
                        r, files, "s" if files > 1 else " ", "O_DIRECT" if direct else "buffered", mb, cpu), flush=True)


if __name__ == "__main__":
    main()
