package cuda

import (
	"fmt"

	"github.com/pipeml/pipe/kernels"
)

// Backend implements kernels.Backend on a Device: the CUDA backend of the
// kernels API (layouts and semantics are the interface's; each method maps
// onto the Device method of the same name).
type Backend struct {
	d    *Device
	name string
}

var _ kernels.Backend = (*Backend)(nil)

// devBuf is a kernels.Buffer in this backend's device memory.
type devBuf struct{ b Buffer }

// Len implements kernels.Buffer.
func (b *devBuf) Len() int { return b.b.n }

// NewBackend wraps a Device; name describes it (kernels.Memory.Name).
func NewBackend(d *Device, name string) *Backend { return &Backend{d: d, name: name} }

// OpenBackend opens GPU ordinal as a kernels.Backend. Without -tags cuda it
// returns ErrNotBuilt.
func OpenBackend(ordinal int) (*Backend, error) {
	d, desc, err := Open(ordinal)
	if err != nil {
		return nil, err
	}
	return NewBackend(d, "cuda: "+desc), nil
}

// Device returns the underlying Device.
func (be *Backend) Device() *Device { return be.d }

// dev converts kernels buffers (nil = absent) to device buffers.
func (be *Backend) dev(op string, bs ...kernels.Buffer) ([]Buffer, error) {
	out := make([]Buffer, len(bs))
	for i, b := range bs {
		switch v := b.(type) {
		case nil:
		case *devBuf:
			if v != nil {
				out[i] = v.b
			}
		default:
			return nil, fmt.Errorf("cuda: %s: argument %d is a %T, not a buffer of this CUDA backend", op, i, b)
		}
	}
	return out, nil
}

// Name implements kernels.Memory.
func (be *Backend) Name() string { return be.name }

// Alloc implements kernels.Memory (zeroed, as the interface requires).
func (be *Backend) Alloc(n int) (kernels.Buffer, error) {
	b, err := be.d.Alloc(n)
	if err != nil {
		return nil, err
	}
	if err := be.d.Zero(b); err != nil {
		be.d.Free(b)
		return nil, err
	}
	return &devBuf{b: b}, nil
}

// Free implements kernels.Memory.
func (be *Backend) Free(b kernels.Buffer) error {
	x, err := be.dev("free", b)
	if err != nil {
		return err
	}
	return be.d.Free(x[0])
}

// Slice implements kernels.Memory.
func (be *Backend) Slice(b kernels.Buffer, from, n int) (kernels.Buffer, error) {
	x, err := be.dev("slice", b)
	if err != nil {
		return nil, err
	}
	s, err := x[0].Slice(from, n)
	if err != nil {
		return nil, err
	}
	return &devBuf{b: s}, nil
}

// Upload implements kernels.Memory.
func (be *Backend) Upload(b kernels.Buffer, src []float32) error {
	x, err := be.dev("upload", b)
	if err != nil {
		return err
	}
	return be.d.Upload(x[0], src)
}

// Download implements kernels.Memory.
func (be *Backend) Download(dst []float32, b kernels.Buffer) error {
	x, err := be.dev("download", b)
	if err != nil {
		return err
	}
	return be.d.Download(dst, x[0])
}

// Zero implements kernels.Memory.
func (be *Backend) Zero(b kernels.Buffer) error {
	x, err := be.dev("zero", b)
	if err != nil {
		return err
	}
	return be.d.Zero(x[0])
}

// Sync implements kernels.Memory.
func (be *Backend) Sync() error { return be.d.Driver().Sync() }

// Close implements kernels.Memory.
func (be *Backend) Close() error { return be.d.Close() }

// Gemm implements kernels.Dense.
func (be *Backend) Gemm(transA, transB bool, m, n, k int, alpha float32, A kernels.Buffer, lda, sA int,
	B kernels.Buffer, ldb, sB int, beta float32, C kernels.Buffer, ldc, sC int, batch int) error {
	x, err := be.dev("gemm", A, B, C)
	if err != nil {
		return err
	}
	return be.d.Gemm(transA, transB, m, n, k, alpha, x[0], lda, sA, x[1], ldb, sB, beta, x[2], ldc, sC, batch)
}

// LinearFwd implements kernels.Dense.
func (be *Backend) LinearFwd(x, W, bias, y kernels.Buffer, rows, in, out int) error {
	b, err := be.dev("linear", x, W, bias, y)
	if err != nil {
		return err
	}
	return be.d.LinearFwd(b[0], b[1], b[2], b[3], rows, in, out)
}

// LinearBwd implements kernels.Dense.
func (be *Backend) LinearBwd(x, W, gy, gx, gW, gbias kernels.Buffer, rows, in, out int) error {
	b, err := be.dev("linear backward", x, W, gy, gx, gW, gbias)
	if err != nil {
		return err
	}
	return be.d.LinearBwd(b[0], b[1], b[2], b[3], b[4], b[5], rows, in, out)
}

// SumCols implements kernels.Dense.
func (be *Backend) SumCols(g, out kernels.Buffer, rows, cols int) error {
	b, err := be.dev("sum_cols", g, out)
	if err != nil {
		return err
	}
	return be.d.SumCols(b[0], b[1], rows, cols)
}

// ConvFwd implements kernels.Conv.
func (be *Backend) ConvFwd(s kernels.ConvShape, x, w, bias, y kernels.Buffer) error {
	b, err := be.dev("conv", x, w, bias, y)
	if err != nil {
		return err
	}
	return be.d.ConvFwd(ConvShape(s), b[0], b[1], b[2], b[3])
}

// ConvBwd implements kernels.Conv.
func (be *Backend) ConvBwd(s kernels.ConvShape, x, w, gy, gx, gw, gbias kernels.Buffer) error {
	b, err := be.dev("conv backward", x, w, gy, gx, gw, gbias)
	if err != nil {
		return err
	}
	return be.d.ConvBwd(ConvShape(s), b[0], b[1], b[2], b[3], b[4], b[5])
}

// DWConvFwd implements kernels.Conv.
func (be *Backend) DWConvFwd(s kernels.DWShape, x, w, bias, y kernels.Buffer, silu bool) error {
	b, err := be.dev("dwconv", x, w, bias, y)
	if err != nil {
		return err
	}
	return be.d.DWConvFwd(DWShape(s), b[0], b[1], b[2], b[3], silu)
}

// DWConvBwd implements kernels.Conv.
func (be *Backend) DWConvBwd(s kernels.DWShape, x, w, bias, gy, gx, gw, gbias kernels.Buffer, silu bool) error {
	b, err := be.dev("dwconv backward", x, w, bias, gy, gx, gw, gbias)
	if err != nil {
		return err
	}
	return be.d.DWConvBwd(DWShape(s), b[0], b[1], b[2], b[3], b[4], b[5], b[6], silu)
}

// WeightNormFwd implements kernels.Conv.
func (be *Backend) WeightNormFwd(v, g, w, norm kernels.Buffer, rows, cols int) error {
	b, err := be.dev("weight norm", v, g, w, norm)
	if err != nil {
		return err
	}
	return be.d.WeightNormFwd(b[0], b[1], b[2], b[3], rows, cols)
}

// WeightNormBwd implements kernels.Conv.
func (be *Backend) WeightNormBwd(v, g, norm, gw, gv, gg kernels.Buffer, rows, cols int) error {
	b, err := be.dev("weight norm backward", v, g, norm, gw, gv, gg)
	if err != nil {
		return err
	}
	return be.d.WeightNormBwd(b[0], b[1], b[2], b[3], b[4], b[5], rows, cols)
}

// LayerNormFwd implements kernels.Norm.
func (be *Backend) LayerNormFwd(x, w, bias, y, mean, rstd kernels.Buffer, rows, D int, eps float32) error {
	b, err := be.dev("layernorm", x, w, bias, y, mean, rstd)
	if err != nil {
		return err
	}
	return be.d.LayerNormFwd(b[0], b[1], b[2], b[3], b[4], b[5], rows, D, eps)
}

// LayerNormBwd implements kernels.Norm.
func (be *Backend) LayerNormBwd(x, w, gy, mean, rstd, gx, gw, gb kernels.Buffer, rows, D int) error {
	b, err := be.dev("layernorm backward", x, w, gy, mean, rstd, gx, gw, gb)
	if err != nil {
		return err
	}
	return be.d.LayerNormBwd(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], rows, D)
}

// RMSNormGatedFwd implements kernels.Norm.
func (be *Backend) RMSNormGatedFwd(y, z, w, out, rstd kernels.Buffer, rows, D, gs int, eps float32) error {
	b, err := be.dev("gated rmsnorm", y, z, w, out, rstd)
	if err != nil {
		return err
	}
	return be.d.RMSNormGatedFwd(b[0], b[1], b[2], b[3], b[4], rows, D, gs, eps)
}

// RMSNormGatedBwd implements kernels.Norm.
func (be *Backend) RMSNormGatedBwd(y, z, w, gout, rstd, gy, gz, gw kernels.Buffer, rows, D, gs int) error {
	b, err := be.dev("gated rmsnorm backward", y, z, w, gout, rstd, gy, gz, gw)
	if err != nil {
		return err
	}
	return be.d.RMSNormGatedBwd(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], rows, D, gs)
}

// Unary implements kernels.Elementwise.
func (be *Backend) Unary(act kernels.Activation, x, y kernels.Buffer) error {
	b, err := be.dev("unary "+act.String(), x, y)
	if err != nil {
		return err
	}
	return be.d.Unary(int(act), b[0], b[1])
}

// UnaryBwd implements kernels.Elementwise.
func (be *Backend) UnaryBwd(act kernels.Activation, x, gy, gx kernels.Buffer) error {
	b, err := be.dev("unary backward "+act.String(), x, gy, gx)
	if err != nil {
		return err
	}
	return be.d.UnaryBwd(int(act), b[0], b[1], b[2])
}

// BiasSoftplusFwd implements kernels.Elementwise.
func (be *Backend) BiasSoftplusFwd(x, bias, y kernels.Buffer, C int) error {
	b, err := be.dev("bias softplus", x, bias, y)
	if err != nil {
		return err
	}
	return be.d.BiasSoftplusFwd(b[0], b[1], b[2], C)
}

// BiasSoftplusBwd implements kernels.Elementwise.
func (be *Backend) BiasSoftplusBwd(x, bias, gy, gx, gbias kernels.Buffer, C int) error {
	b, err := be.dev("bias softplus backward", x, bias, gy, gx, gbias)
	if err != nil {
		return err
	}
	return be.d.BiasSoftplusBwd(b[0], b[1], b[2], b[3], b[4], C)
}

// BCEFocalFwd implements kernels.Elementwise.
func (be *Backend) BCEFocalFwd(cfg kernels.BCEFocal, x, y, weight, loss, grad, sum kernels.Buffer, gscale float32) error {
	b, err := be.dev("bce", x, y, weight, loss, grad, sum)
	if err != nil {
		return err
	}
	return be.d.BCEFocalFwd(BCEFocal(cfg), b[0], b[1], b[2], b[3], b[4], b[5], gscale)
}

// SumAll implements kernels.Elementwise.
func (be *Backend) SumAll(x, out kernels.Buffer) error {
	b, err := be.dev("sum", x, out)
	if err != nil {
		return err
	}
	return be.d.SumAll(b[0], b[1])
}

// Axpy implements kernels.Elementwise.
func (be *Backend) Axpy(a float32, x, y kernels.Buffer) error {
	b, err := be.dev("axpy", x, y)
	if err != nil {
		return err
	}
	return be.d.Axpy(a, b[0], b[1])
}

// Mul implements kernels.Elementwise.
func (be *Backend) Mul(a, bb, out kernels.Buffer) error {
	b, err := be.dev("mul", a, bb, out)
	if err != nil {
		return err
	}
	return be.d.Mul(b[0], b[1], b[2])
}

// Affine implements kernels.Elementwise.
func (be *Backend) Affine(a float32, x kernels.Buffer, c float32, y kernels.Buffer) error {
	b, err := be.dev("affine", x, y)
	if err != nil {
		return err
	}
	return be.d.Affine(a, b[0], c, b[1])
}

// ClampFwd implements kernels.Elementwise.
func (be *Backend) ClampFwd(x, y kernels.Buffer, lo, hi float32) error {
	b, err := be.dev("clamp", x, y)
	if err != nil {
		return err
	}
	return be.d.ClampFwd(b[0], b[1], lo, hi)
}

// ClampBwd implements kernels.Elementwise.
func (be *Backend) ClampBwd(x, gy, gx kernels.Buffer, lo, hi float32) error {
	b, err := be.dev("clamp backward", x, gy, gx)
	if err != nil {
		return err
	}
	return be.d.ClampBwd(b[0], b[1], b[2], lo, hi)
}

// FlipTime implements kernels.Elementwise.
func (be *Backend) FlipTime(x, y kernels.Buffer, batch, L, C int) error {
	b, err := be.dev("flip", x, y)
	if err != nil {
		return err
	}
	return be.d.FlipTime(b[0], b[1], batch, L, C)
}

// Transpose implements kernels.Elementwise.
func (be *Backend) Transpose(x, y kernels.Buffer, A, M, N, D int) error {
	b, err := be.dev("transpose", x, y)
	if err != nil {
		return err
	}
	return be.d.Transpose(b[0], b[1], A, M, N, D)
}

// DropoutMask implements kernels.Elementwise.
func (be *Backend) DropoutMask(mask kernels.Buffer, seed uint64, stream int, p float64) error {
	b, err := be.dev("dropout mask", mask)
	if err != nil {
		return err
	}
	return be.d.DropoutMask(b[0], seed, stream, p)
}

// TriuGather implements kernels.Graph.
func (be *Backend) TriuGather(G, N int, S, out kernels.Buffer, sym bool) error {
	b, err := be.dev("triu gather", S, out)
	if err != nil {
		return err
	}
	return be.d.TriuGather(G, N, b[0], b[1], sym)
}

// TriuScatter implements kernels.Graph.
func (be *Backend) TriuScatter(G, N int, in, S kernels.Buffer, sym bool) error {
	b, err := be.dev("triu scatter", in, S)
	if err != nil {
		return err
	}
	return be.d.TriuScatter(G, N, b[0], b[1], sym)
}

// CosineFwd implements kernels.Graph.
func (be *Backend) CosineFwd(s kernels.GraphShape, X, S, nrm kernels.Buffer, eps float32) error {
	b, err := be.dev("cosine", X, S, nrm)
	if err != nil {
		return err
	}
	return be.d.CosineFwd(GraphShape(s), b[0], b[1], b[2], eps)
}

// CosineBwd implements kernels.Graph.
func (be *Backend) CosineBwd(s kernels.GraphShape, X, nrm, gS, gX kernels.Buffer, eps float32) error {
	b, err := be.dev("cosine backward", X, nrm, gS, gX)
	if err != nil {
		return err
	}
	return be.d.CosineBwd(GraphShape(s), b[0], b[1], b[2], b[3], eps)
}

// TopKSym implements kernels.Graph.
func (be *Backend) TopKSym(s kernels.GraphShape, S, A, keep kernels.Buffer, k int, self bool) error {
	b, err := be.dev("top-k", S, A, keep)
	if err != nil {
		return err
	}
	return be.d.TopKSym(GraphShape(s), b[0], b[1], b[2], k, self)
}

// SSGConvFwd implements kernels.Graph.
func (be *Backend) SSGConvFwd(s kernels.GraphShape, c kernels.SSG, A, X, Out kernels.Buffer) error {
	b, err := be.dev("ssgconv", A, X, Out)
	if err != nil {
		return err
	}
	return be.d.SSGConvFwd(GraphShape(s), SSG(c), b[0], b[1], b[2])
}

// SSGConvBwd implements kernels.Graph.
func (be *Backend) SSGConvBwd(s kernels.GraphShape, c kernels.SSG, A, X, gOut, gX, gA kernels.Buffer) error {
	b, err := be.dev("ssgconv backward", A, X, gOut, gX, gA)
	if err != nil {
		return err
	}
	return be.d.SSGConvBwd(GraphShape(s), SSG(c), b[0], b[1], b[2], b[3], b[4])
}

// ScanFwd implements kernels.Scan.
func (be *Backend) ScanFwd(s kernels.ScanShape, x, dt, A, B, C, D, y, final kernels.Buffer, rev bool) error {
	b, err := be.dev("scan", x, dt, A, B, C, D, y, final)
	if err != nil {
		return err
	}
	return be.d.ScanFwd(ScanShape(s), b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], rev)
}

// ScanBwd implements kernels.Scan.
func (be *Backend) ScanBwd(s kernels.ScanShape, x, dt, A, B, C, D, gy kernels.Buffer, g kernels.ScanGrads, rev bool) error {
	b, err := be.dev("scan backward", x, dt, A, B, C, D, gy, g.X, g.DT, g.A, g.B, g.C, g.D)
	if err != nil {
		return err
	}
	return be.d.ScanBwd(ScanShape(s), b[0], b[1], b[2], b[3], b[4], b[5], b[6],
		ScanGrads{X: b[7], DT: b[8], A: b[9], B: b[10], C: b[11], D: b[12]}, rev)
}
