package kernelcheck

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/kernels/cuda"
	"github.com/pipeml/pipe/stages"
)

func TestRunQuickOnCPU(t *testing.T) {
	var out bytes.Buffer
	cfg := cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("cpu"), "quick": cty.True,
		"require_gpu": cty.NullVal(cty.Bool), "seed": cty.NumberIntVal(5), "workers": cty.NullVal(cty.Number)})
	res, err := New().Run(context.Background(), &stages.Run{Config: cfg, Stdout: &out, Progress: stages.NopProgress{}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for k := range New().Outputs() {
		if _, ok := res.Outputs[k]; !ok {
			t.Errorf("output %s missing", k)
		}
	}
	if res.Outputs["gpu_checked"].True() {
		t.Error("gpu_checked on the CPU")
	}
	if !strings.Contains(out.String(), "GPU was not checked") || !strings.Contains(out.String(), "scan B19") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []map[string]cty.Value{
		{"device": cty.StringVal("tpu")},
		{"device": cty.StringVal("cpu"), "require_gpu": cty.True},
	} {
		cfg := map[string]cty.Value{"device": cty.NullVal(cty.String), "require_gpu": cty.NullVal(cty.Bool),
			"quick": cty.True, "seed": cty.NullVal(cty.Number), "workers": cty.NullVal(cty.Number)}
		for k, v := range c {
			cfg[k] = v
		}
		_, err := New().Run(context.Background(), &stages.Run{Config: cty.ObjectVal(cfg), Progress: stages.NopProgress{}})
		if err == nil {
			t.Errorf("%v: accepted", c)
		}
	}
}

func TestCUDAWithoutCUDA(t *testing.T) {
	if cuda.Built {
		t.Skip("CUDA build")
	}
	_, err := Check(context.Background(), Config{Device: "cuda", Quick: true}, &bytes.Buffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "without CUDA") {
		t.Errorf("device = cuda without CUDA: %v", err)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Check(ctx, Config{Device: "cpu", Quick: true}, &bytes.Buffer{}, nil)
	if err == nil {
		t.Error("cancelled check succeeded")
	}
}
