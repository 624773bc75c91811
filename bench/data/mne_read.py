#!/usr/bin/python3
"""CPU time MNE needs to read and scale EDF files (the original project's read path).

Usage: mne_read.py [--repeat N] EDF...
Prints one JSON object: per file the best-of-N CPU seconds of
mne.io.read_raw_edf(path, preload=True) (which reads every signal and scales
it to volts as float64), the recording hours and the file size.
"""
import argparse
import json
import os
import time

import mne


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    out = []
    for path in a.files:
        best = None
        for _ in range(a.repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            raw = mne.io.read_raw_edf(path, preload=True, verbose="ERROR")
            data = raw.get_data()
            c, w = time.process_time() - c0, time.perf_counter() - w0
            hours = raw.n_times / raw.info["sfreq"] / 3600
            del raw, data
            if best is None or c < best[0]:
                best = (c, w)
        out.append({"edf": path, "bytes": os.path.getsize(path), "hours": hours,
                    "cpu_s": round(best[0], 4), "wall_s": round(best[1], 4),
                    "cpu_s_per_hour": round(best[0] / hours, 5)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
