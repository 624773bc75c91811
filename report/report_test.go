package report

import (
	"context"
	"encoding/json"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeml/pipe/postproc"
	"github.com/pipeml/pipe/scoring"
)

// synthetic makes recordings at 1 Hz whose trace is high inside the
// reference seizures and noisy elsewhere.
func synthetic(n int) []scoring.TracedRecording {
	rng := rand.New(rand.NewPCG(5, 6))
	var recs []scoring.TracedRecording
	for i := 0; i < n; i++ {
		p := make([]float64, 1800)
		for k := range p {
			p[k] = 0.4 * rng.Float64()
		}
		var ref []scoring.Event
		if i%2 == 0 {
			s := 300 + rng.IntN(1000)
			ref = append(ref, scoring.Event{Start: float64(s), Stop: float64(s + 60)})
			for k := s; k < s+60; k++ {
				p[k] = 0.5 + 0.5*rng.Float64()
			}
		}
		for b := 0; b < 3; b++ { // false-alarm bumps
			s := rng.IntN(1700)
			for k := s; k < s+10; k++ {
				p[k] = 0.3 + 0.6*rng.Float64()
			}
		}
		recs = append(recs, scoring.TracedRecording{Name: "rec_" + string(rune('a'+i)), Duration: 1800,
			Trace: postproc.Trace{Rate: 1, P: p}, Ref: ref})
	}
	return recs
}

func TestBuildAndWrite(t *testing.T) {
	grid := make([]float64, 101) // a coarse grid keeps the test fast under -race
	for k := range grid {
		grid[k] = float64(k) / 100
	}
	in := &Input{Title: "test", Recordings: synthetic(8), Grid: grid, Post: postproc.Config{OnThreshold: 0.5, OffThreshold: 0.5, MergeGap: 5}}
	rep, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := Write(dir, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		AUROC           *float64 `json:"auroc"`
		SensitivityAtFA map[string]struct {
			Sensitivity *float64 `json:"sensitivity"`
			FAPer24h    *float64 `json:"fa_per_24h"`
			Threshold   *float64 `json:"threshold"`
		} `json:"sensitivity_at_fa"`
		Scores []scoring.Result `json:"scores"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.AUROC == nil || *got.AUROC < 0.9 || *got.AUROC > 1 {
		t.Fatalf("auroc %v", got.AUROC)
	}
	for _, k := range []string{"10", "5", "2.5", "1"} {
		p, ok := got.SensitivityAtFA[k]
		if !ok || p.Sensitivity == nil || p.FAPer24h == nil {
			t.Fatalf("budget %s missing: %s", k, b)
		}
		kv := map[string]float64{"10": 10, "5": 5, "2.5": 2.5, "1": 1}[k]
		if *p.FAPer24h > kv {
			t.Errorf("budget %s: FA/24h %v above the budget", k, *p.FAPer24h)
		}
	}
	if p := got.SensitivityAtFA["10"]; *p.Sensitivity != 100 || p.Threshold == nil {
		t.Errorf("the seizures are separable at 10 FA/24h: %+v", p)
	}
	if len(got.Scores) != len(scoring.Methods) {
		t.Errorf("%d scores", len(got.Scores))
	}
	md, err := os.ReadFile(filepath.Join(dir, MDFile))
	if err != nil || !strings.Contains(string(md), "| 2.5 |") || !strings.Contains(string(md), "oracle") {
		t.Fatalf("report.md: %v\n%s", err, md)
	}
	for _, name := range []string{ROCFile, SensFAFile, TracesFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 5 {
		t.Errorf("%d files in the report directory (temporary files left?)", len(entries))
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build(context.Background(), &Input{}); err == nil {
		t.Error("empty input accepted")
	}
	in := &Input{Recordings: synthetic(2), Post: postproc.Config{OnThreshold: 0.2, OffThreshold: 0.5}}
	if _, err := Build(context.Background(), in); err == nil {
		t.Error("invalid post-processing accepted")
	}
}
