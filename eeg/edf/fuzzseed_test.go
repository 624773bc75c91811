package edf_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pipeml/pipe/eeg/edf"
)

// TestWriteFuzzSeeds regenerates the committed seed corpora in
// testdata/fuzz when PIPE_WRITE_FUZZ_SEEDS=1 (otherwise it is skipped):
//
//	PIPE_WRITE_FUZZ_SEEDS=1 go test ./eeg/edf -run TestWriteFuzzSeeds
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("PIPE_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set PIPE_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz")
	}
	header := map[string][]byte{}
	for _, f := range []edf.Format{edf.EDF, edf.EDFPlusC, edf.EDFPlusD, edf.BDF, edf.BDFPlusC} {
		b := baseFile(t, f)
		header["valid-"+sanitize(f.String())] = b
		header["truncated-"+sanitize(f.String())] = b[:len(b)-7]
	}
	plain := baseFile(t, edf.EDF)
	header["records-unknown"] = put(plain, 236, 8, "-1")
	header["digital-equal"] = put(put(plain, sigField(2, 5, 0), 8, "3"), sigField(2, 6, 0), 8, "3")
	header["comma-duration"] = put(plain, 244, 8, "0,5")
	header["header-only"] = plain[:256*3]
	tal := map[string][]byte{
		"timekeeping":     []byte("+0\x14\x14\x00\x00\x00"),
		"subsecond":       []byte("+0.3945312\x14\x14\x00+2.3457031\x14XLSpike\x14\x00"),
		"duration":        []byte("+0\x14\x14\x00+12.5\x157.25\x14seiz\x14\x00\x00"),
		"several-texts":   []byte("+0\x14\x14\x00+0\x14+0.000000\x14\x00+0\x14A1+A2 OFF\x14onset\x14\x00"),
		"utf8":            []byte("+1\x14\x14\x00+2\x150.500000\x14\xe4\xbb\xb0\xe5\x8d\xa7\x14\x00"),
		"negative-onset":  []byte("-3.5\x14\x14\x00"),
		"no-texts":        []byte("+22.4880\x14EEG-check#1\x14"),
		"garbage-padding": []byte("+1\x14\x14\x00\x00x"),
	}
	for dir, seeds := range map[string]map[string][]byte{"FuzzHeader": header, "FuzzTAL": tal} {
		d := filepath.Join("testdata", "fuzz", dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == '+' {
			out[i] = 'p'
		}
	}
	return string(out)
}
