#!/usr/bin/env python3
"""Fills the page cache with one file until little memory is free, as on a machine
that has been running for a while, and leaves the file in place.

A broker that has run for a while has no free memory: its page cache fills it, and
every append takes a page the kernel reclaims from older, clean files. A benchmark
started on a fresh machine appends into free memory instead, and on the benchmark VM
free memory is memory the host has taken back: the first write into each page costs
~2 ms of CPU per MB (bench/README.md, "Slow hours: the copy into returned memory").
`make bench` runs this first, so that every row appends into reclaimed pages, the
way a production broker does. Deleting the file frees the memory again.

  python3 bench/fill_page_cache.py FILE [--leave-mb 1500] [--keep-disk-gb 20]
"""
import argparse
import os
import shutil
import sys
import time

from page_cache_probe import mem_free_mib

CHUNK = 64 << 20


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--leave-mb", type=int, default=1500, help="stop once MemFree is below this")
    ap.add_argument("--keep-disk-gb", type=int, default=20, help="never leave less free disk than this")
    a = ap.parse_args()
    start = time.monotonic()
    disk_budget = shutil.disk_usage(os.path.dirname(os.path.abspath(a.file))).free - (a.keep_disk_gb << 30)
    # Once the cache is full, reclaim keeps MemFree near its watermarks, which may sit above
    # --leave-mb: so write no more than what was free at the start.
    target = (mem_free_mib() - a.leave_mb) << 20
    buf = b"\xa5" * CHUNK
    written = 0
    fd = os.open(a.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while written < target and mem_free_mib() > a.leave_mb and written + CHUNK <= disk_budget:
            written += os.write(fd, buf)
        os.fdatasync(fd)  # clean pages: the kernel reclaims them without writing
    finally:
        os.close(fd)
    why = "MemFree %d MB" % mem_free_mib() if written + CHUNK <= disk_budget else "disk budget reached"
    print("page cache filled: %.1f GB in %s in %.1f s (%s)" % (written / 1e9, a.file, time.monotonic() - start, why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
