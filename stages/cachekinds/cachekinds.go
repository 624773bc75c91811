// Package cachekinds holds the stage kinds of the EEG data path:
// populate_cache (TUSZ EDF + csv_bi → preprocessed window cache) and
// verify_cache (check a cache before training on it).
//
//	stage "cache" {
//	  kind = "populate_cache"
//	  config {
//	    source      = "data/tuh_eeg_seizure/v2.0.0/edf"  # TUSZ root with train/ dev/ eval/
//	    dir         = "out/cache"
//	    splits      = ["train", "dev", "eval"]           # default: all three
//	    workers     = 0                                  # default: all cores
//	    window_s    = 60                                 # window length (s)
//	    stride_s    = 10                                 # window stride (s)
//	    encoding    = "int16"                            # or "float16", "float32"
//	    block_s     = 1                                  # storage block (s)
//	    limit_files = 0                                  # > 0: first N recordings per split
//	    on_error    = "fail"                             # or "skip": quarantine bad recordings
//	    spill       = true                               # false: filter twice, no temporary disk
//	    # preprocessing (eeg/preprocess): rate = 256, montage = "referential",
//	    # interpolate = ["Fz", "Pz"], on_missing = "error", bandpass_low = 0.5,
//	    # bandpass_high = 120, bandpass_order = 3, notch = 60, notch_q = 30,
//	    # phase = "causal", normalize = "zscore", clip = 10, ...
//	  }
//	}
//
//	stage "verify" {
//	  kind = "verify_cache"
//	  config {
//	    cache  = stage.cache.dir
//	    expect = { train = 4667, dev = 1832 }   # optional recording counts
//	  }
//	}
package cachekinds

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/cache"
)

// resolve makes p absolute relative to workdir.
func resolve(workdir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(workdir, p)
}

// str returns the string attribute name of obj, or def when null.
func str(obj cty.Value, name, def string) (string, error) {
	v := obj.GetAttr(name)
	if v.IsNull() {
		return def, nil
	}
	if !v.IsKnown() {
		return "", fmt.Errorf("config.%s is not known yet", name)
	}
	return v.AsString(), nil
}

// num returns the number attribute name of obj, or def when null.
func num(obj cty.Value, name string, def float64) (float64, error) {
	v := obj.GetAttr(name)
	if v.IsNull() {
		return def, nil
	}
	if !v.IsKnown() {
		return 0, fmt.Errorf("config.%s is not known yet", name)
	}
	f, _ := v.AsBigFloat().Float64()
	if math.IsInf(f, 0) {
		return 0, fmt.Errorf("config.%s is out of range", name)
	}
	return f, nil
}

// integer returns a whole-number attribute.
func integer(obj cty.Value, name string, def int) (int, error) {
	f, err := num(obj, name, float64(def))
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, fmt.Errorf("config.%s = %g: want a whole number", name, f)
	}
	return int(f), nil
}

// splitMaps turns per-split summaries into cty maps of recordings, windows,
// hours and seizure hours.
func splitMaps(s map[string]cache.SplitSummary) (counts, windows, hours, seizureHours cty.Value) {
	if len(s) == 0 {
		e := cty.MapValEmpty(cty.Number)
		return e, e, e, e
	}
	c, w, h, sh := map[string]cty.Value{}, map[string]cty.Value{}, map[string]cty.Value{}, map[string]cty.Value{}
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		c[k] = cty.NumberIntVal(int64(s[k].Recordings))
		w[k] = cty.NumberIntVal(s[k].Windows)
		h[k] = cty.NumberFloatVal(s[k].Hours)
		sh[k] = cty.NumberFloatVal(s[k].SeizureHours)
	}
	return cty.MapVal(c), cty.MapVal(w), cty.MapVal(h), cty.MapVal(sh)
}

// totals sums hours and seizure hours over splits.
func totals(s map[string]cache.SplitSummary) (rec int, win int64, hours, seizure float64) {
	for _, v := range s {
		rec += v.Recordings
		win += v.Windows
		hours += v.Hours
		seizure += v.SeizureHours
	}
	return
}
