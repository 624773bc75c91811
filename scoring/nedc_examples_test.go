package scoring

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pipeml/pipe/eeg/annot"
)

// expected mirrors the parts of expected_subset10.json the tests pin.
type expected struct {
	TotalDuration float64                       `json:"total_duration_s"`
	NEDC          map[string]map[string]any     `json:"nedc"`
	Printed       map[string]map[string]float64 `json:"nedc_cli_summary_printed"`
	Timescoring   map[string]struct {
		EventScoring  tsScores
		SampleScoring tsScores
	} `json:"timescoring"`
}

// tsScores is one timescoring result of expected_subset10.json.
type tsScores struct {
	Pooled  numbers `json:"pooled"`
	Subject numbers `json:"per_subject_mean"`
	PerFile []struct {
		File     string  `json:"file"`
		TP       int     `json:"tp"`
		FP       int     `json:"fp"`
		RefTrue  int     `json:"refTrue"`
		Duration float64 `json:"duration_s"`
	} `json:"per_file"`
}

// numbers keeps the numeric fields of a JSON object.
type numbers map[string]float64

func (n *numbers) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*n = numbers{}
	for k, v := range raw {
		if x, ok := v.(float64); ok {
			(*n)[k] = x
		}
	}
	return nil
}

// loadSubset10 reads the NEDC example pairs named by the subset10 list
// files and NEDC's published results, or skips when ../shared is absent.
func loadSubset10(t testing.TB) ([]Recording, expected) {
	t.Helper()
	dir := sharedDir(t, "data/nedc_examples")
	var exp expected
	b, err := os.ReadFile(filepath.Join(dir, "expected_subset10.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	refs, hyps := readList(t, filepath.Join(dir, "ref_subset10.list")), readList(t, filepath.Join(dir, "hyp_subset10.list"))
	if len(refs) != len(hyps) || len(refs) != 10 {
		t.Fatalf("lists hold %d and %d files", len(refs), len(hyps))
	}
	var recs []Recording
	for i := range refs {
		rf, err := annot.ReadFile(filepath.Join(dir, refs[i]))
		if err != nil {
			t.Fatal(err)
		}
		hf, err := annot.ReadFile(filepath.Join(dir, hyps[i]))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := RecordingFromFiles(filepath.Base(refs[i]), rf, hf)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs, exp
}

func readList(t testing.TB, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}

// printedEqual reports whether got, printed with as many decimals as
// want's printed form, equals it.
func printedEqual(got, want float64) bool {
	s := strconv.FormatFloat(want, 'f', -1, 64)
	dec := 0
	for i := range s {
		if s[i] == '.' {
			dec = len(s) - i - 1
		}
	}
	return strconv.FormatFloat(got, 'f', dec, 64) == strconv.FormatFloat(want, 'f', dec, 64)
}

// TestNEDCSubset10 reproduces NEDC v6.0.0's published figures for the
// first 10 example pairs, both as printed by nedc_eeg_eval and at full
// precision.
func TestNEDCSubset10(t *testing.T) {
	recs, exp := loadSubset10(t)
	for _, m := range []string{MethodOVLP, MethodTAES, MethodEpoch, MethodDPAlign} {
		t.Run(m, func(t *testing.T) {
			r, err := Score(m, recs)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{
				"targets": r.Targets, "hits": r.Hits, "misses": r.Misses, "false_alarms": r.FalseAlarms,
				"sensitivity_pct": r.Sensitivity, "specificity_pct": *r.Specificity, "fa_per_24h": r.FAPer24h,
				"total_duration_s": r.TotalDuration,
			}
			for k, want := range exp.Printed[m] {
				if !printedEqual(got[k], want) {
					t.Errorf("%s %s = %v, NEDC printed %v", m, k, got[k], want)
				}
			}
			for k, w := range exp.NEDC[m] {
				want, ok := w.(float64)
				if _, known := got[k]; !ok || !known {
					continue
				}
				if math.Abs(got[k]-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Errorf("%s %s = %.15g, NEDC %.15g", m, k, got[k], want)
				}
			}
		})
	}
}

// TestSzCORESubset10 reproduces timescoring's counts on the same pairs,
// per file, pooled and as per-subject means, in both input modes.
func TestSzCORESubset10(t *testing.T) {
	recs, exp := loadSubset10(t)
	for mode, direct := range map[string]bool{"szcore_pipeline_fs1_mask": false, "direct_events": true} {
		p := DefaultSzCORE()
		p.DirectEvents = direct
		if direct {
			p.SampleRate = 10
		}
		ins, err := szInputs(recs, p)
		if err != nil {
			t.Fatal(err)
		}
		for kind, score := range map[string]func(szInput, SzCOREParams) szCounts{"EventScoring": szEventCounts, "SampleScoring": szSampleCounts} {
			want := exp.Timescoring[mode].EventScoring
			if kind == "SampleScoring" {
				want = exp.Timescoring[mode].SampleScoring
			}
			for i, in := range ins {
				c := score(in, p)
				w := want.PerFile[i]
				if w.File != recs[i].Name || c.tp != w.TP || c.fp != w.FP || c.refTrue != w.RefTrue || c.seconds != w.Duration {
					t.Errorf("%s %s %s: tp %d fp %d refTrue %d dur %v, want %+v", mode, kind, recs[i].Name, c.tp, c.fp, c.refTrue, c.seconds, w)
				}
			}
			var r Result
			if kind == "EventScoring" {
				r, err = SzCOREEvents(recs, p)
			} else {
				r, err = SzCORESamples(recs, p)
			}
			if err != nil {
				t.Fatal(err)
			}
			pw := want.Pooled
			if r.Hits != pw["tp"] || r.FalseAlarms != pw["fp"] || r.Targets != pw["refTrue"] || r.TotalDuration != pw["total_duration_s"] ||
				!near(r.Sensitivity/100, pw["sensitivity"]) || !near(*r.Precision/100, pw["precision"]) || !near(*r.F1, pw["f1"]) ||
				!near(r.FAPer24h, pw["fpRate_per_24h"]) {
				t.Errorf("%s %s pooled %+v, want %v", mode, kind, r, pw)
			}
			m, err := SzCORESubjectMean(recs, p, kind == "SampleScoring")
			if err != nil {
				t.Fatal(err)
			}
			sw := want.Subject
			if float64(m.Subjects) != sw["n_subjects"] || !near(m.Sensitivity, sw["sensitivity"]) || !near(m.SensitivityStd, sw["sensitivity_std"]) ||
				!near(m.Precision, sw["precision"]) || !near(m.PrecisionStd, sw["precision_std"]) || !near(m.F1, sw["f1"]) ||
				!near(m.F1Std, sw["f1_std"]) || !near(m.FAPer24h, sw["fpRate_per_24h"]) || !near(m.FAPer24hStd, sw["fpRate_per_24h_std"]) {
				t.Errorf("%s %s per-subject %+v, want %v", mode, kind, m, sw)
			}
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// sharedDir returns ../shared/<rel> beside the module root, or skips.
func sharedDir(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data absent (%s): %v", p, err)
	}
	return p
}
