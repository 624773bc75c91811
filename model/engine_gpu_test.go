//go:build cuda

package model

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pipeml/pipe/kernels/cuda"
)

// TestEngineMatchesV3GPU is TestEngineMatchesV3CPU on GPU 0 (the bench/gpu
// bundle runs it): logits and every parameter gradient of the engine on the
// CUDA backend against the pure-Go V3.
func TestEngineMatchesV3GPU(t *testing.T) {
	be, err := cuda.OpenBackend(0)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	for _, tc := range engineCases() {
		t.Run(tc.name, func(t *testing.T) { compareEngines(t, be, tc, 1e-5) })
	}
}

// TestEngineGPUStep times training steps of the demo profile (batch 16 of
// 19 × 2048 samples) built by the Builder with device = "cuda", and logs
// the time per step next to the pure-Go V3's on this machine's CPU.
func TestEngineGPUStep(t *testing.T) {
	const batch, ch, l = 16, 19, 2048
	gpu, err := (Builder{}).Build(json.RawMessage(`{"preset":"demo","device":"cuda"}`), ch, l, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gpu.(*Engine); !ok {
		t.Fatalf("device cuda built %T, want *Engine", gpu)
	}
	defer gpu.(*Engine).Close()
	cpu, err := New(Demo(), ch, l, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(batch*ch*l, 1)
	dl := randInput(batch*l, 2)
	for _, n := range []struct {
		name string
		net  Net
	}{{"engine on " + gpu.(*Engine).Backend().Name(), gpu}, {"V3 on the CPU", cpu}} {
		steps := 0
		var el time.Duration
		for el < 2*time.Second || steps < 3 {
			start := time.Now()
			n.net.ZeroGrad()
			if _, err := n.net.Forward(x, batch, l, true, uint64(steps)); err != nil {
				t.Fatal(err)
			}
			if err := n.net.Backward(dl); err != nil {
				t.Fatal(err)
			}
			if steps > 0 { // the first step allocates
				el += time.Since(start)
			}
			steps++
		}
		t.Logf("%s: %.1f ms per demo step (batch %d), %.1f windows/s", n.name,
			el.Seconds()*1e3/float64(steps-1), batch, float64(batch*(steps-1))/el.Seconds())
	}
}
