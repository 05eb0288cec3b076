#!/usr/bin/env python3
"""What it costs in CPU to write into page cache the machine has not used lately.

    page_cache_probe.py [--dir D] [--mib 4096] [--step-mib 512]

No broker, no fsync. Writes --mib MiB into a new file in 512 KiB write()s,
keeping it until the end so the page cache grows, and prints the process's
CPU time (user + system) per MB for each --step-mib step, then deletes the
file. A broker that appends to a fresh log does exactly this copy (its
pwrite()s land in page-cache pages it has never used), so this step's price
is part of every append row's broker CPU per MB.

Why it varies: on a virtual machine whose free memory the host takes back
(this dev VM: PVM under Firecracker, `page_reporting.page_reporting_order=11`
on its kernel command line, so free 8 MiB blocks are reported to the host),
the first write into such a page faults in the host, and that time is
charged to the guest's copy. Memory freed a moment ago (a deleted file's
pages) comes back cheap; memory free for a while does not. bench/README.md,
"Slow hours: the copy into returned memory", has the figures.
"""
import argparse
import os
import resource
import time


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def mem_free_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemFree:"):
                return int(line.split()[1]) // 1024
    return -1


def page_reporting():
    try:
        with open("/proc/cmdline") as f:
            for word in f.read().split():
                if word.startswith("page_reporting."):
                    return word
    except OSError:
        pass
    return "none on the kernel command line"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--mib", type=int, default=4096)
    ap.add_argument("--step-mib", type=int, default=512)
    args = ap.parse_args()
    chunk = b"\x07" * (512 << 10)
    writes_per_step = args.step_mib * 2
    path = os.path.join(args.dir, "runnel-page-cache-probe-%d" % os.getpid())
    print("page reporting: %s; MemFree %d MiB" % (page_reporting(), mem_free_mib()))
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        written = 0
        while written < args.mib:
            c0, w0 = cpu_seconds(), time.monotonic()
            for _ in range(writes_per_step):
                os.write(fd, chunk)
            cpu, wall = cpu_seconds() - c0, time.monotonic() - w0
            mb = args.step_mib * 1.048576
            written += args.step_mib
            print("%6d MiB written: %6.0f us of CPU per MB, %6.0f MB/s" % (written, cpu / mb * 1e6, mb / wall))
    finally:
        os.close(fd)
        os.unlink(path)
    print("MemFree after (file deleted): %d MiB" % mem_free_mib())


if __name__ == "__main__":
    main()
