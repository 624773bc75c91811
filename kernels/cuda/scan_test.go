//go:build cudaemu || cuda

package cuda_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
)

type scanIn struct {
	x, dt, A, B, C, D []float32
}

type scanOut struct {
	y, final                []float32
	gx, gdt, gA, gB, gC, gD []float32
}

// runScan runs ScanFwd and ScanBwd on the emulator.
func runScan(t *testing.T, d *cuda.Device, s cuda.ScanShape, in scanIn, gy []float32, rev bool) scanOut {
	t.Helper()
	x, dt, A, B, C := up(t, d, in.x), up(t, d, in.dt), up(t, d, in.A), up(t, d, in.B), up(t, d, in.C)
	var D, gD cuda.Buffer
	if in.D != nil {
		D, gD = up(t, d, in.D), alloc(t, d, s.H)
	}
	y, fin := alloc(t, d, len(in.x)), alloc(t, d, s.Batch*s.H*s.P*s.N)
	if err := d.ScanFwd(s, x, dt, A, B, C, D, y, fin, rev); err != nil {
		t.Fatal(err)
	}
	g := cuda.ScanGrads{X: alloc(t, d, len(in.x)), DT: alloc(t, d, len(in.dt)), A: alloc(t, d, s.H),
		B: alloc(t, d, len(in.B)), C: alloc(t, d, len(in.C)), D: gD}
	if err := d.ScanBwd(s, x, dt, A, B, C, D, up(t, d, gy), g, rev); err != nil {
		t.Fatal(err)
	}
	o := scanOut{y: down(t, d, y), final: down(t, d, fin), gx: down(t, d, g.X), gdt: down(t, d, g.DT),
		gA: down(t, d, g.A), gB: down(t, d, g.B), gC: down(t, d, g.C)}
	if gD.Valid() {
		o.gD = down(t, d, gD)
	}
	return o
}

func TestGoldenScan(t *testing.T) {
	for _, c := range goldenCases(t, "ssd_scan") {
		t.Run(c.Name, func(t *testing.T) {
			s := cuda.ScanShape{Batch: c.cfg(t, "batch"), L: c.cfg(t, "seqlen"), H: c.cfg(t, "nheads"),
				P: c.cfg(t, "headdim"), G: c.cfg(t, "ngroups"), N: c.cfg(t, "d_state")}
			in := scanIn{x: c.load(t, "in__x"), dt: c.load(t, "in__dt"), A: c.load(t, "in__A"),
				B: c.load(t, "in__B"), C: c.load(t, "in__C"), D: c.load(t, "in__D")}
			gy := c.load(t, "cot__y")
			check := func(o scanOut, flip func([]float32) []float32) {
				c.check(t, "out__y", flip(o.y), c.load(t, "out__y"))
				c.check(t, "out__final_state", o.final, c.load(t, "out__final_state"))
				c.check(t, "grad__x", flip(o.gx), c.load(t, "grad__x"))
				c.check(t, "grad__dt", flip(o.gdt), c.load(t, "grad__dt"))
				c.check(t, "grad__A", o.gA, c.load(t, "grad__A"))
				c.check(t, "grad__B", flip(o.gB), c.load(t, "grad__B"))
				c.check(t, "grad__C", flip(o.gC), c.load(t, "grad__C"))
				c.check(t, "grad__D", o.gD, c.load(t, "grad__D"))
			}
			d := newDevice(t)
			check(runScan(t, d, s, in, gy, false), func(v []float32) []float32 { return v })
			// The reverse direction on time-flipped inputs computes the flipped case.
			fl := func(v []float32) []float32 { return flipT(v, s.Batch, s.L) }
			rin := scanIn{x: fl(in.x), dt: fl(in.dt), A: in.A, B: fl(in.B), C: fl(in.C), D: in.D}
			check(runScan(t, d, s, rin, fl(gy), true), fl)
		})
	}
}

// refScan is the float64 sequential scan and its exact reverse-mode
// gradients for the cotangent gy (rev walks t from L-1 down to 0).
func refScan(s cuda.ScanShape, in scanIn, gy []float32, rev bool) (y []float64, g [6][]float64) {
	x, dt, A, B, C := f64(in.x), f64(in.dt), f64(in.A), f64(in.B), f64(in.C)
	var D []float64
	if in.D != nil {
		D = f64(in.D)
	}
	gyy := f64(gy)
	y = make([]float64, len(x))
	gx, gdt, gA, gB, gC, gD := make([]float64, len(x)), make([]float64, len(dt)), make([]float64, s.H),
		make([]float64, len(B)), make([]float64, len(C)), make([]float64, s.H)
	hpg := s.H / s.G
	for b := 0; b < s.Batch; b++ {
		for h := 0; h < s.H; h++ {
			gr := h / hpg
			xi := func(t, p int) int { return ((b*s.L+t)*s.H+h)*s.P + p }
			bi := func(t, n int) int { return ((b*s.L+t)*s.G+gr)*s.N + n }
			ti := func(t int) int { return (b*s.L+t)*s.H + h }
			order := make([]int, s.L)
			for k := range order {
				order[k] = k
				if rev {
					order[k] = s.L - 1 - k
				}
			}
			st := make([][]float64, s.L+1) // st[k+1] = state after step k
			st[0] = make([]float64, s.P*s.N)
			for k, t := range order {
				a := math.Exp(dt[ti(t)] * A[h])
				cur := make([]float64, s.P*s.N)
				for p := 0; p < s.P; p++ {
					yv := 0.0
					if D != nil {
						yv = D[h] * x[xi(t, p)]
					}
					for n := 0; n < s.N; n++ {
						v := a*st[k][p*s.N+n] + dt[ti(t)]*x[xi(t, p)]*B[bi(t, n)]
						cur[p*s.N+n] = v
						yv += v * C[bi(t, n)]
					}
					y[xi(t, p)] = yv
				}
				st[k+1] = cur
			}
			gs := make([]float64, s.P*s.N) // dL/d state after step k, carried backwards
			for k := s.L - 1; k >= 0; k-- {
				t := order[k]
				a := math.Exp(dt[ti(t)] * A[h])
				for p := 0; p < s.P; p++ {
					g := gyy[xi(t, p)]
					if D != nil {
						gD[h] += g * x[xi(t, p)]
						gx[xi(t, p)] += D[h] * g
					}
					for n := 0; n < s.N; n++ {
						gs[p*s.N+n] += g * C[bi(t, n)]
						gC[bi(t, n)] += g * st[k+1][p*s.N+n]
					}
				}
				ga := 0.0
				for p := 0; p < s.P; p++ {
					for n := 0; n < s.N; n++ {
						v := gs[p*s.N+n]
						ga += v * st[k][p*s.N+n] * a
						gdt[ti(t)] += v * x[xi(t, p)] * B[bi(t, n)]
						gx[xi(t, p)] += v * dt[ti(t)] * B[bi(t, n)]
						gB[bi(t, n)] += v * dt[ti(t)] * x[xi(t, p)]
						gs[p*s.N+n] = v * a
					}
				}
				gdt[ti(t)] += ga * A[h]
				gA[h] += ga * dt[ti(t)]
			}
		}
	}
	return y, [6][]float64{gx, gdt, gA, gB, gC, gD}
}

// TestScanRandom covers what the golden cases do not: several groups,
// d_state not a compiled size, odd headdim, several chunks with a ragged
// last one, no D, and both directions.
func TestScanRandom(t *testing.T) {
	cases := []struct {
		name string
		s    cuda.ScanShape
		noD  bool
	}{
		{"L1", cuda.ScanShape{Batch: 1, L: 1, H: 2, P: 3, G: 1, N: 5}, false},
		{"groups_ragged_chunks", cuda.ScanShape{Batch: 2, L: 70, H: 4, P: 3, G: 2, N: 5}, false},
		{"nstate20_noD", cuda.ScanShape{Batch: 1, L: 9, H: 3, P: 2, G: 3, N: 20}, true},
		{"edge_stream_like", cuda.ScanShape{Batch: 3, L: 17, H: 8, P: 4, G: 1, N: 8}, false},
		{"nstate100", cuda.ScanShape{Batch: 1, L: 5, H: 2, P: 2, G: 1, N: 100}, false},
	}
	r := rand.New(rand.NewPCG(4, 2))
	for _, c := range cases {
		for _, rev := range []bool{false, true} {
			name := c.name
			if rev {
				name += "_rev"
			}
			t.Run(name, func(t *testing.T) {
				s := c.s
				nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
				in := scanIn{x: randn(r, nx, 1), dt: make([]float32, nt), A: make([]float32, s.H),
					B: randn(r, nb, 1), C: randn(r, nb, 1)}
				for i := range in.dt {
					in.dt[i] = float32(0.01 + 0.3*r.Float64())
				}
				for i := range in.A {
					in.A[i] = -float32(math.Exp(r.NormFloat64()))
				}
				if !c.noD {
					in.D = randn(r, s.H, 1)
				}
				gy := randn(r, nx, 1)
				d := newDevice(t)
				o := runScan(t, d, s, in, gy, rev)
				y, g := refScan(s, in, gy, rev)
				closeTo(t, "y", o.y, y, 1e-5, 1e-4)
				closeTo(t, "gx", o.gx, g[0], 1e-5, 1e-3)
				closeTo(t, "gdt", o.gdt, g[1], 1e-4, 1e-3)
				closeTo(t, "gA", o.gA, g[2], 1e-4, 1e-3)
				closeTo(t, "gB", o.gB, g[3], 1e-5, 1e-3)
				closeTo(t, "gC", o.gC, g[4], 1e-5, 1e-3)
				if !c.noD {
					closeTo(t, "gD", o.gD, g[5], 1e-4, 1e-3)
				}
			})
		}
	}
}
