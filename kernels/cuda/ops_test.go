//go:build cudaemu || cuda

package cuda_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
)

func refDWConv(s cuda.DWShape, x, w, bias []float64, silu bool) []float64 {
	y := make([]float64, len(x))
	for b := 0; b < s.Batch; b++ {
		for t := 0; t < s.L; t++ {
			for c := 0; c < s.C; c++ {
				acc := 0.0
				if bias != nil {
					acc = bias[c]
				}
				for k := 0; k < s.W; k++ {
					if u := t - (s.W - 1) + k; u >= 0 {
						acc += w[c*s.W+k] * x[(b*s.L+u)*s.C+c]
					}
				}
				if silu {
					acc = acc / (1 + math.Exp(-acc))
				}
				y[(b*s.L+t)*s.C+c] = acc
			}
		}
	}
	return y
}

func runDWConv(t *testing.T, s cuda.DWShape, x, w, bias, gy []float32, silu bool) (y, gx, gw, gb []float32) {
	d := newDevice(t)
	X, W, GY := up(t, d, x), up(t, d, w), up(t, d, gy)
	var B, GB cuda.Buffer
	if bias != nil {
		B, GB = up(t, d, bias), alloc(t, d, s.C)
	}
	Y, GX, GW := alloc(t, d, len(x)), alloc(t, d, len(x)), alloc(t, d, len(w))
	if err := d.DWConvFwd(s, X, W, B, Y, silu); err != nil {
		t.Fatal(err)
	}
	if err := d.DWConvBwd(s, X, W, B, GY, GX, GW, GB, silu); err != nil {
		t.Fatal(err)
	}
	if bias != nil {
		gb = down(t, d, GB)
	}
	return down(t, d, Y), down(t, d, GX), down(t, d, GW), gb
}

func TestGoldenCausalConv(t *testing.T) {
	for _, c := range goldenCases(t, "causal_conv1d") {
		t.Run(c.Name, func(t *testing.T) {
			s := cuda.DWShape{Batch: c.cfg(t, "batch"), L: c.cfg(t, "seqlen"), C: c.cfg(t, "channels"), W: c.cfg(t, "width")}
			act, _ := c.Config["activation"].(string)
			y, gx, gw, gb := runDWConv(t, s, c.load(t, "in__x"), c.load(t, "param__weight"), c.load(t, "param__bias"),
				c.load(t, "cot__y"), act == "silu")
			c.check(t, "out__y", y, c.load(t, "out__y"))
			c.check(t, "grad__x", gx, c.load(t, "grad__x"))
			c.check(t, "grad__weight", gw, c.load(t, "grad__weight"))
			c.check(t, "grad__bias", gb, c.load(t, "grad__bias"))
		})
	}
}

func TestDWConvRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	for _, tc := range []struct {
		s    cuda.DWShape
		silu bool
		bias bool
	}{{cuda.DWShape{Batch: 2, L: 5, C: 33, W: 4}, true, false}, {cuda.DWShape{Batch: 1, L: 3, C: 7, W: 6}, false, true}} {
		s := tc.s
		x, w, gy := randn(r, s.Batch*s.L*s.C, 1), randn(r, s.C*s.W, 0.5), randn(r, s.Batch*s.L*s.C, 1)
		var bias []float32
		if tc.bias {
			bias = randn(r, s.C, 0.5)
		}
		y, gx, gw, gb := runDWConv(t, s, x, w, bias, gy, tc.silu)
		X, Wt, B, GY := f64(x), f64(w), f64(bias), f64(gy)
		if !tc.bias {
			B = nil
		}
		loss := func() float64 { return dot(refDWConv(s, X, Wt, B, tc.silu), GY) }
		closeTo(t, "y", y, refDWConv(s, X, Wt, B, tc.silu), 1e-5, 1e-4)
		closeTo(t, "gx", gx, fdGrad(X, loss), 1e-5, 1e-3)
		closeTo(t, "gw", gw, fdGrad(Wt, loss), 1e-5, 1e-3)
		if tc.bias {
			closeTo(t, "gbias", gb, fdGrad(B, loss), 1e-5, 1e-3)
		}
	}
}

func refGemm(tA, tB bool, m, n, k int, A []float64, lda int, B []float64, ldb int) []float64 {
	C := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var a, b float64
				if tA {
					a = A[p*lda+i]
				} else {
					a = A[i*lda+p]
				}
				if tB {
					b = B[j*ldb+p]
				} else {
					b = B[p*ldb+j]
				}
				s += a * b
			}
			C[i*n+j] = s
		}
	}
	return C
}

func TestGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	d := newDevice(t)
	for _, m := range []int{1, 65} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				n, k, batch := 70, 17, 2
				ar, ac := m, k
				if tA {
					ar, ac = k, m
				}
				br, bc := k, n
				if tB {
					br, bc = n, k
				}
				a, b := randn(r, batch*ar*ac, 1), randn(r, br*bc, 1) // B broadcast over the batch
				c0 := randn(r, batch*m*n, 1)
				A, B, C := up(t, d, a), up(t, d, b), up(t, d, c0)
				if err := d.Gemm(tA, tB, m, n, k, 0.5, A, ac, ar*ac, B, bc, 0, 2, C, n, m*n, batch); err != nil {
					t.Fatal(err)
				}
				got := down(t, d, C)
				want := make([]float64, 0, batch*m*n)
				for z := 0; z < batch; z++ {
					ref := refGemm(tA, tB, m, n, k, f64(a[z*ar*ac:(z+1)*ar*ac]), ac, f64(b), bc)
					for i, v := range ref {
						want = append(want, 0.5*v+2*float64(c0[z*m*n+i]))
					}
				}
				closeTo(t, "gemm", got, want, 1e-5, 1e-5)
			}
		}
	}
	if err := d.Gemm(false, false, 4, 4, 4, 1, up(t, d, make([]float32, 15)), 4, 0, up(t, d, make([]float32, 16)), 4, 0, 0, up(t, d, make([]float32, 16)), 4, 0, 1); err == nil {
		t.Error("gemm accepted an A buffer that is too small")
	}
}

func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	rows, in, out := 21, 9, 66
	x, w, b, gy := randn(r, rows*in, 1), randn(r, out*in, 0.3), randn(r, out, 1), randn(r, rows*out, 1)
	d := newDevice(t)
	X, W, B := up(t, d, x), up(t, d, w), up(t, d, b)
	Y, GX, GW, GB := alloc(t, d, rows*out), alloc(t, d, rows*in), alloc(t, d, out*in), alloc(t, d, out)
	if err := d.LinearFwd(X, W, B, Y, rows, in, out); err != nil {
		t.Fatal(err)
	}
	if err := d.LinearBwd(X, W, up(t, d, gy), GX, GW, GB, rows, in, out); err != nil {
		t.Fatal(err)
	}
	xs, ws, bs, gs := f64(x), f64(w), f64(b), f64(gy)
	fwd := func() []float64 {
		y := refGemm(false, true, rows, out, in, xs, in, ws, in)
		for i := range y {
			y[i] += bs[i%out]
		}
		return y
	}
	loss := func() float64 { return dot(fwd(), gs) }
	closeTo(t, "y", down(t, d, Y), fwd(), 1e-5, 1e-4)
	closeTo(t, "gx", down(t, d, GX), fdGrad(xs, loss), 1e-4, 1e-3)
	closeTo(t, "gw", down(t, d, GW), fdGrad(ws, loss), 1e-4, 1e-3)
	closeTo(t, "gb", down(t, d, GB), fdGrad(bs, loss), 1e-4, 1e-3)
}

func refConv(s cuda.ConvShape, x, w, b []float64) []float64 {
	y := make([]float64, s.Batch*s.Cout*s.Lout)
	for n := 0; n < s.Batch; n++ {
		for o := 0; o < s.Cout; o++ {
			for t := 0; t < s.Lout; t++ {
				acc := 0.0
				if b != nil {
					acc = b[o]
				}
				for i := 0; i < s.Cin; i++ {
					for k := 0; k < s.K; k++ {
						if u := t*s.Stride + k*s.Dil - s.Pad; u >= 0 && u < s.Lin {
							acc += w[(o*s.Cin+i)*s.K+k] * x[(n*s.Cin+i)*s.Lin+u]
						}
					}
				}
				y[(n*s.Cout+o)*s.Lout+t] = acc
			}
		}
	}
	return y
}

func TestConvDense(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, s := range []cuda.ConvShape{
		{Batch: 2, Cin: 3, Lin: 20, Cout: 5, K: 7, Lout: 20, Stride: 1, Dil: 2, Pad: 6}, // causal dilated
		{Batch: 1, Cin: 4, Lin: 33, Cout: 3, K: 4, Lout: 8, Stride: 4, Dil: 1, Pad: 0},  // strided downsampling
		{Batch: 2, Cin: 2, Lin: 9, Cout: 2, K: 3, Lout: 9, Stride: 1, Dil: 4, Pad: 4},   // "same"
	} {
		x, w, b := randn(r, s.Batch*s.Cin*s.Lin, 1), randn(r, s.Cout*s.Cin*s.K, 0.3), randn(r, s.Cout, 1)
		gy := randn(r, s.Batch*s.Cout*s.Lout, 1)
		d := newDevice(t)
		X, W, B := up(t, d, x), up(t, d, w), up(t, d, b)
		Y, GX, GW, GB := alloc(t, d, len(gy)), alloc(t, d, len(x)), alloc(t, d, len(w)), alloc(t, d, s.Cout)
		if err := d.ConvFwd(s, X, W, B, Y); err != nil {
			t.Fatal(err)
		}
		if err := d.ConvBwd(s, X, W, up(t, d, gy), GX, GW, GB); err != nil {
			t.Fatal(err)
		}
		xs, ws, bs, gs := f64(x), f64(w), f64(b), f64(gy)
		loss := func() float64 { return dot(refConv(s, xs, ws, bs), gs) }
		closeTo(t, "y", down(t, d, Y), refConv(s, xs, ws, bs), 1e-5, 1e-4)
		closeTo(t, "gx", down(t, d, GX), fdGrad(xs, loss), 1e-4, 1e-3)
		closeTo(t, "gw", down(t, d, GW), fdGrad(ws, loss), 1e-4, 1e-3)
		closeTo(t, "gb", down(t, d, GB), fdGrad(bs, loss), 1e-4, 1e-3)
	}
}

func TestLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	rows, D := 11, 70
	x, w, b, gy := randn(r, rows*D, 2), randn(r, D, 1), randn(r, D, 1), randn(r, rows*D, 1)
	d := newDevice(t)
	X, W, B := up(t, d, x), up(t, d, w), up(t, d, b)
	Y, M, RS := alloc(t, d, rows*D), alloc(t, d, rows), alloc(t, d, rows)
	GX, GW, GB := alloc(t, d, rows*D), alloc(t, d, D), alloc(t, d, D)
	if err := d.LayerNormFwd(X, W, B, Y, M, RS, rows, D, 1e-5); err != nil {
		t.Fatal(err)
	}
	if err := d.LayerNormBwd(X, W, up(t, d, gy), M, RS, GX, GW, GB, rows, D); err != nil {
		t.Fatal(err)
	}
	xs, ws, bs, gs := f64(x), f64(w), f64(b), f64(gy)
	fwd := func() []float64 {
		y := make([]float64, rows*D)
		for i := 0; i < rows; i++ {
			mu, v := 0.0, 0.0
			for j := 0; j < D; j++ {
				mu += xs[i*D+j]
			}
			mu /= float64(D)
			for j := 0; j < D; j++ {
				v += (xs[i*D+j] - mu) * (xs[i*D+j] - mu)
			}
			rs := 1 / math.Sqrt(v/float64(D)+1e-5)
			for j := 0; j < D; j++ {
				y[i*D+j] = (xs[i*D+j]-mu)*rs*ws[j] + bs[j]
			}
		}
		return y
	}
	loss := func() float64 { return dot(fwd(), gs) }
	closeTo(t, "y", down(t, d, Y), fwd(), 1e-5, 1e-4)
	closeTo(t, "gx", down(t, d, GX), fdGrad(xs, loss), 1e-4, 1e-3)
	closeTo(t, "gw", down(t, d, GW), fdGrad(ws, loss), 1e-4, 1e-3)
	closeTo(t, "gb", down(t, d, GB), fdGrad(bs, loss), 1e-4, 1e-3)
}

func TestRMSNormGated(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	rows, D, gs := 6, 40, 20
	y, z, w, g := randn(r, rows*D, 1), randn(r, rows*D, 1), randn(r, D, 1), randn(r, rows*D, 1)
	d := newDevice(t)
	Y, Z, W := up(t, d, y), up(t, d, z), up(t, d, w)
	O, RS := alloc(t, d, rows*D), alloc(t, d, rows*D/gs)
	GY, GZ, GW := alloc(t, d, rows*D), alloc(t, d, rows*D), alloc(t, d, D)
	if err := d.RMSNormGatedFwd(Y, Z, W, O, RS, rows, D, gs, 1e-5); err != nil {
		t.Fatal(err)
	}
	if err := d.RMSNormGatedBwd(Y, Z, W, up(t, d, g), RS, GY, GZ, GW, rows, D, gs); err != nil {
		t.Fatal(err)
	}
	ys, zs, ws, cg := f64(y), f64(z), f64(w), f64(g)
	fwd := func() []float64 {
		out := make([]float64, rows*D)
		for sg := 0; sg < rows*D/gs; sg++ {
			ss := 0.0
			v := make([]float64, gs)
			for i := 0; i < gs; i++ {
				zz := zs[sg*gs+i]
				v[i] = ys[sg*gs+i] * zz / (1 + math.Exp(-zz))
				ss += v[i] * v[i]
			}
			rs := 1 / math.Sqrt(ss/float64(gs)+1e-5)
			for i := 0; i < gs; i++ {
				out[sg*gs+i] = v[i] * rs * ws[(sg%(D/gs))*gs+i]
			}
		}
		return out
	}
	loss := func() float64 { return dot(fwd(), cg) }
	closeTo(t, "out", down(t, d, O), fwd(), 1e-5, 1e-4)
	closeTo(t, "gy", down(t, d, GY), fdGrad(ys, loss), 1e-4, 1e-3)
	closeTo(t, "gz", down(t, d, GZ), fdGrad(zs, loss), 1e-4, 1e-3)
	closeTo(t, "gw", down(t, d, GW), fdGrad(ws, loss), 1e-4, 1e-3)
}

func TestUnaryAndSoftplus(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	n := 300
	x := randn(r, n, 8) // reaches softplus's threshold of 20
	gy := randn(r, n, 1)
	fs := map[int]func(float64) float64{
		cuda.ActSiLU: func(v float64) float64 { return v / (1 + math.Exp(-v)) },
		cuda.ActSoftplus: func(v float64) float64 {
			if v > 20 {
				return v
			}
			return math.Log1p(math.Exp(v))
		},
		cuda.ActSigmoid: func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
		cuda.ActReLU:    func(v float64) float64 { return math.Max(v, 0) },
	}
	d := newDevice(t)
	X, GY := up(t, d, x), up(t, d, gy)
	for kind, f := range fs {
		Y, GX := alloc(t, d, n), alloc(t, d, n)
		if err := d.Unary(kind, X, Y); err != nil {
			t.Fatal(err)
		}
		if err := d.UnaryBwd(kind, X, GY, GX); err != nil {
			t.Fatal(err)
		}
		want, wg := make([]float64, n), make([]float64, n)
		for i, v := range f64(x) {
			want[i] = f(v)
			h := 1e-6 * math.Max(1, math.Abs(v))
			if kind == cuda.ActReLU && math.Abs(v) < 2*h || kind == cuda.ActSoftplus && math.Abs(v-20) < 2*h {
				wg[i] = float64(down(t, d, GX)[i]) // kink: skip
				continue
			}
			wg[i] = float64(gy[i]) * (f(v+h) - f(v-h)) / (2 * h)
		}
		closeTo(t, "act", down(t, d, Y), want, 1e-6, 1e-5)
		closeTo(t, "act grad", down(t, d, GX), wg, 1e-5, 1e-4)
	}
	// dt = softplus(x + bias) with its bias gradient.
	C := 6
	bias := randn(r, C, 1)
	Y, GX, GB := alloc(t, d, n), alloc(t, d, n), alloc(t, d, C)
	B := up(t, d, bias)
	if err := d.BiasSoftplusFwd(X, B, Y, C); err != nil {
		t.Fatal(err)
	}
	if err := d.BiasSoftplusBwd(X, B, GY, GX, GB, C); err != nil {
		t.Fatal(err)
	}
	xs, bs, gs := f64(x), f64(bias), f64(gy)
	fwd := func() []float64 {
		y := make([]float64, n)
		for i := range y {
			y[i] = fs[cuda.ActSoftplus](xs[i] + bs[i%C])
		}
		return y
	}
	closeTo(t, "dt", down(t, d, Y), fwd(), 1e-6, 1e-5)
	closeTo(t, "dt gbias", down(t, d, GB), fdGrad(bs, func() float64 { return dot(fwd(), gs) }), 1e-4, 1e-3)
}

func TestBCEFocal(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	n := 1000
	x := randn(r, n, 3)
	y := make([]float32, n)
	for i := range y {
		y[i] = float32(r.IntN(2))
		if i%7 == 0 {
			y[i] = 0.3 // soft label
		}
	}
	w := randn(r, n, 1)
	for _, cfg := range []cuda.BCEFocal{{PosWeight: 1, Alpha: -1, Gamma: 0}, {PosWeight: 3, Alpha: 0.25, Gamma: 2}, {PosWeight: 1, Alpha: 0.5, Gamma: 1.5}} {
		d := newDevice(t)
		L, G, S := alloc(t, d, n), alloc(t, d, n), alloc(t, d, 1)
		if err := d.BCEFocalFwd(cfg, up(t, d, x), up(t, d, y), up(t, d, w), L, G, S, 1/float32(n)); err != nil {
			t.Fatal(err)
		}
		xs := f64(x)
		loss := func(i int) float64 {
			v, yy := xs[i], float64(y[i])
			p := 1 / (1 + math.Exp(-v))
			sp := func(u float64) float64 { return math.Max(u, 0) + math.Log1p(math.Exp(-math.Abs(u))) }
			bce := float64(cfg.PosWeight)*yy*sp(-v) + (1-yy)*sp(v)
			pt := yy*p + (1-yy)*(1-p)
			at := 1.0
			if cfg.Alpha >= 0 {
				at = float64(cfg.Alpha)*yy + (1-float64(cfg.Alpha))*(1-yy)
			}
			return float64(w[i]) * at * math.Pow(1-pt, float64(cfg.Gamma)) * bce
		}
		want, wg := make([]float64, n), make([]float64, n)
		sum := 0.0
		for i := range want {
			want[i] = loss(i)
			sum += want[i]
			h := 1e-6 * math.Max(1, math.Abs(xs[i]))
			old := xs[i]
			xs[i] = old + h
			lp := loss(i)
			xs[i] = old - h
			lm := loss(i)
			xs[i] = old
			wg[i] = (lp - lm) / (2 * h) / float64(n)
		}
		closeTo(t, "loss", down(t, d, L), want, 1e-6, 1e-4)
		closeTo(t, "grad", down(t, d, G), wg, 1e-7, 1e-3)
		closeTo(t, "sum", down(t, d, S), []float64{sum}, 1e-4, 1e-4)
	}
}

func refCosine(s cuda.GraphShape, X []float64, eps float64) []float64 {
	S := make([]float64, s.G*s.N*s.N)
	for g := 0; g < s.G; g++ {
		nrm := make([]float64, s.N)
		for i := 0; i < s.N; i++ {
			v := 0.0
			for f := 0; f < s.F; f++ {
				v += X[(g*s.N+i)*s.F+f] * X[(g*s.N+i)*s.F+f]
			}
			nrm[i] = math.Sqrt(v + eps)
		}
		for i := 0; i < s.N; i++ {
			for j := 0; j < s.N; j++ {
				v := 0.0
				for f := 0; f < s.F; f++ {
					v += X[(g*s.N+i)*s.F+f] * X[(g*s.N+j)*s.F+f]
				}
				S[(g*s.N+i)*s.N+j] = v / (nrm[i] * nrm[j])
			}
		}
	}
	return S
}

func TestCosine(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 1))
	s := cuda.GraphShape{G: 2, N: 19, F: 12}
	x, gS := randn(r, s.G*s.N*s.F, 1), randn(r, s.G*s.N*s.N, 1)
	d := newDevice(t)
	X := up(t, d, x)
	S, NR, GX := alloc(t, d, len(gS)), alloc(t, d, s.G*s.N), alloc(t, d, len(x))
	if err := d.CosineFwd(s, X, S, NR, 1e-6); err != nil {
		t.Fatal(err)
	}
	if err := d.CosineBwd(s, X, NR, up(t, d, gS), GX, 1e-6); err != nil {
		t.Fatal(err)
	}
	xs, gs := f64(x), f64(gS)
	closeTo(t, "S", down(t, d, S), refCosine(s, xs, 1e-6), 1e-6, 1e-5)
	closeTo(t, "gX", down(t, d, GX), fdGrad(xs, func() float64 { return dot(refCosine(s, xs, 1e-6), gs) }), 1e-5, 1e-3)
}

func TestTopKSym(t *testing.T) {
	s := cuda.GraphShape{G: 1, N: 4, F: 1}
	// Row maxima (k = 1, no self): row0 -> 2, row1 -> 0 (tie with 3: lower j), row2 -> 3, row3 -> 0.
	S := []float32{
		9, 1, 5, 2,
		4, 9, 0, 4,
		1, 2, 9, 3,
		8, 1, 2, 9,
	}
	d := newDevice(t)
	A, K := alloc(t, d, 16), alloc(t, d, 16)
	if err := d.TopKSym(s, up(t, d, S), A, K, 1, false); err != nil {
		t.Fatal(err)
	}
	keep := []float64{
		0, 1, 1, 1,
		1, 0, 0, 0,
		1, 0, 0, 1,
		1, 0, 1, 0,
	}
	wantA := make([]float64, 16)
	for i := range wantA {
		wantA[i] = keep[i] * float64(S[i])
	}
	closeTo(t, "keep", down(t, d, K), keep, 0, 0)
	closeTo(t, "A", down(t, d, A), wantA, 0, 0)
	// With self loops allowed every row keeps its diagonal 9.
	if err := d.TopKSym(s, up(t, d, S), A, K, 1, true); err != nil {
		t.Fatal(err)
	}
	diag := make([]float64, 16)
	for i := 0; i < 4; i++ {
		diag[i*5] = 1
	}
	closeTo(t, "keep self", down(t, d, K), diag, 0, 0)
}

func refSSG(s cuda.GraphShape, c cuda.SSG, A, X []float64) []float64 {
	out := make([]float64, len(X))
	N, F := s.N, s.F
	for g := 0; g < s.G; g++ {
		a := A[g*N*N : (g+1)*N*N]
		r := make([]float64, N)
		for i := 0; i < N; i++ {
			deg := 0.0
			if c.SelfLoops {
				deg = 1
			}
			for j := 0; j < N; j++ {
				deg += a[i*N+j]
			}
			if deg > 0 {
				r[i] = 1 / math.Sqrt(deg)
			}
		}
		ah := func(i, j int) float64 {
			v := a[i*N+j]
			if c.SelfLoops && i == j {
				v++
			}
			return r[i] * v * r[j]
		}
		h := append([]float64(nil), X[g*N*F:(g+1)*N*F]...)
		acc := make([]float64, N*F)
		for k := 0; k < c.K; k++ {
			nh := make([]float64, N*F)
			for i := 0; i < N; i++ {
				for f := 0; f < F; f++ {
					for j := 0; j < N; j++ {
						nh[i*F+f] += ah(i, j) * h[j*F+f]
					}
				}
			}
			for i := range acc {
				acc[i] += nh[i]
			}
			h = nh
		}
		for i := 0; i < N*F; i++ {
			out[g*N*F+i] = float64(c.Alpha)*X[g*N*F+i] + (1-float64(c.Alpha))/float64(c.K)*acc[i]
		}
	}
	return out
}

func TestSSGConv(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 2))
	for _, c := range []cuda.SSG{{K: 2, Alpha: 0.05, SelfLoops: true}, {K: 3, Alpha: 0.2, SelfLoops: false}} {
		s := cuda.GraphShape{G: 2, N: 5, F: 66} // two feature tiles
		a := make([]float32, s.G*s.N*s.N)
		for g := 0; g < s.G; g++ {
			for i := 0; i < s.N; i++ {
				for j := 0; j <= i; j++ {
					if r.Float64() < 0.5 {
						v := float32(r.Float64() + 0.1)
						a[(g*s.N+i)*s.N+j], a[(g*s.N+j)*s.N+i] = v, v
					}
				}
			}
		}
		x, gOut := randn(r, s.G*s.N*s.F, 1), randn(r, s.G*s.N*s.F, 1)
		d := newDevice(t)
		A, X := up(t, d, a), up(t, d, x)
		O, GX, GA := alloc(t, d, len(x)), alloc(t, d, len(x)), alloc(t, d, len(a))
		if err := d.SSGConvFwd(s, c, A, X, O); err != nil {
			t.Fatal(err)
		}
		if err := d.SSGConvBwd(s, c, A, X, up(t, d, gOut), GX, GA); err != nil {
			t.Fatal(err)
		}
		as, xs, gs := f64(a), f64(x), f64(gOut)
		loss := func() float64 { return dot(refSSG(s, c, as, xs), gs) }
		closeTo(t, "out", down(t, d, O), refSSG(s, c, as, xs), 1e-5, 1e-4)
		closeTo(t, "gX", down(t, d, GX), fdGrad(xs, loss), 1e-4, 1e-3)
		closeTo(t, "gA", down(t, d, GA), fdGrad(as, loss), 1e-4, 1e-3)
	}
}

func TestWeightNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 3))
	rows, cols := 5, 37
	v, g, gw := randn(r, rows*cols, 1), randn(r, rows, 1), randn(r, rows*cols, 1)
	d := newDevice(t)
	V, G := up(t, d, v), up(t, d, g)
	W, N, GV, GG := alloc(t, d, rows*cols), alloc(t, d, rows), alloc(t, d, rows*cols), alloc(t, d, rows)
	if err := d.WeightNormFwd(V, G, W, N, rows, cols); err != nil {
		t.Fatal(err)
	}
	if err := d.WeightNormBwd(V, G, N, up(t, d, gw), GV, GG, rows, cols); err != nil {
		t.Fatal(err)
	}
	vs, gs, cg := f64(v), f64(g), f64(gw)
	fwd := func() []float64 {
		w := make([]float64, rows*cols)
		for o := 0; o < rows; o++ {
			n := 0.0
			for i := 0; i < cols; i++ {
				n += vs[o*cols+i] * vs[o*cols+i]
			}
			n = math.Sqrt(n)
			for i := 0; i < cols; i++ {
				w[o*cols+i] = gs[o] * vs[o*cols+i] / n
			}
		}
		return w
	}
	loss := func() float64 { return dot(fwd(), cg) }
	closeTo(t, "w", down(t, d, W), fwd(), 1e-6, 1e-5)
	closeTo(t, "gv", down(t, d, GV), fdGrad(vs, loss), 1e-5, 1e-3)
	closeTo(t, "gg", down(t, d, GG), fdGrad(gs, loss), 1e-5, 1e-3)
}
