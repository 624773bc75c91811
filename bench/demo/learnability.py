#!/usr/bin/python3
"""Learnability check of the demo data: can a small convolutional network,
trained for a few minutes on two CPU cores, detect the seizures of held-out
patients?  And how far does amplitude alone get?

Reads a tree written by `pipe demo-data` (TUSZ layout) with MNE, keeps the 19
scalp channels, resamples to 256 Hz, band-passes 0.5-40 Hz, z-scores each
recording, cuts 8 s windows every 4 s (label: more than half of the window in
a seizure), trains a 4-layer 1-D CNN on train patients and reports the
window-level AUROC on dev (and eval) patients, next to the AUROC of the
window RMS (mean over channels).  Independent of pipe's own code (MNE +
scipy + torch), so it checks the data, not the pipeline.

Usage: learnability.py DEMO_ROOT [--epochs 6] [--threads 2] [--seed 1]
"""
from __future__ import annotations

import argparse
import glob
import os
import time

import mne
import numpy as np
import scipy.signal as ss
import torch
import torch.nn as nn

CH = ["FP1", "F3", "C3", "P3", "F7", "T3", "T5", "O1", "FZ", "CZ", "PZ",
      "FP2", "F4", "C4", "P4", "F8", "T4", "T6", "O2"]
FS, WIN, STRIDE = 256, 8, 4


def seizures(csv_bi):
    out = []
    for line in open(csv_bi):
        f = line.strip().split(",")
        if len(f) == 5 and f[0] == "TERM" and f[3] == "seiz":
            out.append((float(f[1]), float(f[2])))
    return out


def recording(edf):
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    names = {n.upper().replace("EEG ", "").split("-")[0]: n for n in raw.ch_names}
    x = raw.get_data(picks=[names[c] for c in CH]) * 1e6  # µV
    fs = raw.info["sfreq"]
    if fs != FS:
        g = np.gcd(int(fs), FS)
        x = ss.resample_poly(x, FS // g, int(fs) // g, axis=1)
    sos = ss.butter(3, [0.5, 40], btype="band", fs=FS, output="sos")
    x = ss.sosfiltfilt(sos, x, axis=1)
    x = (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-6)
    return np.clip(x, -10, 10).astype(np.float32)


def windows(root, split):
    xs, ys, rms = [], [], []
    for edf in sorted(glob.glob(os.path.join(root, split, "*", "*", "*", "*.edf"))):
        x = recording(edf)
        # amplitude on the raw scale (before z-scoring) for the RMS baseline
        raw = mne.io.read_raw_edf(edf, preload=True, verbose="error").get_data() * 1e6
        fs_raw = len(raw[0]) / (x.shape[1] / FS)
        sz = seizures(edf[:-4] + ".csv_bi")
        n = (x.shape[1] - WIN * FS) // (STRIDE * FS) + 1
        for i in range(n):
            t0 = i * STRIDE
            inside = sum(max(0, min(b, t0 + WIN) - max(a, t0)) for a, b in sz)
            xs.append(x[:, t0 * FS:(t0 + WIN) * FS])
            ys.append(1.0 if inside > WIN / 2 else 0.0)
            seg = raw[:19, int(t0 * fs_raw):int((t0 + WIN) * fs_raw)]
            rms.append(float(np.sqrt(((seg - seg.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)).mean()))
    return np.stack(xs), np.array(ys, dtype=np.float32), np.array(rms)


def auroc(score, y):
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    # average ranks of ties
    s = np.asarray(score)[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j + 2) / 2
        i = j + 1
    pos = y > 0.5
    n1, n0 = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers, c = [], 19
        for out, k, s in [(32, 9, 4), (48, 7, 4), (64, 5, 2), (64, 5, 2)]:
            layers += [nn.Conv1d(c, out, k, stride=s, padding=k // 2), nn.BatchNorm1d(out), nn.GELU()]
            c = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c, 1)

    def forward(self, x):
        h = self.body(x)
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], 1)).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    t = time.time()
    data = {s: windows(a.root, s) for s in ["train", "dev", "eval"]}
    print(f"read + preprocess: {time.time() - t:.1f} s; windows: " +
          ", ".join(f"{s} {len(d[1])} ({int(d[1].sum())} seizure)" for s, d in data.items()))
    for s in ["dev", "eval"]:
        print(f"{s}: window RMS AUROC {auroc(data[s][2], data[s][1]):.3f}")
    x, y, _ = data["train"]
    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-2)
    pw = torch.tensor((1 - y.mean()) / y.mean())
    lossf = nn.BCEWithLogitsLoss(pos_weight=pw)
    t = time.time()
    for ep in range(a.epochs):
        net.train()
        perm = rng.permutation(len(y))
        for b in range(0, len(perm), 32):
            idx = perm[b:b + 32]
            xb = torch.from_numpy(x[idx])
            if rng.random() < 0.5:  # sign flip augmentation
                xb = -xb
            loss = lossf(net(xb), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        res = []
        with torch.no_grad():
            for s in ["dev", "eval"]:
                xs, ys, _ = data[s]
                p = torch.cat([net(torch.from_numpy(xs[i:i + 256])) for i in range(0, len(ys), 256)]).numpy()
                res.append(f"{s} AUROC {auroc(p, ys):.3f}")
        print(f"epoch {ep + 1}: {time.time() - t:.0f} s, train loss {loss.item():.3f}, " + ", ".join(res), flush=True)


if __name__ == "__main__":
    main()
