package check

import (
	"testing"

	"github.com/pipeml/pipe/kernels"
)

// smallCases covers every op at small, odd and degenerate (L = 1, one
// channel, one node pair) shapes.
func smallCases(g *Gen) []Case {
	var cs []Case
	for _, s := range []kernels.ScanShape{{Batch: 1, L: 1, H: 1, P: 1, G: 1, N: 1}, {Batch: 2, L: 5, H: 4, P: 3, G: 2, N: 3}, {Batch: 1, L: 37, H: 2, P: 2, G: 1, N: 4}} {
		cs = append(cs, Scan(g, s, false, true), Scan(g, s, true, false))
	}
	for _, d := range [][3]int{{1, 1, 1}, {3, 4, 5}, {7, 20, 3}, {5, 33, 17}, {40, 17, 18}} {
		cs = append(cs, Linear(g, d[0], d[1], d[2]))
	}
	for _, s := range []kernels.ConvShape{
		{Batch: 1, Cin: 1, Lin: 1, Cout: 1, K: 1, Lout: 1, Stride: 1, Dil: 1},
		{Batch: 2, Cin: 3, Lin: 19, Cout: 4, K: 7, Lout: 19, Stride: 1, Dil: 2, Pad: 6},
		{Batch: 1, Cin: 2, Lin: 20, Cout: 3, K: 4, Lout: 9, Stride: 2, Dil: 1, Pad: 1},
		{Batch: 2, Cin: 2, Lin: 9, Cout: 2, K: 7, Lout: 9, Stride: 1, Dil: 4, Pad: 12},
	} {
		cs = append(cs, Conv(g, s))
	}
	for _, s := range []kernels.DWShape{{Batch: 1, L: 1, C: 1, W: 4}, {Batch: 2, L: 9, C: 5, W: 4}, {Batch: 3, L: 3, C: 7, W: 2}} {
		cs = append(cs, DWConv(g, s, true), DWConv(g, s, false))
	}
	cs = append(cs, WeightNorm(g, 1, 1), WeightNorm(g, 5, 7),
		LayerNorm(g, 1, 1), LayerNorm(g, 13, 9), LayerNorm(g, 9, 64),
		RMSNormGated(g, 1, 4, 4), RMSNormGated(g, 7, 12, 4), RMSNormGated(g, 11, 16, 16))
	for _, a := range []kernels.Activation{kernels.SiLU, kernels.Softplus, kernels.Sigmoid, kernels.ReLU} {
		cs = append(cs, Unary(g, a, 1), Unary(g, a, 9001))
	}
	cs = append(cs, BiasSoftplus(g, 1, 1), BiasSoftplus(g, 17, 16),
		BCEFocal(g, 1, kernels.BCEFocal{PosWeight: 1, Alpha: -1}),
		BCEFocal(g, 301, kernels.BCEFocal{PosWeight: 3, Alpha: 0.25, Gamma: 2}),
		BCEFocal(g, 50, kernels.BCEFocal{PosWeight: 1, Alpha: 0.75, Gamma: 1.5}),
		Clamp(g, 1, -1, 1), Clamp(g, 999, -5, 5))
	for _, s := range []kernels.GraphShape{{G: 1, N: 1, F: 1}, {G: 1, N: 2, F: 3}, {G: 3, N: 2, F: 5}, {G: 2, N: 7, F: 3}, {G: 2, N: 19, F: 4}} {
		if s.N > 1 {
			cs = append(cs, Cosine(g, s))
		}
		cs = append(cs, SSGConv(g, s, kernels.SSG{K: 1, Alpha: 0.1, SelfLoops: true}))
		if s.N > 1 {
			// (One node without self loops: Â = 1 whatever A is, so the
			// gradient of A is 0 up to float32 cancellation noise.)
			cs = append(cs, SSGConv(g, s, kernels.SSG{K: 3, Alpha: 0.05}))
		}
		for _, k := range []int{0, 1, s.N - 1} {
			if k >= 0 && k < s.N {
				cs = append(cs, TopK(g, s, k, false))
			}
		}
		cs = append(cs, TopK(g, s, s.N, true))
	}
	// (Appended last so that the random inputs of the cases above stay
	// those they were tuned with.)
	for _, d := range [][4]int{{1, 1, 1, 1}, {2, 3, 5, 1}, {2, 4, 3, 6}, {1, 1, 7, 2}} {
		cs = append(cs, Transpose(g, d[0], d[1], d[2], d[3]))
	}
	for _, s := range [][2]int{{1, 2}, {3, 5}, {2, 19}} {
		for _, sym := range []bool{false, true} {
			cs = append(cs, TriuGather(g, s[0], s[1], sym), TriuScatter(g, s[0], s[1], sym))
		}
	}
	cs = append(cs, Dropout(g, 1, 1, 0, 0.5), Dropout(g, 5000, 0xfeedfacecafebeef, 3, 0.1), Dropout(g, 777, 42, 1<<24-1, 0))
	return cs
}

func TestSmallShapesFullFiniteDifferences(t *testing.T) {
	b := kernels.NewCPU(3)
	defer b.Close()
	g := NewGen(7)
	for _, c := range smallCases(g) {
		t.Run(c.Name, func(t *testing.T) {
			r := Run(b, c, Options{FullFD: true, Seed: 1})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			t.Logf("fwd %.2g bwd %.2g", r.FwdErr, r.BwdErr)
		})
	}
}
