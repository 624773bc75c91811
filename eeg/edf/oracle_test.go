package edf_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/edf/edftest"
)

// sharedEDFFiles lists the EDF/BDF files in ../shared/data/edf.
func sharedEDFFiles(t *testing.T) (dir string, files []string) {
	t.Helper()
	dir = edftest.SharedDir(t, "data", "edf")
	for _, pat := range []string{"*.edf", "*.bdf"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("no EDF files in %s", dir)
	}
	return dir, files
}

// TestOracle checks the reader against EDFlib's output for every shared file.
func TestOracle(t *testing.T) {
	dir, files := sharedEDFFiles(t)
	checked := 0
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			o, err := edftest.LoadOracle(filepath.Join(dir, "oracle", name+".json"))
			if os.IsNotExist(err) {
				t.Skipf("no oracle JSON for %s (TestOracleLive covers it when EDFlib is installed)", name)
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Error != nil {
				if name != overlappingFile {
					t.Fatalf("EDFlib refuses %s (error %d) and no decision is recorded for it", name, *o.Error)
				}
				t.Skipf("EDFlib refuses %s; TestOverlappingAnnotations covers it", name)
			}
			r, err := edf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			compareOracle(t, r, o)
			checked++
		})
	}
	t.Logf("%d files agree with the EDFlib oracle", checked)
}

// TestOracleLive runs EDFlib itself (when it can be built) on every shared
// file, including those without a committed oracle JSON.
func TestOracleLive(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	_, files := sharedEDFFiles(t)
	tool := edftest.BuildEDFDump(t)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			o, err := edftest.RunEDFDump(tool, path)
			if err != nil {
				t.Fatal(err)
			}
			if o.Error != nil {
				t.Skipf("EDFlib refuses %s (error %d)", name, *o.Error)
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

// relClose reports whether got and want agree to tol relative to want (or
// absolutely when want is 0).
func relClose(got, want, tol float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), math.SmallestNonzeroFloat64)
}

// oracleClose compares a value with one printed by the oracle with %.10g.
func oracleClose(got, want float64) bool {
	return relClose(got, want, 1e-9) || math.Abs(got-want) < 1e-12
}

func compareOracle(t *testing.T, r *edf.Reader, o *edftest.Oracle) {
	t.Helper()
	h := r.Header()
	wantType := map[edf.Format]string{edf.EDF: "EDF", edf.EDFPlusC: "EDF+", edf.EDFPlusD: "EDF+", edf.BDF: "BDF", edf.BDFPlusC: "BDF+", edf.BDFPlusD: "BDF+"}[h.Format]
	if wantType != o.FileType {
		t.Errorf("format %v, oracle %s", h.Format, o.FileType)
	}
	data := h.DataSignals()
	if len(data) != o.Signals {
		t.Fatalf("%d data signals, oracle %d", len(data), o.Signals)
	}
	if h.Records != o.DataRecords {
		t.Errorf("records %d, oracle %d", h.Records, o.DataRecords)
	}
	if math.Abs(h.RecordDuration.Seconds()-o.DataRecordDurationS) > 1e-7 {
		t.Errorf("record duration %v, oracle %g s", h.RecordDuration, o.DataRecordDurationS)
	}
	if math.Abs(h.Duration().Seconds()-o.FileDurationS) > 1e-7 {
		t.Errorf("duration %v, oracle %g s", h.Duration(), o.FileDurationS)
	}
	start, err := time.Parse("2006-01-02T15:04:05", o.Start)
	if err != nil {
		t.Fatalf("oracle start %q: %v", o.Start, err)
	}
	start = start.Add(time.Duration(math.Round(o.StartSubsecondS*1e7)) * 100)
	if !h.Start.Equal(start) {
		t.Errorf("start %v, oracle %v", h.Start, start)
	}

	// Whole signals through ReadPhysical / ReadDigital, one signal at a time.
	for i, sig := range data {
		s := h.Signals[sig]
		os := o.SignalParams[i]
		if s.Label != strings.TrimSpace(os.Label) || s.Unit != strings.TrimSpace(os.Dim) {
			t.Errorf("signal %d: label/unit %q/%q, oracle %q/%q", i, s.Label, s.Unit, os.Label, os.Dim)
		}
		if !oracleClose(s.PhysicalMin, os.PhysMin) || !oracleClose(s.PhysicalMax, os.PhysMax) || s.DigitalMin != os.DigMin || s.DigitalMax != os.DigMax {
			t.Errorf("signal %d: ranges %g..%g %d..%d, oracle %g..%g %d..%d", i, s.PhysicalMin, s.PhysicalMax, s.DigitalMin, s.DigitalMax, os.PhysMin, os.PhysMax, os.DigMin, os.DigMax)
		}
		if s.SamplesPerRecord != os.SmpInRecord || !oracleClose(s.SampleRate, os.Fs) || h.Samples(sig) != os.SmpInFile {
			t.Errorf("signal %d: spr %d rate %g samples %d, oracle %d %g %d", i, s.SamplesPerRecord, s.SampleRate, h.Samples(sig), os.SmpInRecord, os.Fs, os.SmpInFile)
		}
		phys := make([]float64, h.Samples(sig))
		n, err := r.ReadPhysical(sig, 0, phys)
		if err != nil || int64(n) != os.Read {
			t.Fatalf("signal %d: read %d (%v), oracle read %d", i, n, err, os.Read)
		}
		sum, sumsq := 0.0, 0.0
		for _, v := range phys {
			sum += v
			sumsq += v * v
		}
		if !oracleClose(sum, os.PhysSum) || !oracleClose(sumsq, os.PhysSumSq) {
			t.Errorf("signal %d (%s): sum %.12g sumsq %.12g, oracle %.10g %.10g", i, s.Label, sum, sumsq, os.PhysSum, os.PhysSumSq)
		}
		k := len(os.FirstDigital)
		dig := make([]int32, k)
		if _, err := r.ReadDigital(sig, 0, dig); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < k; j++ {
			if dig[j] != os.FirstDigital[j] || !oracleClose(phys[j], os.FirstPhysical[j]) || !oracleClose(phys[len(phys)-k+j], os.LastPhysical[j]) {
				t.Errorf("signal %d sample %d: digital %d first %.10g last %.10g, oracle %d %.10g %.10g", i, j, dig[j], phys[j], phys[len(phys)-k+j], os.FirstDigital[j], os.FirstPhysical[j], os.LastPhysical[j])
				break
			}
		}
		// The last samples read on their own (a range at the end).
		tail := make([]float64, k)
		if _, err := r.ReadPhysical(sig, int64(len(phys)-k), tail); err != nil {
			t.Fatal(err)
		}
		for j := range tail {
			if tail[j] != phys[len(phys)-k+j] {
				t.Errorf("signal %d: tail read differs at %d", i, j)
				break
			}
		}
	}

	// All signals at once through ReadRecords (one pass, chunked).
	if h.Records > 0 && len(data) > 0 {
		dst := make([][]float64, len(data))
		for i, sig := range data {
			dst[i] = make([]float64, h.Samples(sig))
		}
		if err := r.ReadRecords(0, h.Records, data, dst); err != nil {
			t.Fatal(err)
		}
		for i := range data {
			sum := 0.0
			for _, v := range dst[i] {
				sum += v
			}
			if !oracleClose(sum, o.SignalParams[i].PhysSum) {
				t.Errorf("ReadRecords signal %d: sum %.12g, oracle %.10g", i, sum, o.SignalParams[i].PhysSum)
			}
		}
	}

	ann := r.Annotations()
	if len(ann) != len(o.Annotations) {
		t.Fatalf("%d annotations, oracle %d: %+v", len(ann), len(o.Annotations), ann)
	}
	for i, a := range ann {
		oa := o.Annotations[i]
		if math.Abs(a.Onset.Seconds()-oa.OnsetS) > 1.5e-7 || a.Text != oa.Text {
			t.Errorf("annotation %d: %v %q, oracle %.7f %q", i, a.Onset, a.Text, oa.OnsetS, oa.Text)
		}
		if a.HasDuration != (oa.Duration != "") {
			t.Errorf("annotation %d: has duration %v, oracle %q", i, a.HasDuration, oa.Duration)
		} else if a.HasDuration {
			d, err := strconv.ParseFloat(oa.Duration, 64)
			if err != nil || math.Abs(a.Duration.Seconds()-d) > 1e-7 {
				t.Errorf("annotation %d: duration %v, oracle %q", i, a.Duration, oa.Duration)
			}
		}
	}
}
