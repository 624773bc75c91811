package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
)

// tiny is a small configuration exercising every component.
func tiny() Config {
	c := Demo()
	c.EncChannels = []int{3, 4}
	c.EncDilations = []int{1, 2}
	c.EncKernel = 3
	c.Dropout = 0
	c.Downsample = 4
	c.DModel = 6
	c.Electrodes = 5
	c.NodeDim = 4
	c.NodeLayers = 1
	c.NodeDState = 3
	c.NodeHeadDim = 2
	c.EdgeDim = 4
	c.EdgeLayers = 1
	c.EdgeDState = 2
	c.EdgeHeadDim = 2
	c.TopK = 2
	return c
}

func randInput(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"dilations", func(c *Config) { c.EncDilations = c.EncDilations[:1] }, "enc_dilations has 1 entries"},
		{"even kernel", func(c *Config) { c.EncKernel = 4 }, "enc_kernel = 4"},
		{"headdim", func(c *Config) { c.NodeHeadDim = 5 }, "node_headdim = 5 does not divide"},
		{"topk", func(c *Config) { c.TopK = 19 }, "top_k = 19"},
		{"dropout", func(c *Config) { c.Dropout = 1 }, "dropout = 1"},
		{"alpha", func(c *Config) { c.SSGAlpha = -0.1 }, "ssg_alpha"},
		{"device", func(c *Config) { c.Device = "tpu" }, "device = \"tpu\""},
		{"empty enc", func(c *Config) { c.EncChannels = nil; c.EncDilations = nil }, "enc_channels is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Demo()
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if a := A100(); a.Validate() != nil {
		t.Fatal(a.Validate())
	}
}

func TestDecode(t *testing.T) {
	c, err := Decode(json.RawMessage(`{"preset":"a100","top_k":4,"enc_channels":[8,8,8,8,8,8,8,8]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.TopK != 4 || c.NodeLayers != 6 || c.EncChannels[0] != 8 {
		t.Fatalf("decoded %+v", c)
	}
	if c, err := Decode(nil); err != nil || c.Preset != "demo" {
		t.Fatalf("null: %v %v", c.Preset, err)
	}
	if c, err := Decode(json.RawMessage(`{"profile":"demo"}`)); err != nil || c.DModel != Demo().DModel {
		t.Fatalf("profile: %v", err)
	}
	for in, want := range map[string]string{
		`{"preset":"x"}`:              `unknown preset "x"`,
		`{"topk":3}`:                  `unknown field "topk"`,
		`{"top_k":"3"}`:               `top_k`,
		`[1]`:                         `want an object`,
		`{"preset":"demo","top_k":0}`: `top_k = 0`,
	} {
		if _, err := Decode(json.RawMessage(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}

func TestBuilderRejects(t *testing.T) {
	if _, err := (Builder{}).Build(json.RawMessage(`{"preset":"demo"}`), 19, 2047, 1); err == nil || !strings.Contains(err.Error(), "multiple of downsample") {
		t.Fatalf("got %v", err)
	}
	if _, err := (Builder{}).Build(json.RawMessage(`{"preset":"a100"}`), 19, 15360, 1); err == nil || !strings.Contains(err.Error(), `precision = "bf16" is not implemented`) {
		t.Fatalf("a100 (bf16): got %v", err)
	}
	if !cuda.Built {
		_, err := (Builder{}).Build(json.RawMessage(`{"preset":"demo","device":"cuda"}`), 19, 2048, 1)
		if err == nil || !strings.Contains(err.Error(), `model: device = "cuda"`) || !strings.Contains(err.Error(), "built without CUDA support") {
			t.Fatalf("device cuda without -tags cuda: got %v", err)
		}
	}
}

// TestBuilderDevices: "cpu", and "auto" without a GPU, build the pure-Go
// V3.
func TestBuilderDevices(t *testing.T) {
	devs := []string{"cpu"}
	if !cuda.Built {
		devs = append(devs, "auto")
	}
	for _, d := range devs {
		n, err := (Builder{}).Build(json.RawMessage(`{"preset":"demo","device":"`+d+`"}`), 19, 2048, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := n.(*V3); !ok {
			t.Errorf("device %s: built %T, want *V3", d, n)
		}
	}
}

func TestParamNamesUnique(t *testing.T) {
	n, err := New(A100(), 19, 15360, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range n.Params() {
		if seen[p.Name] {
			t.Fatalf("duplicate %s", p.Name)
		}
		seen[p.Name] = true
		size := 1
		for _, s := range p.Shape {
			size *= s
		}
		if size != len(p.W) || len(p.G) != len(p.W) {
			t.Fatalf("%s: shape %v, %d values", p.Name, p.Shape, len(p.W))
		}
	}
	t.Logf("a100: %d parameters in %d tensors", n.NumParams(), len(n.Params()))
}

// loss is Σ logits·r, so dlogits = r.
func lossOf(t *testing.T, n *V3, x []float32, b, l int, r []float32) float64 {
	t.Helper()
	y, err := n.Forward(x, b, l, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for i, v := range y {
		s += float64(v) * float64(r[i])
	}
	return s
}

// TestEveryParamHasGradient: no unused weights.
func TestEveryParamHasGradient(t *testing.T) {
	for _, cfg := range []Config{tiny(), Demo()} {
		b, l := 2, 8*cfg.Downsample
		n, err := New(cfg, 3, l, 7)
		if err != nil {
			t.Fatal(err)
		}
		n.SetDebugFinite(true)
		x := randInput(b*3*l, 1)
		if _, err := n.Forward(x, b, l, true, 5); err != nil {
			t.Fatal(err)
		}
		if err := n.Backward(randInput(b*l, 2)); err != nil {
			t.Fatal(err)
		}
		for _, p := range n.Params() {
			nz := 0
			for _, g := range p.G {
				if g != 0 {
					nz++
				}
				if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
					t.Fatalf("%s: non-finite gradient", p.Name)
				}
			}
			if nz == 0 {
				t.Errorf("%s %v: gradient is all zero", p.Name, p.Shape)
			}
		}
	}
}

// TestFiniteDifference checks the analytic gradient against central
// differences of the float32 forward on a tiny model.
func TestFiniteDifference(t *testing.T) {
	cfg := tiny()
	b, l, ch := 2, 6*cfg.Downsample, 3
	n, err := New(cfg, ch, l, 3)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(b*ch*l, 11)
	r := randInput(b*l, 12)
	lossOf(t, n, x, b, l, r)
	n.graph.frozen = true // top-k is piecewise constant: hold the selection
	n.ZeroGrad()
	if err := n.Backward(r); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	bad := 0
	checked := 0
	for _, p := range n.Params() {
		for k := 0; k < 2; k++ {
			i := rng.IntN(len(p.W))
			w0 := p.W[i]
			h := float32(5e-4) * float32(math.Max(1, math.Abs(float64(w0))))
			l0 := lossOf(t, n, x, b, l, r)
			p.W[i] = w0 + h
			lp := lossOf(t, n, x, b, l, r)
			p.W[i] = w0 - h
			lm := lossOf(t, n, x, b, l, r)
			p.W[i] = w0
			an := float64(p.G[i])
			checked++
			// ReLU kinks: accept the central or either one-sided difference.
			ok := false
			for _, num := range []float64{(lp - lm) / (2 * float64(h)), (lp - l0) / float64(h), (l0 - lm) / float64(h)} {
				if math.Abs(num-an) <= 3e-2*math.Max(0.3, math.Max(math.Abs(num), math.Abs(an))) {
					ok = true
				}
			}
			if !ok {
				bad++
				t.Logf("%s[%d]: analytic %.6g numeric %.6g", p.Name, i, an, (lp-lm)/(2*float64(h)))
			}
		}
	}
	if bad > checked/50 {
		t.Fatalf("%d of %d gradient entries disagree", bad, checked)
	}
}

func TestDebugFiniteNamesLayer(t *testing.T) {
	cfg := tiny()
	b, l := 1, 4*cfg.Downsample
	n, err := New(cfg, 3, l, 1)
	if err != nil {
		t.Fatal(err)
	}
	n.SetDebugFinite(true)
	for _, p := range n.Params() {
		if p.Name == "node.0.fwd.out_proj.weight" {
			p.W[0] = float32(math.Inf(1))
		}
	}
	_, err = n.Forward(randInput(b*3*l, 1), b, l, false, 0)
	if err == nil || !strings.Contains(err.Error(), "layer node.0 ") {
		t.Fatalf("got %v, want node.0 named", err)
	}
	n.SetDebugFinite(false)
	if _, err := n.Forward(randInput(b*3*l, 1), b, l, false, 0); err != nil {
		t.Fatal(err)
	}
}

func TestExpf(t *testing.T) {
	for x := float32(-110); x < 89; x += 0.01237 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		if want > math.MaxFloat32 {
			if !math.IsInf(got, 1) {
				t.Fatalf("expf(%v) = %v, want +Inf", x, got)
			}
			continue
		}
		if want > 1e-37 && math.Abs(got-want) > 3e-7*want {
			t.Fatalf("expf(%v) = %v, want %v", x, got, want)
		}
		if want <= 1e-37 && math.Abs(got-want) > 1.2e-38 {
			t.Fatalf("expf(%v) = %v, want %v", x, got, want)
		}
	}
	if !math.IsNaN(float64(expf(float32(math.NaN())))) || !math.IsInf(float64(expf(100)), 1) || expf(-200) != 0 {
		t.Fatal("special values")
	}
}

func TestJacobiEigen(t *testing.T) {
	const n = 7
	r := rand.New(rand.NewPCG(3, 4))
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := r.NormFloat64()
			a[i*n+j], a[j*n+i] = v, v
		}
	}
	orig := append([]float64(nil), a...)
	v := make([]float64, n*n)
	order := jacobiEigen(a, v, n)
	prev := math.Inf(-1)
	for _, c := range order {
		lam := a[c*n+c]
		if lam < prev {
			t.Fatalf("eigenvalues not increasing: %v after %v", lam, prev)
		}
		prev = lam
		for i := 0; i < n; i++ {
			var av float64
			for j := 0; j < n; j++ {
				av += orig[i*n+j] * v[j*n+c]
			}
			if math.Abs(av-lam*v[i*n+c]) > 1e-9 {
				t.Fatalf("A v != λ v for eigenvalue %v", lam)
			}
		}
	}
}

// TestLapPE: the positional encoding's projection gets the gradient of
// finite differences (the eigenvectors themselves are an input, not
// differentiated), and a model with it trains every parameter.
func TestLapPE(t *testing.T) {
	cfg := tiny()
	cfg.LapPE, cfg.LapPEDim = true, 2
	b, l, ch := 2, 6*cfg.Downsample, 3
	n, err := New(cfg, ch, l, 3)
	if err != nil {
		t.Fatal(err)
	}
	n.SetDebugFinite(true)
	x := randInput(b*ch*l, 11)
	r := randInput(b*l, 12)
	lossOf(t, n, x, b, l, r)
	n.graph.frozen = true
	n.ZeroGrad()
	if err := n.Backward(r); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Param{n.lappe.w, n.lappe.b} {
		for i := range p.W {
			w0 := p.W[i]
			h := float32(1e-3)
			p.W[i] = w0 + h
			lp := lossOf(t, n, x, b, l, r)
			p.W[i] = w0 - h
			lm := lossOf(t, n, x, b, l, r)
			p.W[i] = w0
			num := (lp - lm) / (2 * float64(h))
			if math.Abs(num-float64(p.G[i])) > 3e-2*math.Max(0.3, math.Abs(num)) {
				t.Errorf("%s[%d]: analytic %v numeric %v", p.Name, i, p.G[i], num)
			}
		}
	}
	for _, p := range n.Params() {
		nz := false
		for _, g := range p.G {
			nz = nz || g != 0
		}
		if !nz {
			t.Errorf("%s: gradient is all zero", p.Name)
		}
	}
}

// TestLossFalls is the training-signal check: Adam on a toy batch (windows
// whose second half carries a 6 Hz rhythm labelled as seizure) lowers the
// BCE loss of the demo architecture scaled down.
func TestLossFalls(t *testing.T) {
	cfg := tiny()
	cfg.Downsample = 8
	const b, ch, l = 4, 3, 128
	n, err := New(cfg, ch, l, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(b*ch*l, 5)
	y := make([]float32, b*l)
	for i := 0; i < b; i++ {
		if i%2 == 0 {
			continue
		}
		for s := l / 2; s < l; s++ {
			y[i*l+s] = 1
			for c := 0; c < ch; c++ {
				x[(i*ch+c)*l+s] += 2 * float32(math.Sin(2*math.Pi*6*float64(s)/64))
			}
		}
	}
	m := make([][]float64, len(n.Params()))
	v := make([][]float64, len(n.Params()))
	for i, p := range n.Params() {
		m[i], v[i] = make([]float64, len(p.W)), make([]float64, len(p.W))
	}
	lossAt := func(step int, train bool) float64 {
		logits, err := n.Forward(x, b, l, train, uint64(step))
		if err != nil {
			t.Fatal(err)
		}
		dl := make([]float32, len(logits))
		var loss float64
		for i, z := range logits {
			p := 1 / (1 + math.Exp(-float64(z)))
			loss += math.Max(float64(z), 0) - float64(z)*float64(y[i]) + math.Log1p(math.Exp(-math.Abs(float64(z))))
			dl[i] = float32((p - float64(y[i])) / float64(len(logits)))
		}
		if train {
			n.ZeroGrad()
			if err := n.Backward(dl); err != nil {
				t.Fatal(err)
			}
		}
		return loss / float64(len(logits))
	}
	first := lossAt(0, false)
	const lr, b1, b2 = 1e-2, 0.9, 0.999
	for step := 1; step <= 25; step++ {
		lossAt(step, true)
		for i, p := range n.Params() {
			for k, g := range p.G {
				m[i][k] = b1*m[i][k] + (1-b1)*float64(g)
				v[i][k] = b2*v[i][k] + (1-b2)*float64(g)*float64(g)
				mh := m[i][k] / (1 - math.Pow(b1, float64(step)))
				vh := v[i][k] / (1 - math.Pow(b2, float64(step)))
				p.W[k] -= float32(lr * mh / (math.Sqrt(vh) + 1e-8))
			}
		}
	}
	last := lossAt(0, false)
	t.Logf("loss %.4f → %.4f after 25 Adam steps", first, last)
	if !(last < 0.5*first) {
		t.Fatalf("loss did not fall: %.4f → %.4f", first, last)
	}
}

func TestHugeConfigRefused(t *testing.T) {
	for in, want := range map[string]string{
		`{"d_model":100000}`: "d_model = 100000: want <= 65536",
		`{"d_model":60000,"enc_channels":[60000,60000,60000,60000]}`: "too large",
		`{"node_layers":1000}`: "node_layers = 1000",
	} {
		_, err := (Builder{}).Build(json.RawMessage(in), 19, 2048, 1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
	// the estimate bounds the real count from above.
	for _, c := range []Config{Demo(), A100(), tiny()} {
		n, err := New(c, 19, c.Downsample, 1)
		if err != nil {
			t.Fatal(err)
		}
		if est := paramEstimate(c, 19); est < float64(n.NumParams()) {
			t.Errorf("%s: estimate %v < %d", c.Preset, est, n.NumParams())
		}
	}
}
