package check

import (
	"fmt"
	"math/rand/v2"

	"github.com/pipeml/pipe/kernels"
	"github.com/pipeml/pipe/kernels/ref"
)

// Gen draws the random inputs of cases.
type Gen struct{ r *rand.Rand }

// NewGen returns a generator seeded with seed.
func NewGen(seed uint64) *Gen { return &Gen{r: rand.New(rand.NewPCG(seed, 0x636865636b))} }

// U returns n values uniform in [lo, hi).
func (g *Gen) U(n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*g.r.Float64())
	}
	return s
}

func in(name string, d []float32, grad bool) Array { return Array{Name: name, Data: d, Grad: grad} }

// Scan is the SSD scan at shape s (D included when withD).
func Scan(g *Gen, s kernels.ScanShape, rev, withD bool) Case {
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	ins := []Array{in("x", g.U(nx, -1, 1), true), in("dt", g.U(nt, 0.01, 0.3), true), in("A", g.U(s.H, -2, -0.2), true),
		in("B", g.U(nb, -1, 1), true), in("C", g.U(nb, -1, 1), true), in("D", g.U(s.H, -1, 1), withD)}
	flops := float64(s.Batch*s.L*s.H*s.P*s.N) * 5
	bytes := 4 * float64(2*nx+nt+2*nb)
	dOf := func(in [][]float64) []float64 {
		if withD {
			return in[5]
		}
		return nil
	}
	dBuf := func(in []kernels.Buffer) kernels.Buffer {
		if withD {
			return in[5]
		}
		return nil
	}
	return Case{
		Name: fmt.Sprintf("scan B%d L%d H%d P%d G%d N%d rev=%v", s.Batch, s.L, s.H, s.P, s.G, s.N, rev),
		In:   ins,
		Out:  []Output{{Name: "y", Len: nx, Cot: true}, {Name: "final", Len: s.Batch * s.H * s.P * s.N}},
		Ref: func(in [][]float64) [][]float64 {
			y, fin := ref.Scan(s.Batch, s.L, s.H, s.P, s.G, s.N, in[0], in[1], in[2], in[3], in[4], dOf(in), rev)
			return [][]float64{y, fin}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.ScanFwd(s, in[0], in[1], in[2], in[3], in[4], dBuf(in), out[0], out[1], rev)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.ScanBwd(s, in[0], in[1], in[2], in[3], in[4], dBuf(in), gout[0],
				kernels.ScanGrads{X: gin[0], DT: gin[1], A: gin[2], B: gin[3], C: gin[4], D: gin[5]}, rev)
		},
		Flops: flops, Bytes: bytes, BwdFlops: 4 * flops, BwdBytes: 2.5 * bytes,
	}
}

// Linear is y = x·Wᵀ + bias.
func Linear(g *Gen, rows, nin, nout int) Case {
	return Case{
		Name: fmt.Sprintf("linear %dx%d->%d", rows, nin, nout),
		In:   []Array{in("x", g.U(rows*nin, -1, 1), true), in("W", g.U(nout*nin, -0.5, 0.5), true), in("bias", g.U(nout, -1, 1), true)},
		Out:  []Output{{Name: "y", Len: rows * nout, Cot: true}},
		Ref:  func(in [][]float64) [][]float64 { return [][]float64{ref.Linear(in[0], in[1], in[2], rows, nin, nout)} },
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.LinearFwd(in[0], in[1], in[2], out[0], rows, nin, nout)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.LinearBwd(in[0], in[1], gout[0], gin[0], gin[1], gin[2], rows, nin, nout)
		},
		Flops: 2 * float64(rows*nin*nout), Bytes: 4 * float64(rows*nin+nin*nout+rows*nout),
		BwdFlops: 4 * float64(rows*nin*nout), BwdBytes: 8 * float64(rows*nin+nin*nout+rows*nout),
	}
}

// Conv is the dense conv1d (channel-first) with bias.
func Conv(g *Gen, s kernels.ConvShape) Case {
	nx, nw, ny := s.Batch*s.Cin*s.Lin, s.Cout*s.Cin*s.K, s.Batch*s.Cout*s.Lout
	fl := 2 * float64(s.Batch*s.Cout*s.Lout*s.Cin*s.K)
	return Case{
		Name: fmt.Sprintf("conv B%d %d->%d L%d K%d stride%d dil%d", s.Batch, s.Cin, s.Cout, s.Lin, s.K, s.Stride, s.Dil),
		In:   []Array{in("x", g.U(nx, -1, 1), true), in("w", g.U(nw, -0.5, 0.5), true), in("bias", g.U(s.Cout, -1, 1), true)},
		Out:  []Output{{Name: "y", Len: ny, Cot: true}},
		Ref: func(in [][]float64) [][]float64 {
			return [][]float64{ref.Conv(in[0], in[1], in[2], s.Batch, s.Cin, s.Lin, s.Cout, s.K, s.Lout, s.Stride, s.Dil, s.Pad)}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.ConvFwd(s, in[0], in[1], in[2], out[0])
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.ConvBwd(s, in[0], in[1], gout[0], gin[0], gin[1], gin[2])
		},
		Flops: fl, Bytes: 4 * float64(nx+nw+ny), BwdFlops: 2 * fl, BwdBytes: 8 * float64(nx+nw+ny),
	}
}

// DWConv is the depthwise causal conv (+ SiLU when silu).
func DWConv(g *Gen, s kernels.DWShape, silu bool) Case {
	n := s.Batch * s.L * s.C
	return Case{
		Name: fmt.Sprintf("dwconv B%d L%d C%d W%d silu=%v", s.Batch, s.L, s.C, s.W, silu),
		In:   []Array{in("x", g.U(n, -1, 1), true), in("w", g.U(s.C*s.W, -0.7, 0.7), true), in("bias", g.U(s.C, -0.5, 0.5), true)},
		Out:  []Output{{Name: "y", Len: n, Cot: true}},
		Ref: func(in [][]float64) [][]float64 {
			return [][]float64{ref.DWConv(in[0], in[1], in[2], s.Batch, s.L, s.C, s.W, silu)}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.DWConvFwd(s, in[0], in[1], in[2], out[0], silu)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.DWConvBwd(s, in[0], in[1], in[2], gout[0], gin[0], gin[1], gin[2], silu)
		},
		Flops: 2 * float64(n*s.W), Bytes: 8 * float64(n), BwdFlops: 6 * float64(n*s.W), BwdBytes: 16 * float64(n),
	}
}

// WeightNorm is w = g·v/‖v‖ per row.
func WeightNorm(g *Gen, rows, cols int) Case {
	return Case{
		Name: fmt.Sprintf("weightnorm %dx%d", rows, cols),
		In:   []Array{in("v", g.U(rows*cols, -1, 1), true), in("g", g.U(rows, 0.5, 2), true)},
		Out:  []Output{{Name: "w", Len: rows * cols, Cot: true}, {Name: "norm", Len: rows, NoCheck: true}},
		Ref:  func(in [][]float64) [][]float64 { return [][]float64{ref.WeightNorm(in[0], in[1], rows, cols), nil} },
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.WeightNormFwd(in[0], in[1], out[0], out[1], rows, cols)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.WeightNormBwd(in[0], in[1], out[1], gout[0], gin[0], gin[1], rows, cols)
		},
		Flops: 3 * float64(rows*cols), Bytes: 8 * float64(rows*cols), BwdFlops: 5 * float64(rows*cols), BwdBytes: 12 * float64(rows*cols),
	}
}

// LayerNorm normalises rows of D with affine w, b.
func LayerNorm(g *Gen, rows, D int) Case {
	return Case{
		Name: fmt.Sprintf("layernorm %dx%d", rows, D),
		In:   []Array{in("x", g.U(rows*D, -2, 2), true), in("w", g.U(D, 0.5, 1.5), true), in("b", g.U(D, -0.5, 0.5), true)},
		Out: []Output{{Name: "y", Len: rows * D, Cot: true}, {Name: "mean", Len: rows, NoCheck: true},
			{Name: "rstd", Len: rows, NoCheck: true}},
		Ref: func(in [][]float64) [][]float64 {
			return [][]float64{ref.LayerNorm(in[0], in[1], in[2], rows, D, 1e-5), nil, nil}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.LayerNormFwd(in[0], in[1], in[2], out[0], out[1], out[2], rows, D, 1e-5)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.LayerNormBwd(in[0], in[1], gout[0], out[1], out[2], gin[0], gin[1], gin[2], rows, D)
		},
		Flops: 8 * float64(rows*D), Bytes: 8 * float64(rows*D), BwdFlops: 12 * float64(rows*D), BwdBytes: 12 * float64(rows*D),
	}
}

// RMSNormGated is Mamba-2's norm(y·SiLU(z)) with groups of gs channels.
func RMSNormGated(g *Gen, rows, D, gs int) Case {
	return Case{
		Name: fmt.Sprintf("rmsnorm_gated %dx%d group %d", rows, D, gs),
		In:   []Array{in("y", g.U(rows*D, -2, 2), true), in("z", g.U(rows*D, -3, 3), true), in("w", g.U(D, 0.5, 1.5), true)},
		Out:  []Output{{Name: "out", Len: rows * D, Cot: true}, {Name: "rstd", Len: rows * (D / gs), NoCheck: true}},
		Ref: func(in [][]float64) [][]float64 {
			return [][]float64{ref.RMSNormGated(in[0], in[1], in[2], rows, D, gs, 1e-5), nil}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.RMSNormGatedFwd(in[0], in[1], in[2], out[0], out[1], rows, D, gs, 1e-5)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.RMSNormGatedBwd(in[0], in[1], in[2], gout[0], out[1], gin[0], gin[1], gin[2], rows, D, gs)
		},
		Flops: 10 * float64(rows*D), Bytes: 12 * float64(rows*D), BwdFlops: 20 * float64(rows*D), BwdBytes: 20 * float64(rows*D),
	}
}

// Unary is one activation.
func Unary(g *Gen, act kernels.Activation, n int) Case {
	f := map[kernels.Activation]func(float64) float64{kernels.SiLU: ref.SiLU, kernels.Softplus: ref.Softplus,
		kernels.Sigmoid: ref.Sigmoid, kernels.ReLU: func(x float64) float64 { return max(x, 0) }}[act]
	return Case{
		Name: fmt.Sprintf("%v %d", act, n),
		In:   []Array{in("x", g.U(n, -25, 25), true)},
		Out:  []Output{{Name: "y", Len: n, Cot: true}},
		Ref: func(in [][]float64) [][]float64 {
			y := make([]float64, n)
			for i, v := range in[0] {
				y[i] = f(v)
			}
			return [][]float64{y}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error { return b.Unary(act, in[0], out[0]) },
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.UnaryBwd(act, in[0], gout[0], gin[0])
		},
		Flops: 4 * float64(n), Bytes: 8 * float64(n), BwdFlops: 6 * float64(n), BwdBytes: 12 * float64(n),
	}
}

// BiasSoftplus is Mamba-2's dt = softplus(dt_raw + dt_bias).
func BiasSoftplus(g *Gen, rows, C int) Case {
	return Case{
		Name: fmt.Sprintf("dt softplus %dx%d", rows, C),
		In:   []Array{in("x", g.U(rows*C, -6, 6), true), in("bias", g.U(C, -3, 1), true)},
		Out:  []Output{{Name: "y", Len: rows * C, Cot: true}},
		Ref: func(in [][]float64) [][]float64 {
			y := make([]float64, rows*C)
			for i, v := range in[0] {
				y[i] = ref.Softplus(v + in[1][i%C])
			}
			return [][]float64{y}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.BiasSoftplusFwd(in[0], in[1], out[0], C)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.BiasSoftplusBwd(in[0], in[1], gout[0], gin[0], gin[1], C)
		},
		Flops: 4 * float64(rows*C), Bytes: 8 * float64(rows*C), BwdFlops: 6 * float64(rows*C), BwdBytes: 12 * float64(rows*C),
	}
}

// BCEFocal is the per-sample loss and its gradient (checked as the
// forward's second output, against finite differences of the reference's
// loss sum).
func BCEFocal(g *Gen, n int, cfg kernels.BCEFocal) Case {
	tg := g.U(n, 0, 1)
	for i := range tg {
		if tg[i] < 0.3 {
			tg[i] = 1
		} else {
			tg[i] = 0
		}
	}
	pw, al, ga := float64(cfg.PosWeight), float64(cfg.Alpha), float64(cfg.Gamma)
	return Case{
		Name: fmt.Sprintf("bce_focal %d pw%g alpha%g gamma%g", n, pw, al, ga),
		In:   []Array{in("x", g.U(n, -8, 8), true), in("y", tg, false), in("weight", g.U(n, 0.5, 1.5), false)},
		Out:  []Output{{Name: "loss", Len: n, Cot: true}, {Name: "sum", Len: 1}},
		Ref: func(in [][]float64) [][]float64 {
			l := ref.BCEFocal(pw, al, ga, in[0], in[1], in[2])
			s := 0.0
			for _, v := range l {
				s += v
			}
			return [][]float64{l, {s}}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.BCEFocalFwd(cfg, in[0], in[1], in[2], out[0], nil, out[1], 1)
		},
		// The kernel returns d loss_i / d x_i; the loss Σ loss·cot has
		// gradient cot_i · that, formed with Mul.
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			if err := b.BCEFocalFwd(cfg, in[0], in[1], in[2], nil, gin[0], nil, 1); err != nil {
				return err
			}
			return b.Mul(gin[0], gout[0], gin[0])
		},
		Flops: 30 * float64(n), Bytes: 16 * float64(n), BwdFlops: 40 * float64(n), BwdBytes: 16 * float64(n),
	}
}

// Clamp is clamp(nan_to_num(x), lo, hi).
func Clamp(g *Gen, n int, lo, hi float32) Case {
	return Case{
		Name: fmt.Sprintf("clamp %d [%g, %g]", n, lo, hi),
		In:   []Array{in("x", g.U(n, 2*float64(lo), 2*float64(hi)), true)},
		Out:  []Output{{Name: "y", Len: n, Cot: true}},
		Ref: func(in [][]float64) [][]float64 {
			y := make([]float64, n)
			for i, v := range in[0] {
				y[i] = min(max(v, float64(lo)), float64(hi))
			}
			return [][]float64{y}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error { return b.ClampFwd(in[0], out[0], lo, hi) },
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.ClampBwd(in[0], gout[0], gin[0], lo, hi)
		},
		Flops: float64(n), Bytes: 8 * float64(n), BwdFlops: float64(n), BwdBytes: 12 * float64(n),
	}
}

// Cosine is the per-graph cosine similarity.
func Cosine(g *Gen, s kernels.GraphShape) Case {
	return Case{
		Name: fmt.Sprintf("cosine G%d N%d F%d", s.G, s.N, s.F),
		In:   []Array{in("X", g.U(s.G*s.N*s.F, -1, 1), true)},
		Out:  []Output{{Name: "S", Len: s.G * s.N * s.N, Cot: true}, {Name: "norm", Len: s.G * s.N, NoCheck: true}},
		Ref:  func(in [][]float64) [][]float64 { return [][]float64{ref.Cosine(in[0], s.G, s.N, s.F, 1e-6), nil} },
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.CosineFwd(s, in[0], out[0], out[1], 1e-6)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.CosineBwd(s, in[0], out[1], gout[0], gin[0], 1e-6)
		},
		Flops: float64(s.G * s.N * s.N * s.F), Bytes: 4 * float64(s.G*(s.N*s.F+s.N*s.N)),
		BwdFlops: 4 * float64(s.G*s.N*s.N*s.F), BwdBytes: 8 * float64(s.G*(s.N*s.F+s.N*s.N)),
	}
}

// TopK is top-k sparsification with symmetrisation; its backward is
// gS = gA·keep.
func TopK(g *Gen, s kernels.GraphShape, k int, self bool) Case {
	nn := s.G * s.N * s.N
	return Case{
		Name: fmt.Sprintf("topk G%d N%d k%d self=%v", s.G, s.N, k, self),
		In:   []Array{in("S", g.U(nn, -1, 1), true)},
		Out:  []Output{{Name: "A", Len: nn, Cot: true}, {Name: "keep", Len: nn}},
		Ref: func(in [][]float64) [][]float64 {
			keep := ref.TopKKeep(in[0], s.G, s.N, k, self)
			a := make([]float64, nn)
			for i := range a {
				a[i] = in[0][i] * keep[i]
			}
			return [][]float64{a, keep}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.TopKSym(s, in[0], out[0], out[1], k, self)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.Mul(gout[0], out[1], gin[0])
		},
		Flops: float64(nn * k), Bytes: 12 * float64(nn), BwdFlops: float64(nn), BwdBytes: 12 * float64(nn),
	}
}

// SSGConv is the K-step simple spectral graph convolution.
func SSGConv(g *Gen, s kernels.GraphShape, c kernels.SSG) Case {
	nn, nf := s.G*s.N*s.N, s.G*s.N*s.F
	fl := 2 * float64(c.K*s.G*s.N*s.N*s.F)
	return Case{
		Name: fmt.Sprintf("ssgconv G%d N%d F%d K%d", s.G, s.N, s.F, c.K),
		In:   []Array{in("A", g.U(nn, 0, 1), true), in("X", g.U(nf, -1, 1), true)},
		Out:  []Output{{Name: "out", Len: nf, Cot: true}},
		Ref: func(in [][]float64) [][]float64 {
			return [][]float64{ref.SSGConv(in[0], in[1], s.G, s.N, s.F, c.K, float64(c.Alpha), c.SelfLoops)}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.SSGConvFwd(s, c, in[0], in[1], out[0])
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.SSGConvBwd(s, c, in[0], in[1], gout[0], gin[1], gin[0])
		},
		Flops: fl, Bytes: 4 * float64(nn+2*nf), BwdFlops: 3 * fl, BwdBytes: 4 * float64(2*nn+3*nf),
	}
}

// Transpose swaps the middle axes of x (A, M, N, D); its backward is the
// transpose back.
func Transpose(g *Gen, A, M, N, D int) Case {
	n := A * M * N * D
	return Case{
		Name: fmt.Sprintf("transpose %dx%dx%dx%d", A, M, N, D),
		In:   []Array{in("x", g.U(n, -1, 1), true)},
		Out:  []Output{{Name: "y", Len: n, Cot: true}},
		Ref:  func(in [][]float64) [][]float64 { return [][]float64{ref.Transpose(in[0], A, M, N, D)} },
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.Transpose(in[0], out[0], A, M, N, D)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.Transpose(gout[0], gin[0], A, N, M, D)
		},
		Bytes: 8 * float64(n), BwdBytes: 8 * float64(n),
	}
}

// TriuGather reads the strict upper triangle of each N×N matrix (plus the
// lower with sym); its backward is TriuScatter.
func TriuGather(g *Gen, G, N int, sym bool) Case {
	nn, np := G*N*N, G*N*(N-1)/2
	return Case{
		Name: fmt.Sprintf("triu gather G%d N%d sym=%v", G, N, sym),
		In:   []Array{in("S", g.U(nn, -1, 1), true)},
		Out:  []Output{{Name: "out", Len: np, Cot: true}},
		Ref:  func(in [][]float64) [][]float64 { return [][]float64{ref.TriuGather(in[0], G, N, sym)} },
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.TriuGather(G, N, in[0], out[0], sym)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.TriuScatter(G, N, gout[0], gin[0], sym)
		},
		Bytes: 4 * float64(nn+np), BwdBytes: 4 * float64(nn+np),
	}
}

// TriuScatter writes pairs into the strict upper triangle of N×N matrices
// (mirrored with sym); its backward is TriuGather.
func TriuScatter(g *Gen, G, N int, sym bool) Case {
	nn, np := G*N*N, G*N*(N-1)/2
	return Case{
		Name: fmt.Sprintf("triu scatter G%d N%d sym=%v", G, N, sym),
		In:   []Array{in("in", g.U(np, -1, 1), true)},
		Out:  []Output{{Name: "S", Len: nn, Cot: true}},
		Ref:  func(in [][]float64) [][]float64 { return [][]float64{ref.TriuScatter(in[0], G, N, sym)} },
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			return b.TriuScatter(G, N, in[0], out[0], sym)
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.TriuGather(G, N, gout[0], gin[0], sym)
		},
		Bytes: 4 * float64(nn+np), BwdBytes: 4 * float64(nn+np),
	}
}

// Dropout is y = x·mask with DropoutMask's mask (checked against the
// float64 hash); its backward is gx = gy·mask.
func Dropout(g *Gen, n int, seed uint64, stream int, p float64) Case {
	return Case{
		Name: fmt.Sprintf("dropout %d p%g stream %d", n, p, stream),
		In:   []Array{in("x", g.U(n, -1, 1), true)},
		Out:  []Output{{Name: "y", Len: n, Cot: true}, {Name: "mask", Len: n}},
		Ref: func(in [][]float64) [][]float64 {
			m := ref.DropoutMask(n, seed, stream, p)
			y := make([]float64, n)
			for i := range y {
				y[i] = in[0][i] * m[i]
			}
			return [][]float64{y, m}
		},
		Fwd: func(b kernels.Backend, in, out []kernels.Buffer) error {
			if err := b.DropoutMask(out[1], seed, stream, p); err != nil {
				return err
			}
			return b.Mul(in[0], out[1], out[0])
		},
		Bwd: func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error {
			return b.Mul(gout[0], out[1], gin[0])
		},
		Flops: 20 * float64(n), Bytes: 12 * float64(n), BwdFlops: float64(n), BwdBytes: 12 * float64(n),
	}
}
