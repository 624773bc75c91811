//go:build cudaemu && !cuda

package cuda_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pipeml/pipe/kernels"
	"github.com/pipeml/pipe/kernels/check"
	"github.com/pipeml/pipe/kernels/cuda"
	"github.com/pipeml/pipe/kernels/cuda/emu"
)

// scanBackend is the part of kernels.Backend the comparison needs (the
// CPU backend implements at least this).
type scanBackend interface {
	kernels.Memory
	kernels.Scan
}

func runBackendScan(t *testing.T, be scanBackend, s kernels.ScanShape, in scanIn, gy []float32, rev bool) map[string][]float32 {
	t.Helper()
	upb := func(v []float32) kernels.Buffer {
		b, err := be.Alloc(len(v))
		must(t, err)
		must(t, be.Upload(b, v))
		return b
	}
	nb := func(n int) kernels.Buffer {
		b, err := be.Alloc(n)
		must(t, err)
		return b
	}
	get := func(b kernels.Buffer) []float32 {
		out := make([]float32, b.Len())
		must(t, be.Download(out, b))
		return out
	}
	x, dt, A, B, C, D := upb(in.x), upb(in.dt), upb(in.A), upb(in.B), upb(in.C), upb(in.D)
	y, fin := nb(len(in.x)), nb(s.Batch*s.H*s.P*s.N)
	must(t, be.ScanFwd(s, x, dt, A, B, C, D, y, fin, rev))
	g := kernels.ScanGrads{X: nb(len(in.x)), DT: nb(len(in.dt)), A: nb(s.H), B: nb(len(in.B)), C: nb(len(in.C)), D: nb(s.H)}
	must(t, be.ScanBwd(s, x, dt, A, B, C, D, upb(gy), g, rev))
	return map[string][]float32{"y": get(y), "final": get(fin), "gx": get(g.X), "gdt": get(g.DT), "gA": get(g.A),
		"gB": get(g.B), "gC": get(g.C), "gD": get(g.D)}
}

// TestBackendMatchesCPU runs the kernels.Backend adapter on the emulator and
// the kernels package's CPU backend on the same scans and compares them.
func TestBackendMatchesCPU(t *testing.T) {
	cpu := kernels.NewCPU(2)
	defer cpu.Close()
	gpu := cuda.NewBackend(cuda.NewDevice(emu.New()), "cuda (emulated)")
	defer gpu.Close()
	r := rand.New(rand.NewPCG(21, 5))
	for _, s := range []kernels.ScanShape{{Batch: 2, L: 37, H: 4, P: 3, G: 2, N: 5}, {Batch: 1, L: 70, H: 16, P: 8, G: 1, N: 16}} {
		for _, rev := range []bool{false, true} {
			nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
			in := scanIn{x: randn(r, nx, 1), dt: make([]float32, nt), A: make([]float32, s.H), B: randn(r, nb, 1), C: randn(r, nb, 1), D: randn(r, s.H, 1)}
			for i := range in.dt {
				in.dt[i] = float32(0.01 + 0.3*r.Float64())
			}
			for i := range in.A {
				in.A[i] = -float32(math.Exp(r.NormFloat64()))
			}
			gy := randn(r, nx, 1)
			want := runBackendScan(t, cpu, s, in, gy, rev)
			got := runBackendScan(t, gpu, s, in, gy, rev)
			for k, w := range want {
				closeTo(t, gpu.Name()+" vs "+cpu.Name()+" "+k, got[k], f64(w), 1e-5, 1e-3)
			}
		}
	}
}

// TestLayoutOpsEmulated runs the layout ops (Transpose, TriuGather,
// TriuScatter) and DropoutMask through the kernels.Backend adapter on the emulator with
// kernels/check: outputs poisoned with NaN, forward against the float64
// reference, every gradient coordinate against finite differences.
func TestLayoutOpsEmulated(t *testing.T) {
	gpu := cuda.NewBackend(cuda.NewDevice(emu.New()), "cuda (emulated)")
	defer gpu.Close()
	g := check.NewGen(3)
	var cs []check.Case
	for _, d := range [][4]int{{1, 1, 1, 1}, {2, 3, 5, 1}, {2, 4, 3, 6}, {1, 1, 7, 2}, {2, 19, 9, 4}} {
		cs = append(cs, check.Transpose(g, d[0], d[1], d[2], d[3]))
	}
	for _, s := range [][2]int{{1, 2}, {3, 5}, {2, 19}} {
		for _, sym := range []bool{false, true} {
			cs = append(cs, check.TriuGather(g, s[0], s[1], sym), check.TriuScatter(g, s[0], s[1], sym))
		}
	}
	cs = append(cs, check.Dropout(g, 1, 1, 0, 0.5), check.Dropout(g, 5000, 0xfeedfacecafebeef, 3, 0.1),
		check.Dropout(g, 777, 42, 1<<24-1, 0), check.Dropout(g, 3000, 1<<63+12345, 7, 0.9))
	for _, c := range cs {
		r := check.Run(gpu, c, check.Options{FullFD: true, Seed: 1})
		if r.Err != nil {
			t.Errorf("%s: %v", c.Name, r.Err)
		}
	}
}
