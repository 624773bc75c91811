package train

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeml/pipe/model"
)

// poisonNet wraps a network and poisons chosen training forward passes
// (a NaN in the input batch, counted from 1) or backward passes (a NaN
// gradient).
type poisonNet struct {
	model.Net
	calls, backs  int
	forward, back map[int]bool
}

func (p *poisonNet) Forward(x []float32, batch, n int, train bool, seed uint64) ([]float32, error) {
	if train {
		p.calls++
		if p.forward[p.calls] {
			x = append([]float32(nil), x...)
			x[len(x)/2] = float32(math.NaN())
		}
	}
	return p.Net.Forward(x, batch, n, train, seed)
}

func (p *poisonNet) Backward(d []float32) error {
	if err := p.Net.Backward(d); err != nil {
		return err
	}
	p.backs++
	if p.back[p.backs] {
		p.Net.Params()[0].G[0] = float32(math.Inf(1))
	}
	return nil
}

// checkFinite fails when any tensor of any checkpoint under dir holds a
// non-finite value.
func checkFinite(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, CheckpointsDir, "*", "*.safetensors"))
	if len(files) == 0 {
		t.Fatal("no checkpoint files")
	}
	for _, f := range files {
		ts, _, err := ReadSafetensors(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ts {
			for i, v := range x.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s: %s[%d] = %v", f, x.Name, i, v)
				}
			}
		}
	}
}

func TestNaNInjection(t *testing.T) {
	cfg := smallConfig()
	cfg.Epochs = 2
	dir := t.TempDir()
	sum, err := runTraining(t, cfg, dir, func(o *Options) {
		o.Net = &poisonNet{Net: o.Net, forward: map[int]bool{3: true}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 1 {
		t.Errorf("skipped steps %d, want 1", sum.Skipped)
	}
	skips := 0
	for _, r := range readLines(t, filepath.Join(dir, MetricsFile)) {
		if r["type"] == "skip" {
			skips++
			if r["global_step"].(float64) != 3 || !strings.Contains(r["reason"].(string), "loss NaN") {
				t.Errorf("skip record %v", r)
			}
		}
	}
	if skips != 1 {
		t.Errorf("%d skip records, want 1", skips)
	}
	checkFinite(t, dir)

	// N poisoned steps in a row fail the run, saving the batch.
	cfg.MaxNonFinite = 3
	dir = t.TempDir()
	_, err = runTraining(t, cfg, dir, func(o *Options) {
		o.Net = &poisonNet{Net: o.Net, forward: map[int]bool{2: true, 3: true, 4: true}}
	})
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Steps != 3 || nf.FromStep != 2 {
		t.Fatalf("error %v, want 3 consecutive non-finite steps from step 2", err)
	}
	ts, meta, err := ReadSafetensors(nf.BatchFile)
	if err != nil {
		t.Fatal(err)
	}
	hasNaN := false // the logits of the poisoned pass
	for _, v := range ts[len(ts)-1].Data {
		hasNaN = hasNaN || math.IsNaN(float64(v))
	}
	if ts[0].Name != "x" || ts[len(ts)-1].Name != "logits" || !hasNaN || !strings.Contains(meta["reason"], "NaN") || meta["windows"] == "" {
		t.Errorf("saved batch: %s %v, NaN %v", ts[0].Name, meta, hasNaN)
	}

	// A non-finite gradient is skipped, or zeroed with sanitize_grads.
	for _, sanitize := range []bool{false, true} {
		cfg := smallConfig()
		cfg.Epochs, cfg.SanitizeGrads = 1, sanitize
		dir := t.TempDir()
		sum, err := runTraining(t, cfg, dir, func(o *Options) {
			o.Net = &poisonNet{Net: o.Net, back: map[int]bool{2: true}}
		})
		if err != nil {
			t.Fatal(err)
		}
		if sanitize && (sum.Skipped != 0 || sum.Sanitized != 1) || !sanitize && (sum.Skipped != 1 || sum.Sanitized != 0) {
			t.Errorf("sanitize %v: skipped %d, sanitized %d", sanitize, sum.Skipped, sum.Sanitized)
		}
		checkFinite(t, dir)
	}
}

func TestDebugFinite(t *testing.T) {
	cfg := smallConfig()
	cfg.Epochs, cfg.DebugFinite, cfg.MaxNonFinite = 1, true, 1
	_, err := runTraining(t, cfg, t.TempDir(), func(o *Options) {
		o.Net = &poisonNet{Net: o.Net, forward: map[int]bool{1: true}}
	})
	// poisonNet hides SetDebugFinite: the run must refuse, not ignore it.
	if err == nil || !strings.Contains(err.Error(), "debug_finite") {
		t.Fatalf("error %v, want a refusal naming debug_finite", err)
	}
	_, err = runTraining(t, cfg, t.TempDir(), func(o *Options) {
		o.Net.(interface{ SetDebugFinite(bool) }).SetDebugFinite(false) // the run turns it on
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEarlyStoppingKey runs with patience 1 on several keys and modes and
// checks that each run stops exactly where its own key, read back from
// metrics.jsonl, says it should.
func TestEarlyStoppingKey(t *testing.T) {
	stoppedSome := false
	for _, tc := range []struct{ metric, mode string }{
		{"val_loss", "min"}, {"val_loss", "max"}, {"auroc", "max"}, {"train_loss", "max"},
	} {
		cfg := smallConfig()
		cfg.Epochs, cfg.LR = 4, 0.02
		cfg.EarlyStop = EarlyStop{Metric: tc.metric, Mode: tc.mode, Patience: 1}
		dir := t.TempDir()
		sum, err := runTraining(t, cfg, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, best, stops := cfg.Epochs, math.NaN(), false
		for _, r := range readLines(t, filepath.Join(dir, MetricsFile)) {
			if r["type"] != "epoch" {
				continue
			}
			v, ok := r[tc.metric].(float64)
			if !ok {
				t.Fatalf("epoch record without %s: %v", tc.metric, r)
			}
			e := int(r["epoch"].(float64))
			if e == 1 || tc.mode == "min" && v < best || tc.mode == "max" && v > best {
				best = v
				continue
			}
			want, stops = e, true
			break
		}
		if sum.Epochs != want || sum.StoppedEarly != stops || sum.Best.Metric != tc.metric {
			t.Errorf("%s %s: ran %d epochs (stopped early %v: %s), the metric says %d", tc.metric, tc.mode, sum.Epochs, sum.StoppedEarly, sum.StopReason, want)
		}
		if stops {
			// A rerun resumes at the stop and stops again without training.
			before := fileBytes(t, filepath.Join(dir, MetricsFile))
			again, err := runTraining(t, cfg, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if again.Epochs != sum.Epochs || !again.StoppedEarly || !bytes.Equal(before, fileBytes(t, filepath.Join(dir, MetricsFile))) {
				t.Errorf("%s %s: the rerun went on (%d epochs, stopped early %v)", tc.metric, tc.mode, again.Epochs, again.StoppedEarly)
			}
			stoppedSome = true
			if !strings.Contains(sum.StopReason, tc.metric) {
				t.Errorf("stop reason %q does not name %s", sum.StopReason, tc.metric)
			}
		}
	}
	if !stoppedSome {
		t.Error("no configuration stopped early: the test proves nothing")
	}
}

func TestAbortRule(t *testing.T) {
	cfg := smallConfig()
	cfg.Abort = []string{"auroc < 2 after epoch 2"}
	dir := t.TempDir()
	_, err := runTraining(t, cfg, dir, nil)
	var ab *AbortError
	if !errors.As(err, &ab) || ab.Epoch != 2 {
		t.Fatalf("error %v, want the abort rule firing at epoch 2", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	if !bytes.Contains(b, []byte("abort rule")) {
		t.Errorf("summary does not record the abort: %s", b)
	}
	// A rerun fails the same way without training on.
	before := fileBytes(t, filepath.Join(dir, MetricsFile))
	_, err = runTraining(t, cfg, dir, nil)
	if !errors.As(err, &ab) || ab.Epoch != 2 || !bytes.Equal(before, fileBytes(t, filepath.Join(dir, MetricsFile))) {
		t.Errorf("rerun after abort: %v", err)
	}
}

// TestCorruptCheckpointFallsBack corrupts the newest checkpoint: the rerun
// ignores it, resumes from the one before and ends identical to the
// original run.
func TestCorruptCheckpointFallsBack(t *testing.T) {
	cfg := smallConfig()
	ref, dir := t.TempDir(), t.TempDir()
	for _, d := range []string{ref, dir} {
		if _, err := runTraining(t, cfg, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	w := filepath.Join(dir, CheckpointsDir, "epoch-0003", WeightsFile)
	b, _ := os.ReadFile(w)
	b[len(b)-1] ^= 0x40
	os.WriteFile(w, b, 0o644)
	if _, err := ReadState(filepath.Dir(w)); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("ReadState of a corrupt checkpoint: %v", err)
	}
	var log bytes.Buffer
	if _, err := runTraining(t, cfg, dir, func(o *Options) { o.Log = &log }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "ignoring checkpoint") || !strings.Contains(log.String(), "resuming from checkpoint epoch-0002") {
		t.Errorf("log:\n%s", log.String())
	}
	compareRuns(t, ref, dir, 3)

	// state.json tampering is caught too.
	sp := filepath.Join(dir, CheckpointsDir, "epoch-0003", StateFile)
	s, _ := os.ReadFile(sp)
	os.WriteFile(sp, bytes.Replace(s, []byte(`"epoch": 3`), []byte(`"epoch": 2`), 1), 0o644)
	if _, err := ReadState(filepath.Dir(sp)); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("tampered state.json: %v", err)
	}
}
