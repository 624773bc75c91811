#!/usr/bin/python3
"""Time reading one random training window from the original project's cache:
np.load(npz)['windows'][i] (savez_compressed: the whole member is inflated).

Usage: npz_window.py [--reads N] [--seed S] NPZ...
Prints one JSON object with the mean / median / p99 seconds per read.
"""
import argparse
import json
import random
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    counts = {}
    for f in a.files:
        with np.load(f) as z:
            counts[f] = z["labels"].shape[0]
    files = [f for f in a.files if counts[f] > 0]
    lat, cpu = [], []
    for _ in range(a.reads):
        f = rng.choice(files)
        i = rng.randrange(counts[f])
        t0, c0 = time.perf_counter(), time.process_time()
        w = np.load(f)["windows"][i]
        lat.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert w.shape[0] == 19
    lat.sort()
    print(json.dumps({"reads": a.reads, "mean_s": sum(lat) / len(lat), "p50_s": lat[len(lat) // 2],
                      "p99_s": lat[min(len(lat) - 1, len(lat) * 99 // 100)], "cpu_s_per_read": sum(cpu) / len(cpu)}))


if __name__ == "__main__":
    main()
