#!/usr/bin/python3
"""What an appending write + fdatasync costs against the same write over blocks
written before (issue 17's "appends are not overwrites"), for small writes:

    bench/append_sync_probe.py DIR [BYTES]

2,000 writes of BYTES (default 4096), each followed by fdatasync, to a new file
(append: each sync also persists the new size and blocks) and then to a file
whose blocks were written and synced first (overwrite); two rounds. Prints the
latency percentiles and this process's CPU per write+sync. Not in `make bench`.
"""
import os
import sys
import time

d = sys.argv[1]
n = 2000
bs = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
buf = b"x" * bs


def run(name, prewrite):
    p = os.path.join(d, name)
    fd = os.open(p, os.O_CREAT | os.O_TRUNC | os.O_WRONLY)
    if prewrite:
        os.write(fd, b"\0" * (bs * n))
        os.fsync(fd)
        os.lseek(fd, 0, 0)
    lat = []
    c0 = time.process_time()
    for i in range(n):
        t = time.perf_counter()
        os.write(fd, buf)
        os.fdatasync(fd)
        lat.append(time.perf_counter() - t)
    cpu = time.process_time() - c0
    os.close(fd)
    os.unlink(p)
    lat.sort()
    print("%-28s p50 %.3f ms  p99 %.3f ms  mean %.3f ms  cpu/op %.1f us" % (
        name, lat[n // 2] * 1e3, lat[int(n * .99)] * 1e3, sum(lat) / n * 1e3, cpu / n * 1e6))


for r in range(2):
    run("append %d B" % bs, False)
    run("overwrite %d B" % bs, True)
