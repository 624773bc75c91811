package model

import (
	"math"
	"strings"
	"testing"

	"github.com/pipeml/pipe/kernels"
)

// engineCase is one comparison of the Backend engine with the pure-Go V3.
type engineCase struct {
	name           string
	cfg            Config
	ch, batch, len int
	train          bool
	checkpoint     bool // SetCheckpoint(true)
}

func engineCases() []engineCase {
	noGraph := tiny()
	noGraph.GraphLayers = 0
	drop := tiny()
	drop.Dropout = 0.2
	return []engineCase{
		{"tiny", tiny(), 3, 2, 8 * tiny().Downsample, false, false},
		{"tiny dropout train", drop, 3, 2, 8 * drop.Downsample, true, false},
		{"tiny without graph", noGraph, 2, 3, 5 * noGraph.Downsample, false, false},
		{"demo", Demo(), 4, 2, 6 * Demo().Downsample, true, false},
		{"tiny dropout train checkpoint", drop, 3, 2, 8 * drop.Downsample, true, true},
		{"demo checkpoint", Demo(), 4, 2, 6 * Demo().Downsample, true, true},
	}
}

// compareEngines runs the same batches through V3 and through an Engine on
// be (two steps, so buffer reuse and gradient accumulation are covered)
// and compares the logits and every parameter gradient, each relative to
// the largest magnitude of the V3's tensor.
func compareEngines(t *testing.T, be kernels.Backend, tc engineCase, tol float64) {
	t.Helper()
	ref, err := New(tc.cfg, tc.ch, tc.len, 9)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(tc.cfg, tc.ch, tc.len, 9, be, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := eng.Close(); err != nil {
			t.Error(err)
		}
	}()
	if tc.checkpoint {
		if err := eng.SetCheckpoint(true); err != nil {
			t.Fatal(err)
		}
	}
	if len(eng.Params()) != len(ref.Params()) {
		t.Fatalf("%d parameters, V3 has %d", len(eng.Params()), len(ref.Params()))
	}
	worstOut, worstGrad := 0.0, 0.0
	for step := uint64(0); step < 2; step++ {
		x := randInput(tc.batch*tc.ch*tc.len, 100+step)
		dl := randInput(tc.batch*tc.len, 200+step)
		want, err := ref.Forward(x, tc.batch, tc.len, tc.train, 7+step)
		if err != nil {
			t.Fatal(err)
		}
		got, err := eng.Forward(x, tc.batch, tc.len, tc.train, 7+step)
		if err != nil {
			t.Fatal(err)
		}
		worstOut = math.Max(worstOut, relErr(t, tc.name+" logits", got, want, tol))
		if err := ref.Backward(dl); err != nil {
			t.Fatal(err)
		}
		if err := eng.Backward(dl); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range ref.Params() {
		q := eng.Params()[i]
		if q.Name != p.Name || !equalShape(q.Shape, p.Shape) {
			t.Fatalf("parameter %d: %s %v, V3 has %s %v", i, q.Name, q.Shape, p.Name, p.Shape)
		}
		worstGrad = math.Max(worstGrad, relErr(t, tc.name+" grad "+p.Name, q.G, p.G, tol))
	}
	t.Logf("%s on %s: worst relative error logits %.2g, gradients %.2g", tc.name, be.Name(), worstOut, worstGrad)
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// relErr is the largest |got − want| over the largest |want|, floored at
// 1e-2 (a gradient that is a cancelling sum, such as A_log's, can be 1e-4
// of the others while its rounding error is that of its terms); it fails
// the test above tol.
func relErr(t *testing.T, name string, got, want []float32, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	var scale, worst float64
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		worst = math.Max(worst, d)
	}
	r := worst / math.Max(scale, 1e-2)
	if r > tol {
		t.Errorf("%s: max difference %.3g relative to the largest value %.3g: %.3g > %g", name, worst, scale, r, tol)
	}
	return r
}

// TestEngineMatchesV3CPU: the Backend engine on the CPU backend computes
// the V3's logits and every parameter gradient.
func TestEngineMatchesV3CPU(t *testing.T) {
	be := kernels.NewCPU(2)
	defer be.Close()
	for _, tc := range engineCases() {
		t.Run(tc.name, func(t *testing.T) { compareEngines(t, be, tc, 1e-5) })
	}
}

func TestEngineRefusesLapPE(t *testing.T) {
	c := tiny()
	c.LapPE = true
	be := kernels.NewCPU(1)
	defer be.Close()
	if _, err := NewEngine(c, 3, 8*c.Downsample, 1, be, false); err == nil || !strings.Contains(err.Error(), "lap_pe") {
		t.Fatalf("err = %v, want a lap_pe refusal", err)
	}
}

func TestEngineBackwardBeforeForward(t *testing.T) {
	be := kernels.NewCPU(1)
	defer be.Close()
	c := tiny()
	e, err := NewEngine(c, 3, 8*c.Downsample, 1, be, false)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Backward(make([]float32, 2*8*c.Downsample)); err == nil {
		t.Fatal("Backward before Forward: no error")
	}
	if _, err := e.Forward(make([]float32, 5), 1, 8*c.Downsample, false, 1); err == nil {
		t.Fatal("Forward with a short input: no error")
	}
	if _, err := e.Forward(make([]float32, 3*8*c.Downsample), 1, 8*c.Downsample, false, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.SetCheckpoint(true); err == nil {
		t.Fatal("SetCheckpoint after Forward: no error")
	}
}

// TestEngineDebugFinite: with SetDebugFinite the engine names the first
// layer whose output is not finite, as V3 does.
func TestEngineDebugFinite(t *testing.T) {
	be := kernels.NewCPU(1)
	defer be.Close()
	c := tiny()
	T := 8 * c.Downsample
	e, err := NewEngine(c, 3, T, 1, be, false)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.SetDebugFinite(true)
	x := randInput(2*3*T, 1)
	if _, err := e.Forward(x, 2, T, false, 1); err != nil {
		t.Fatalf("finite input: %v", err)
	}
	for _, p := range e.Params() {
		if p.Name == "split.bias" {
			p.W[0] = float32(math.Inf(1))
		}
	}
	_, err = e.Forward(x, 2, T, false, 1)
	if err == nil || !strings.Contains(err.Error(), "output of layer split is not finite") {
		t.Fatalf("inf in split.bias: got %v", err)
	}
	x[5] = float32(math.NaN())
	if _, err := e.Forward(x, 2, T, false, 1); err == nil || !strings.Contains(err.Error(), "layer input") {
		t.Fatalf("NaN input: got %v", err)
	}
}

// TestEngineCloseFreesEverything: after Close nothing the engine (and its
// Mamba-2 layers) allocated on the backend is left.
func TestEngineCloseFreesEverything(t *testing.T) {
	cb := &countingBackend{Backend: kernels.NewCPU(1)}
	defer cb.Backend.Close()
	c := tiny()
	c.Dropout = 0.1
	T := 8 * c.Downsample
	e, err := NewEngine(c, 3, T, 1, cb, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []int{2, 3} { // a second shape reallocates
		if _, err := e.Forward(randInput(b*3*T, 1), b, T, true, 1); err != nil {
			t.Fatal(err)
		}
		if err := e.Backward(randInput(b*T, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if cb.live == 0 {
		t.Fatal("nothing allocated")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if cb.live != 0 {
		t.Fatalf("%d bytes still allocated after Close", cb.live)
	}
}
