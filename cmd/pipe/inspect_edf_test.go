package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipeml/pipe/eeg/edf/edftest"
)

// TestInspectEDFJSON runs `pipe inspect edf --json` on shared files and
// checks the schema's keys and the values against the EDFlib oracle.
func TestInspectEDFJSON(t *testing.T) {
	dir := edftest.SharedDir(t, "data", "edf")
	names := []string{"test_subsecond.edf", "test_reduced.edf", "multiple_annotation_chans.bdf", "00009578_s002_t001.edf", "test_generator_datarec_generator_0_5.bdf"}
	args := []string{"inspect", "edf", "--json"}
	for _, n := range names {
		args = append(args, filepath.Join(dir, n))
	}
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(names) {
		t.Fatalf("%d lines for %d files", len(lines), len(names))
	}
	for i, line := range lines {
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatal(err)
		}
		checkKeys(t, raw, "format", "start", "records", "record_duration_s", "duration_s", "signals", "annotations")
		for _, s := range raw["signals"].([]any) {
			checkKeys(t, s.(map[string]any), "label", "unit", "physical_min", "physical_max", "digital_min", "digital_max",
				"samples_per_record", "sample_rate_hz", "samples", "sum", "sum_sq", "first", "last")
		}
		for _, a := range raw["annotations"].([]any) {
			checkKeys(t, a.(map[string]any), "onset_s", "duration_s", "text")
		}

		o, err := edftest.LoadOracle(filepath.Join(dir, "oracle", names[i]+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var got edfJSON
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.Format, o.FileType) || got.Records != o.DataRecords || got.DurationS != o.FileDurationS || got.RecordDurationS != o.DataRecordDurationS {
			t.Errorf("%s: %s %d %g %g; oracle %s %d %g %g", names[i], got.Format, got.Records, got.RecordDurationS, got.DurationS, o.FileType, o.DataRecords, o.DataRecordDurationS, o.FileDurationS)
		}
		if !strings.HasPrefix(got.Start, o.Start) || !strings.HasSuffix(got.Start, "Z") {
			t.Errorf("%s: start %s, oracle %s + %g s", names[i], got.Start, o.Start, o.StartSubsecondS)
		}
		if len(got.Signals) != len(o.SignalParams) || len(got.Annotations) != len(o.Annotations) {
			t.Fatalf("%s: %d signals %d annotations; oracle %d %d", names[i], len(got.Signals), len(got.Annotations), len(o.SignalParams), len(o.Annotations))
		}
		for j, s := range got.Signals {
			os := o.SignalParams[j]
			if s.Label != strings.TrimSpace(os.Label) || s.Samples != os.SmpInFile || s.SampleRateHz != os.Fs || !close10(*s.Sum, os.PhysSum) || !close10(*s.SumSq, os.PhysSumSq) {
				t.Errorf("%s signal %d: %+v; oracle %+v", names[i], j, s, os)
			}
			for k := range os.FirstPhysical {
				if !close10(s.First[k], os.FirstPhysical[k]) || !close10(s.Last[k], os.LastPhysical[k]) {
					t.Errorf("%s signal %d: first/last %v %v; oracle %v %v", names[i], j, s.First, s.Last, os.FirstPhysical, os.LastPhysical)
					break
				}
			}
		}
		for j, a := range got.Annotations {
			oa := o.Annotations[j]
			if math.Abs(a.OnsetS-oa.OnsetS) > 1e-7 || a.Text != oa.Text || (a.DurationS == nil) != (oa.Duration == "") {
				t.Errorf("%s annotation %d: %+v; oracle %+v", names[i], j, a, oa)
			}
		}
	}
}

func close10(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Abs(b) || math.Abs(a-b) < 1e-12
}

func checkKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(keys)
	if strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Errorf("keys %v, want %v", got, keys)
	}
}

// TestInspectEDFErrors: unreadable files are named on stderr with the cause;
// the others are still shown; the exit status is 1.
func TestInspectEDFErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.edf")
	if err := os.WriteFile(bad, []byte("not an edf file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(edftest.SharedDir(t, "data", "edf"), "test_utf8.edf")
	var out, errb bytes.Buffer
	code := run([]string{"inspect", "edf", bad, good}, &out, &errb)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), bad+": byte") || !strings.Contains(errb.String(), "1 of 2 files") {
		t.Errorf("stderr %q", errb.String())
	}
	if !strings.Contains(out.String(), "中文测试八个字") || !strings.Contains(out.String(), "EDF+C") {
		t.Errorf("stdout %q", out.String())
	}
}
