#!/usr/bin/env python3
"""Median and minimum wall-clock and CPU time of commands run alternately.

Usage: python3 bench/runner/median.py DIR N NAME=COMMAND [NAME=COMMAND ...]

Runs each COMMAND (split on spaces, no shell) in DIR, N rounds, the commands
alternating within each round so that a change in the machine's load hits
all of them alike, and prints per command the median and minimum wall-clock
milliseconds and CPU milliseconds (user + sys of the child). run.sh's
/usr/bin/time resolves 10 ms, too coarse for up-to-date runs of ~50 ms.
"""
import os
import resource
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    d, n = sys.argv[1], int(sys.argv[2])
    cmds = [a.split("=", 1) for a in sys.argv[3:]]
    res = {k: ([], []) for k, _ in cmds}
    for _ in range(n):
        for k, c in cmds:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(c.split(), cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            t1 = time.perf_counter()
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res[k][0].append((t1 - t0) * 1000)
            res[k][1].append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
    for k, _ in cmds:
        w, c = res[k]
        print(f"{os.path.basename(d.rstrip('/'))} {k}: wall median {statistics.median(w):.1f} ms (min {min(w):.1f}), "
              f"cpu median {statistics.median(c):.1f} ms (min {min(c):.1f}), n={n}")


if __name__ == "__main__":
    main()
