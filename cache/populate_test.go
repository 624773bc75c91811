package cache

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipeml/pipe/cache/cachetest"
	"github.com/pipeml/pipe/eeg/edf/edftest"
	"github.com/pipeml/pipe/eeg/preprocess"
)

type countProgress struct {
	total, done atomic.Int64
	status      atomic.Value
}

func (p *countProgress) Total(n int64, unit string) { p.total.Store(n) }
func (p *countProgress) Add(n int64)                { p.done.Add(n) }
func (p *countProgress) Status(s string)            { p.status.Store(s) }

func testPopulateConfig(src, dir string) PopulateConfig {
	return PopulateConfig{Source: src, Dir: dir, Workers: 2, OnError: OnErrorSkip, Preprocess: preprocess.DefaultConfig()}
}

// TestPopulate builds a cache from a synthetic corpus with good and bad
// recordings, verifies it, reads windows, and reruns it.
func TestPopulate(t *testing.T) {
	src := cachetest.MakeCorpus(t, append(cachetest.GoodCorpus(), cachetest.BadCorpus()...))
	dir := filepath.Join(t.TempDir(), "cache")
	prog := &countProgress{}
	var log strings.Builder
	res, err := Populate(context.Background(), testPopulateConfig(src, dir), prog, &log)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if res.Built != 5 || res.Reused != 0 || res.Short != 1 || len(m.Recordings) != 5 || prog.done.Load() != 11 || prog.total.Load() != 11 {
		t.Fatalf("built %d reused %d short %d, %d recordings, progress %d/%d", res.Built, res.Reused, res.Short, len(m.Recordings), prog.done.Load(), prog.total.Load())
	}
	// 90 s at 256 Hz: (23040-15360)/2560+1 = 4 windows; 75 s: 2; 30 s: 0; 80 s: 3; 70 s: 2.
	if m.Windows != 4+2+0+3+2 || m.Splits["train"].Recordings != 3 || m.Splits["dev"].SeizureWindows == 0 {
		t.Errorf("windows %d, splits %+v", m.Windows, m.Splits)
	}
	if len(m.Channels) != 19 || m.Channels[0] != "Fp1" || m.Rate != 256 {
		t.Errorf("channels %v rate %g", m.Channels, m.Rate)
	}
	// The quarantine names each bad file and why.
	q, err := ReadQuarantine(dir)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, e := range q {
		reasons[e.ID] = e.Reason
	}
	for id, want := range map[string]string{
		"aaaaaaae_s001_t000": "truncated: the header declares 70 data records",
		"aaaaaaae_s001_t001": "missing",
		"aaaaaaae_s001_t002": "csv_bi:5: record has 3 comma-separated fields",
		"aaaaaaae_s001_t003": `annotation "fnsz" at 60.0000–95.0000 s`,
		"aaaaaaae_s001_t004": "holds 70.00 s of data but aaaaaaae_s001_t004.csv_bi says the recording lasts 1831.00 s",
		"aaaaaaae_s001_t005": "EDF+D file with gaps between data records",
	} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("quarantine %s: %q, want %q", id, reasons[id], want)
		}
	}
	if len(q) != 6 || !strings.Contains(log.String(), "6 quarantined") {
		t.Errorf("%d quarantined; log:\n%s", len(q), log.String())
	}
	// No temporary or partial files.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") || strings.Contains(p, "aaaaaaae") {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})

	if _, err := Verify(context.Background(), VerifyConfig{Dir: dir, Expect: map[string]int{"train": 3, "dev": 1, "eval": 1}}, NopProgress{}); err != nil {
		t.Fatalf("verify: %v", err)
	}

	// Windows hold z-scored, clipped data; the seizure windows are louder.
	d, err := OpenDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 19*d.WindowSamples())
	for i := 0; i < d.Len(); i++ {
		if err := d.ReadWindow(i, buf); err != nil {
			t.Fatal(err)
		}
		for _, v := range buf {
			if !(math.Abs(float64(v)) <= 10) {
				t.Fatalf("window %d: value %g outside the clip range", i, v)
			}
		}
	}
	d.Close()

	// A rerun reuses everything; touching a file (same content) too.
	now := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(src, "dev", "aaaaaaac", "s001_2015", "01_tcp_ar", "aaaaaaac_s001_t000.edf"), now, now)
	res2, err := Populate(context.Background(), testPopulateConfig(src, dir), NopProgress{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Built != 0 || res2.Reused != 5 {
		t.Errorf("rerun built %d reused %d", res2.Built, res2.Reused)
	}
	// Changed content is rebuilt; so is everything when parameters change.
	cachetest.WriteRec(t, src, cachetest.Rec{Split: "eval", Patient: "aaaaaaad", Session: "s001", Token: "t000", Seconds: 72, Seizures: [][2]float64{{30, 40}}})
	res3, err := Populate(context.Background(), testPopulateConfig(src, dir), NopProgress{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res3.Built != 1 || res3.Reused != 4 {
		t.Errorf("after a source change: built %d reused %d", res3.Built, res3.Reused)
	}
	cfg := testPopulateConfig(src, dir)
	cfg.Encoding = EncodingFloat16
	cfg.WindowS, cfg.StrideS = 20, 5
	res4, err := Populate(context.Background(), cfg, NopProgress{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res4.Built != 5 || res4.Manifest.WindowSamples != 20*256 || res4.Short != 0 {
		t.Errorf("after a parameter change: built %d, window %d, short %d", res4.Built, res4.Manifest.WindowSamples, res4.Short)
	}
	if _, err := Verify(context.Background(), VerifyConfig{Dir: dir}, NopProgress{}); err != nil {
		t.Errorf("verify after rebuild: %v", err)
	}
}

// TestPopulateFail: with on_error = "fail" the first bad recording stops the
// run with an error naming the file and the cause; complete files remain
// for the next run and nothing partial is left.
func TestPopulateFail(t *testing.T) {
	src := cachetest.MakeCorpus(t, append(cachetest.GoodCorpus()[:2], cachetest.BadCorpus()[0]))
	dir := filepath.Join(t.TempDir(), "cache")
	cfg := testPopulateConfig(src, dir)
	cfg.OnError = OnErrorFail
	_, err := Populate(context.Background(), cfg, NopProgress{}, nil)
	var re *RecordingError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "aaaaaaae_s001_t000.edf: truncated") || !strings.Contains(err.Error(), `on_error = "skip"`) {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); !os.IsNotExist(err) {
		t.Errorf("manifest written by a failed run: %v", err)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
	// Cancellation stops the run promptly with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Populate(ctx, testPopulateConfig(src, filepath.Join(t.TempDir(), "c2")), NopProgress{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}

// TestPopulateConfigErrors checks configuration validation.
func TestPopulateConfigErrors(t *testing.T) {
	for _, c := range []struct {
		mod  func(*PopulateConfig)
		want string
	}{
		{func(c *PopulateConfig) { c.OnError = "ignore" }, `on_error "ignore"`},
		{func(c *PopulateConfig) { c.WindowS = 0.001 }, "window_s = 0.001 s is not a positive whole number of samples"},
		{func(c *PopulateConfig) { c.StrideS = -1 }, "stride_s"},
		{func(c *PopulateConfig) { c.Encoding = "int8" }, `unknown encoding "int8"`},
		{func(c *PopulateConfig) { c.Splits = []string{"test"} }, `unknown split "test"`},
		{func(c *PopulateConfig) { c.Source = filepath.Join(c.Source, "nope") }, "split directory"},
		{func(c *PopulateConfig) { c.LimitFiles = -1 }, "limit_files"},
	} {
		cfg := testPopulateConfig(t.TempDir(), t.TempDir())
		for _, s := range []string{"train", "dev", "eval"} {
			os.MkdirAll(filepath.Join(cfg.Source, s), 0o755)
		}
		c.mod(&cfg)
		if _, err := Populate(context.Background(), cfg, NopProgress{}, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}

// TestPopulateSharedStubs runs on the real TUSZ layout in ../shared, whose
// EDF files are 2 s stubs: every recording is quarantined with its short
// length in the reason, nothing crashes.
func TestPopulateSharedStubs(t *testing.T) {
	src := edftest.SharedDir(t, "data", "tusz_layout", "tuh")
	dir := t.TempDir()
	cfg := testPopulateConfig(src, dir)
	cfg.LimitFiles = 6
	res, err := Populate(context.Background(), cfg, NopProgress{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Recordings) != 0 || len(res.Quarantine) != 18 {
		t.Fatalf("%d recordings, %d quarantined", len(res.Manifest.Recordings), len(res.Quarantine))
	}
	for _, q := range res.Quarantine {
		if !strings.Contains(q.Reason, "holds 2.00 s of data but") {
			t.Errorf("%s: %s", q.EDF, q.Reason)
		}
	}
	cfg.OnError = OnErrorFail
	if _, err := Populate(context.Background(), cfg, NopProgress{}, nil); err == nil || !strings.Contains(err.Error(), "holds 2.00 s of data") {
		t.Errorf("fail mode: %v", err)
	}
}

// TestPopulateNoSpill: filtering twice instead of spilling gives the same
// bytes.
func TestPopulateNoSpill(t *testing.T) {
	src := cachetest.MakeCorpus(t, cachetest.GoodCorpus()[:2])
	sums := map[bool][]string{}
	for _, noSpill := range []bool{false, true} {
		cfg := testPopulateConfig(src, filepath.Join(t.TempDir(), "c"))
		cfg.NoSpill = noSpill
		res, err := Populate(context.Background(), cfg, NopProgress{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Manifest.Recordings {
			m, _, err := ReadRecordingMeta(filepath.Join(cfg.Dir, r.File))
			if err != nil {
				t.Fatal(err)
			}
			sums[noSpill] = append(sums[noSpill], m.DataXXH3)
		}
	}
	if strings.Join(sums[false], ",") != strings.Join(sums[true], ",") || len(sums[false]) != 2 {
		t.Errorf("spill %v, no spill %v", sums[false], sums[true])
	}
}

// TestNilProgress: Populate and Verify accept a nil progress reporter (and
// a nil log) instead of crashing.
func TestNilProgress(t *testing.T) {
	src := cachetest.MakeCorpus(t, cachetest.GoodCorpus()[:2])
	dir := filepath.Join(t.TempDir(), "cache")
	cfg := testPopulateConfig(src, dir)
	cfg.Splits = []string{"train"}
	res, err := Populate(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Built != 2 {
		t.Errorf("built %d, want 2", res.Built)
	}
	rep, err := Verify(context.Background(), VerifyConfig{Dir: dir}, nil)
	if rep == nil || rep.Recordings != 2 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}
