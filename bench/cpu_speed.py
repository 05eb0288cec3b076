#!/usr/bin/env python3
"""How fast this VM's CPU runs right now: a fixed piece of work, timed.

A row of `make bench` can run at twice its CPU per MB of a quiet hour with
nothing in the guest to show why (bench/README.md, "Slow hours"): the host
hands the vCPU to something else and the guest counts the gap as the running
thread's own time. This times one fixed unit of work (a Python loop and a
CRC of a 256 KiB buffer that stays in the CPU's cache) over and over for
--seconds, and prints the median and 90th percentile of its wall time and
thread CPU time per unit, so a row can be read next to the speed of the
machine in the same minute. Run by hand on a quiet VM for the reference.

  python3 bench/cpu_speed.py [--seconds 2] [--json FILE]
"""
import argparse
import json
import time
import zlib

BUFFER = bytes(range(256)) * 1024  # 256 KiB


def unit():
    acc = 0
    for i in range(20000):
        acc += i * i & 0xFF
    for _ in range(4):
        acc ^= zlib.crc32(BUFFER)
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    unit()  # warm
    walls, cpus = [], []
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        w0, c0 = time.monotonic(), time.thread_time()
        unit()
        walls.append((time.monotonic() - w0) * 1e3)
        cpus.append((time.thread_time() - c0) * 1e3)
    walls.sort()
    cpus.sort()

    def pct(xs, p):
        return xs[min(len(xs) - 1, int(len(xs) * p))]

    out = {
        "units": len(walls),
        "wall_p50_ms": round(pct(walls, 0.5), 3),
        "wall_p90_ms": round(pct(walls, 0.9), 3),
        "cpu_p50_ms": round(pct(cpus, 0.5), 3),
        "cpu_p90_ms": round(pct(cpus, 0.9), 3),
    }
    print(
        "cpu speed: %d units, wall p50 %.3f / p90 %.3f ms, thread CPU p50 %.3f / p90 %.3f ms"
        % (out["units"], out["wall_p50_ms"], out["wall_p90_ms"], out["cpu_p50_ms"], out["cpu_p90_ms"])
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
