package mamba

import (
	"os"
	"strings"
	"testing"

	"github.com/pipeml/pipe/kernels"
	"github.com/pipeml/pipe/kernels/golden"
)

func loadGolden(t *testing.T) []*golden.Case {
	t.Helper()
	wd, _ := os.Getwd()
	dir, ok := golden.Dir(wd)
	if !ok {
		t.Skipf("%s not found (set PIPE_GOLDEN_DIR or provide ../shared/golden/mamba2): golden cases not run", dir)
	}
	cs, err := golden.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		t.Fatalf("%s: no golden cases", dir)
	}
	return cs
}

type env struct {
	t  *testing.T
	be kernels.Backend
	c  *golden.Case
}

func (e env) up(key string) kernels.Buffer {
	e.t.Helper()
	d, err := e.c.Get(key)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := e.be.Alloc(len(d))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.be.Upload(b, d); err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e env) alloc(n int) kernels.Buffer {
	e.t.Helper()
	b, err := e.be.Alloc(n)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e env) set(dst kernels.Buffer, key string) {
	e.t.Helper()
	d, err := e.c.Get(key)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.be.Upload(dst, d); err != nil {
		e.t.Fatalf("%s: %v", key, err)
	}
}

func (e env) check(key string, b kernels.Buffer) {
	e.t.Helper()
	got := make([]float32, b.Len())
	if err := e.be.Download(got, b); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.c.Check(key, got); err != nil {
		e.t.Error(err)
	}
}

func (e env) ints(keys ...string) []int {
	e.t.Helper()
	out := make([]int, len(keys))
	for i, k := range keys {
		v, err := e.c.Int(k)
		if err != nil {
			e.t.Fatal(err)
		}
		out[i] = v
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGolden runs every golden case on the CPU backend with the case's
// per-array tolerances.
func TestGolden(t *testing.T) {
	cases := loadGolden(t)
	be := kernels.NewCPU(2)
	defer be.Close()
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			e := env{t: t, be: be, c: c}
			seen[c.Kind] = true
			switch c.Kind {
			case "ssd_scan":
				goldenScan(e)
			case "causal_conv1d":
				goldenConv(e)
			case "mamba2_block":
				goldenBlock(e)
			case "bimamba2_layer":
				goldenBiLayer(e)
			case "bimamba2_stack":
				goldenStack(e, false)
				goldenStack(e, true)
			default:
				t.Fatalf("unknown golden kind %q", c.Kind)
			}
		})
	}
	for _, k := range []string{"ssd_scan", "causal_conv1d", "mamba2_block", "bimamba2_layer", "bimamba2_stack"} {
		if !seen[k] {
			t.Errorf("no golden case of kind %s", k)
		}
	}
}

func goldenScan(e env) {
	v := e.ints("batch", "seqlen", "nheads", "headdim", "ngroups", "d_state")
	s := kernels.ScanShape{Batch: v[0], L: v[1], H: v[2], P: v[3], G: v[4], N: v[5]}
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	x, dt, A, B, C, D := e.up("in__x"), e.up("in__dt"), e.up("in__A"), e.up("in__B"), e.up("in__C"), e.up("in__D")
	y, fin := e.alloc(nx), e.alloc(s.Batch*s.H*s.P*s.N)
	must(e.t, e.be.ScanFwd(s, x, dt, A, B, C, D, y, fin, false))
	e.check("out__y", y)
	e.check("out__final_state", fin)
	g := kernels.ScanGrads{X: e.alloc(nx), DT: e.alloc(nt), A: e.alloc(s.H), B: e.alloc(nb), C: e.alloc(nb), D: e.alloc(s.H)}
	must(e.t, e.be.ScanBwd(s, x, dt, A, B, C, D, e.up("cot__y"), g, false))
	for k, b := range map[string]kernels.Buffer{"grad__x": g.X, "grad__dt": g.DT, "grad__A": g.A, "grad__B": g.B, "grad__C": g.C, "grad__D": g.D} {
		e.check(k, b)
	}
	// The same case time-reversed through rev = true.
	flip := func(key string, per int) kernels.Buffer {
		d, _ := e.c.Get(key)
		f := make([]float32, len(d))
		for b := 0; b < s.Batch; b++ {
			for t := 0; t < s.L; t++ {
				copy(f[(b*s.L+t)*per:(b*s.L+t+1)*per], d[(b*s.L+s.L-1-t)*per:(b*s.L+s.L-t)*per])
			}
		}
		buf := e.alloc(len(f))
		must(e.t, e.be.Upload(buf, f))
		return buf
	}
	xr, dtr, Br, Cr := flip("in__x", s.H*s.P), flip("in__dt", s.H), flip("in__B", s.G*s.N), flip("in__C", s.G*s.N)
	must(e.t, e.be.ScanFwd(s, xr, dtr, A, Br, Cr, D, y, fin, true))
	yr := e.alloc(nx)
	must(e.t, e.be.FlipTime(y, yr, s.Batch, s.L, s.H*s.P))
	e.check("out__y", yr)
	e.check("out__final_state", fin)
}

func goldenConv(e env) {
	v := e.ints("batch", "seqlen", "channels", "width")
	s := kernels.DWShape{Batch: v[0], L: v[1], C: v[2], W: v[3]}
	silu := e.c.Config["activation"] == "silu"
	n := s.Batch * s.L * s.C
	x, w, bias := e.up("in__x"), e.up("param__weight"), e.up("param__bias")
	y := e.alloc(n)
	must(e.t, e.be.DWConvFwd(s, x, w, bias, y, silu))
	e.check("out__y", y)
	gx, gw, gb := e.alloc(n), e.alloc(s.C*s.W), e.alloc(s.C)
	must(e.t, e.be.DWConvBwd(s, x, w, bias, e.up("cot__y"), gx, gw, gb, silu))
	e.check("grad__x", gx)
	e.check("grad__weight", gw)
	e.check("grad__bias", gb)
}

func caseConfig(e env) Config {
	v := e.ints("d_model", "d_state", "d_conv", "expand", "headdim", "ngroups")
	return Config{DModel: v[0], DState: v[1], DConv: v[2], Expand: v[3], HeadDim: v[4], NGroups: v[5], NormEps: 1e-5}
}

func goldenBlock(e env) {
	cfg := caseConfig(e)
	bl := e.ints("batch", "seqlen")
	m, err := NewBlock(e.be, cfg)
	must(e.t, err)
	defer m.Close()
	for _, p := range m.W.List() {
		e.set(p.Buf, "param__"+p.Name)
	}
	n := bl[0] * bl[1] * cfg.DModel
	u, out := e.up("in__u"), e.alloc(n)
	must(e.t, m.Forward(u, out, bl[0], bl[1]))
	e.check("out__out", out)
	if _, ok := e.c.Arrays["int__y_ssd"]; ok {
		e.check("int__dt_softplus", m.dt)
	}
	gu := e.alloc(n)
	must(e.t, m.Backward(e.up("cot__out"), gu))
	e.check("grad__u", gu)
	for _, p := range m.G.List() {
		e.check("grad__"+p.Name, p.Buf)
	}
}

func newLayer(e env, prefix string, cfg Config) *BiLayer {
	l, err := NewBiLayer(e.be, cfg)
	must(e.t, err)
	l.Clamp = true
	params, _ := l.Params()
	for _, p := range params {
		e.set(p.Buf, "param__"+prefix+p.Name)
	}
	return l
}

func goldenBiLayer(e env) {
	cfg := caseConfig(e)
	bl := e.ints("batch", "seqlen")
	l := newLayer(e, "", cfg)
	n := bl[0] * bl[1] * cfg.DModel
	x, out := e.up("in__x"), e.alloc(n)
	must(e.t, l.Forward(x, out, bl[0], bl[1]))
	e.check("out__out", out)
	e.check("int__fwd_out", l.f)
	gx := e.alloc(n)
	must(e.t, l.Backward(e.up("cot__out"), gx))
	e.check("grad__x", gx)
	_, grads := l.Params()
	for _, g := range grads {
		e.check("grad__"+g.Name, g.Buf)
	}
	if strings.Contains(e.c.Name, "clamps_active") {
		// With the clamps off the output must differ (the switch works).
		l.Clamp = false
		must(e.t, l.Forward(x, out, bl[0], bl[1]))
		got := make([]float32, n)
		must(e.t, e.be.Download(got, out))
		if _, err := e.c.Check("out__out", got); err == nil {
			e.t.Error("clamps switched off, yet the output still matches the clamped reference")
		}
	}
}

// goldenStack is BiMamba2.forward: channel-first input, clamp, layers with
// a clamp after every second one, final clamp (the transposes are done on
// the host: they are not kernels). With checkpoint the layers share one
// activation Scratch and each layer's Forward is rerun before its
// Backward.
func goldenStack(e env, checkpoint bool) {
	cfg := caseConfig(e)
	v := e.ints("batch", "seqlen", "num_layers")
	B, L, nl, dm := v[0], v[1], v[2], cfg.DModel
	n := B * L * dm
	tr := func(src []float32, chFirst bool) []float32 {
		dst := make([]float32, n)
		for b := 0; b < B; b++ {
			for c := 0; c < dm; c++ {
				for t := 0; t < L; t++ {
					if chFirst { // (b, c, t) -> (b, t, c)
						dst[(b*L+t)*dm+c] = src[(b*dm+c)*L+t]
					} else {
						dst[(b*dm+c)*L+t] = src[(b*L+t)*dm+c]
					}
				}
			}
		}
		return dst
	}
	// The layers share one gradient Scratch (as the model's engine does);
	// the single-layer and block cases run with their own.
	sc, shared := NewScratch(e.be), NewScratch(e.be)
	defer sc.Close()
	defer shared.Close()
	layers := make([]*BiLayer, nl)
	for i := range layers {
		layers[i] = newLayer(e, "layers."+itoa(i)+".", cfg)
		layers[i].ShareScratch(sc)
		if checkpoint {
			layers[i].ShareActivations(shared)
		}
		defer layers[i].Close()
	}
	xin, _ := e.c.Get("in__x")
	acts := make([]kernels.Buffer, nl+2) // inputs of the clamps/layers
	acts[0] = e.alloc(n)
	must(e.t, e.be.Upload(acts[0], tr(xin, true)))
	cur := e.alloc(n)
	must(e.t, e.be.ClampFwd(acts[0], cur, -10, 10))
	pre := make([]kernels.Buffer, nl) // layer outputs before the every-2nd clamp
	ins := make([]kernels.Buffer, nl)
	for i, l := range layers {
		pre[i] = e.alloc(n)
		ins[i] = cur
		must(e.t, l.Forward(cur, pre[i], B, L))
		cur = e.alloc(n)
		if (i+1)%2 == 0 {
			must(e.t, e.be.ClampFwd(pre[i], cur, -10, 10))
		} else {
			must(e.t, e.be.Affine(1, pre[i], 0, cur))
		}
	}
	out := e.alloc(n)
	must(e.t, e.be.ClampFwd(cur, out, -10, 10))
	got := make([]float32, n)
	must(e.t, e.be.Download(got, out))
	if _, err := e.c.Check("out__out", tr(got, false)); err != nil {
		e.t.Error(err)
	}
	cot, _ := e.c.Get("cot__out")
	g := e.alloc(n)
	must(e.t, e.be.Upload(g, tr(cot, true)))
	tmp := e.alloc(n)
	must(e.t, e.be.ClampBwd(cur, g, tmp, -10, 10))
	g, tmp = tmp, g
	for i := nl - 1; i >= 0; i-- {
		if (i+1)%2 == 0 {
			must(e.t, e.be.ClampBwd(pre[i], g, tmp, -10, 10))
			g, tmp = tmp, g
		}
		if checkpoint {
			must(e.t, layers[i].Forward(ins[i], e.alloc(n), B, L))
		}
		must(e.t, layers[i].Backward(g, tmp))
		g, tmp = tmp, g
		_, grads := layers[i].Params()
		for _, gr := range grads {
			e.check("grad__layers."+itoa(i)+"."+gr.Name, gr.Buf)
		}
	}
	must(e.t, e.be.ClampBwd(acts[0], g, tmp, -10, 10))
	must(e.t, e.be.Download(got, tmp))
	if _, err := e.c.Check("grad__x", tr(got, false)); err != nil {
		e.t.Error(err)
	}
}

func itoa(i int) string { return string(rune('0' + i)) }
