// Package kernelsbench holds the kernel benchmarks at the V3 shapes and a
// memory-bandwidth probe (see run.sh and docs/BENCHMARKS.md "Kernels").
package kernelsbench

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/pipeml/pipe/internal/cputime"
	"github.com/pipeml/pipe/kernels"
)

func rnd(n int, lo, hi float32, seed uint64) *kernels.Host {
	r := rand.New(rand.NewPCG(seed, 1))
	h := &kernels.Host{Data: make([]float32, n)}
	for i := range h.Data {
		h.Data[i] = lo + (hi-lo)*r.Float32()
	}
	return h
}

type scanBufs struct {
	s                        kernels.ScanShape
	x, dt, A, B, C, D, y, gy *kernels.Host
	g                        kernels.ScanGrads
}

func newScan(s kernels.ScanShape) *scanBufs {
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	return &scanBufs{s: s, x: rnd(nx, -1, 1, 1), dt: rnd(nt, 0.01, 0.3, 2), A: rnd(s.H, -2, -0.2, 3), B: rnd(nb, -1, 1, 4),
		C: rnd(nb, -1, 1, 5), D: rnd(s.H, -1, 1, 6), y: rnd(nx, 0, 0, 7), gy: rnd(nx, -1, 1, 8),
		g: kernels.ScanGrads{X: rnd(nx, 0, 0, 0), DT: rnd(nt, 0, 0, 0), A: rnd(s.H, 0, 0, 0), B: rnd(nb, 0, 0, 0), C: rnd(nb, 0, 0, 0), D: rnd(s.H, 0, 0, 0)}}
}

// scanBytes is the scan's compulsory traffic: forward reads x, dt, B, C and
// writes y; the backward reads x, dt, B, C, gy and writes gx, gdt, gB, gC.
func scanBytes(s kernels.ScanShape, fwd, bwd bool) float64 {
	nx, nt, nb := float64(s.Batch*s.L*s.H*s.P), float64(s.Batch*s.L*s.H), float64(s.Batch*s.L*s.G*s.N)
	var b float64
	if fwd {
		b += 2*nx + nt + 2*nb
	}
	if bwd {
		b += 2*(2*nx+nt+2*nb) + nx
	}
	return 4 * b
}

// V3 node stream: 4 × 19 electrodes, L 960, 16 heads of 8, d_state 16.
var node = kernels.ScanShape{Batch: 76, L: 960, H: 16, P: 8, G: 1, N: 16}

// V3 edge stream: 4 × 171 electrode pairs, L 960, edge_dim 16 → 8 heads of
// 4, d_state 8.
var edge = kernels.ScanShape{Batch: 684, L: 960, H: 8, P: 4, G: 1, N: 8}

func benchScan(b *testing.B, s kernels.ScanShape, fwd, bwd bool) {
	c := kernels.NewCPU(0)
	defer c.Close()
	sb := newScan(s)
	b.SetBytes(int64(scanBytes(s, fwd, bwd)))
	b.ResetTimer()
	cpu0 := cputime.Process()
	defer func() {
		// CPU time per op (all workers): steadier than wall time on a shared machine.
		b.ReportMetric(float64(cputime.Process()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
	}()
	for i := 0; i < b.N; i++ {
		if fwd {
			if err := c.ScanFwd(s, sb.x, sb.dt, sb.A, sb.B, sb.C, sb.D, sb.y, nil, false); err != nil {
				b.Fatal(err)
			}
		}
		if bwd {
			if err := c.ScanBwd(s, sb.x, sb.dt, sb.A, sb.B, sb.C, sb.D, sb.gy, sb.g, false); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkScanNodeFwd(b *testing.B)    { benchScan(b, node, true, false) }
func BenchmarkScanNodeBwd(b *testing.B)    { benchScan(b, node, false, true) }
func BenchmarkScanNodeFwdBwd(b *testing.B) { benchScan(b, node, true, true) }
func BenchmarkScanEdgeFwdBwd(b *testing.B) { benchScan(b, edge, true, true) }

func benchLinear(b *testing.B, rows, in, out int, bwd bool) {
	c := kernels.NewCPU(0)
	defer c.Close()
	x, w, bias, y := rnd(rows*in, -1, 1, 1), rnd(out*in, -1, 1, 2), rnd(out, -1, 1, 3), rnd(rows*out, 0, 0, 0)
	gx, gw, gb := rnd(rows*in, 0, 0, 0), rnd(out*in, 0, 0, 0), rnd(out, 0, 0, 0)
	b.SetBytes(int64(4 * (rows*in + rows*out)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.LinearFwd(x, w, bias, y, rows, in, out); err != nil {
			b.Fatal(err)
		}
		if bwd {
			if err := c.LinearBwd(x, w, y, gx, gw, gb, rows, in, out); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkLinearNodeInProj(b *testing.B)  { benchLinear(b, 76*960, 64, 304, true) }
func BenchmarkLinearNodeOutProj(b *testing.B) { benchLinear(b, 76*960, 128, 64, true) }
func BenchmarkLinearEdge4to36(b *testing.B)   { benchLinear(b, 684*960, 4, 36, true) }
func BenchmarkLinearEdge8to4(b *testing.B)    { benchLinear(b, 684*960, 8, 4, true) }

func BenchmarkDWConvNode(b *testing.B) {
	c := kernels.NewCPU(0)
	defer c.Close()
	s := kernels.DWShape{Batch: 76, L: 960, C: 160, W: 4}
	n := s.Batch * s.L * s.C
	x, w, bias, y := rnd(n, -1, 1, 1), rnd(s.C*s.W, -1, 1, 2), rnd(s.C, -1, 1, 3), rnd(n, 0, 0, 0)
	gx, gw, gb := rnd(n, 0, 0, 0), rnd(s.C*s.W, 0, 0, 0), rnd(s.C, 0, 0, 0)
	b.SetBytes(int64(4 * 5 * n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.DWConvFwd(s, x, w, bias, y, true); err != nil {
			b.Fatal(err)
		}
		if err := c.DWConvBwd(s, x, w, bias, y, gx, gw, gb, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBandwidth is the roofline probe: a parallel copy of 256 MiB (read
// + write counted) on every core, like STREAM's copy.
func BenchmarkBandwidth(b *testing.B) {
	const n = 32 << 20 // float32s per array
	src, dst := make([]float32, n), make([]float32, n)
	for i := range src {
		src[i] = float32(i)
	}
	w := runtime.GOMAXPROCS(0)
	b.SetBytes(2 * 4 * n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for k := 0; k < w; k++ {
			lo, hi := k*n/w, (k+1)*n/w
			wg.Add(1)
			go func() { defer wg.Done(); copy(dst[lo:hi], src[lo:hi]) }()
		}
		wg.Wait()
	}
}

// TestSteadyStateAllocs checks that the CPU ops allocate nothing once warm.
func TestSteadyStateAllocs(t *testing.T) {
	c := kernels.NewCPU(2)
	defer c.Close()
	s := kernels.ScanShape{Batch: 3, L: 40, H: 4, P: 2, G: 2, N: 3}
	sb := newScan(s)
	x, w, y := rnd(64*8, -1, 1, 1), rnd(4*8, -1, 1, 2), rnd(64*4, 0, 0, 0)
	gx, gw := rnd(64*8, 0, 0, 0), rnd(4*8, 0, 0, 0)
	ops := map[string]func() error{
		"scan fwd":   func() error { return c.ScanFwd(s, sb.x, sb.dt, sb.A, sb.B, sb.C, sb.D, sb.y, nil, false) },
		"scan bwd":   func() error { return c.ScanBwd(s, sb.x, sb.dt, sb.A, sb.B, sb.C, sb.D, sb.gy, sb.g, false) },
		"linear fwd": func() error { return c.LinearFwd(x, w, nil, y, 64, 8, 4) },
		"linear bwd": func() error { return c.LinearBwd(x, w, y, gx, gw, nil, 64, 8, 4) },
		"silu":       func() error { return c.Unary(kernels.SiLU, x, gx) },
	}
	for name, op := range ops {
		if err := op(); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(20, func() { _ = op() }); a != 0 {
			t.Errorf("%s: %.1f allocations per call in steady state", name, a)
		}
	}
}
