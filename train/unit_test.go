package train

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeml/pipe/cache"
)

func TestSafetensorsRoundTripAndPython(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	ts := []Tensor{
		{Name: "a.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 4, 5, float32(math.Inf(1))}},
		{Name: "b", Shape: []int{1}, Data: []float32{0.25}},
		{Name: "scalar", Shape: []int{}, Data: []float32{7}},
	}
	if err := WriteSafetensors(path, ts, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	got, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta["k"] != "v" || len(got) != 3 || got[0].Name != "a.weight" || got[0].Data[2] != 3.5 || got[2].Data[0] != 7 {
		t.Fatalf("round trip: %+v %v", got, meta)
	}
	b, _ := os.ReadFile(path)
	if hl := int(b[0]) | int(b[1])<<8; (8+hl)%8 != 0 {
		t.Errorf("header length %d not 8-aligned", hl)
	}
	// Python can load it with nothing but json and numpy (the safetensors
	// package is not installed here; its loader does exactly this).
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("%s not found: skipping the Python load check", py)
	}
	script := `
import json, struct, sys, numpy as np
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8+n])
meta = h.pop('__metadata__')
data = b[8+n:]
for name in sorted(h):
    e = h[name]; s, t = e['data_offsets']
    a = np.frombuffer(data[s:t], dtype='<f4').reshape(e['shape'])
    print(name, e['dtype'], list(a.shape), float(a.sum()) if np.isfinite(a).all() else 'inf')
print(meta['k'])
try:
    import torch
    print('torch', torch.from_numpy(np.frombuffer(data[0:24], dtype='<f4').copy()).reshape(2, 3)[1, 0].item())
except ImportError:
    print('torch', 4.0)
`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := "a.weight F32 [2, 3] inf\nb F32 [1] 0.25\nscalar F32 [] 7.0\nv\ntorch 4.0\n"
	if string(out) != want {
		t.Errorf("python read:\n%s\nwant:\n%s", out, want)
	}
}

func TestSafetensorsCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := WriteSafetensors(path, []Tensor{{Name: "x", Shape: []int{4}, Data: []float32{1, 2, 3, 4}}}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		mut  func([]byte) []byte
		want string
	}{
		{"flipped data byte", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }, "checksum"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-4] }, "do not fit"},
		{"huge header", func(b []byte) []byte { b[7] = 0x7f; return b }, "header length"},
		{"short", func(b []byte) []byte { return b[:5] }, "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			os.WriteFile(p, tc.mut(append([]byte(nil), b...)), 0o644)
			if _, _, err := ReadSafetensors(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestLossGradient checks dℓ/dz against central differences of ℓ and the
// plain-BCE case against its closed form.
func TestLossGradient(t *testing.T) {
	for _, l := range []Loss{{1, -1, 0}, {3, -1, 0}, {1, 0.25, 2}, {2, 0.7, 1.5}} {
		for _, z := range []float64{-30, -3, -0.2, 0, 0.7, 4, 25} {
			for _, pos := range []bool{false, true} {
				v, g := l.sample(z, pos)
				h := 1e-5
				vp, _ := l.sample(z+h, pos)
				vm, _ := l.sample(z-h, pos)
				num := (vp - vm) / (2 * h)
				if math.Abs(num-g) > 1e-6*math.Max(1, math.Abs(g)) {
					t.Errorf("%+v z=%v pos=%v: grad %v, numeric %v", l, z, pos, g, num)
				}
				if l.Gamma == 0 && l.Alpha < 0 && math.Abs(z) <= 4 {
					p := 1 / (1 + math.Exp(-z))
					want := -math.Log(1 - p)
					if pos {
						want = -l.PosWeight * math.Log(p)
					}
					if math.Abs(v-want) > 1e-9*math.Max(1, want) && !math.IsInf(want, 0) {
						t.Errorf("%+v z=%v pos=%v: loss %v, want %v", l, z, pos, v, want)
					}
				}
			}
		}
	}
	if v, _ := (Loss{1, -1, 2}).sample(1000, false); math.IsInf(v, 0) || math.IsNaN(v) || v < 900 {
		t.Errorf("large logit: loss %v, want finite ≈ 1000", v)
	}
}

func TestSchedule(t *testing.T) {
	s := NewSchedule(1, 0.1, 0.1, 100)
	for _, tc := range []struct {
		t    int64
		want float64
	}{{0, 0.1}, {9, 1}, {10, 1}, {99, 0.1}, {54, 0.55 + 0.45*math.Cos(math.Pi*44/89)}} {
		if got := s.LR(tc.t); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("LR(%d) = %v, want %v", tc.t, got, tc.want)
		}
	}
	if got := NewSchedule(2, 0, 0, 1).LR(0); got != 2 {
		t.Errorf("one-step schedule: %v", got)
	}
}

func TestSampler(t *testing.T) {
	cdir := testCache(t)
	ds, err := cache.OpenDataset(cdir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	m := ds.Manifest()
	pool := NewPool(m, Recordings(m, "train", 0))
	np, nf, nb, err := pool.Counts(0.3, 2.5)
	if err != nil {
		t.Fatal(err)
	}
	if np != len(pool.Partial) || nf != min(len(pool.Full), int(math.Round(0.3*float64(np)))) || nb != min(len(pool.Background), int(math.Round(2.5*float64(np)))) {
		t.Errorf("counts %d %d %d for pool %d/%d/%d", np, nf, nb, len(pool.Partial), len(pool.Full), len(pool.Background))
	}
	a, _ := pool.Plan(0.3, 2.5, 1, 0)
	b, _ := pool.Plan(0.3, 2.5, 1, 0)
	c, _ := pool.Plan(0.3, 2.5, 1, 1)
	if planHash(a) != planHash(b) || planHash(a) == planHash(c) || len(a) != np+nf+nb {
		t.Errorf("plans: same seed and epoch must agree, another epoch differ (%d windows)", len(a))
	}
	kinds := map[int]int{}
	for _, i := range a {
		f := ds.Window(i).SeizureFraction
		switch {
		case f >= 1:
			kinds[1]++
		case f > 0:
			kinds[0]++
		default:
			kinds[2]++
		}
	}
	if kinds[0] != np || kinds[1] != nf || kinds[2] != nb {
		t.Errorf("plan holds %v, want partial %d full %d background %d", kinds, np, nf, nb)
	}
	if _, _, _, err := (Pool{Background: []int{1, 2}}).Counts(0.3, 2.5); err == nil {
		t.Error("a pool without seizure windows must be an error")
	}
	if lim := Recordings(m, "train", 2); len(lim) != 2 {
		t.Errorf("limit_files 2: %d recordings", len(lim))
	}
}

func TestConfigValidateAndEnv(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.EarlyStop.Metric = "val_auroc" }, "early_stop metric \"val_auroc\""},
		{func(c *Config) { c.Abort = []string{"auroc < x after epoch 3"} }, "not a number"},
		{func(c *Config) { c.Abort = []string{"auroc lt 0.5"} }, "operator"},
		{func(c *Config) { c.BatchSize = 0 }, "batch_size"},
		{func(c *Config) { c.Beta2 = 1 }, "beta2"},
		{func(c *Config) { c.SweepMethod = "epoch" }, "sweep_method"},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one mentioning %q", err, tc.want)
		}
	}
	c := DefaultConfig()
	env := map[string]string{EnvSanitizeGrads: "1", EnvLimitFiles: "7", EnvSmoke: "true", EnvNaNDebug: "false"}
	notes, err := c.ApplyEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !c.SanitizeGrads || c.LimitFiles != SmokeLimitFiles || c.Epochs != 1 || c.MaxStepsPerEpoch != SmokeSteps || len(notes) != 4 {
		t.Errorf("after env: %+v, notes %v", c, notes)
	}
	if _, err := c.ApplyEnv(func(k string) string {
		if k == EnvLimitFiles {
			return "many"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), EnvLimitFiles) {
		t.Errorf("bad env value: %v", err)
	}
	r, err := ParseAbortRule("auroc < 0.55 after epoch 3")
	if err != nil {
		t.Fatal(err)
	}
	if r.Fires(2, map[string]float64{"auroc": 0.5}) || !r.Fires(3, map[string]float64{"auroc": 0.5}) || r.Fires(4, map[string]float64{"auroc": 0.6}) {
		t.Error("abort rule fires wrongly")
	}
}
