package train

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/train/traintest"
)

// sharedCache is built once per test binary: populating is the slow part.
var sharedCache = struct {
	once sync.Once
	root string // the temporary directory holding corpus and cache
	dir  string
}{}

func testCache(t *testing.T) string {
	sharedCache.once.Do(func() {
		d, err := os.MkdirTemp("", "traincache")
		if err != nil {
			t.Fatal(err)
		}
		sharedCache.root = d
		sharedCache.dir = traintest.MakeCache(&keepTB{TB: t, dir: d}, traintest.Corpus())
	})
	if sharedCache.dir == "" {
		t.Fatal("test cache could not be built")
	}
	return sharedCache.dir
}

// keepTB gives MakeCache temporary directories that outlive the test that
// built them (the cache is shared by every test of the binary).
type keepTB struct {
	testing.TB
	dir string
	n   int
}

func (k *keepTB) TempDir() string {
	k.n++
	d := filepath.Join(k.dir, strings.Repeat("d", k.n))
	os.MkdirAll(d, 0o755)
	return d
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	code := m.Run()
	if sharedCache.root != "" && strings.Contains(filepath.Base(sharedCache.root), "traincache") {
		os.RemoveAll(sharedCache.root)
	}
	os.Exit(code)
}

func smallConfig() Config {
	c := DefaultConfig()
	c.Epochs, c.BatchSize, c.LR, c.LogEvery = 3, 4, 0.05, 2
	c.ValGrid = 20
	c.WarmupRatio = 0.1
	c.EarlyStop.Patience = 0
	return c
}

func runTraining(t *testing.T, cfg Config, dir string, mod func(*Options)) (*Summary, error) {
	t.Helper()
	cdir := testCache(t)
	ds, err := cache.OpenDataset(cdir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	opt := Options{Net: traintest.NewLogistic(len(ds.Channels()), 8, 0.1, 3), Dataset: ds, CacheDir: cdir, Dir: dir, Key: "test"}
	if testing.Verbose() {
		opt.Log = os.Stderr
	}
	if mod != nil {
		mod(&opt)
	}
	return Run(context.Background(), cfg, opt)
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

func TestTrainLearns(t *testing.T) {
	dir := t.TempDir()
	sum, err := runTraining(t, smallConfig(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Epochs != 3 || sum.Best == nil {
		t.Fatalf("summary %+v", sum)
	}
	var first, last float64 = -1, -1
	var auroc float64
	for _, r := range readLines(t, filepath.Join(dir, MetricsFile)) {
		if r["type"] == "step" {
			if first < 0 {
				first = r["loss"].(float64)
			}
			last = r["loss"].(float64)
		}
		if r["type"] == "epoch" {
			auroc = r["auroc"].(float64)
		}
	}
	if !(last < first) {
		t.Errorf("loss did not fall: first %v last %v", first, last)
	}
	if auroc < 0.8 {
		t.Errorf("final validation AUROC %v, want >= 0.8 on this easy corpus", auroc)
	}
	t.Logf("loss %v -> %v, auroc %v, %d steps/epoch", first, last, auroc, sum.StepsPerEpoch)
}
