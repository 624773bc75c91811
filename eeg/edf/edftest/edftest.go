// Package edftest holds test helpers for code that reads or writes EDF files:
// locating the shared reference data (../shared beside the repository) and
// running the EDFlib oracle program (../shared/tools/edfdump) on a file.
package edftest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, found by walking up from the
// working directory (a test's package directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// SharedDir returns the absolute path of ../shared/<elem...> relative to the
// repository root, skipping the test with a message when it does not exist.
func SharedDir(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{RepoRoot(t), "..", "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared reference data not available: %s (%v)", p, err)
	}
	return p
}

// BuildEDFDump compiles the EDFlib oracle program
// ../shared/tools/edfdump/edfdump.c (needs a C compiler and libedf-dev) into
// a temporary directory and returns its path. It skips the test, naming the
// cause, when the program cannot be built.
func BuildEDFDump(t testing.TB) string {
	t.Helper()
	src := filepath.Join(SharedDir(t, "tools", "edfdump"), "edfdump.c")
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skipf("cannot build the EDFlib oracle: no C compiler (%v)", err)
	}
	out := filepath.Join(t.TempDir(), "edfdump")
	cmd := exec.Command(cc, "-O2", "-o", out, src, "-ledf", "-lm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build the EDFlib oracle (is libedf-dev installed?): %v\n%s", err, msg)
	}
	return out
}

// Oracle is what edfdump prints for one file.
type Oracle struct {
	File                 string         `json:"file"`
	Error                *int           `json:"error"`
	FileType             string         `json:"filetype"`
	Signals              int            `json:"n_signals_excl_annotations"`
	DataRecords          int64          `json:"datarecords"`
	DataRecordDurationS  float64        `json:"datarecord_duration_s"`
	FileDurationS        float64        `json:"file_duration_s"`
	Start                string         `json:"start"`
	StartSubsecondS      float64        `json:"starttime_subsecond_s"`
	SignalParams         []OracleSignal `json:"signals"`
	Annotations          []OracleAnnot  `json:"annotations"`
	EDFlibVersionPrinted int            `json:"edflib_version"`
}

// OracleSignal is one signal of an Oracle.
type OracleSignal struct {
	Label         string    `json:"label"`
	Dim           string    `json:"dim"`
	PhysMin       float64   `json:"phys_min"`
	PhysMax       float64   `json:"phys_max"`
	DigMin        int32     `json:"dig_min"`
	DigMax        int32     `json:"dig_max"`
	SmpInRecord   int       `json:"smp_in_datarecord"`
	Fs            float64   `json:"fs"`
	SmpInFile     int64     `json:"smp_in_file"`
	Read          int64     `json:"read"`
	PhysSum       float64   `json:"phys_sum"`
	PhysSumSq     float64   `json:"phys_sumsq"`
	FirstDigital  []int32   `json:"first_digital"`
	FirstPhysical []float64 `json:"first_physical"`
	LastPhysical  []float64 `json:"last_physical"`
}

// OracleAnnot is one annotation of an Oracle.
type OracleAnnot struct {
	OnsetS   float64 `json:"onset_s"`
	Duration string  `json:"duration"`
	Text     string  `json:"text"`
}

// LoadOracle reads an oracle JSON file.
func LoadOracle(path string) (*Oracle, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseOracle(b)
}

// ParseOracle parses edfdump output.
func ParseOracle(b []byte) (*Oracle, error) {
	var o Oracle
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("parse oracle: %w", err)
	}
	return &o, nil
}

// RunEDFDump runs the oracle program tool on file and parses its output. A
// file EDFlib refuses gives an Oracle with Error set, not an error.
func RunEDFDump(tool, file string) (*Oracle, error) {
	out, err := exec.Command(tool, file).Output()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok || len(out) == 0 {
			return nil, fmt.Errorf("run %s %s: %w", tool, file, err)
		}
	}
	return ParseOracle(out)
}
