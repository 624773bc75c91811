package trainkinds

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/model"
	"github.com/pipeml/pipe/report"
	"github.com/pipeml/pipe/stages"
	"github.com/pipeml/pipe/train"
	"github.com/pipeml/pipe/train/traintest"
)

// logisticBuilder builds traintest.Logistic networks; its `model` config
// is {"smooth": N} (default 8).
type logisticBuilder struct{}

func (logisticBuilder) Version() string { return "logistic-1" }

func (logisticBuilder) Build(cfg json.RawMessage, channels, length int, seed uint64) (model.Net, error) {
	c := struct {
		Smooth int `json:"smooth"`
	}{8}
	if len(cfg) > 0 && string(cfg) != "null" {
		if err := json.Unmarshal(cfg, &c); err != nil {
			return nil, fmt.Errorf("logistic model config: %w", err)
		}
	}
	return traintest.NewLogistic(channels, c.Smooth, 0, seed), nil
}

// config builds a decoded config object for spec from the given
// attributes (the rest null), as the runner would.
func config(t *testing.T, spec hcldec.Spec, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	ty := hcldec.ImpliedType(spec)
	obj := map[string]cty.Value{}
	for name, at := range ty.AttributeTypes() {
		if v, ok := attrs[name]; ok {
			obj[name] = v
		} else {
			obj[name] = cty.NullVal(at)
		}
		delete(attrs, name)
	}
	if len(attrs) > 0 {
		t.Fatalf("attributes not in the spec: %v", attrs)
	}
	return cty.ObjectVal(obj)
}

func newRun(cfg cty.Value, workdir, fingerprint string) *stages.Run {
	return &stages.Run{Stage: "s", Fingerprint: fingerprint, Config: cfg, Workdir: workdir, StateDir: filepath.Join(workdir, "state"),
		Stdout: io.Discard, Stderr: io.Discard, Progress: stages.NopProgress{}}
}

func TestTrainAndEvaluate(t *testing.T) {
	cacheDir := traintest.MakeCache(t, traintest.Corpus())
	work := t.TempDir()
	tk := NewTrain(logisticBuilder{})
	tk.getenv = func(string) string { return "" }
	cfg := config(t, tk.ConfigSpec(), map[string]cty.Value{
		"cache": cty.StringVal(cacheDir), "dir": cty.StringVal("out/train"),
		"epochs": cty.NumberIntVal(3), "batch_size": cty.NumberIntVal(4), "lr": cty.NumberFloatVal(0.05),
		"model":       cty.ObjectVal(map[string]cty.Value{"smooth": cty.NumberIntVal(6)}),
		"postprocess": cty.MapVal(map[string]cty.Value{"on_threshold": cty.NumberFloatVal(0.5), "off_threshold": cty.NumberFloatVal(0.5), "min_event_s": cty.NumberFloatVal(1)}),
		"abort":       cty.ListVal([]cty.Value{cty.StringVal("auroc < 0.1 after epoch 3")}),
	})
	paths, err := tk.Paths(cfg, work)
	if err != nil {
		t.Fatal(err)
	}
	if paths.Inputs[0] != cacheDir || paths.Outputs[0] != filepath.Join(work, "out/train") {
		t.Errorf("paths %+v", paths)
	}
	res, err := tk.Run(context.Background(), newRun(cfg, work, "fp1"))
	if err != nil {
		t.Fatal(err)
	}
	for name, ty := range tk.Outputs() {
		v, ok := res.Outputs[name]
		if !ok || !v.Type().Equals(ty) {
			t.Errorf("output %s = %#v, want a %s", name, v, ty.FriendlyName())
		}
	}
	ck := res.Outputs["checkpoint"].AsString()
	if _, err := train.ReadState(ck); err != nil {
		t.Fatalf("best checkpoint %s: %v", ck, err)
	}
	if res.Outputs["epochs"].AsBigFloat().String() != "3" {
		t.Errorf("epochs %v", res.Outputs["epochs"])
	}
	// Same fingerprint: nothing to redo, same outputs.
	res2, err := tk.Run(context.Background(), newRun(cfg, work, "fp1"))
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Outputs["checkpoint"].RawEquals(res.Outputs["checkpoint"]) || !res2.Outputs["best_metric"].RawEquals(res.Outputs["best_metric"]) {
		t.Errorf("rerun outputs differ: %v vs %v", res2.Outputs, res.Outputs)
	}

	ek := NewEvaluate(logisticBuilder{})
	for _, split := range []string{"eval", "dev"} {
		ecfg := config(t, ek.ConfigSpec(), map[string]cty.Value{
			"checkpoint": cty.StringVal(ck), "cache": cty.StringVal(cacheDir), "dir": cty.StringVal("out/eval-" + split),
			"split": cty.StringVal(split), "grid": cty.NumberIntVal(50),
		})
		eres, err := ek.Run(context.Background(), newRun(ecfg, work, "fp2"))
		if err != nil {
			t.Fatal(err)
		}
		for name, ty := range ek.Outputs() {
			v, ok := eres.Outputs[name]
			if !ok || !v.Type().Equals(ty) {
				t.Errorf("output %s = %#v, want a %s", name, v, ty.FriendlyName())
			}
		}
		dir := filepath.Join(work, "out/eval-"+split)
		var rep report.Report
		b, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		wantSource := "applied unchanged to eval"
		if split == "dev" {
			wantSource = "dev split itself"
		}
		if !strings.Contains(rep.ThresholdSource, wantSource) || len(rep.Scores) != 6 || len(rep.SensitivityAtFA) != 4 {
			t.Errorf("%s report: source %q, %d scores, %d budgets", split, rep.ThresholdSource, len(rep.Scores), len(rep.SensitivityAtFA))
		}
		for _, f := range []string{report.MDFile, report.ROCFile, "thresholds.json"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
		hyps, _ := filepath.Glob(filepath.Join(dir, "hyp", "*"))
		if len(hyps) != 2*rep.Recordings || rep.Recordings == 0 {
			t.Errorf("%s: %d hypothesis files for %d recordings", split, len(hyps), rep.Recordings)
		}
		if a := eres.Outputs["auroc"].AsBigFloat(); a.Sign() <= 0 {
			t.Errorf("%s auroc %v", split, a)
		}
		t.Logf("%s: auroc %v, sens@10 %v", split, eres.Outputs["auroc"].AsBigFloat(), eres.Outputs["sensitivity_at_fa"].Index(cty.StringVal("10")).AsBigFloat())
	}
}

func TestConfigErrors(t *testing.T) {
	tk := NewTrain(logisticBuilder{})
	for _, tc := range []struct {
		attrs map[string]cty.Value
		want  string
	}{
		{map[string]cty.Value{"early_stop_metric": cty.StringVal("val_acc")}, "early_stop metric \"val_acc\""},
		{map[string]cty.Value{"epochs": cty.NumberFloatVal(2.5)}, "config.epochs = 2.5"},
		{map[string]cty.Value{"postprocess": cty.MapVal(map[string]cty.Value{"threshold": cty.NumberIntVal(1)})}, "config.postprocess"},
		{map[string]cty.Value{"abort": cty.ListVal([]cty.Value{cty.StringVal("auroc is bad")})}, "abort"},
	} {
		attrs := map[string]cty.Value{"cache": cty.StringVal("c"), "dir": cty.StringVal("d")}
		for k, v := range tc.attrs {
			attrs[k] = v
		}
		if _, err := tk.Paths(config(t, tk.ConfigSpec(), attrs), t.TempDir()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one mentioning %q", err, tc.want)
		}
	}
	// An environment override that does not parse fails the run.
	tk.getenv = func(k string) string {
		if k == train.EnvLimitFiles {
			return "x"
		}
		return ""
	}
	cfg := config(t, tk.ConfigSpec(), map[string]cty.Value{"cache": cty.StringVal("c"), "dir": cty.StringVal("d")})
	if _, err := tk.Run(context.Background(), newRun(cfg, t.TempDir(), "f")); err == nil || !strings.Contains(err.Error(), train.EnvLimitFiles) {
		t.Errorf("bad env: %v", err)
	}
}
