package demo

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipeml/pipe/eeg/annot"
	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/montage"
	"github.com/pipeml/pipe/eeg/tusz"
)

// small is a quick configuration: 5 patients, 7 recordings of 2 minutes.
func small(out string) Config {
	return Config{Out: out, Patients: PatientCounts{Train: 2, Dev: 1, Eval: 2}, Recordings: 2, Minutes: 1.5, SeizureRate: 40, Seed: 7, Workers: 2}
}

// readTree returns every file under root (relative path → content).
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func generate(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Generate(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeterministic(t *testing.T) {
	a, b, c := small(t.TempDir()), small(t.TempDir()), small(t.TempDir())
	b.Workers = 1
	c.Seed = 8
	generate(t, a)
	generate(t, b)
	generate(t, c)
	ta, tb, tc := readTree(t, a.Out), readTree(t, b.Out), readTree(t, c.Out)
	if len(ta) != 2*5*2+1 {
		t.Fatalf("%d files, want %d", len(ta), 2*5*2+1)
	}
	for name, data := range ta {
		if !bytes.Equal(data, tb[name]) {
			t.Errorf("%s differs between two runs with the same seed (2 workers vs 1)", name)
		}
	}
	same := 0
	for name, data := range tc {
		if strings.HasSuffix(name, ".edf") && bytes.Equal(data, ta[name]) {
			same++
		}
	}
	if same > 0 || slices.Equal(sortedKeys(ta), sortedKeys(tc)) {
		t.Errorf("seed 8 reproduced seed 7 (%d identical EDF files, same names: %v)", same, slices.Equal(sortedKeys(ta), sortedKeys(tc)))
	}
}

func sortedKeys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func TestResume(t *testing.T) {
	cfg := small(t.TempDir())
	first := generate(t, cfg)
	if first.Written != first.Recordings || first.Kept != 0 {
		t.Fatalf("first run: %+v", first)
	}
	before := readTree(t, cfg.Out)
	// a killed run: one EDF missing, one csv_bi missing, a temporary file left
	var edfs []string
	for name := range before {
		if strings.HasSuffix(name, ".edf") {
			edfs = append(edfs, name)
		}
	}
	slices.Sort(edfs)
	os.Remove(filepath.Join(cfg.Out, edfs[0]))
	os.Remove(filepath.Join(cfg.Out, strings.TrimSuffix(edfs[3], ".edf")+".csv_bi"))
	tmp := filepath.Join(cfg.Out, filepath.Dir(edfs[0]), "."+filepath.Base(edfs[0])+".tmp-123")
	os.WriteFile(tmp, []byte("partial"), 0o644)
	res := generate(t, cfg)
	if res.Written != 2 || res.Kept != res.Recordings-2 {
		t.Errorf("rerun wrote %d and kept %d of %d, want 2 written", res.Written, res.Kept, res.Recordings)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
	after := readTree(t, cfg.Out)
	if !slices.Equal(sortedKeys(before), sortedKeys(after)) {
		t.Fatalf("files %v, want %v", sortedKeys(after), sortedKeys(before))
	}
	for name := range before {
		if !bytes.Equal(before[name], after[name]) {
			t.Errorf("%s differs after resuming", name)
		}
	}

	// other parameters: the old tree is replaced
	cfg.Seed = 99
	cfg.Patients = PatientCounts{Train: 1, Dev: 1, Eval: 1}
	cfg.Recordings = 1
	res = generate(t, cfg)
	if res.Written != 3 {
		t.Errorf("new parameters: wrote %d, want 3", res.Written)
	}
	if n := len(readTree(t, cfg.Out)); n != 3*2+1 {
		t.Errorf("%d files after regenerating with other parameters, want 7", n)
	}

	// a directory that is not demo data is refused
	foreign := t.TempDir()
	os.MkdirAll(filepath.Join(foreign, "train", "x"), 0o755)
	cfg.Out = foreign
	if _, err := Generate(context.Background(), cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "not demo data") {
		t.Errorf("foreign directory: %v", err)
	}
}

func TestCancelLeavesNoPartialFile(t *testing.T) {
	cfg := small(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, cfg, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	for name := range readTree(t, cfg.Out) {
		if strings.HasSuffix(name, ".edf") || strings.Contains(name, ".tmp-") {
			t.Errorf("cancelled run left %s", name)
		}
	}
}

// TestLayout checks the tree against the TUSZ walker, the csv_bi parser and
// the EDF reader, and against the plan.
func TestLayout(t *testing.T) {
	cfg := small(t.TempDir())
	cfg.Patients = PatientCounts{Train: 6, Dev: 2, Eval: 2}
	cfg.Recordings = 1
	cfg.Minutes = 0.5
	res := generate(t, cfg)
	recs, err := Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := tusz.Walk(cfg.Out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus.Problems) > 0 {
		t.Errorf("layout problems: %v", corpus.Problems)
	}
	if err := tusz.CheckPatientDisjoint(corpus.Recordings); err != nil {
		t.Error(err)
	}
	if len(corpus.Recordings) != len(recs) || res.Recordings != len(recs) {
		t.Fatalf("%d recordings walked, %d planned, %d reported", len(corpus.Recordings), len(recs), res.Recordings)
	}
	rates, montages := map[int]bool{}, map[string]bool{}
	for i, rec := range corpus.Recordings {
		p := recs[i]
		if rec.ID() != p.Base() || rec.Split != p.Split || rec.Montage != p.Montage {
			t.Errorf("walked %s %s %s, planned %s %s %s", rec.ID(), rec.Split, rec.Montage, p.Base(), p.Split, p.Montage)
		}
		a, err := rec.Annotations()
		if err != nil {
			t.Fatal(err)
		}
		if a.Duration != float64(p.Seconds) || a.Bname != p.Base() {
			t.Errorf("%s: csv_bi duration %g bname %q", rec.ID(), a.Duration, a.Bname)
		}
		sz := a.SeizureEvents()
		if len(sz) != len(p.Seizures) {
			t.Errorf("%s: %d seizures in csv_bi, %d planned", rec.ID(), len(sz), len(p.Seizures))
		}
		for k := range min(len(sz), len(p.Seizures)) {
			if sz[k].Label != annot.Seizure || abs(sz[k].Start-p.Seizures[k].Start) > 1e-4 || abs(sz[k].Stop-sz[k].Start-p.Seizures[k].Duration) > 2e-4 ||
				p.Seizures[k].Duration < 10 || p.Seizures[k].Duration > 120 {
				t.Errorf("%s: seizure %d %+v, planned %+v", rec.ID(), k, sz[k], p.Seizures[k])
			}
		}
		r, err := edf.Open(rec.EDF)
		if err != nil {
			t.Fatal(err)
		}
		h := r.Header()
		var labels []string
		for _, s := range h.DataSignals() {
			labels = append(labels, h.Signals[s].Label)
		}
		mp, err := montage.Build(labels, montage.Config{})
		if err != nil {
			t.Errorf("%s: montage: %v", rec.ID(), err)
		} else if len(mp.Interpolated)+len(mp.Zeroed) > 0 || len(mp.Channels) != 19 {
			t.Errorf("%s: montage %v, interpolated %v", rec.ID(), mp.Channels, mp.Interpolated)
		}
		if h.Format != edf.EDFPlusC || h.Duration().Seconds() != float64(p.Seconds) || h.Truncated || len(h.Warnings) > 0 {
			t.Errorf("%s: %s %v truncated=%v warnings %v", rec.ID(), h.Format, h.Duration(), h.Truncated, h.Warnings)
		}
		rates[h.Signals[0].SamplesPerRecord] = true
		montages[rec.Montage] = true
		r.Close()
	}
	t.Logf("rates %v montages %v", rates, montages)
	if !rates[256] || len(rates) < 2 || len(montages) < 2 {
		t.Errorf("10 patients should show 256 Hz and another rate, and both montages: rates %v montages %v", rates, montages)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no out", func(c *Config) { c.Out = "" }, "no output directory"},
		{"no patients", func(c *Config) { c.Patients = PatientCounts{} }, "at least one patient"},
		{"negative", func(c *Config) { c.Patients.Dev = -1 }, "want counts"},
		{"recordings", func(c *Config) { c.Recordings = 0 }, "recordings per patient"},
		{"minutes", func(c *Config) { c.Minutes = 0.1 }, "minutes per recording"},
		{"rate", func(c *Config) { c.SeizureRate = -1 }, "seizure rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Out = "x"
			tc.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSplitPatients(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want PatientCounts
	}{{3, PatientCounts{1, 1, 1}}, {22, PatientCounts{12, 6, 4}}, {10, PatientCounts{5, 3, 2}}, {44, PatientCounts{24, 12, 8}}} {
		got, err := SplitPatients(tc.n)
		if err != nil || got != tc.want || got.Total() != tc.n {
			t.Errorf("SplitPatients(%d) = %+v, %v; want %+v", tc.n, got, err, tc.want)
		}
	}
	if _, err := SplitPatients(2); err == nil {
		t.Error("2 patients accepted")
	}
}

// TestDefaultCorpus checks the plan of the default corpus: size and seizure
// share within what the example pipelines expect.
func TestDefaultCorpus(t *testing.T) {
	recs, err := Plan(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var h, sh float64
	dev := 0.0
	for _, r := range recs {
		h += float64(r.Seconds) / 3600
		sh += r.SeizureSeconds() / 3600
		if r.Split == "dev" {
			dev += r.SeizureSeconds()
		}
	}
	if len(recs) != 44 || h < 5 || h > 8 || sh/h < 0.10 || sh/h > 0.20 || dev == 0 {
		t.Errorf("default corpus: %d recordings, %.2f h, %.1f%% seizure, %.0f s seizure in dev", len(recs), h, 100*sh/h, dev)
	}
}
