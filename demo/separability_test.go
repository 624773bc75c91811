package demo

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/cmplx"
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

// curves scores per-window feature values with the sample-level AUROC of
// the scoring package: traced[name] holds one trace per recording.
func curves(t *testing.T, traced map[string][]scoring.TracedRecording) map[string]scoring.Curve {
	t.Helper()
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

// trace makes a TracedRecording of per-window values (mapped monotonically
// into [0, 1), which keeps the AUROC) for windows of winS seconds.
func trace(name string, v []float64, winS float64, ref []scoring.Event) scoring.TracedRecording {
	p := make([]float64, len(v))
	for i, x := range v {
		p[i] = x / (1 + x)
	}
	return scoring.TracedRecording{Name: name, Duration: float64(len(p)) * winS, Trace: postproc.Trace{Rate: 1 / winS, P: p}, Ref: ref}
}

// scoreTree computes, for every feature and window length, the AUROC of
// the feature on non-overlapping windows of the raw EDF signals (19 scalp
// channels) of every recording of the tree; keys are "<feature>@<win>s".
func scoreTree(t *testing.T, root string, wins []float64, feats []feature) map[string]scoring.Curve {
	t.Helper()
	corpus, err := tusz.Walk(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	traced := map[string][]scoring.TracedRecording{}
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
		for _, winS := range wins {
			win := int64(math.Round(winS * fs))
			for _, feat := range feats {
				var v []float64
				for s := int64(0); s+win <= total; s += win {
					w := make([][]float64, len(x))
					for i := range x {
						w[i] = x[i][s : s+win]
					}
					v = append(v, feat.fn(w, fs))
				}
				key := fmt.Sprintf("%s@%gs", feat.name, winS)
				traced[key] = append(traced[key], trace(rec.ID(), v, winS, ref))
			}
		}
	}
	return curves(t, traced)
}

// TestNotSeparableByAmplitude generates a corpus and checks that per-window
// amplitude thresholds score an AUROC clearly below 0.9 on it: on the raw
// EDF signals (mean, max and global RMS over channels, largest
// peak-to-peak) and on the preprocessed cache windows a detector is fed
// (mean and max RMS), for 2 s and 10 s windows. A crude spectral rhythm
// score on the same windows does separate seizures: the data needs a
// detector that learns the rhythm, and one can.
func TestNotSeparableByAmplitude(t *testing.T) {
	cfg := Config{Out: t.TempDir(), Patients: PatientCounts{Train: 6, Dev: 2, Eval: 2}, Recordings: 1, Minutes: 5, SeizureRate: 12, Seed: 3}
	generate(t, cfg)
	wins := []float64{2, 10}
	cs := scoreTree(t, cfg.Out, wins, append(append([]feature{}, amplitudeFeatures...), rhythmFeature))
	maps.Copy(cs, cacheAmplitudeAUROC(t, cfg.Out, 2, []int{1, 5}))
	for _, name := range slices.Sorted(maps.Keys(cs)) {
		c := cs[name]
		t.Logf("%-22s AUROC %.3f (%d seizure, %d background windows)", name, c.AUROC, c.Positives, c.Negatives)
		if strings.HasPrefix(name, rhythmFeature.name+"@") {
			if !(c.AUROC >= 0.85) {
				t.Errorf("%s: the rhythm score reaches AUROC %.3f only; seizures should be learnable", name, c.AUROC)
			}
		} else if !(c.AUROC < 0.8) {
			t.Errorf("amplitude (%s) separates seizures with AUROC %.3f; want < 0.8", name, c.AUROC)
		}
	}
	if len(cs) != 2*(len(amplitudeFeatures)+1)+2*2 {
		t.Errorf("%d scores", len(cs))
	}
}

// cacheAmplitudeAUROC populates a cache of the tree at root with windows of
// winS seconds (no overlap) and the default preprocessing (band-pass,
// notch, per-recording z-score: what a detector is fed), and scores the
// mean and maximum over channels of the RMS of groups of k consecutive
// windows, for each k in groups; keys are "cache-rms-{mean,max}@<k·winS>s".
func cacheAmplitudeAUROC(t *testing.T, root string, winS float64, groups []int) map[string]scoring.Curve {
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
	W, C := ds.WindowSamples(), len(ds.Channels())
	buf := make([]float32, C*W)
	traced := map[string][]scoring.TracedRecording{}
	for _, rec := range ds.Manifest().Recordings {
		var ref []scoring.Event
		for _, s := range rec.Seizures {
			ref = append(ref, scoring.Event{Start: s.Start, Stop: s.Stop})
		}
		// ms[j][c]: mean square of channel c in window j (the data is
		// band-passed, so its mean is zero)
		ms := make([][]float64, rec.Windows)
		for j := range ms {
			if err := ds.ReadWindow(int(rec.FirstWindow)+j, buf); err != nil {
				t.Fatal(err)
			}
			ms[j] = make([]float64, C)
			for c := range C {
				var ss float64
				for _, v := range buf[c*W : (c+1)*W] {
					ss += float64(v) * float64(v)
				}
				ms[j][c] = ss / float64(W)
			}
		}
		for _, k := range groups {
			var mean, mx []float64
			for j := 0; j+k <= len(ms); j += k {
				var sum, top float64
				for c := range C {
					var m float64
					for _, w := range ms[j : j+k] {
						m += w[c]
					}
					r := math.Sqrt(m / float64(k))
					sum += r
					top = math.Max(top, r)
				}
				mean, mx = append(mean, sum/float64(C)), append(mx, top)
			}
			w := float64(k) * winS
			traced[fmt.Sprintf("cache-rms-mean@%gs", w)] = append(traced[fmt.Sprintf("cache-rms-mean@%gs", w)], trace(rec.File, mean, w, ref))
			traced[fmt.Sprintf("cache-rms-max@%gs", w)] = append(traced[fmt.Sprintf("cache-rms-max@%gs", w)], trace(rec.File, mx, w, ref))
		}
	}
	return curves(t, traced)
}
