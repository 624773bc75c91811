package edf_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/edf/edftest"
)

// overlappingFile is the one shared file EDFlib refuses: the prefiltering
// field of its annotation signal is "HP:0Hz LP:0Hz N:0Hz" where EDF+ requires
// spaces. Decision: read it (as MNE does), since the field carries no data,
// and report the deviation in Header.Warnings. The expected reading is
// EDFlib's reading of a copy with that field blanked
// (testdata/make_overlapping_oracle.sh).
const overlappingFile = "test_edf_overlapping_annotations.edf"

func TestOverlappingAnnotations(t *testing.T) {
	path := filepath.Join(edftest.SharedDir(t, "data", "edf"), overlappingFile)
	o, err := edftest.LoadOracle(filepath.Join("testdata", "overlapping_annotations.oracle.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := edf.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer r.Close()
	compareOracle(t, r, o)
	found := false
	for _, w := range r.Header().Warnings {
		if strings.Contains(w, "annotation signal 65") && strings.Contains(w, "prefiltering") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning about the annotation signal's prefiltering field: %q", r.Header().Warnings)
	}
	// Annotations overlap in time (T0 at 0–1.375 s, T1 at 1.375–6.5 s, ...)
	// and are kept as written, none merged or dropped.
	if n := len(r.Annotations()); n != 38 {
		t.Errorf("%d annotations, want 38", n)
	}
}
