#!/usr/bin/env python3
"""Waits until this machine has been quiet for a while, then exits.

On the benchmark VM, memory a program frees (a deleted topic's cached pages)
goes back to the host over the next ~10 s, and while it does every vCPU
loses tens to hundreds of milliseconds at a time without the guest's
/proc/stat showing it (bench/README.md, "What a deleted topic costs the rows
after it"). A latency row started then measures those stalls, not the broker.
This spins one process per CPU, each reading the monotonic clock and its own
CPU time, and returns once no process has seen a stall over --gap-ms for
--quiet-s seconds, or after --max-s (then it says so and exits 1). A stall is
a gap between two clock reads that the guest counted as the spinner's own CPU
time: the host took the vCPU. A gap the guest did not count is another
process of this machine running (a broker's timer, a sampler): not a stall.

  python3 bench/wait_quiet.py [--gap-ms 5] [--quiet-s 3] [--max-s 60]
"""
import argparse
import multiprocessing as mp
import os
import sys
import time


def spin(deadline, gap_s, last_gap, stop):
    prev, prev_cpu = time.monotonic(), time.thread_time()
    while not stop.is_set():
        now, cpu = time.monotonic(), time.thread_time()
        if now - prev > gap_s and cpu - prev_cpu > gap_s * 0.8:
            with last_gap.get_lock():
                last_gap.value = now
        prev, prev_cpu = now, cpu
        if now > deadline:
            return


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gap-ms", type=float, default=5.0)
    ap.add_argument("--quiet-s", type=float, default=3.0)
    ap.add_argument("--max-s", type=float, default=60.0)
    a = ap.parse_args()
    start = time.monotonic()
    deadline = start + a.max_s
    last_gap = mp.Value("d", start)
    stop = mp.Event()
    procs = [mp.Process(target=spin, args=(deadline, a.gap_ms / 1e3, last_gap, stop)) for _ in range(os.cpu_count() or 1)]
    for p in procs:
        p.start()
    quiet = False
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if time.monotonic() - last_gap.value >= a.quiet_s:
            quiet = True
            break
    stop.set()
    for p in procs:
        p.join()
    waited = time.monotonic() - start
    if quiet:
        print(f"quiet after {waited:.1f} s (no stall over {a.gap_ms:g} ms for {a.quiet_s:g} s)")
        return 0
    print(f"not quiet after {waited:.1f} s: stalls over {a.gap_ms:g} ms kept coming", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
