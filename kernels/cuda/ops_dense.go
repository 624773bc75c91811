package cuda

import (
	"fmt"

	"github.com/pipeml/pipe/kernels"
)

// Gemm computes, for z in [0, batch), C[z] = alpha*op(A[z])*op(B[z]) + beta*C[z]
// with row-major matrices (see src/gemm.cu); strides in elements, 0
// broadcasts. Bounds are checked against the buffers.
func (d *Device) Gemm(transA, transB bool, m, n, k int, alpha float32, A Buffer, lda, sA int,
	B Buffer, ldb, sB int, beta float32, C Buffer, ldc, sC int, batch int) error {
	if m < 1 || n < 1 || k < 1 || batch < 1 {
		return fmt.Errorf("cuda: gemm %dx%dx%d batch %d: sizes must be >= 1", m, n, k, batch)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	for _, c := range []struct {
		name                 string
		b                    Buffer
		rows, cols, ld, strd int
	}{{"A", A, ar, ac, lda, sA}, {"B", B, br, bc, ldb, sB}, {"C", C, m, n, ldc, sC}} {
		if !c.b.Valid() {
			return fmt.Errorf("cuda: gemm: missing %s", c.name)
		}
		if c.ld < c.cols {
			return fmt.Errorf("cuda: gemm: leading dimension of %s %d < %d columns", c.name, c.ld, c.cols)
		}
		last := (batch-1)*c.strd + (c.rows-1)*c.ld + c.cols
		if c.strd < 0 || last > c.b.n {
			return fmt.Errorf("cuda: gemm: %s needs %d values, buffer has %d", c.name, last, c.b.n)
		}
	}
	if cdiv(m, 64) > maxGridYZ || batch > maxGridYZ {
		return fmt.Errorf("cuda: gemm: %d rows or batch %d too large", m, batch)
	}
	return d.launch(Launch{Kernel: "sgemm_batched", Grid: Dim3{cdiv(n, 64), cdiv(m, 64), batch}, Block: Dim3{256, 1, 1},
		Args: []Arg{i32(b2i(transA)), i32(b2i(transB)), i32(m), i32(n), i32(k), f32(alpha),
			ptr(A), i32(lda), i64(int64(sA)), ptr(B), i32(ldb), i64(int64(sB)), f32(beta), ptr(C), i32(ldc), i64(int64(sC))}})
}

// LinearFwd computes y (rows, out) = x (rows, in) W^T + bias; W is (out, in),
// bias optional.
func (d *Device) LinearFwd(x, W, bias, y Buffer, rows, in, out int) error {
	if err := opt("linear bias", bias, out); err != nil {
		return err
	}
	if err := d.Gemm(false, true, rows, out, in, 1, x, in, 0, W, in, 0, 0, y, out, 0, 1); err != nil {
		return err
	}
	if !bias.Valid() {
		return nil
	}
	g, b := grid1(rows * out)
	return d.launch(Launch{Kernel: "bias_add", Grid: g, Block: b, Args: []Arg{ptr(y), ptr(bias), i32(rows), i32(out), i32(1)}})
}

// LinearBwd computes gx = gy W, gW = gy^T x and gbias = column sums of gy
// (each overwritten; gx, gW, gbias optional).
func (d *Device) LinearBwd(x, W, gy, gx, gW, gbias Buffer, rows, in, out int) error {
	if gx.Valid() {
		if err := d.Gemm(false, false, rows, in, out, 1, gy, out, 0, W, in, 0, 0, gx, in, 0, 1); err != nil {
			return err
		}
	}
	if gW.Valid() {
		if err := d.Gemm(true, false, out, in, rows, 1, gy, out, 0, x, in, 0, 0, gW, in, 0, 1); err != nil {
			return err
		}
	}
	if gbias.Valid() {
		return d.SumCols(gy, gbias, rows, out)
	}
	return nil
}

// SumCols overwrites out (cols) with the column sums of g (rows, cols).
func (d *Device) SumCols(g, out Buffer, rows, cols int) error {
	if err := need("sum_cols input", g, rows*cols); err != nil {
		return err
	}
	if err := need("sum_cols output", out, cols); err != nil {
		return err
	}
	if err := d.Zero(out); err != nil {
		return err
	}
	return d.launch(Launch{Kernel: "sum_cols", Grid: Dim3{cdiv(cols, 32), rowSplit(rows), 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(g), ptr(out), i32(rows), i32(cols)}})
}

// ConvShape is a dense conv1d, channel-first: x (Batch, Cin, Lin), w (Cout,
// Cin, K), y (Batch, Cout, Lout) with y[t] reading x[t*Stride + k*Dil - Pad].
type ConvShape struct {
	Batch, Cin, Lin, Cout, K, Lout, Stride, Dil, Pad int
}

func (s ConvShape) check() error {
	if s.Batch < 1 || s.Cin < 1 || s.Lin < 1 || s.Cout < 1 || s.K < 1 || s.Lout < 1 || s.Stride < 1 || s.Dil < 1 || s.Pad < 0 {
		return fmt.Errorf("cuda: conv shape %+v: sizes must be >= 1 (pad >= 0)", s)
	}
	return fits32("conv", s.Batch, s.Cin*s.K, s.Lout)
}

func (s ConvShape) im2col(k string, x, col Buffer) Launch {
	n := s.Batch * s.Cin * s.K * s.Lout
	if k == "col2im1d" {
		n = s.Batch * s.Cin * s.Lin
	}
	g, b := grid1(n)
	return Launch{Kernel: k, Grid: g, Block: b, Args: []Arg{ptr(x), ptr(col), i32(s.Batch), i32(s.Cin), i32(s.Lin),
		i32(s.K), i32(s.Lout), i32(s.Stride), i32(s.Dil), i32(s.Pad)}}
}

// ConvFwd computes the dense conv1d y = conv(x, w) + bias (bias optional)
// as im2col + SGEMM.
func (d *Device) ConvFwd(s ConvShape, x, w, bias, y Buffer) error {
	if err := s.check(); err != nil {
		return err
	}
	for _, c := range []error{need("conv x", x, s.Batch*s.Cin*s.Lin), need("conv w", w, s.Cout*s.Cin*s.K),
		opt("conv bias", bias, s.Cout), need("conv y", y, s.Batch*s.Cout*s.Lout)} {
		if c != nil {
			return c
		}
	}
	ck := s.Cin * s.K
	sc, err := d.arena(s.Batch * ck * s.Lout)
	if err != nil {
		return err
	}
	col := sc[0]
	if err := d.launch(s.im2col("im2col1d", x, col)); err != nil {
		return err
	}
	if err := d.Gemm(false, false, s.Cout, s.Lout, ck, 1, w, ck, 0, col, s.Lout, ck*s.Lout, 0, y, s.Lout, s.Cout*s.Lout, s.Batch); err != nil {
		return err
	}
	if !bias.Valid() {
		return nil
	}
	g, b := grid1(s.Batch * s.Cout * s.Lout)
	return d.launch(Launch{Kernel: "bias_add", Grid: g, Block: b, Args: []Arg{ptr(y), ptr(bias), i32(s.Batch), i32(s.Cout), i32(s.Lout)}})
}

// ConvBwd computes gx, gw, gbias of ConvFwd (each optional, overwritten).
func (d *Device) ConvBwd(s ConvShape, x, w, gy, gx, gw, gbias Buffer) error {
	if err := s.check(); err != nil {
		return err
	}
	for _, c := range []error{need("conv x", x, s.Batch*s.Cin*s.Lin), need("conv w", w, s.Cout*s.Cin*s.K),
		need("conv gy", gy, s.Batch*s.Cout*s.Lout), opt("conv gx", gx, s.Batch*s.Cin*s.Lin),
		opt("conv gw", gw, s.Cout*s.Cin*s.K), opt("conv gbias", gbias, s.Cout)} {
		if c != nil {
			return c
		}
	}
	ck := s.Cin * s.K
	sc, err := d.arena(s.Batch * ck * s.Lout)
	if err != nil {
		return err
	}
	col := sc[0]
	if gw.Valid() {
		if err := d.launch(s.im2col("im2col1d", x, col)); err != nil {
			return err
		}
		// gw = sum_b gy[b] col[b]^T, accumulated batch by batch.
		for b := 0; b < s.Batch; b++ {
			gyb, _ := gy.Slice(b*s.Cout*s.Lout, s.Cout*s.Lout)
			colb, _ := col.Slice(b*ck*s.Lout, ck*s.Lout)
			beta := float32(1)
			if b == 0 {
				beta = 0
			}
			if err := d.Gemm(false, true, s.Cout, ck, s.Lout, 1, gyb, s.Lout, 0, colb, s.Lout, 0, beta, gw, ck, 0, 1); err != nil {
				return err
			}
		}
	}
	if gx.Valid() {
		if err := d.Gemm(true, false, ck, s.Lout, s.Cout, 1, w, ck, 0, gy, s.Lout, s.Cout*s.Lout, 0, col, s.Lout, ck*s.Lout, s.Batch); err != nil {
			return err
		}
		if err := d.launch(s.im2col("col2im1d", col, gx)); err != nil {
			return err
		}
	}
	if gbias.Valid() {
		if err := d.Zero(gbias); err != nil {
			return err
		}
		return d.launch(Launch{Kernel: "sum_mid", Grid: Dim3{s.Cout, 1, 1}, Block: Dim3{256, 1, 1},
			Args: []Arg{ptr(gy), ptr(gbias), i32(s.Batch), i32(s.Cout), i32(s.Lout)}})
	}
	return nil
}

// DWShape is Mamba's depthwise causal conv: x, y (Batch, L, C), w (C, W).
type DWShape struct{ Batch, L, C, W int }

func (s DWShape) check() error {
	if s.Batch < 1 || s.L < 1 || s.C < 1 || s.W < 1 || s.W > 16 {
		return fmt.Errorf("cuda: depthwise conv shape %+v: sizes must be >= 1 and width <= 16", s)
	}
	return fits32("depthwise conv", s.Batch, s.L, s.C)
}

// DWConvFwd computes y = act(bias + causal depthwise conv(x, w)); bias
// optional, silu selects SiLU.
func (d *Device) DWConvFwd(s DWShape, x, w, bias, y Buffer, silu bool) error {
	if err := s.check(); err != nil {
		return err
	}
	n := s.Batch * s.L * s.C
	for _, c := range []error{need("dwconv x", x, n), need("dwconv w", w, s.C*s.W), opt("dwconv bias", bias, s.C), need("dwconv y", y, n)} {
		if c != nil {
			return c
		}
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "dwconv_causal_fwd", Grid: g, Block: b,
		Args: []Arg{ptr(x), ptr(w), ptr(bias), ptr(y), i32(s.Batch), i32(s.L), i32(s.C), i32(s.W), i32(b2i(silu))}})
}

// DWConvBwd computes gx, gw, gbias (gbias optional) of DWConvFwd.
func (d *Device) DWConvBwd(s DWShape, x, w, bias, gy, gx, gw, gbias Buffer, silu bool) error {
	if err := s.check(); err != nil {
		return err
	}
	n := s.Batch * s.L * s.C
	for _, c := range []error{need("dwconv x", x, n), need("dwconv w", w, s.C*s.W), opt("dwconv bias", bias, s.C),
		need("dwconv gy", gy, n), need("dwconv gx", gx, n), need("dwconv gw", gw, s.C*s.W), opt("dwconv gbias", gbias, s.C)} {
		if c != nil {
			return c
		}
	}
	sc, err := d.arena(n)
	if err != nil {
		return err
	}
	gpre := sc[0]
	g, b := grid1(n)
	dims := []Arg{i32(s.Batch), i32(s.L), i32(s.C), i32(s.W)}
	if err := d.launch(Launch{Kernel: "dwconv_causal_bwd_pre", Grid: g, Block: b,
		Args: append([]Arg{ptr(x), ptr(w), ptr(bias), ptr(gy), ptr(gpre)}, append(dims, i32(b2i(silu)))...)}); err != nil {
		return err
	}
	if err := d.launch(Launch{Kernel: "dwconv_causal_bwd_dx", Grid: g, Block: b,
		Args: append([]Arg{ptr(gpre), ptr(w), ptr(gx)}, dims...)}); err != nil {
		return err
	}
	if err := d.Zero(gw); err != nil {
		return err
	}
	if err := d.Zero(gbias); err != nil {
		return err
	}
	return d.launch(Launch{Kernel: "dwconv_causal_bwd_dw", Grid: Dim3{cdiv(s.C, 32), rowSplit(s.Batch * s.L), 1}, Block: Dim3{32, 8, 1},
		Args: append([]Arg{ptr(gpre), ptr(x), ptr(gw), ptr(gbias)}, dims...)})
}

// LayerNormFwd normalises rows of D: y = (x-mean)*rstd*w + b (w, b
// optional); mean and rstd (rows) are saved for the backward.
func (d *Device) LayerNormFwd(x, w, b, y, mean, rstd Buffer, rows, D int, eps float32) error {
	for _, c := range []error{fits32("layernorm", rows, D), need("layernorm x", x, rows*D), opt("layernorm w", w, D), opt("layernorm b", b, D),
		need("layernorm y", y, rows*D), need("layernorm mean", mean, rows), need("layernorm rstd", rstd, rows)} {
		if c != nil {
			return c
		}
	}
	return d.launch(Launch{Kernel: "layernorm_fwd", Grid: Dim3{cdiv(rows, 8), 1, 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(x), ptr(w), ptr(b), ptr(y), ptr(mean), ptr(rstd), i32(rows), i32(D), f32(eps)}})
}

// LayerNormBwd computes gx (overwritten) and gw, gb (optional, overwritten).
func (d *Device) LayerNormBwd(x, w, gy, mean, rstd, gx, gw, gb Buffer, rows, D int) error {
	for _, c := range []error{need("layernorm x", x, rows*D), opt("layernorm w", w, D), need("layernorm gy", gy, rows*D),
		need("layernorm mean", mean, rows), need("layernorm rstd", rstd, rows), need("layernorm gx", gx, rows*D),
		opt("layernorm gw", gw, D), opt("layernorm gb", gb, D)} {
		if c != nil {
			return c
		}
	}
	if err := d.launch(Launch{Kernel: "layernorm_bwd_dx", Grid: Dim3{cdiv(rows, 8), 1, 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(x), ptr(w), ptr(gy), ptr(mean), ptr(rstd), ptr(gx), i32(rows), i32(D)}}); err != nil {
		return err
	}
	if !gw.Valid() && !gb.Valid() {
		return nil
	}
	if err := d.Zero(gw); err != nil {
		return err
	}
	if err := d.Zero(gb); err != nil {
		return err
	}
	return d.launch(Launch{Kernel: "layernorm_bwd_wb", Grid: Dim3{cdiv(D, 32), rowSplit(rows), 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(x), ptr(gy), ptr(mean), ptr(rstd), ptr(gw), ptr(gb), i32(rows), i32(D)}})
}

func checkRMS(rows, D, gs int) error {
	if gs < 1 || D%gs != 0 {
		return fmt.Errorf("cuda: gated rmsnorm: group size %d does not divide %d", gs, D)
	}
	return fits32("gated rmsnorm", rows, D)
}

// RMSNormGatedFwd computes out = w * v / sqrt(mean(v^2) + eps), v = y *
// silu(z), per group of gs channels (z and w optional); rstd (rows*D/gs)
// is saved for the backward.
func (d *Device) RMSNormGatedFwd(y, z, w, out, rstd Buffer, rows, D, gs int, eps float32) error {
	for _, c := range []error{checkRMS(rows, D, gs), need("rmsnorm y", y, rows*D), opt("rmsnorm z", z, rows*D), opt("rmsnorm w", w, D),
		need("rmsnorm out", out, rows*D), need("rmsnorm rstd", rstd, rows*(D/gs))} {
		if c != nil {
			return c
		}
	}
	return d.launch(Launch{Kernel: "rmsnorm_gated_fwd", Grid: Dim3{cdiv(rows*(D/gs), 8), 1, 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(y), ptr(z), ptr(w), ptr(out), ptr(rstd), i32(rows), i32(D), i32(gs), f32(eps)}})
}

// RMSNormGatedBwd computes gy, gz (when z is present) and gw (optional).
func (d *Device) RMSNormGatedBwd(y, z, w, gout, rstd, gy, gz, gw Buffer, rows, D, gs int) error {
	for _, c := range []error{checkRMS(rows, D, gs), need("rmsnorm y", y, rows*D), opt("rmsnorm z", z, rows*D), opt("rmsnorm w", w, D),
		need("rmsnorm gout", gout, rows*D), need("rmsnorm rstd", rstd, rows*(D/gs)), need("rmsnorm gy", gy, rows*D),
		opt("rmsnorm gz", gz, rows*D), opt("rmsnorm gw", gw, D)} {
		if c != nil {
			return c
		}
	}
	if z.Valid() != gz.Valid() {
		return fmt.Errorf("cuda: gated rmsnorm: z and gz must both be given or both absent")
	}
	if err := d.launch(Launch{Kernel: "rmsnorm_gated_bwd_dx", Grid: Dim3{cdiv(rows*(D/gs), 8), 1, 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(y), ptr(z), ptr(w), ptr(gout), ptr(rstd), ptr(gy), ptr(gz), i32(rows), i32(D), i32(gs)}}); err != nil {
		return err
	}
	if !gw.Valid() {
		return nil
	}
	if err := d.Zero(gw); err != nil {
		return err
	}
	return d.launch(Launch{Kernel: "rmsnorm_gated_bwd_w", Grid: Dim3{cdiv(D, 32), rowSplit(rows), 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(y), ptr(z), ptr(gout), ptr(rstd), ptr(gw), i32(rows), i32(D), i32(gs)}})
}

func sameLen(what string, bs ...Buffer) (int, error) {
	n := bs[0].n
	for _, b := range bs {
		if !b.Valid() || b.n != n {
			return 0, fmt.Errorf("cuda: %s: buffers must exist and have equal lengths", what)
		}
	}
	return n, nil
}

// Unary computes y = f(x) for an activation kind (ActSiLU, ...).
func (d *Device) Unary(kind int, x, y Buffer) error {
	n, err := sameLen("unary", x, y)
	if err != nil {
		return err
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "unary_fwd", Grid: g, Block: b, Args: []Arg{i32(kind), ptr(x), ptr(y), i32(n)}})
}

// UnaryBwd computes gx = gy * f'(x).
func (d *Device) UnaryBwd(kind int, x, gy, gx Buffer) error {
	n, err := sameLen("unary backward", x, gy, gx)
	if err != nil {
		return err
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "unary_bwd", Grid: g, Block: b, Args: []Arg{i32(kind), ptr(x), ptr(gy), ptr(gx), i32(n)}})
}

// BiasSoftplusFwd computes y = softplus(x + bias[i % C]) (bias optional).
func (d *Device) BiasSoftplusFwd(x, bias, y Buffer, C int) error {
	n, err := sameLen("bias softplus", x, y)
	if err != nil {
		return err
	}
	if C < 1 || n%C != 0 {
		return fmt.Errorf("cuda: bias softplus: %d values are not rows of %d", n, C)
	}
	if err := opt("bias softplus bias", bias, C); err != nil {
		return err
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "bias_softplus_fwd", Grid: g, Block: b, Args: []Arg{ptr(x), ptr(bias), ptr(y), i32(n), i32(C)}})
}

// BiasSoftplusBwd computes gx and gbias (optional) of BiasSoftplusFwd.
func (d *Device) BiasSoftplusBwd(x, bias, gy, gx, gbias Buffer, C int) error {
	n, err := sameLen("bias softplus backward", x, gy, gx)
	if err != nil {
		return err
	}
	if C < 1 || n%C != 0 {
		return fmt.Errorf("cuda: bias softplus: %d values are not rows of %d", n, C)
	}
	g, b := grid1(n)
	if err := d.launch(Launch{Kernel: "bias_softplus_bwd", Grid: g, Block: b, Args: []Arg{ptr(x), ptr(bias), ptr(gy), ptr(gx), i32(n), i32(C)}}); err != nil {
		return err
	}
	if gbias.Valid() {
		return d.SumCols(gx, gbias, n/C, C)
	}
	return nil
}

// BCEFocal is the loss configuration of BCEFocalFwd.
type BCEFocal struct {
	PosWeight float32 // pos_weight (1 = none)
	Alpha     float32 // focal alpha; < 0 disables the alpha weighting
	Gamma     float32 // focal gamma; 0 = plain BCE
}

// BCEFocalFwd computes per-element losses (loss, optional), their sum
// (sum, one value, optional) and d loss/d logits * gscale (grad, optional)
// for logits x and targets y; weight optional.
func (d *Device) BCEFocalFwd(cfg BCEFocal, x, y, weight, loss, grad, sum Buffer, gscale float32) error {
	n, err := sameLen("bce", x, y)
	if err != nil {
		return err
	}
	for _, c := range []error{opt("bce weight", weight, n), opt("bce loss", loss, n), opt("bce grad", grad, n), opt("bce sum", sum, 1)} {
		if c != nil {
			return c
		}
	}
	if err := d.Zero(sum); err != nil {
		return err
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "bce_focal", Grid: g, Block: b, Args: []Arg{ptr(x), ptr(y), ptr(weight), ptr(loss), ptr(grad), ptr(sum),
		i32(n), f32(cfg.PosWeight), f32(cfg.Alpha), f32(cfg.Gamma), f32(gscale)}})
}

// SumAll overwrites out (one value) with the sum of x.
func (d *Device) SumAll(x, out Buffer) error {
	if err := need("sum", out, 1); err != nil {
		return err
	}
	if err := d.Zero(out); err != nil {
		return err
	}
	g, b := grid1(x.n)
	return d.launch(Launch{Kernel: "sum_all", Grid: g, Block: b, Args: []Arg{ptr(x), ptr(out), i32(x.n)}})
}

// Axpy computes y += a*x.
func (d *Device) Axpy(a float32, x, y Buffer) error {
	n, err := sameLen("axpy", x, y)
	if err != nil {
		return err
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "axpy", Grid: g, Block: b, Args: []Arg{f32(a), ptr(x), ptr(y), i32(n)}})
}

// Mul computes out = a * b elementwise.
func (d *Device) Mul(a, b, out Buffer) error {
	n, err := sameLen("mul", a, b, out)
	if err != nil {
		return err
	}
	g, bl := grid1(n)
	return d.launch(Launch{Kernel: "mul", Grid: g, Block: bl, Args: []Arg{ptr(a), ptr(b), ptr(out), i32(n)}})
}

// Affine computes y = a*x + c (x optional: y = c).
func (d *Device) Affine(a float32, x Buffer, c float32, y Buffer) error {
	if err := opt("affine x", x, y.n); err != nil {
		return err
	}
	if !y.Valid() {
		return fmt.Errorf("cuda: affine: missing output")
	}
	g, b := grid1(y.n)
	return d.launch(Launch{Kernel: "affine", Grid: g, Block: b, Args: []Arg{f32(a), ptr(x), f32(c), ptr(y), i32(y.n)}})
}

// ClampFwd computes y = clamp(nan_to_num(x), lo, hi).
func (d *Device) ClampFwd(x, y Buffer, lo, hi float32) error {
	n, err := sameLen("clamp", x, y)
	if err != nil {
		return err
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "clamp_fwd", Grid: g, Block: b, Args: []Arg{ptr(x), ptr(y), i32(n), f32(lo), f32(hi)}})
}

// ClampBwd computes gx = gy where x is finite and within [lo, hi], else 0.
func (d *Device) ClampBwd(x, gy, gx Buffer, lo, hi float32) error {
	n, err := sameLen("clamp backward", x, gy, gx)
	if err != nil {
		return err
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "clamp_bwd", Grid: g, Block: b, Args: []Arg{ptr(x), ptr(gy), ptr(gx), i32(n), f32(lo), f32(hi)}})
}

// FlipTime reverses the time axis of x (batch, L, C) into y.
func (d *Device) FlipTime(x, y Buffer, batch, L, C int) error {
	if err := need("flip x", x, batch*L*C); err != nil {
		return err
	}
	if err := need("flip y", y, batch*L*C); err != nil {
		return err
	}
	if x.ptr == y.ptr {
		return fmt.Errorf("cuda: flip: input and output must differ")
	}
	g, b := grid1(batch * L * C)
	return d.launch(Launch{Kernel: "flip_time", Grid: g, Block: b, Args: []Arg{ptr(x), ptr(y), i32(batch), i32(L), i32(C)}})
}

// WeightNormFwd computes w[o,:] = g[o]·v[o,:]/‖v[o,:]‖ for v (rows, cols)
// and g (rows); norm (rows) saves ‖v[o,:]‖ for the backward.
func (d *Device) WeightNormFwd(v, g, w, norm Buffer, rows, cols int) error {
	for _, c := range []error{fits32("weight norm", rows, cols), need("weight norm v", v, rows*cols), need("weight norm g", g, rows),
		need("weight norm w", w, rows*cols), need("weight norm norm", norm, rows)} {
		if c != nil {
			return c
		}
	}
	return d.launch(Launch{Kernel: "weightnorm_fwd", Grid: Dim3{cdiv(rows, 8), 1, 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(v), ptr(g), ptr(w), ptr(norm), i32(rows), i32(cols)}})
}

// WeightNormBwd computes gv (rows, cols) and gg (rows, optional) from gw.
func (d *Device) WeightNormBwd(v, g, norm, gw, gv, gg Buffer, rows, cols int) error {
	for _, c := range []error{fits32("weight norm", rows, cols), need("weight norm v", v, rows*cols), need("weight norm g", g, rows),
		need("weight norm norm", norm, rows), need("weight norm gw", gw, rows*cols), need("weight norm gv", gv, rows*cols),
		opt("weight norm gg", gg, rows)} {
		if c != nil {
			return c
		}
	}
	return d.launch(Launch{Kernel: "weightnorm_bwd", Grid: Dim3{cdiv(rows, 8), 1, 1}, Block: Dim3{32, 8, 1},
		Args: []Arg{ptr(v), ptr(g), ptr(norm), ptr(gw), ptr(gv), ptr(gg), i32(rows), i32(cols)}})
}

// Transpose swaps the middle axes of x (A, M, N, D) into y (A, N, M, D).
func (d *Device) Transpose(x, y Buffer, A, M, N, D int) error {
	if A < 1 || M < 1 || N < 1 || D < 1 {
		return fmt.Errorf("cuda: transpose: sizes (%d, %d, %d, %d) must be >= 1", A, M, N, D)
	}
	if err := fits32("transpose", A, M, N, D); err != nil {
		return err
	}
	n := A * M * N * D
	if err := need("transpose x", x, n); err != nil {
		return err
	}
	if err := need("transpose y", y, n); err != nil {
		return err
	}
	if x.ptr == y.ptr {
		return fmt.Errorf("cuda: transpose: input and output must differ")
	}
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "transpose_mid", Grid: g, Block: b, Args: []Arg{ptr(x), ptr(y), i32(A), i32(M), i32(N), i32(D)}})
}

// DropoutMask fills mask with kernels.DropoutKeep's inverted-dropout
// factors (1/(1−p) kept, 0 dropped) for element i of stream.
func (d *Device) DropoutMask(mask Buffer, seed uint64, stream int, p float64) error {
	if !mask.Valid() {
		return fmt.Errorf("cuda: dropout mask: missing buffer")
	}
	n := mask.Len()
	if err := kernels.CheckDropout(n, stream, p); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	th := kernels.DropoutThreshold(p)
	g, b := grid1(n)
	return d.launch(Launch{Kernel: "dropout_mask", Grid: g, Block: b, Args: []Arg{ptr(mask), i32(n),
		i32(int(uint32(seed))), i32(int(seed >> 32)), i32(stream), i32(int(uint32(th))), i32(int(th >> 32)), f32(float32(1 / (1 - p)))}})
}
