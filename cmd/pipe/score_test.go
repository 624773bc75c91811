package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pipeml/pipe/eeg/annot"
	"github.com/pipeml/pipe/scoring"
)

// nedcExamples returns ../shared/data/nedc_examples or skips.
func nedcExamples(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("go.mod not found")
		}
		dir = filepath.Dir(dir)
	}
	p := filepath.Join(dir, "..", "shared", "data", "nedc_examples")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data absent (%s): %v", p, err)
	}
	return p
}

func scoreJSON(t *testing.T, args ...string) map[string]scoring.Result {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"score", "--json"}, args...), &out, &errb); code != 0 {
		t.Fatalf("pipe score %v: exit %d: %s", args, code, errb.String())
	}
	var res map[string]scoring.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return res
}

// printed are NEDC v6.0.0's summary figures for the subset10 pairs, as it
// prints them (expected_subset10.json, nedc_cli_summary_printed).
var printed = map[string]map[string]float64{
	"ovlp":  {"hits": 168, "misses": 15, "false_alarms": 0, "sensitivity": 91.8033, "specificity": 100.0, "fa_per_24h": 0.0},
	"taes":  {"hits": 12.96, "misses": 170.04, "false_alarms": 16.13, "sensitivity": 7.0842, "specificity": 61.2016, "fa_per_24h": 127.2737},
	"epoch": {"hits": 20220, "misses": 2277, "false_alarms": 14520, "sensitivity": 89.8787, "specificity": 31.879, "fa_per_24h": 28634.3468},
}

func samePrinted(got, want float64) bool {
	s := strconv.FormatFloat(want, 'f', -1, 64)
	dec := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		dec = len(s) - i - 1
	}
	return strconv.FormatFloat(got, 'f', dec, 64) == strconv.FormatFloat(want, 'f', dec, 64)
}

func TestScoreSubset10Lists(t *testing.T) {
	dir := nedcExamples(t)
	res := scoreJSON(t, "--ref", filepath.Join(dir, "ref_subset10.list"), "--hyp", filepath.Join(dir, "hyp_subset10.list"), "--method", "all")
	for m, want := range printed {
		r, ok := res[m]
		if !ok {
			t.Fatalf("no %s in output", m)
		}
		got := map[string]float64{"hits": r.Hits, "misses": r.Misses, "false_alarms": r.FalseAlarms,
			"sensitivity": r.Sensitivity, "specificity": *r.Specificity, "fa_per_24h": r.FAPer24h}
		for k, w := range want {
			if !samePrinted(got[k], w) {
				t.Errorf("%s %s = %v, NEDC printed %v", m, k, got[k], w)
			}
		}
		if r.TotalDuration != 10953 {
			t.Errorf("%s total duration %v", m, r.TotalDuration)
		}
	}
	if sz := res["szcore"]; sz.Hits != 40 || sz.Targets != 40 || sz.FalseAlarms != 0 {
		t.Errorf("szcore %+v", sz)
	}
	if len(res) != len(scoring.Methods) {
		t.Errorf("%d methods in output", len(res))
	}
}

func TestScoreDirectoriesFilesAndTSV(t *testing.T) {
	dir := nedcExamples(t)
	// directories: all 30 pairs, T = 45277 s
	res := scoreJSON(t, "--ref", filepath.Join(dir, "ref"), "--hyp", filepath.Join(dir, "hyp"), "--method", "ovlp")
	if r := res["ovlp"]; len(res) != 1 || r.TotalDuration != 45277 || r.Targets == 0 {
		t.Fatalf("directories: %+v", res)
	}
	// single files
	name := "aaaaaasf_s001_t000.csv_bi"
	res = scoreJSON(t, "--ref", filepath.Join(dir, "ref", name), "--hyp", filepath.Join(dir, "hyp", name), "--method", "taes")
	if r := res["taes"]; r.TotalDuration != 1289 {
		t.Fatalf("single file: %+v", r)
	}
	// the same pairs as events.tsv give the same OVLP counts
	tmp := t.TempDir()
	for _, side := range []string{"ref", "hyp"} {
		os.MkdirAll(filepath.Join(tmp, side), 0o755)
		for _, l := range strings.Fields(readFile(t, filepath.Join(dir, side+"_subset10.list"))) {
			f, err := annot.ReadFile(filepath.Join(dir, l))
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(filepath.Base(l), ".csv_bi")
			if err := annot.WriteFile(filepath.Join(tmp, side, base+"_events.tsv"), f); err != nil {
				t.Fatal(err)
			}
		}
	}
	tsv := scoreJSON(t, "--ref", filepath.Join(tmp, "ref"), "--hyp", filepath.Join(tmp, "hyp"), "--method", "ovlp")
	if tsv["ovlp"].Hits != 168 || tsv["ovlp"].Misses != 15 || tsv["ovlp"].TotalDuration != 10953 {
		t.Fatalf("tsv: %+v", tsv)
	}
	// human output
	var out, errb bytes.Buffer
	if code := run([]string{"score", "--ref", filepath.Join(tmp, "ref"), "--hyp", filepath.Join(tmp, "hyp")}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "91.8033") || !strings.Contains(out.String(), "10 recordings") {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
}

func TestScoreReport(t *testing.T) {
	dir := nedcExamples(t)
	rep := filepath.Join(t.TempDir(), "rep")
	scoreJSON(t, "--ref", filepath.Join(dir, "ref_subset10.list"), "--hyp", filepath.Join(dir, "hyp_subset10.list"), "--report", rep)
	var got struct {
		AUROC           *float64                   `json:"auroc"`
		SensitivityAtFA map[string]json.RawMessage `json:"sensitivity_at_fa"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(rep, "report.json"))), &got); err != nil {
		t.Fatal(err)
	}
	if got.AUROC == nil || len(got.SensitivityAtFA) != 4 {
		t.Fatalf("%+v", got)
	}
	for _, f := range []string{"report.md", "roc.png", "sensitivity_vs_fa.png", "traces.png"} {
		if _, err := os.Stat(filepath.Join(rep, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestScoreErrors(t *testing.T) {
	dir := nedcExamples(t)
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.csv_bi")
	os.WriteFile(bad, []byte("# version = csv_v1.0.0\n# duration = 10 secs\nTERM,1,2,seiz\n"), 0o644)
	good := filepath.Join(tmp, "good.csv_bi")
	os.WriteFile(good, []byte("# version = csv_v1.0.0\n# duration = 10 secs\nTERM,1,2,seiz,1\n"), 0o644)
	other := filepath.Join(tmp, "other.csv_bi")
	os.WriteFile(other, []byte("# version = csv_v1.0.0\n# duration = 11 secs\n"), 0o644)
	list := filepath.Join(tmp, "one.list")
	os.WriteFile(list, []byte("good.csv_bi\n"), 0o644)
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--ref", good}, 2, "--ref and --hyp are required"},
		{[]string{"--ref", good, "--hyp", good, "--method", "nope"}, 2, "unknown --method"},
		{[]string{"--ref", good, "--hyp", filepath.Join(tmp, "missing.csv_bi")}, 2, "missing.csv_bi"},
		{[]string{"--ref", good, "--hyp", bad}, 1, "bad.csv_bi:3: record has 4 comma-separated fields"},
		{[]string{"--ref", good, "--hyp", other}, 1, "reference lasts 10 s but hypothesis 11 s"},
		{[]string{"--ref", filepath.Join(dir, "ref_subset10.list"), "--hyp", list}, 2, "10 reference files but 1 hypothesis files"},
		{[]string{"--ref", filepath.Join(dir, "ref"), "--hyp", list}, 2, "no hypothesis file for 30 reference files"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(append([]string{"score"}, tt.args...), &out, &errb)
		if code != tt.code || !strings.Contains(errb.String(), tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.msg)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
