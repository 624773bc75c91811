package edf_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/edf/edftest"
)

// writeCase is one file written by the round-trip tests.
type writeCase struct {
	name   string
	spec   edf.FileSpec
	nrec   int
	annots []edf.Annotation
}

func writeCases() []writeCase {
	start := time.Date(2021, 3, 14, 15, 9, 26, 0, time.UTC)
	eeg := func(label string, spr int) edf.SignalSpec {
		return edf.SignalSpec{Label: label, Transducer: "AgAgCl electrode", Unit: "uV", Prefilter: "HP:0.5Hz LP:70Hz",
			PhysicalMin: -3276.7, PhysicalMax: 3276.7, DigitalMin: -32767, DigitalMax: 32767, SamplesPerRecord: spr}
	}
	return []writeCase{
		{
			name: "edfplus_1s_mixed_rates.edf",
			spec: edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second, Signals: []edf.SignalSpec{
				eeg("EEG FP1-REF", 256), eeg("EEG FP2-REF", 256),
				{Label: "ECG", Unit: "mV", PhysicalMin: -5, PhysicalMax: 12.5, DigitalMin: -2048, DigitalMax: 2047, SamplesPerRecord: 100},
				{Label: "SpO2", Unit: "%", PhysicalMin: 0, PhysicalMax: 100, DigitalMin: 0, DigitalMax: 1000, SamplesPerRecord: 1},
			}},
			nrec: 37,
			annots: []edf.Annotation{
				{Onset: 0, Text: "Recording starts"},
				{Onset: 12500 * time.Millisecond, Duration: 7250 * time.Millisecond, HasDuration: true, Text: "seiz"},
				{Onset: 12500 * time.Millisecond, Text: "Überprüfung 中文"},
				{Onset: 36 * time.Second, Duration: 0, HasDuration: true, Text: "zero-length"},
			},
		},
		{
			name: "edfplus_half_second_subsecond_start.edf",
			spec: edf.FileSpec{Format: edf.EDFPlusC, Start: start.Add(394531200 * time.Nanosecond), RecordDuration: 500 * time.Millisecond,
				Signals: []edf.SignalSpec{eeg("C3", 128), eeg("C4", 64)}},
			nrec:   21,
			annots: []edf.Annotation{{Onset: 1951171900 * time.Nanosecond, Text: "XLSpike"}},
		},
		{
			name: "edfplus_013s_records.edf",
			spec: edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: 130 * time.Millisecond,
				Signals: []edf.SignalSpec{eeg("O1", 13), eeg("O2", 26)}},
			nrec: 100,
			// many annotations in one record: they spill into later records
			annots: func() []edf.Annotation {
				var a []edf.Annotation
				for i := 0; i < 30; i++ {
					a = append(a, edf.Annotation{Onset: 260 * time.Millisecond, Text: "burst"})
				}
				return a
			}(),
		},
		{
			name: "bdfplus_2s_records.bdf",
			spec: edf.FileSpec{Format: edf.BDFPlusC, Start: start, RecordDuration: 2 * time.Second, Signals: []edf.SignalSpec{
				{Label: "Fz", Unit: "uV", PhysicalMin: -262144, PhysicalMax: 262143.96875, DigitalMin: -8388608, DigitalMax: 8388607, SamplesPerRecord: 1024},
				{Label: "Status", Unit: "Boolean", PhysicalMin: -8388608, PhysicalMax: 8388607, DigitalMin: -8388608, DigitalMax: 8388607, SamplesPerRecord: 1024},
			}},
			nrec:   9,
			annots: []edf.Annotation{{Onset: 3 * time.Second, Duration: 1500 * time.Millisecond, HasDuration: true, Text: "stim"}},
		},
		{
			name: "plain_edf.edf",
			spec: edf.FileSpec{Format: edf.EDF, Patient: "patient 1", Recording: "plain EDF test", Start: start, RecordDuration: time.Second,
				Signals: []edf.SignalSpec{eeg("EEG CZ-REF", 250)}},
			nrec: 12,
		},
	}
}

// signalValues makes physical test values for signal i: a sine plus noise,
// spanning beyond the physical range so that clamping is exercised.
func signalValues(rng *rand.Rand, s edf.SignalSpec, n int) []float64 {
	v := make([]float64, n)
	mid := (s.PhysicalMax + s.PhysicalMin) / 2
	amp := (s.PhysicalMax - s.PhysicalMin) / 2
	for j := range v {
		v[j] = mid + 1.05*amp*math.Sin(float64(j)/7.3) + 0.01*amp*rng.NormFloat64()
	}
	return v
}

// writeCaseFile writes c into dir and returns the path and the input values.
func writeCaseFile(t *testing.T, dir string, c writeCase) (string, [][]float64) {
	t.Helper()
	path := filepath.Join(dir, c.name)
	w, err := edf.Create(path, c.spec)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(len(c.name))))
	in := make([][]float64, len(c.spec.Signals))
	for i, s := range c.spec.Signals {
		in[i] = signalValues(rng, s, c.nrec*s.SamplesPerRecord)
	}
	// Write in uneven batches of records.
	for r := 0; r < c.nrec; {
		k := min(1+r%4, c.nrec-r)
		batch := make([][]float64, len(in))
		for i, s := range c.spec.Signals {
			batch[i] = in[i][r*s.SamplesPerRecord : (r+k)*s.SamplesPerRecord]
		}
		if err := w.WritePhysical(batch); err != nil {
			t.Fatal(err)
		}
		r += k
	}
	for _, a := range c.annots {
		if err := w.Annotate(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, in
}

// TestWriterRoundTrip writes files and reads them back with this package's
// reader: header fields, quantised samples and annotations must match.
func TestWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, c := range writeCases() {
		t.Run(c.name, func(t *testing.T) {
			path, in := writeCaseFile(t, dir, c)
			r, err := edf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			h := r.Header()
			if len(h.Warnings) > 0 {
				t.Errorf("warnings reading a written file: %q", h.Warnings)
			}
			if h.Format != c.spec.Format || h.Records != int64(c.nrec) || h.DeclaredRecords != int64(c.nrec) || h.RecordDuration != c.spec.RecordDuration {
				t.Errorf("header %v %d/%d %v", h.Format, h.Records, h.DeclaredRecords, h.RecordDuration)
			}
			if !h.Start.Equal(c.spec.Start) {
				t.Errorf("start %v, want %v", h.Start, c.spec.Start)
			}
			data := h.DataSignals()
			if len(data) != len(c.spec.Signals) {
				t.Fatalf("%d data signals", len(data))
			}
			for i, sig := range data {
				s := &h.Signals[sig]
				if s.Label != c.spec.Signals[i].Label || s.Unit != c.spec.Signals[i].Unit || s.Prefilter != c.spec.Signals[i].Prefilter {
					t.Errorf("signal %d: %q %q %q", i, s.Label, s.Unit, s.Prefilter)
				}
				got := make([]float64, len(in[i]))
				if _, err := r.ReadPhysical(sig, 0, got); err != nil {
					t.Fatal(err)
				}
				lo, hi := math.Min(s.PhysicalMin, s.PhysicalMax), math.Max(s.PhysicalMin, s.PhysicalMax)
				for j, v := range in[i] {
					want := math.Max(lo, math.Min(hi, v))
					if math.Abs(got[j]-want) > s.Gain()/2*(1+1e-9) {
						t.Fatalf("signal %d sample %d: read %g, wrote %g (step %g)", i, j, got[j], v, s.Gain())
					}
				}
			}
			ann := r.Annotations()
			if len(ann) != len(c.annots) {
				t.Fatalf("%d annotations, wrote %d", len(ann), len(c.annots))
			}
			for i, a := range ann {
				w := c.annots[i]
				if a.Onset != w.Onset || a.Text != w.Text || a.HasDuration != w.HasDuration || a.Duration != w.Duration {
					t.Errorf("annotation %d: %+v, wrote %+v", i, a, w)
				}
			}
		})
	}
}

// TestWriterEDFlib checks that EDFlib reads written files exactly as this
// package's reader does (and hence as written).
func TestWriterEDFlib(t *testing.T) {
	tool := edftest.BuildEDFDump(t)
	dir := t.TempDir()
	for _, c := range writeCases() {
		t.Run(c.name, func(t *testing.T) {
			path, _ := writeCaseFile(t, dir, c)
			o, err := edftest.RunEDFDump(tool, path)
			if err != nil {
				t.Fatal(err)
			}
			if o.Error != nil {
				t.Fatalf("EDFlib refuses the written file: error %d", *o.Error)
			}
			r, err := edf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			compareOracle(t, r, o)
		})
	}
}

// TestWriterDiscontinuous writes an EDF+D file with gaps and checks record
// start times, sample timing and annotations.
func TestWriterDiscontinuous(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 250_000_000, time.UTC)
	spec := edf.FileSpec{Format: edf.EDFPlusD, Start: start, RecordDuration: time.Second,
		Signals: []edf.SignalSpec{{Label: "EEG", Unit: "uV", PhysicalMin: -100, PhysicalMax: 100, DigitalMin: -1000, DigitalMax: 1000, SamplesPerRecord: 10}}}
	path := filepath.Join(t.TempDir(), "d.edf")
	w, err := edf.Create(path, spec)
	if err != nil {
		t.Fatal(err)
	}
	seg := func(v float64, recs int) [][]float64 {
		x := make([]float64, recs*10)
		for i := range x {
			x[i] = v
		}
		return [][]float64{x}
	}
	if err := w.WritePhysical(seg(1, 3)); err != nil { // records at 0, 1, 2 s
		t.Fatal(err)
	}
	if err := w.WritePhysicalAt(10*time.Second, seg(2, 2)); err != nil { // 10, 11 s
		t.Fatal(err)
	}
	if err := w.WritePhysicalAt(11*time.Second, seg(3, 1)); err == nil {
		t.Fatal("overlapping record accepted")
	}
	if err := w.WritePhysicalAt(12500*time.Millisecond, seg(3, 1)); err != nil { // 12.5 s
		t.Fatal(err)
	}
	if err := w.Annotate(edf.Annotation{Onset: 10500 * time.Millisecond, Text: "after gap"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := edf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := r.Header()
	if h.Format != edf.EDFPlusD || h.Records != 6 || !h.Start.Equal(start) || !r.Discontinuous() {
		t.Fatalf("header %v %d %v discontinuous=%v", h.Format, h.Records, h.Start, r.Discontinuous())
	}
	want := []time.Duration{0, time.Second, 2 * time.Second, 10 * time.Second, 11 * time.Second, 12500 * time.Millisecond}
	for i, ws := range want {
		if got := r.RecordStart(int64(i)); got != ws {
			t.Errorf("record %d starts at %v, want %v", i, got, ws)
		}
	}
	a := r.Annotations()
	if len(a) != 1 || a[0].Onset != 10500*time.Millisecond || a[0].Record != 3 {
		t.Errorf("annotations %+v", a)
	}
	x := make([]float64, 60)
	if _, err := r.ReadPhysical(0, 0, x); err != nil {
		t.Fatal(err)
	}
	if x[29] != 1 || x[30] != 2 || x[59] != 3 {
		t.Errorf("samples %v", x)
	}
}

// TestWriterErrors checks that bad specs and data are refused with a message
// naming the problem, and that a failed Create leaves no file behind.
func TestWriterErrors(t *testing.T) {
	start := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	good := edf.SignalSpec{Label: "A", PhysicalMin: -1, PhysicalMax: 1, DigitalMin: -10, DigitalMax: 10, SamplesPerRecord: 2}
	cases := []struct {
		name string
		spec edf.FileSpec
		want string
	}{
		{"no signals", edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second}, "no signals"},
		{"zero duration", edf.FileSpec{Format: edf.EDFPlusC, Start: start, Signals: []edf.SignalSpec{good}}, "record duration"},
		{"digital range", edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second, Signals: []edf.SignalSpec{{Label: "A", PhysicalMin: -1, PhysicalMax: 1, DigitalMin: 5, DigitalMax: 5, SamplesPerRecord: 1}}}, "digital range"},
		{"edf digital overflow", edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second, Signals: []edf.SignalSpec{{Label: "A", PhysicalMin: -1, PhysicalMax: 1, DigitalMin: -40000, DigitalMax: 5, SamplesPerRecord: 1}}}, "digital range"},
		{"physical equal", edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second, Signals: []edf.SignalSpec{{Label: "A", PhysicalMin: 1, PhysicalMax: 1.000000001, DigitalMin: -1, DigitalMax: 1, SamplesPerRecord: 1}}}, "physical minimum equals"},
		{"nan physical", edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second, Signals: []edf.SignalSpec{{Label: "A", PhysicalMin: math.NaN(), PhysicalMax: 1, DigitalMin: -1, DigitalMax: 1, SamplesPerRecord: 1}}}, "not a finite number"},
		{"long label", edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second, Signals: []edf.SignalSpec{{Label: "a label longer than 16", PhysicalMin: -1, PhysicalMax: 1, DigitalMin: -1, DigitalMax: 1, SamplesPerRecord: 1}}}, "longer than 16"},
		{"non-ascii label", edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second, Signals: []edf.SignalSpec{{Label: "Fp1–Ref", PhysicalMin: -1, PhysicalMax: 1, DigitalMin: -1, DigitalMax: 1, SamplesPerRecord: 1}}}, "not printable ASCII"},
		{"subsecond plain", edf.FileSpec{Format: edf.EDF, Start: start.Add(time.Millisecond), RecordDuration: time.Second, Signals: []edf.SignalSpec{good}}, "sub-second"},
		{"year", edf.FileSpec{Format: edf.EDFPlusC, Start: time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC), RecordDuration: time.Second, Signals: []edf.SignalSpec{good}}, "start year"},
		{"no start", edf.FileSpec{Format: edf.EDFPlusC, RecordDuration: time.Second, Signals: []edf.SignalSpec{good}}, "start time"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := edf.Create(filepath.Join(dir, "x.edf"), c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	spec := edf.FileSpec{Format: edf.EDFPlusC, Start: start, RecordDuration: time.Second, Signals: []edf.SignalSpec{good, good}}
	path := filepath.Join(dir, "data.edf")
	w, err := edf.Create(path, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		data [][]float64
		want string
	}{
		{[][]float64{{1, 2}}, "1 signals given"},
		{[][]float64{{1, 2}, {1, 2, 3}}, "same whole number"},
		{[][]float64{{1, math.NaN()}, {1, 2}}, "sample 1 is NaN"},
		{[][]float64{{1, 2}, {math.Inf(1), 2}}, "sample 0 is +Inf"},
	} {
		if err := w.WritePhysical(bad.data); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("write %v: error %v, want %q", bad.data, err, bad.want)
		}
	}
	if err := w.Annotate(edf.Annotation{Text: strings.Repeat("x", 200)}); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("oversized annotation: %v", err)
	}
	if err := w.Annotate(edf.Annotation{Text: "a\x14b"}); err == nil {
		t.Error("annotation with a TAL delimiter accepted")
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "no data records") {
		t.Errorf("close without records: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("file left behind: %s", e.Name())
	}
}
