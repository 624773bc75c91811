#!/usr/bin/python3
"""Reference vectors for package eeg/dsp, computed with scipy.signal.

Run with the Debian interpreter (numpy + scipy 1.10):

    /usr/bin/python3 eeg/dsp/testdata/gen_reference.py > eeg/dsp/testdata/reference.json

Everything is deterministic: inputs come from numpy's legacy RandomState with
fixed seeds plus fixed sines, and are stored in the JSON next to the expected
outputs, so the Go tests never need Python. Floats are written with repr()
(shortest round-trip), i.e. bit-exact float64.
"""
import json
import sys

import numpy as np
import scipy
import scipy.signal as sig


def signal(n, fs, seed, dc=0.0):
    """A test signal: DC offset, a few sines (one above the band edges) and white noise."""
    rs = np.random.RandomState(seed)
    t = np.arange(n) / fs
    x = (dc + 40 * np.sin(2 * np.pi * 1.3 * t) + 25 * np.sin(2 * np.pi * 10.0 * t + 0.3)
         + 10 * np.sin(2 * np.pi * 0.2 * t) + 5 * np.sin(2 * np.pi * 0.45 * fs * t)
         + 8 * rs.standard_normal(n))
    return x


def tolist(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


out = {"scipy_version": scipy.__version__, "numpy_version": np.__version__}

# 1. Butterworth designs as second-order sections.
butter = []
for order, lo, hi, fs, btype in [
    (3, 0.5, 120.0, 256.0, "bandpass"),
    (3, 0.5, 120.0, 250.0, "bandpass"),
    (3, 0.5, 120.0, 512.0, "bandpass"),
    (4, 1.0, 40.0, 200.0, "bandpass"),
    (1, 0.5, 30.0, 100.0, "bandpass"),
    (2, 0.3, 70.0, 173.61, "bandpass"),
    (5, 0.5, 45.0, 256.0, "bandpass"),
    (3, 0.5, None, 200.0, "highpass"),
    (4, 0.1, None, 256.0, "highpass"),
    (3, None, 40.0, 256.0, "lowpass"),
    (6, None, 100.0, 1000.0, "lowpass"),
]:
    wn = {"bandpass": [lo, hi], "highpass": lo, "lowpass": hi}[btype]
    sos = sig.butter(order, wn, btype=btype, fs=fs, output="sos")
    butter.append({"order": order, "low": lo or 0.0, "high": hi or 0.0, "fs": fs,
                   "btype": btype, "sos": [tolist(r) for r in sos]})
out["butter"] = butter

# 2. Notch filters (iirnotch), as (b, a).
notch = []
for f0, q, fs in [(60.0, 30.0, 256.0), (50.0, 30.0, 256.0), (60.0, 30.0, 250.0),
                  (50.0, 35.0, 500.0), (60.0, 10.0, 200.0)]:
    b, a = sig.iirnotch(f0, q, fs=fs)
    notch.append({"f0": f0, "q": q, "fs": fs, "b": tolist(b), "a": tolist(a)})
out["notch"] = notch

# 3. Filtering: sosfilt (zero state and steady-state start), sosfilt_zi,
#    sosfiltfilt (default odd padding) and filtfilt of the notch.
filt = []
for name, fs, order, lo, hi, n, seed, dc, f0 in [
    ("bp256", 256.0, 3, 0.5, 120.0, 1500, 1, 120.0, 60.0),
    ("bp250", 250.0, 3, 0.5, 120.0, 1000, 2, -35.0, 50.0),
    ("bp100", 100.0, 4, 1.0, 40.0, 600, 3, 0.0, 25.0),
]:
    x = signal(n, fs, seed, dc)
    sos = sig.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    zi = sig.sosfilt_zi(sos)
    b, a = sig.iirnotch(f0, 30.0, fs=fs)
    filt.append({
        "name": name, "fs": fs, "order": order, "low": lo, "high": hi,
        "notch_f0": f0, "notch_q": 30.0,
        "x": tolist(x),
        "sos": [tolist(r) for r in sos],
        "zi": [tolist(r) for r in zi],
        "sosfilt_zero": tolist(sig.sosfilt(sos, x)),
        "sosfilt_steady": tolist(sig.sosfilt(sos, x, zi=zi * x[0])[0]),
        "sosfiltfilt": tolist(sig.sosfiltfilt(sos, x)),
        "notch_lfilter_steady": tolist(sig.lfilter(b, a, x, zi=sig.lfilter_zi(b, a) * x[0])[0]),
        "notch_filtfilt": tolist(sig.filtfilt(b, a, x)),
        # the causal chain band-pass then notch, both started in steady state
        "chain_causal": tolist(sig.lfilter(b, a, *[sig.sosfilt(sos, x, zi=zi * x[0])[0]],
                                           zi=sig.lfilter_zi(b, a) * sig.sosfilt(sos, x, zi=zi * x[0])[0][0])[0]),
        "chain_zero": tolist(sig.filtfilt(b, a, sig.sosfiltfilt(sos, x))),
    })
out["filter"] = filt

# 4. Polyphase resampling (resample_poly, Kaiser beta 5 window) for the rate
#    changes the pipeline meets, with zero ('constant') and 'edge' padding.
resample = []
for name, fin, up, down, n, seed in [
    ("250to256", 250.0, 128, 125, 1000, 11),
    ("400to256", 400.0, 16, 25, 800, 12),
    ("100to256", 100.0, 64, 25, 400, 13),
    ("512to256", 512.0, 1, 2, 1024, 14),
    ("173.61to256", 173.61, 87, 59, 700, 15),
    ("200to256", 200.0, 32, 25, 801, 16),
    ("128to256", 128.0, 2, 1, 333, 17),
    ("short", 250.0, 128, 125, 7, 18),
]:
    x = signal(n, fin, seed, dc=50.0)
    entry = {"name": name, "fs_in": fin, "up": up, "down": down, "x": tolist(x)}
    for pad in ("constant", "edge"):
        entry[pad] = tolist(sig.resample_poly(x, up, down, padtype=pad))
    resample.append(entry)
out["resample"] = resample

# The FIR prototype itself for one ratio (firwin with a Kaiser window).
out["firwin"] = {"numtaps": 2 * 10 * 25 + 1, "cutoff": 1.0 / 25,
                 "h": tolist(sig.firwin(2 * 10 * 25 + 1, 1.0 / 25, window=("kaiser", 5.0)))}

# 5. Statistics for normalisation: mean, population std, median and
#    quartiles (numpy's default linear interpolation).
stats = []
for seed, n, kind in [(21, 2000, "normal"), (22, 1001, "laplace"), (23, 1500, "outliers")]:
    rs = np.random.RandomState(seed)
    if kind == "normal":
        x = 3.0 + 7.0 * rs.standard_normal(n)
    elif kind == "laplace":
        x = rs.laplace(-2.0, 5.0, n)
    else:
        x = rs.standard_normal(n)
        x[::97] *= 1000.0
    x = x.astype(np.float32).astype(np.float64)
    stats.append({"x": tolist(x), "mean": float(x.mean()), "std": float(x.std()),
                  "q25": float(np.percentile(x, 25)), "median": float(np.median(x)),
                  "q75": float(np.percentile(x, 75))})
out["stats"] = stats

json.dump(out, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
