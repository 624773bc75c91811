package demo

import (
	"context"
	"maps"
	"math"
	"math/cmplx"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/eeg/annot"
	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/preprocess"
	"github.com/pipeml/pipe/eeg/tusz"
	"github.com/pipeml/pipe/postproc"
	"github.com/pipeml/pipe/scoring"
)

// feature computes one score per window from the 19 scalp channels of a
// window (x[c] holds the samples at rate fs).
type feature struct {
	name string
	fn   func(x [][]float64, fs float64) float64
}

// rmsPerChannel is the RMS of each channel after removing its mean.
func rmsPerChannel(x [][]float64) []float64 {
	out := make([]float64, len(x))
	for c, s := range x {
		var m, ss float64
		for _, v := range s {
			m += v
		}
		m /= float64(len(s))
		for _, v := range s {
			ss += (v - m) * (v - m)
		}
		out[c] = math.Sqrt(ss / float64(len(s)))
	}
	return out
}

// amplitudeFeatures are per-window amplitude scores: the mean, median and
// maximum over channels of the per-channel RMS, and the peak-to-peak range.
var amplitudeFeatures = []feature{
	{"rms-mean", func(x [][]float64, _ float64) float64 {
		var s float64
		for _, v := range rmsPerChannel(x) {
			s += v
		}
		return s / float64(len(x))
	}},
	{"rms-max", func(x [][]float64, _ float64) float64 {
		m := 0.0
		for _, v := range rmsPerChannel(x) {
			m = math.Max(m, v)
		}
		return m
	}},
	{"rms-global", func(x [][]float64, _ float64) float64 {
		var ss float64
		for _, v := range rmsPerChannel(x) {
			ss += v * v
		}
		return math.Sqrt(ss / float64(len(x)))
	}},
	{"peak-to-peak-max", func(x [][]float64, _ float64) float64 {
		m := 0.0
		for _, s := range x {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range s {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			m = math.Max(m, hi-lo)
		}
		return m
	}},
}

// rhythmFeature is a crude hand-made spectral score: the largest, over
// channels, share of 1–40 Hz power that lies within ±0.5 Hz of the
// strongest peak between 2.5 and 8.25 Hz. It stands for what a learned
// detector can pick up (a narrow-band rhythm in the seizure band) and shows
// that the generated seizures are separable without amplitude.
var rhythmFeature = feature{"rhythm", func(x [][]float64, fs float64) float64 {
	best := 0.0
	for _, s := range x {
		p := powerSpectrum(s)
		df := fs / float64(2*(len(p)-1))
		band := func(f0, f1 float64) (sum float64) {
			for k := int(math.Ceil(f0 / df)); k <= int(f1/df) && k < len(p); k++ {
				sum += p[k]
			}
			return
		}
		total := band(1, 40)
		if total == 0 {
			continue
		}
		peak, at := 0.0, 0.0
		for k := int(math.Ceil(2.5 / df)); float64(k)*df <= 8.25; k++ {
			if p[k] > peak {
				peak, at = p[k], float64(k)*df
			}
		}
		best = math.Max(best, band(at-0.5, at+0.5)/total)
	}
	return best
}}

// powerSpectrum is the periodogram of x (mean removed, Hann window,
// zero-padded to a power of two): len/2+1 bins from 0 to fs/2.
func powerSpectrum(x []float64) []float64 {
	n := 1
	for n < len(x) {
		n *= 2
	}
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	a := make([]complex128, n)
	for i, v := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(len(x)-1))
		a[i] = complex((v-m)*w, 0)
	}
	fft(a)
	p := make([]float64, n/2+1)
	for k := range p {
		p[k] = real(a[k])*real(a[k]) + imag(a[k])*imag(a[k])
	}
	return p
}

// fft is an in-place radix-2 FFT (len(a) a power of two).
func fft(a []complex128) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	for l := 2; l <= n; l <<= 1 {
		w := cmplx.Rect(1, -2*math.Pi/float64(l))
		for i := 0; i < n; i += l {
			wk := complex(1, 0)
			for k := 0; k < l/2; k++ {
				u, v := a[i+k], a[i+k+l/2]*wk
				a[i+k], a[i+k+l/2] = u+v, u-v
				wk *= w
			}
		}
	}
}

// scoreTree computes, for every feature, the sample-level AUROC (scoring
// package) of windows of winS seconds over every recording of the tree.
func scoreTree(t *testing.T, root string, winS float64, feats []feature) map[string]scoring.Curve {
	t.Helper()
	corpus, err := tusz.Walk(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	traced := make([][]scoring.TracedRecording, len(feats))
	for _, rec := range corpus.Recordings {
		r, err := edf.Open(rec.EDF)
		if err != nil {
			t.Fatal(err)
		}
		h := r.Header()
		var sigs []int
		for _, i := range h.DataSignals() {
			l := h.Signals[i].Label
			if strings.HasPrefix(l, "EEG ") && !strings.Contains(l, "EKG") && !strings.Contains(l, " A1-") && !strings.Contains(l, " A2-") {
				sigs = append(sigs, i)
			}
		}
		if len(sigs) != 19 {
			t.Fatalf("%s: %d scalp channels", rec.EDF, len(sigs))
		}
		fs := float64(h.Signals[sigs[0]].SamplesPerRecord) / h.RecordDuration.Seconds()
		total := h.Samples(sigs[0])
		win := int64(math.Round(winS * fs))
		x := make([][]float64, len(sigs))
		for i := range x {
			x[i] = make([]float64, total)
			if _, err := r.ReadPhysical(sigs[i], 0, x[i]); err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
		a, err := annot.ReadFile(rec.CSVBI)
		if err != nil {
			t.Fatal(err)
		}
		var ref []scoring.Event
		for _, e := range a.SeizureEvents() {
			ref = append(ref, scoring.Event{Start: e.Start, Stop: e.Stop})
		}
		for f, feat := range feats {
			var p []float64
			for s := int64(0); s+win <= total; s += win {
				w := make([][]float64, len(x))
				for i := range x {
					w[i] = x[i][s : s+win]
				}
				v := feat.fn(w, fs)
				p = append(p, v/(1+v)) // monotone map into [0, 1)
			}
			traced[f] = append(traced[f], scoring.TracedRecording{Name: filepath.Base(rec.EDF),
				Duration: float64(len(p)) * winS, Trace: postproc.Trace{Rate: 1 / winS, P: p}, Ref: ref})
		}
	}
	out := map[string]scoring.Curve{}
	for f, feat := range feats {
		c, err := scoring.Curves(traced[f])
		if err != nil {
			t.Fatal(err)
		}
		out[feat.name] = c
	}
	return out
}

// TestNotSeparableByAmplitude generates a corpus and checks that per-window
// amplitude thresholds score an AUROC clearly below 0.9 on it: on the raw
// EDF signals (mean, max and global RMS over channels, largest
// peak-to-peak) and on the preprocessed cache windows a detector is fed
// (mean and max RMS), for 2 s and 10 s windows. A crude spectral rhythm
// score on the same windows does separate seizures: the data needs a
// detector that learns the rhythm, and one can.
func TestNotSeparableByAmplitude(t *testing.T) {
	cfg := Config{Out: t.TempDir(), Patients: PatientCounts{Train: 6, Dev: 3, Eval: 3}, Recordings: 1, Minutes: 6, SeizureRate: 12, Seed: 3}
	generate(t, cfg)
	for _, win := range []float64{2, 10} {
		feats := append(append([]feature{}, amplitudeFeatures...), rhythmFeature)
		cs := scoreTree(t, cfg.Out, win, feats)
		for name, c := range cacheAmplitudeAUROC(t, cfg.Out, win) {
			cs[name] = c
		}
		for _, name := range slices.Sorted(maps.Keys(cs)) {
			c := cs[name]
			t.Logf("%gs windows: %-16s AUROC %.3f (%d seizure, %d background windows)", win, name, c.AUROC, c.Positives, c.Negatives)
			if name == rhythmFeature.name {
				if !(c.AUROC >= 0.85) {
					t.Errorf("%gs windows: the rhythm score reaches AUROC %.3f only; seizures should be learnable", win, c.AUROC)
				}
			} else if !(c.AUROC < 0.8) {
				t.Errorf("%gs windows: amplitude (%s) separates seizures with AUROC %.3f; want < 0.8", win, name, c.AUROC)
			}
		}
	}
}

// cacheAmplitudeAUROC populates a cache of the tree at root with windows of
// winS seconds (no overlap) and the default preprocessing (band-pass,
// notch, per-recording z-score: what a detector is fed), and scores the
// mean and maximum over channels of each window's RMS.
func cacheAmplitudeAUROC(t *testing.T, root string, winS float64) map[string]scoring.Curve {
	t.Helper()
	dir := t.TempDir()
	pc := cache.PopulateConfig{Source: root, Dir: dir, WindowS: winS, StrideS: winS, Preprocess: preprocess.DefaultConfig()}
	if _, err := cache.Populate(context.Background(), pc, nil, nil); err != nil {
		t.Fatal(err)
	}
	ds, err := cache.OpenDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	m := ds.Manifest()
	W := ds.WindowSamples()
	buf := make([]float32, len(ds.Channels())*W)
	feats := map[string]func(rms []float64) float64{
		"cache-rms-mean": func(r []float64) float64 {
			var s float64
			for _, v := range r {
				s += v
			}
			return s / float64(len(r))
		},
		"cache-rms-max": func(r []float64) float64 { return slices.Max(r) },
	}
	traced := map[string][]scoring.TracedRecording{}
	for _, rec := range m.Recordings {
		var ref []scoring.Event
		for _, s := range rec.Seizures {
			ref = append(ref, scoring.Event{Start: s.Start, Stop: s.Stop})
		}
		p := map[string][]float64{}
		for j := range rec.Windows {
			if err := ds.ReadWindow(int(rec.FirstWindow+j), buf); err != nil {
				t.Fatal(err)
			}
			rms := make([]float64, len(ds.Channels()))
			for c := range rms {
				x := make([]float64, W)
				for k := range x {
					x[k] = float64(buf[c*W+k])
				}
				rms[c] = rmsPerChannel([][]float64{x})[0]
			}
			for name, f := range feats {
				v := f(rms)
				p[name] = append(p[name], v/(1+v))
			}
		}
		for name := range feats {
			traced[name] = append(traced[name], scoring.TracedRecording{Name: rec.File, Duration: float64(rec.Windows) * winS,
				Trace: postproc.Trace{Rate: 1 / winS, P: p[name]}, Ref: ref})
		}
	}
	out := map[string]scoring.Curve{}
	for name, tr := range traced {
		c, err := scoring.Curves(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = c
	}
	return out
}
