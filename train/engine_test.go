package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pipeml/pipe/kernels"
	"github.com/pipeml/pipe/model"
)

// TestEngineTrainsLikeV3 runs three AdamW steps of the demo model with
// dropout on the pure-Go V3 and on the Backend engine (CPU backend) from
// the same seed and batches, compares the weights, then loads the V3's
// checkpoint into a differently initialised engine and compares the
// evaluation logits: the engines train alike and share checkpoints.
func TestEngineTrainsLikeV3(t *testing.T) {
	c := model.Demo()
	const ch, batch = 4, 2
	T := 6 * c.Downsample
	ref, err := model.New(c, ch, T, 5)
	if err != nil {
		t.Fatal(err)
	}
	be := kernels.NewCPU(2)
	defer be.Close()
	eng, err := model.NewEngine(c, ch, T, 5, be, false)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	nets := []model.Net{ref, eng}
	opts := []*AdamW{NewAdamW(ref.Params(), 0.9, 0.999, 1e-3, 0.01), NewAdamW(eng.Params(), 0.9, 0.999, 1e-3, 0.01)}
	r := rand.New(rand.NewPCG(3, 4))
	for step := 0; step < 3; step++ {
		x := make([]float32, batch*ch*T)
		y := make([]float32, batch*T)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for i := range y {
			if i/64%3 == 0 {
				y[i] = 1
			}
		}
		for k, n := range nets {
			n.ZeroGrad()
			logits, err := n.Forward(x, batch, T, true, uint64(step))
			if err != nil {
				t.Fatal(err)
			}
			dl := make([]float32, len(logits)) // mean BCE with logits
			for i, z := range logits {
				dl[i] = float32((1/(1+math.Exp(-float64(z))) - float64(y[i])) / float64(len(logits)))
			}
			if err := n.Backward(dl); err != nil {
				t.Fatal(err)
			}
			opts[k].Update(n.Params(), 1e-3, 1)
		}
	}
	for i, p := range ref.Params() {
		q := eng.Params()[i]
		var scale, worst float64
		for j := range p.W {
			scale = math.Max(scale, math.Abs(float64(p.W[j])))
			worst = math.Max(worst, math.Abs(float64(p.W[j]-q.W[j])))
		}
		if worst > 1e-5*math.Max(scale, 1e-2) {
			t.Errorf("%s after 3 steps: weights differ by %.3g (largest %.3g)", p.Name, worst, scale)
		}
	}
	// the V3's checkpoint in a fresh engine.
	dir := t.TempDir()
	if err := SaveCheckpoint(dir, ref.Params(), opts[0], State{Key: "k", Seed: 5}); err != nil {
		t.Fatal(err)
	}
	eng2, err := model.NewEngine(c, ch, T, 77, be, false)
	if err != nil {
		t.Fatal(err)
	}
	defer eng2.Close()
	if _, err := LoadCheckpoint(dir, eng2.Params(), nil); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, batch*ch*T)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	want, err := ref.Forward(x, batch, T, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	want = append([]float32(nil), want...)
	got, err := eng2.Forward(x, batch, T, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var scale, worst float64
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	if worst > 1e-5*math.Max(scale, 1e-2) {
		t.Fatalf("engine with the V3's checkpoint: logits differ by %.3g (largest %.3g)", worst, scale)
	}
}
