// Package cachetest writes small synthetic TUSZ corpora (EDF + csv_bi in
// the TUSZ layout) for tests of the cache and its stage kinds, including
// recordings damaged in the ways populate_cache must catch.
package cachetest

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipeml/pipe/eeg/annot"
	"github.com/pipeml/pipe/eeg/edf"
)

// TUHLabels are the 19 electrodes in TUH file order.
var TUHLabels = []string{"FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4", "T5", "T6", "FZ", "CZ", "PZ"}

// Rec describes one synthetic TUSZ recording.
type Rec struct {
	Split, Patient, Session, Token string
	// Seconds is the length; Seizures the seizure intervals in seconds.
	Seconds  int
	Seizures [][2]float64
	// Damage: DropChannels leaves out the last electrodes, Truncate cuts
	// bytes off the EDF, CSVBI replaces the csv_bi content, CSVDuration
	// overrides the duration the csv_bi states.
	DropChannels int
	Truncate     int
	CSVBI        string
	CSVDuration  float64
	// Gap writes an EDF+D file whose second half starts 10 s after the
	// end of its first half.
	Gap bool
}

// Base is the file name without extension.
func (c Rec) Base() string { return c.Patient + "_" + c.Session + "_" + c.Token }

// WriteRec writes one recording (EDF at 250 Hz in µV with TUH labels,
// and its csv_bi) under root in the TUSZ layout.
func WriteRec(t testing.TB, root string, c Rec) string {
	t.Helper()
	dir := filepath.Join(root, c.Split, c.Patient, c.Session+"_2015", "01_tcp_ar")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	labels := TUHLabels[:len(TUHLabels)-c.DropChannels]
	spec := edf.FileSpec{Format: edf.EDF, Patient: c.Patient, Recording: "synthetic", Start: time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), RecordDuration: time.Second}
	if c.Gap {
		spec.Format, spec.Patient, spec.Recording = edf.EDFPlusD, "", ""
	}
	for _, l := range labels {
		spec.Signals = append(spec.Signals, edf.SignalSpec{Label: "EEG " + l + "-REF", Unit: "uV",
			PhysicalMin: -4999.84, PhysicalMax: 4999.847, DigitalMin: -32767, DigitalMax: 32767, SamplesPerRecord: 250})
	}
	spec.Signals = append(spec.Signals, edf.SignalSpec{Label: "IBI", Unit: "sec", PhysicalMin: -3276.7, PhysicalMax: 3276.7, DigitalMin: -32767, DigitalMax: 32767, SamplesPerRecord: 1})
	path := filepath.Join(dir, c.Base()+".edf")
	w, err := edf.Create(path, spec)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(len(c.Base())), uint64(c.Seconds)))
	n := c.Seconds * 250
	data := make([][]float64, len(spec.Signals))
	for i := range labels {
		x := make([]float64, n)
		for j := range x {
			tt := float64(j) / 250
			x[j] = 20*math.Sin(2*math.Pi*9.8*tt+float64(i)) + 10*rng.NormFloat64() + 30
			for _, s := range c.Seizures {
				if tt >= s[0] && tt < s[1] {
					x[j] += 150 * math.Sin(2*math.Pi*4*tt)
				}
			}
		}
		data[i] = x
	}
	data[len(labels)] = make([]float64, c.Seconds)
	if c.Gap {
		half := c.Seconds / 2
		for _, part := range []struct {
			at       time.Duration
			from, to int
		}{{0, 0, half}, {time.Duration(half+10) * time.Second, half, c.Seconds}} {
			chunk := make([][]float64, len(data))
			for i := range data {
				spr := len(data[i]) / c.Seconds
				chunk[i] = data[i][part.from*spr : part.to*spr]
			}
			if err := w.WritePhysicalAt(part.at, chunk); err != nil {
				t.Fatal(err)
			}
		}
	} else if err := w.WritePhysical(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if c.Truncate > 0 {
		st, _ := os.Stat(path)
		if err := os.Truncate(path, st.Size()-int64(c.Truncate)); err != nil {
			t.Fatal(err)
		}
	}
	f := &annot.File{Duration: float64(c.Seconds), Bname: c.Base()}
	if c.CSVDuration > 0 {
		f.Duration = c.CSVDuration
	}
	at := 0.0
	for _, s := range c.Seizures {
		if s[0] > at {
			f.Events = append(f.Events, annot.Event{Channel: annot.Term, Start: at, Stop: s[0], Label: annot.Background, Confidence: 1})
		}
		f.Events = append(f.Events, annot.Event{Channel: annot.Term, Start: s[0], Stop: s[1], Label: "fnsz", Confidence: 1})
		at = s[1]
	}
	if at < f.Duration {
		f.Events = append(f.Events, annot.Event{Channel: annot.Term, Start: at, Stop: f.Duration, Label: annot.Background, Confidence: 1})
	}
	csv := filepath.Join(dir, c.Base()+".csv_bi")
	if c.CSVBI != "" {
		if err := os.WriteFile(csv, []byte(c.CSVBI), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err := annot.WriteFile(csv, f); err != nil {
		t.Fatal(err)
	}
	return path
}

// GoodCorpus is a small valid corpus: 5 recordings in three splits, one
// shorter than a 60 s window.
func GoodCorpus() []Rec {
	return []Rec{
		{Split: "train", Patient: "aaaaaaaa", Session: "s001", Token: "t000", Seconds: 90, Seizures: [][2]float64{{20, 45}}},
		{Split: "train", Patient: "aaaaaaaa", Session: "s001", Token: "t001", Seconds: 75},
		{Split: "train", Patient: "aaaaaaab", Session: "s002", Token: "t000", Seconds: 30}, // shorter than a window
		{Split: "dev", Patient: "aaaaaaac", Session: "s001", Token: "t000", Seconds: 80, Seizures: [][2]float64{{5, 15}, {60, 70}}},
		{Split: "eval", Patient: "aaaaaaad", Session: "s001", Token: "t000", Seconds: 70, Seizures: [][2]float64{{30, 40}}},
	}
}

// BadCorpus holds one recording per kind of damage (truncated EDF, missing
// channels, malformed csv_bi, annotation outside the recording, csv_bi
// duration not matching the EDF, EDF+D with a gap), all of patient
// aaaaaaae in train.
func BadCorpus() []Rec {
	return []Rec{
		{Split: "train", Patient: "aaaaaaae", Session: "s001", Token: "t000", Seconds: 70, Truncate: 3000},
		{Split: "train", Patient: "aaaaaaae", Session: "s001", Token: "t001", Seconds: 70, DropChannels: 5},
		{Split: "train", Patient: "aaaaaaae", Session: "s001", Token: "t002", Seconds: 70, CSVBI: "# version = csv_v1.0.0\n# duration = 70.00 secs\n#\nchannel,start_time,stop_time,label,confidence\nTERM,0.0,seiz\n"},
		{Split: "train", Patient: "aaaaaaae", Session: "s001", Token: "t003", Seconds: 70, Seizures: [][2]float64{{60, 95}}, CSVDuration: 70},
		{Split: "train", Patient: "aaaaaaae", Session: "s001", Token: "t004", Seconds: 70, CSVDuration: 1831},
		{Split: "train", Patient: "aaaaaaae", Session: "s001", Token: "t005", Seconds: 70, Gap: true},
	}
}

// MakeCorpus writes recs into a new temporary TUSZ root and returns it.
func MakeCorpus(t testing.TB, recs []Rec) string {
	root := t.TempDir()
	for _, split := range []string{"train", "dev", "eval"} {
		os.MkdirAll(filepath.Join(root, split), 0o755)
	}
	for _, r := range recs {
		WriteRec(t, root, r)
	}
	return root
}
