//go:build cuda

package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pipeml/pipe/kernels/cuda"
)

// reportRow is one line of the GPU report.
type reportRow struct {
	name, shape string
	bytes       float64                 // minimum DRAM traffic of one run (inputs read once, outputs written once)
	flops       float64                 // 0 when not meaningful
	run         func() error            // the op at the benchmark shape
	check       func() (float64, error) // max error relative to the reference's max |value|
}

func relErr(got []float32, want []float64) float64 {
	m, e := 0.0, 0.0
	for i := range want {
		m = math.Max(m, math.Abs(want[i]))
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1)
		}
		e = math.Max(e, math.Abs(g-want[i]))
	}
	return e / math.Max(m, 1e-30)
}

// TestGPUReport times every kernel family at the V3 shapes on the GPU,
// checks it against the float64 CPU reference, and prints a table with
// GB/s as a fraction of the measured device copy bandwidth. It is what
// bench/gpu/run.sh runs; it fails when any error exceeds 1e-3.
func TestGPUReport(t *testing.T) {
	if os.Getenv("PIPE_GPU_REPORT") == "" {
		t.Skip("set PIPE_GPU_REPORT=1 (bench/gpu/run.sh does) to time the kernels at the V3 shapes")
	}
	drv := newDriver(t).(*cuda.CUDriver)
	d := cuda.NewDevice(drv)
	defer d.Close()
	bw, err := drv.CopyBandwidth(64<<20, 20)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(42, 1))
	var rows []reportRow
	rows = append(rows, scanRows(t, d, r, "node", cuda.ScanShape{Batch: 4 * 19, L: 960, H: 16, P: 8, G: 1, N: 16})...)
	rows = append(rows, scanRows(t, d, r, "edge", cuda.ScanShape{Batch: 4 * 171, L: 960, H: 8, P: 4, G: 1, N: 8})...)
	rows = append(rows, denseRows(t, d, r)...)

	var b strings.Builder
	fmt.Fprintf(&b, "device: %s; measured copy bandwidth %.0f GB/s\n", drv.Describe(), bw/1e9)
	fmt.Fprintf(&b, "| kernel | shape | max rel err vs CPU f64 | time ms | GB/s | %% of copy BW | GFLOP/s |\n|---|---|---|---|---|---|---|\n")
	failed := false
	for _, row := range rows {
		e, err := row.check()
		if err != nil {
			t.Errorf("%s: %v", row.name, err)
			failed = true
			continue
		}
		if !(e <= 1e-3) {
			t.Errorf("%s: max relative error %.3g > 1e-3", row.name, e)
			failed = true
		}
		// Warm up, then time.
		if err := row.run(); err != nil {
			t.Fatalf("%s: %v", row.name, err)
		}
		reps := 20
		if err := drv.Sync(); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		for i := 0; i < reps; i++ {
			if err := row.run(); err != nil {
				t.Fatalf("%s: %v", row.name, err)
			}
		}
		if err := drv.Sync(); err != nil {
			t.Fatal(err)
		}
		sec := time.Since(t0).Seconds() / float64(reps)
		gf := "-"
		if row.flops > 0 {
			gf = fmt.Sprintf("%.0f", row.flops/sec/1e9)
		}
		fmt.Fprintf(&b, "| %s | %s | %.2g | %.3f | %.0f | %.0f%% | %s |\n", row.name, row.shape, e, sec*1e3,
			row.bytes/sec/1e9, 100*row.bytes/sec/bw, gf)
	}
	fmt.Print(b.String())
	if failed {
		t.Fail()
	}
}

func upR(t *testing.T, d *cuda.Device, r *rand.Rand, n int, scale float64) ([]float32, cuda.Buffer) {
	v := randn(r, n, scale)
	return v, up(t, d, v)
}

func scanRows(t *testing.T, d *cuda.Device, r *rand.Rand, stream string, s cuda.ScanShape) []reportRow {
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	in := scanIn{x: randn(r, nx, 1), dt: make([]float32, nt), A: make([]float32, s.H), B: randn(r, nb, 1), C: randn(r, nb, 1), D: randn(r, s.H, 1)}
	for i := range in.dt {
		in.dt[i] = float32(0.01 + 0.1*r.Float64())
	}
	for i := range in.A {
		in.A[i] = -float32(1 + i)
	}
	gy := randn(r, nx, 1)
	x, dt, A, B, C, D, GY := up(t, d, in.x), up(t, d, in.dt), up(t, d, in.A), up(t, d, in.B), up(t, d, in.C), up(t, d, in.D), up(t, d, gy)
	y := alloc(t, d, nx)
	g := cuda.ScanGrads{X: alloc(t, d, nx), DT: alloc(t, d, nt), A: alloc(t, d, s.H), B: alloc(t, d, nb), C: alloc(t, d, nb), D: alloc(t, d, s.H)}
	shape := fmt.Sprintf("b%d L%d h%d p%d n%d", s.Batch, s.L, s.H, s.P, s.N)
	var ref []float64
	var refG [6][]float64
	refs := func() {
		if ref == nil {
			ref, refG = refScan(s, in, gy, false)
		}
	}
	fwdBytes := 4 * float64(2*nx+nt+2*nb)
	bwdBytes := 4 * float64(3*nx+2*nt+4*nb)
	return []reportRow{
		{name: "scan fwd (" + stream + ")", shape: shape, bytes: fwdBytes,
			run: func() error { return d.ScanFwd(s, x, dt, A, B, C, D, y, cuda.Buffer{}, false) },
			check: func() (float64, error) {
				if err := d.ScanFwd(s, x, dt, A, B, C, D, y, cuda.Buffer{}, false); err != nil {
					return 0, err
				}
				refs()
				return relErr(down(t, d, y), ref), nil
			}},
		{name: "scan bwd (" + stream + ")", shape: shape, bytes: bwdBytes,
			run: func() error { return d.ScanBwd(s, x, dt, A, B, C, D, GY, g, false) },
			check: func() (float64, error) {
				if err := d.ScanBwd(s, x, dt, A, B, C, D, GY, g, false); err != nil {
					return 0, err
				}
				refs()
				e := 0.0
				for i, b := range []cuda.Buffer{g.X, g.DT, g.A, g.B, g.C, g.D} {
					e = math.Max(e, relErr(down(t, d, b), refG[i]))
				}
				return e, nil
			}},
	}
}

func denseRows(t *testing.T, d *cuda.Device, r *rand.Rand) []reportRow {
	var rows []reportRow
	// Mamba-2 depthwise conv over xBC (d_inner 128 + 2*d_state 16).
	dw := cuda.DWShape{Batch: 76, L: 960, C: 160, W: 4}
	n := dw.Batch * dw.L * dw.C
	xv, X := upR(t, d, r, n, 1)
	wv, W := upR(t, d, r, dw.C*dw.W, 0.5)
	bv, Bi := upR(t, d, r, dw.C, 0.5)
	Y := alloc(t, d, n)
	rows = append(rows, reportRow{name: "causal conv fwd+SiLU", shape: "b76 L960 C160 W4", bytes: 8 * float64(n),
		run: func() error { return d.DWConvFwd(dw, X, W, Bi, Y, true) },
		check: func() (float64, error) {
			if err := d.DWConvFwd(dw, X, W, Bi, Y, true); err != nil {
				return 0, err
			}
			return relErr(down(t, d, Y), refDWConv(dw, f64(xv), f64(wv), f64(bv), true)), nil
		}})
	// in_proj of the node stream.
	rowsN, in, out := 76*960, 64, 304
	lx, LX := upR(t, d, r, rowsN*in, 1)
	lw, LW := upR(t, d, r, out*in, 0.1)
	LY := alloc(t, d, rowsN*out)
	rows = append(rows, reportRow{name: "linear (in_proj)", shape: "72960x64 -> 304", bytes: 4 * float64(rowsN*(in+out)),
		flops: 2 * float64(rowsN*in*out),
		run:   func() error { return d.LinearFwd(LX, LW, cuda.Buffer{}, LY, rowsN, in, out) },
		check: func() (float64, error) {
			if err := d.LinearFwd(LX, LW, cuda.Buffer{}, LY, rowsN, in, out); err != nil {
				return 0, err
			}
			got := down(t, d, LY)
			// Check the first 512 rows against float64.
			k := 512
			ref := refGemm(false, true, k, out, in, f64(lx[:k*in]), in, f64(lw), in)
			return relErr(got[:k*out], ref), nil
		}})
	// LayerNorm over d_model 64.
	nx, nX := upR(t, d, r, rowsN*64, 2)
	NY, M, RS := alloc(t, d, rowsN*64), alloc(t, d, rowsN), alloc(t, d, rowsN)
	rows = append(rows, reportRow{name: "layernorm fwd", shape: "72960x64", bytes: 8 * float64(rowsN*64),
		run: func() error { return d.LayerNormFwd(nX, cuda.Buffer{}, cuda.Buffer{}, NY, M, RS, rowsN, 64, 1e-5) },
		check: func() (float64, error) {
			if err := d.LayerNormFwd(nX, cuda.Buffer{}, cuda.Buffer{}, NY, M, RS, rowsN, 64, 1e-5); err != nil {
				return 0, err
			}
			ref := make([]float64, rowsN*64)
			for i := 0; i < rowsN; i++ {
				mu, v := 0.0, 0.0
				for j := 0; j < 64; j++ {
					mu += float64(nx[i*64+j])
				}
				mu /= 64
				for j := 0; j < 64; j++ {
					v += (float64(nx[i*64+j]) - mu) * (float64(nx[i*64+j]) - mu)
				}
				rs := 1 / math.Sqrt(v/64+1e-5)
				for j := 0; j < 64; j++ {
					ref[i*64+j] = (float64(nx[i*64+j]) - mu) * rs
				}
			}
			return relErr(down(t, d, NY), ref), nil
		}})
	// Temporal encoder layer: 256 -> 512 channels, kernel 7, dilation 8, L = 15360.
	cs := cuda.ConvShape{Batch: 4, Cin: 256, Lin: 15360, Cout: 512, K: 7, Lout: 15360, Stride: 1, Dil: 8, Pad: 48}
	_, CX := upR(t, d, r, cs.Batch*cs.Cin*cs.Lin, 1)
	_, CW := upR(t, d, r, cs.Cout*cs.Cin*cs.K, 0.05)
	CY := alloc(t, d, cs.Batch*cs.Cout*cs.Lout)
	small := cuda.ConvShape{Batch: 1, Cin: 16, Lin: 300, Cout: 24, K: 7, Lout: 300, Stride: 1, Dil: 8, Pad: 48}
	sx, SX := upR(t, d, r, small.Cin*small.Lin, 1)
	sw, SW := upR(t, d, r, small.Cout*small.Cin*small.K, 0.2)
	SY := alloc(t, d, small.Cout*small.Lout)
	rows = append(rows, reportRow{name: "dilated conv fwd (im2col+SGEMM)", shape: "b4 256->512 k7 d8 L15360",
		bytes: 4 * float64(cs.Batch*(cs.Cin*cs.Lin+cs.Cout*cs.Lout)+cs.Cout*cs.Cin*cs.K),
		flops: 2 * float64(cs.Batch*cs.Cout*cs.Lout*cs.Cin*cs.K),
		run:   func() error { return d.ConvFwd(cs, CX, CW, cuda.Buffer{}, CY) },
		check: func() (float64, error) { // checked at a reduced shape
			if err := d.ConvFwd(small, SX, SW, cuda.Buffer{}, SY); err != nil {
				return 0, err
			}
			return relErr(down(t, d, SY), refConv(small, f64(sx), f64(sw), nil)), nil
		}})
	// Graph stream: 4 x 960 graphs of 19 electrodes x 64 features.
	gs := cuda.GraphShape{G: 4 * 960, N: 19, F: 64}
	gx, GX := upR(t, d, r, gs.G*gs.N*gs.F, 1)
	S, NR := alloc(t, d, gs.G*gs.N*gs.N), alloc(t, d, gs.G*gs.N)
	rows = append(rows, reportRow{name: "cosine similarity", shape: "3840 graphs x 19 x 64", bytes: 4 * float64(gs.G*gs.N*(gs.F+gs.N)),
		run: func() error { return d.CosineFwd(gs, GX, S, NR, 1e-6) },
		check: func() (float64, error) {
			if err := d.CosineFwd(gs, GX, S, NR, 1e-6); err != nil {
				return 0, err
			}
			return relErr(down(t, d, S), refCosine(gs, f64(gx), 1e-6)), nil
		}})
	A, K := alloc(t, d, gs.G*gs.N*gs.N), alloc(t, d, gs.G*gs.N*gs.N)
	O := alloc(t, d, gs.G*gs.N*gs.F)
	ssg := cuda.SSG{K: 2, Alpha: 0.05, SelfLoops: true}
	rows = append(rows, reportRow{name: "top-k (3) + symmetrise", shape: "3840 graphs x 19", bytes: 12 * float64(gs.G*gs.N*gs.N),
		run:   func() error { return d.TopKSym(gs, S, A, K, 3, false) },
		check: func() (float64, error) { return 0, d.TopKSym(gs, S, A, K, 3, false) }}) // exactness is tested on the emulator
	rows = append(rows, reportRow{name: "SSGConv K=2", shape: "3840 graphs x 19 x 64", bytes: 4 * float64(gs.G*gs.N*(2*gs.F+gs.N)),
		run: func() error { return d.SSGConvFwd(gs, ssg, A, GX, O) },
		check: func() (float64, error) {
			if err := d.TopKSym(gs, S, A, K, 3, false); err != nil {
				return 0, err
			}
			if err := d.SSGConvFwd(gs, ssg, A, GX, O); err != nil {
				return 0, err
			}
			av := down(t, d, A)
			return relErr(down(t, d, O), refSSG(gs, ssg, f64(av), f64(gx))), nil
		}})
	return rows
}
