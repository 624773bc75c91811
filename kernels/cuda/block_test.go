//go:build cudaemu || cuda

package cuda_test

import (
	"math"
	"strconv"
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
)

func slice(t *testing.T, b cuda.Buffer, from, n int) cuda.Buffer {
	t.Helper()
	s, err := b.Slice(from, n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mamba2 is mamba_ssm's Mamba-2 block composed from the CUDA kernels
// (V3 node-stream settings, see ../shared/golden/mamba2/README.md). in_proj
// is applied as five GEMMs on contiguous row slices of its weight (z, x, B,
// C, dt) and the depthwise conv per slice, so no tensor is ever split by
// columns.
type mamba2 struct {
	d                          *cuda.Device
	batch, L, dm, di, ns, H, P int
	W                          int
	inW, convW, convB, dtBias  cuda.Buffer
	A, D, normW, outW          cuda.Buffer
	av                         []float32
	parts                      []struct{ off, n int }
	u, z, dt, y, yn, rstd      cuda.Buffer
	pre, act                   []cuda.Buffer
	grads                      map[string][]float32
}

func loadMamba2(t *testing.T, d *cuda.Device, c goldenCase, prefix string, batch, L int) *mamba2 {
	m := &mamba2{d: d, batch: batch, L: L, dm: c.cfg(t, "d_model"), di: c.cfg(t, "d_inner"), ns: c.cfg(t, "d_state"),
		H: c.cfg(t, "nheads"), P: c.cfg(t, "headdim"), W: c.cfg(t, "d_conv")}
	p := func(n string) []float32 { return c.load(t, "param__"+prefix+n) }
	m.inW, m.convW, m.convB, m.dtBias = up(t, d, p("in_proj.weight")), up(t, d, p("conv1d.weight")), up(t, d, p("conv1d.bias")), up(t, d, p("dt_bias"))
	m.av = make([]float32, m.H)
	for i, v := range p("A_log") {
		m.av[i] = -float32(math.Exp(float64(v)))
	}
	m.A, m.D, m.normW, m.outW = up(t, d, m.av), up(t, d, p("D")), up(t, d, p("norm.weight")), up(t, d, p("out_proj.weight"))
	m.parts = []struct{ off, n int }{{0, m.di}, {m.di, m.di}, {2 * m.di, m.ns}, {2*m.di + m.ns, m.ns}, {2*m.di + 2*m.ns, m.H}}
	return m
}

func (m *mamba2) forward(t *testing.T, u, out cuda.Buffer) {
	d, rows := m.d, m.batch*m.L
	m.u = u
	m.pre = make([]cuda.Buffer, 5)
	for i, p := range m.parts {
		m.pre[i] = alloc(t, d, rows*p.n)
		must(t, d.LinearFwd(u, slice(t, m.inW, p.off*m.dm, p.n*m.dm), cuda.Buffer{}, m.pre[i], rows, m.dm, p.n))
	}
	m.z = m.pre[0]
	m.act = make([]cuda.Buffer, 3)
	for i := 0; i < 3; i++ {
		ch, off := m.parts[i+1].n, m.parts[i+1].off-m.di
		m.act[i] = alloc(t, d, rows*ch)
		s := cuda.DWShape{Batch: m.batch, L: m.L, C: ch, W: m.W}
		must(t, d.DWConvFwd(s, m.pre[i+1], slice(t, m.convW, off*m.W, ch*m.W), slice(t, m.convB, off, ch), m.act[i], true))
	}
	m.dt = alloc(t, d, rows*m.H)
	must(t, d.BiasSoftplusFwd(m.pre[4], m.dtBias, m.dt, m.H))
	m.y = alloc(t, d, rows*m.di)
	must(t, d.ScanFwd(m.scanShape(), m.act[0], m.dt, m.A, m.act[1], m.act[2], m.D, m.y, cuda.Buffer{}, false))
	m.yn, m.rstd = alloc(t, d, rows*m.di), alloc(t, d, rows)
	must(t, d.RMSNormGatedFwd(m.y, m.z, m.normW, m.yn, m.rstd, rows, m.di, m.di, 1e-5))
	must(t, d.LinearFwd(m.yn, m.outW, cuda.Buffer{}, out, rows, m.di, m.dm))
}

func (m *mamba2) scanShape() cuda.ScanShape {
	return cuda.ScanShape{Batch: m.batch, L: m.L, H: m.H, P: m.P, G: 1, N: m.ns}
}

// backward writes gu and records every parameter gradient (host copies,
// keyed by the state_dict name without prefix).
func (m *mamba2) backward(t *testing.T, gout, gu cuda.Buffer) {
	d, rows := m.d, m.batch*m.L
	gyn, gOutW := alloc(t, d, rows*m.di), alloc(t, d, m.dm*m.di)
	must(t, d.LinearBwd(m.yn, m.outW, gout, gyn, gOutW, cuda.Buffer{}, rows, m.di, m.dm))
	gy, gz, gNormW := alloc(t, d, rows*m.di), alloc(t, d, rows*m.di), alloc(t, d, m.di)
	must(t, d.RMSNormGatedBwd(m.y, m.z, m.normW, gyn, m.rstd, gy, gz, gNormW, rows, m.di, m.di))
	sg := cuda.ScanGrads{X: alloc(t, d, rows*m.di), DT: alloc(t, d, rows*m.H), A: alloc(t, d, m.H),
		B: alloc(t, d, rows*m.ns), C: alloc(t, d, rows*m.ns), D: alloc(t, d, m.H)}
	must(t, d.ScanBwd(m.scanShape(), m.act[0], m.dt, m.A, m.act[1], m.act[2], m.D, gy, sg, false))
	gpre := make([]cuda.Buffer, 5)
	gpre[0] = gz
	gConvW, gConvB := alloc(t, d, (m.di+2*m.ns)*m.W), alloc(t, d, m.di+2*m.ns)
	for i, g := range []cuda.Buffer{sg.X, sg.B, sg.C} {
		ch, off := m.parts[i+1].n, m.parts[i+1].off-m.di
		gpre[i+1] = alloc(t, d, rows*ch)
		s := cuda.DWShape{Batch: m.batch, L: m.L, C: ch, W: m.W}
		must(t, d.DWConvBwd(s, m.pre[i+1], slice(t, m.convW, off*m.W, ch*m.W), slice(t, m.convB, off, ch), g, gpre[i+1],
			slice(t, gConvW, off*m.W, ch*m.W), slice(t, gConvB, off, ch), true))
	}
	gpre[4] = alloc(t, d, rows*m.H)
	gDtBias := alloc(t, d, m.H)
	must(t, d.BiasSoftplusBwd(m.pre[4], m.dtBias, sg.DT, gpre[4], gDtBias, m.H))
	gInW, tmp := alloc(t, d, (2*m.di+2*m.ns+m.H)*m.dm), alloc(t, d, rows*m.dm)
	must(t, d.Zero(gu))
	for i, p := range m.parts {
		must(t, d.LinearBwd(m.u, slice(t, m.inW, p.off*m.dm, p.n*m.dm), gpre[i], tmp, slice(t, gInW, p.off*m.dm, p.n*m.dm), cuda.Buffer{}, rows, m.dm, p.n))
		must(t, d.Axpy(1, tmp, gu))
	}
	gA := down(t, d, sg.A)
	gALog := make([]float32, m.H)
	for i := range gALog {
		gALog[i] = gA[i] * m.av[i] // A = -exp(A_log): dA/dA_log = A
	}
	m.grads = map[string][]float32{
		"in_proj.weight": down(t, d, gInW), "conv1d.weight": down(t, d, gConvW), "conv1d.bias": down(t, d, gConvB),
		"dt_bias": down(t, d, gDtBias), "A_log": gALog, "D": down(t, d, sg.D), "norm.weight": down(t, d, gNormW),
		"out_proj.weight": down(t, d, gOutW),
	}
}

func (m *mamba2) checkGrads(t *testing.T, c goldenCase, prefix string) {
	for name, g := range m.grads {
		c.check(t, "grad__"+prefix+name, g, c.load(t, "grad__"+prefix+name))
	}
}

// TestGoldenMamba2Block checks output, intermediates and every gradient of
// the composed block against the golden mamba2_block cases.
func TestGoldenMamba2Block(t *testing.T) {
	for _, c := range goldenCases(t, "mamba2_block") {
		t.Run(c.Name, func(t *testing.T) {
			batch, L := c.cfg(t, "batch"), c.cfg(t, "seqlen")
			d := newDevice(t)
			m := loadMamba2(t, d, c, "", batch, L)
			rows := batch * L
			out := alloc(t, d, rows*m.dm)
			m.forward(t, up(t, d, c.load(t, "in__u")), out)
			c.check(t, "out__out", down(t, d, out), c.load(t, "out__out"))
			if c.has("int__dt_softplus") { // intermediates exist for the small cases only
				closeTo(t, "dt (intermediate)", down(t, d, m.dt), f64(c.load(t, "int__dt_softplus")), 1e-5, 1e-4)
				closeTo(t, "y_ssd (intermediate)", down(t, d, m.y), f64(c.load(t, "int__y_ssd")), 1e-4, 1e-3)
			}
			gu := alloc(t, d, rows*m.dm)
			m.backward(t, up(t, d, c.load(t, "cot__out")), gu)
			c.check(t, "grad__u", down(t, d, gu), c.load(t, "grad__u"))
			m.checkGrads(t, c, "")
		})
	}
}

// bidir is the original project's BiMamba2Layer with its clamps (the clamp
// switch pipe's model keeps off), composed from the CUDA kernels:
//
//	x1 = clamp(nan_to_num(x), ±10); f = Mamba2_f(x1); b = flip(Mamba2_b(flip(x1)))
//	p = clamp(output_proj([f b]), ±5); out = clamp(LayerNorm(x1 + p), ±10)
//
// output_proj on the concatenation is two GEMMs on the column halves of
// its weight (leading dimension 2·d_model).
type bidir struct {
	d                                  *cuda.Device
	batch, L, dm                       int
	fm, bm                             *mamba2
	pW, pB, lnW, lnB                   cuda.Buffer
	x, x1, f, b, proj, h, ln, mean, rs cuda.Buffer
	grads                              map[string][]float32
}

const clampIn, clampProj, clampOut = 10, 5, 10

func loadBidir(t *testing.T, d *cuda.Device, c goldenCase, prefix string, batch, L int) *bidir {
	l := &bidir{d: d, batch: batch, L: L}
	l.fm = loadMamba2(t, d, c, prefix+"forward_mamba_real.", batch, L)
	l.bm = loadMamba2(t, d, c, prefix+"backward_mamba_real.", batch, L)
	l.dm = l.fm.dm
	p := func(n string) cuda.Buffer { return up(t, d, c.load(t, "param__"+prefix+n)) }
	l.pW, l.pB, l.lnW, l.lnB = p("output_proj.weight"), p("output_proj.bias"), p("layer_norm.weight"), p("layer_norm.bias")
	return l
}

func (l *bidir) forward(t *testing.T, x, out cuda.Buffer) {
	d, dm, rows := l.d, l.dm, l.batch*l.L
	n := rows * dm
	l.x = x
	l.x1 = alloc(t, d, n)
	must(t, d.ClampFwd(x, l.x1, -clampIn, clampIn))
	l.f = alloc(t, d, n)
	l.fm.forward(t, l.x1, l.f)
	x1r, br := alloc(t, d, n), alloc(t, d, n)
	l.b = alloc(t, d, n)
	must(t, d.FlipTime(l.x1, x1r, l.batch, l.L, dm))
	l.bm.forward(t, x1r, br)
	must(t, d.FlipTime(br, l.b, l.batch, l.L, dm))
	// p = [f b] Wᵀ + bias with W (dm, 2dm): f·W[:, :dm]ᵀ + b·W[:, dm:]ᵀ.
	l.proj = alloc(t, d, n)
	must(t, d.Gemm(false, true, rows, dm, dm, 1, l.f, dm, 0, l.pW, 2*dm, 0, 0, l.proj, dm, 0, 1))
	must(t, d.Gemm(false, true, rows, dm, dm, 1, l.b, dm, 0, slice(t, l.pW, dm, dm*2*dm-dm), 2*dm, 0, 1, l.proj, dm, 0, 1))
	ones := alloc(t, d, rows)
	must(t, d.Affine(0, cuda.Buffer{}, 1, ones))
	must(t, d.Gemm(false, false, rows, dm, 1, 1, ones, 1, 0, l.pB, dm, 0, 1, l.proj, dm, 0, 1)) // + bias
	pc := alloc(t, d, n)
	must(t, d.ClampFwd(l.proj, pc, -clampProj, clampProj))
	l.h = alloc(t, d, n)
	must(t, d.Affine(1, l.x1, 0, l.h))
	must(t, d.Axpy(1, pc, l.h))
	l.ln, l.mean, l.rs = alloc(t, d, n), alloc(t, d, rows), alloc(t, d, rows)
	must(t, d.LayerNormFwd(l.h, l.lnW, l.lnB, l.ln, l.mean, l.rs, rows, dm, 1e-5))
	must(t, d.ClampFwd(l.ln, out, -clampOut, clampOut))
}

func (l *bidir) backward(t *testing.T, gout, gx cuda.Buffer) {
	d, dm, rows := l.d, l.dm, l.batch*l.L
	n := rows * dm
	gln, gh := alloc(t, d, n), alloc(t, d, n)
	must(t, d.ClampBwd(l.ln, gout, gln, -clampOut, clampOut))
	gLnW, gLnB := alloc(t, d, dm), alloc(t, d, dm)
	must(t, d.LayerNormBwd(l.h, l.lnW, gln, l.mean, l.rs, gh, gLnW, gLnB, rows, dm))
	gproj := alloc(t, d, n)
	must(t, d.ClampBwd(l.proj, gh, gproj, -clampProj, clampProj))
	// output_proj: gW = gprojᵀ [f b], gbias = Σ gproj, gf = gproj W[:, :dm], gb = gproj W[:, dm:].
	gPW, gPB := alloc(t, d, dm*2*dm), alloc(t, d, dm)
	must(t, d.Gemm(true, false, dm, dm, rows, 1, gproj, dm, 0, l.f, dm, 0, 0, gPW, 2*dm, 0, 1))
	must(t, d.Gemm(true, false, dm, dm, rows, 1, gproj, dm, 0, l.b, dm, 0, 0, slice(t, gPW, dm, dm*2*dm-dm), 2*dm, 0, 1))
	must(t, d.SumCols(gproj, gPB, rows, dm))
	gf, gb, gbr := alloc(t, d, n), alloc(t, d, n), alloc(t, d, n)
	must(t, d.Gemm(false, false, rows, dm, dm, 1, gproj, dm, 0, l.pW, 2*dm, 0, 0, gf, dm, 0, 1))
	must(t, d.Gemm(false, false, rows, dm, dm, 1, gproj, dm, 0, slice(t, l.pW, dm, dm*2*dm-dm), 2*dm, 0, 0, gb, dm, 0, 1))
	must(t, d.FlipTime(gb, gbr, l.batch, l.L, dm))
	gx1, gx1f, gx1rr, gx1r := alloc(t, d, n), alloc(t, d, n), alloc(t, d, n), alloc(t, d, n)
	l.fm.backward(t, gf, gx1f)
	l.bm.backward(t, gbr, gx1rr)
	must(t, d.FlipTime(gx1rr, gx1r, l.batch, l.L, dm))
	must(t, d.Affine(1, gh, 0, gx1)) // residual
	must(t, d.Axpy(1, gx1f, gx1))
	must(t, d.Axpy(1, gx1r, gx1))
	must(t, d.ClampBwd(l.x, gx1, gx, -clampIn, clampIn))
	l.grads = map[string][]float32{"output_proj.weight": down(t, d, gPW), "output_proj.bias": down(t, d, gPB),
		"layer_norm.weight": down(t, d, gLnW), "layer_norm.bias": down(t, d, gLnB)}
}

func (l *bidir) checkGrads(t *testing.T, c goldenCase, prefix string) {
	for name, g := range l.grads {
		c.check(t, "grad__"+prefix+name, g, c.load(t, "grad__"+prefix+name))
	}
	l.fm.checkGrads(t, c, prefix+"forward_mamba_real.")
	l.bm.checkGrads(t, c, prefix+"backward_mamba_real.")
}

// TestGoldenBiMamba2Layer checks the composed bidirectional layer (clamps
// active and inactive) against the golden bimamba2_layer cases.
func TestGoldenBiMamba2Layer(t *testing.T) {
	for _, c := range goldenCases(t, "bimamba2_layer") {
		t.Run(c.Name, func(t *testing.T) {
			batch, L := c.cfg(t, "batch"), c.cfg(t, "seqlen")
			d := newDevice(t)
			l := loadBidir(t, d, c, "", batch, L)
			n := batch * L * l.dm
			out := alloc(t, d, n)
			l.forward(t, up(t, d, c.load(t, "in__x")), out)
			c.check(t, "out__out", down(t, d, out), c.load(t, "out__out"))
			if c.has("int__fwd_out") {
				closeTo(t, "fwd_out", down(t, d, l.f), f64(c.load(t, "int__fwd_out")), 1e-4, 1e-3)
				closeTo(t, "proj_preclamp", down(t, d, l.proj), f64(c.load(t, "int__proj_preclamp")), 1e-4, 1e-3)
			}
			gx := alloc(t, d, n)
			l.backward(t, up(t, d, c.load(t, "cot__out")), gx)
			c.check(t, "grad__x", down(t, d, gx), c.load(t, "grad__x"))
			l.checkGrads(t, c, "")
		})
	}
}

// transpose writes Y[z] = X[z]ᵀ for X[z] (r, c) through the SGEMM: Y = Xᵀ·I.
func transpose(t *testing.T, d *cuda.Device, X, Y cuda.Buffer, batch, r, c int) {
	id := make([]float32, r*r)
	for i := 0; i < r; i++ {
		id[i*r+i] = 1
	}
	must(t, d.Gemm(true, false, c, r, r, 1, X, c, r*c, up(t, d, id), r, 0, 0, Y, r, r*c, batch))
}

// TestGoldenBiMamba2Stack checks the original project's BiMamba2 stack:
// input (b, d_model, L) channel-first, clamp, transpose, layers with a clamp
// after every second one, final clamp, transpose back.
func TestGoldenBiMamba2Stack(t *testing.T) {
	for _, c := range goldenCases(t, "bimamba2_stack") {
		t.Run(c.Name, func(t *testing.T) {
			batch, L, nl := c.cfg(t, "batch"), c.cfg(t, "seqlen"), c.cfg(t, "num_layers")
			d := newDevice(t)
			layers := make([]*bidir, nl)
			for i := range layers {
				layers[i] = loadBidir(t, d, c, "layers."+itoa(i)+".", batch, L)
			}
			dm := layers[0].dm
			n := batch * L * dm
			x := up(t, d, c.load(t, "in__x"))
			xc, h := alloc(t, d, n), alloc(t, d, n)
			must(t, d.ClampFwd(x, xc, -10, 10))
			transpose(t, d, xc, h, batch, dm, L)
			ins := make([]cuda.Buffer, nl+1) // input of layer i; ins[nl] = stack output before the final clamp
			extra := make([]cuda.Buffer, nl) // layer output before the every-second-layer clamp
			ins[0] = h
			for i, l := range layers {
				o := alloc(t, d, n)
				l.forward(t, ins[i], o)
				extra[i] = o
				if (i+1)%2 == 0 {
					oc := alloc(t, d, n)
					must(t, d.ClampFwd(o, oc, -10, 10))
					o = oc
				}
				ins[i+1] = o
			}
			fc, out := alloc(t, d, n), alloc(t, d, n)
			must(t, d.ClampFwd(ins[nl], fc, -10, 10))
			transpose(t, d, fc, out, batch, L, dm)
			c.check(t, "out__out", down(t, d, out), c.load(t, "out__out"))

			g, gt := alloc(t, d, n), alloc(t, d, n)
			transpose(t, d, up(t, d, c.load(t, "cot__out")), gt, batch, dm, L)
			must(t, d.ClampBwd(ins[nl], gt, g, -10, 10))
			for i := nl - 1; i >= 0; i-- {
				if (i+1)%2 == 0 {
					gc := alloc(t, d, n)
					must(t, d.ClampBwd(extra[i], g, gc, -10, 10))
					g = gc
				}
				gi := alloc(t, d, n)
				layers[i].backward(t, g, gi)
				g = gi
			}
			gxt, gx := alloc(t, d, n), alloc(t, d, n)
			transpose(t, d, g, gxt, batch, L, dm)
			must(t, d.ClampBwd(x, gxt, gx, -10, 10))
			c.check(t, "grad__x", down(t, d, gx), c.load(t, "grad__x"))
			for i, l := range layers {
				l.checkGrads(t, c, "layers."+itoa(i)+".")
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
