package model

import (
	"math"
	"testing"

	"github.com/pipeml/pipe/kernels"
	"github.com/pipeml/pipe/kernels/mamba"
)

// TestMambaAgreesWithKernels runs the model's Mamba-2 block and the kernels
// package's (kernels/mamba on the CPU backend, itself checked against
// mamba_ssm's golden vectors) with the same parameters and compares the
// output, the input gradient and every parameter gradient. It ties the
// model's block to the golden vectors; the gorgonia oracle ties the rest of
// the model's gradient to its forward pass.
func TestMambaAgreesWithKernels(t *testing.T) {
	for _, dm := range []mambaDims{
		{dModel: 16, dState: 8, headDim: 8, nHeads: 4, dInner: 32, dConv: 4}, // demo node stream
		{dModel: 4, dState: 4, headDim: 4, nHeads: 2, dInner: 8, dConv: 4},   // demo edge stream
		{dModel: 8, dState: 16, headDim: 2, nHeads: 8, dInner: 16, dConv: 3}, // odd sizes
	} {
		const n, l = 3, 70 // l > scanChunk: checkpointed backward
		ps := newParamSet(7)
		m := newMamba2(ps, "m", dm)
		be := kernels.NewCPU(2)
		defer be.Close()
		kb, err := mamba.NewBlock(be, mamba.Config{DModel: dm.dModel, DState: dm.dState, DConv: dm.dConv, Expand: dm.dInner / dm.dModel, HeadDim: dm.headDim, NGroups: 1, NormEps: 1e-5})
		if err != nil {
			t.Fatal(err)
		}
		pairs := []struct {
			p   *Param
			buf kernels.Buffer
			g   kernels.Buffer
		}{
			{m.inProj, kb.W.InProj, kb.G.InProj}, {m.convW, kb.W.ConvW, kb.G.ConvW}, {m.convB, kb.W.ConvB, kb.G.ConvB},
			{m.dtBias, kb.W.DtBias, kb.G.DtBias}, {m.aLog, kb.W.ALog, kb.G.ALog}, {m.dSkip, kb.W.D, kb.G.D},
			{m.normW, kb.W.NormW, kb.G.NormW}, {m.outProj, kb.W.OutProj, kb.G.OutProj},
		}
		for _, pr := range pairs {
			if err := be.Upload(pr.buf, pr.p.W); err != nil {
				t.Fatal(err)
			}
		}
		u := randInput(n*l*dm.dModel, 1)
		gout := randInput(n*l*dm.dModel, 2)
		out := make([]float32, len(u))
		m.forward(out, u, n, l)
		gu := make([]float32, len(u))
		m.backward(gu, gout)

		ub, _ := be.Alloc(len(u))
		ob, _ := be.Alloc(len(u))
		gob, _ := be.Alloc(len(u))
		gub, _ := be.Alloc(len(u))
		be.Upload(ub, u)
		be.Upload(gob, gout)
		if err := kb.Forward(ub, ob, n, l); err != nil {
			t.Fatal(err)
		}
		if err := kb.Backward(gob, gub); err != nil {
			t.Fatal(err)
		}
		cmp := func(name string, got []float32, b kernels.Buffer) {
			want := make([]float32, b.Len())
			if err := be.Download(want, b); err != nil {
				t.Fatal(err)
			}
			var scale, worst float64
			for _, v := range want {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
			}
			if worst > 1e-4*math.Max(scale, 1e-3) {
				t.Errorf("%+v %s: max difference %.3g (scale %.3g)", dm, name, worst, scale)
			}
		}
		cmp("out", out, ob)
		cmp("grad u", gu, gub)
		for _, pr := range pairs {
			cmp("grad "+pr.p.Name, pr.p.G, pr.g)
		}
	}
}
