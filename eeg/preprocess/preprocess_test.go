package preprocess

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/pipeml/pipe/eeg/dsp"
	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/edf/edftest"
	"github.com/pipeml/pipe/eeg/montage"
)

// refInput reproduces the input of testdata/gen_reference.py: 19 channels,
// 2000 samples at 250 Hz, in microvolts.
func refInput() [][]float64 {
	const n, fs = 2000, 250.0
	x := make([][]float64, 19)
	for c := range x {
		s := uint64(1000 + c)
		x[c] = make([]float64, n)
		cf := float64(c)
		for i := range x[c] {
			s = s*6364136223846793005 + 1442695040888963407
			u := float64(s>>11) * (1.0 / (1 << 53))
			t := float64(i) / fs
			x[c][i] = 50.0*cf - 400.0 +
				(20.0+cf)*math.Sin(2*math.Pi*(2.0+0.5*cf)*t+0.1*cf) +
				15.0*math.Sin(2*math.Pi*0.3*t) +
				8.0*math.Sin(2*math.Pi*60.0*t) +
				30.0*(u-0.5)
		}
	}
	return x
}

func refInputs(rate float64) []Input {
	var in []Input
	for _, c := range montage.Standard19 {
		in = append(in, Input{Label: montage.TUHLabel(c), Rate: rate, Unit: "uV"})
	}
	return in
}

func TestMatchesScipyChain(t *testing.T) {
	raw, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Phase, Normalize string
			Samples          int
			Center, Scale    []float64
			Channels         map[string][]float64
		}
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	x := refInput()
	for _, c := range ref.Cases {
		t.Run(c.Phase+"_"+c.Normalize, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Phase, cfg.Normalize = c.Phase, c.Normalize
			p, err := New(cfg, refInputs(250))
			if err != nil {
				t.Fatal(err)
			}
			out, sum, err := p.ProcessAll(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Samples != int64(c.Samples) || len(out[0]) != c.Samples {
				t.Fatalf("%d samples, want %d", sum.Samples, c.Samples)
			}
			relTol := 1e-9
			if c.Normalize == NormRobust {
				relTol = dsp.QuantileRelErr
			}
			for k := range c.Center {
				if math.Abs(sum.Scale[k]-c.Scale[k]) > relTol*c.Scale[k] || math.Abs(sum.Center[k]-c.Center[k]) > relTol*c.Scale[k] {
					t.Fatalf("channel %d: centre %v scale %v, scipy %v %v", k, sum.Center[k], sum.Scale[k], c.Center[k], c.Scale[k])
				}
			}
			for ks, want := range c.Channels {
				k := map[string]int{"0": 0, "9": 9}[ks]
				tol := 1e-5 // float32 output
				if c.Normalize == NormRobust {
					tol = 2 * dsp.QuantileRelErr * 10 // scale and centre errors at |z| up to 10
				}
				for i, w := range want {
					if d := math.Abs(float64(out[k][i]) - w); d > tol*math.Max(1, math.Abs(w)) {
						t.Fatalf("channel %s sample %d: %v, scipy %v", p.Channels()[k], i, out[k][i], w)
					}
				}
			}
		})
	}
}

// chunkSource hands out the signals in chunks of random length.
type chunkSource struct {
	data [][]float64
	pos  []int
	rng  *rand.Rand
}

func (s *chunkSource) Next() ([][]float64, error) {
	if s.pos[0] >= len(s.data[0]) {
		return nil, io.EOF
	}
	n := 1 + s.rng.IntN(700)
	out := make([][]float64, len(s.data))
	for i := range s.data {
		end := min(len(s.data[i]), s.pos[i]+n)
		out[i] = s.data[i][s.pos[i]:end]
		s.pos[i] = end
	}
	return out, nil
}

func TestChunkingDoesNotChangeOutput(t *testing.T) {
	x := refInput()
	for _, phase := range []string{PhaseCausal, PhaseZero} {
		cfg := DefaultConfig()
		cfg.Phase = phase
		p, err := New(cfg, refInputs(250))
		if err != nil {
			t.Fatal(err)
		}
		whole, _, err := p.ProcessAll(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		seed := uint64(0)
		open := func() (Source, error) {
			seed++
			return &chunkSource{data: x, pos: make([]int, len(x)), rng: rand.New(rand.NewPCG(seed, 9))}, nil
		}
		got := make([][]float32, len(p.Channels()))
		if _, err := p.Run(context.Background(), open, func(b [][]float32) error {
			for k := range b {
				got[k] = append(got[k], b[k]...)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for k := range whole {
			if !slices.Equal(got[k], whole[k]) {
				t.Fatalf("%s: channel %d differs between chunked and whole input", phase, k)
			}
		}
	}
}

func TestMultiRateAndInterpolation(t *testing.T) {
	// Fz and Pz missing, channels at 512 Hz, and one (O2) at 256 Hz: all
	// come out at 256 Hz, Fz/Pz interpolated.
	const secs = 20
	var inputs []Input
	var data [][]float64
	for _, c := range montage.Standard19 {
		if c == "Fz" || c == "Pz" {
			continue
		}
		rate := 512.0
		if c == "O2" {
			rate = 256
		}
		inputs = append(inputs, Input{Label: montage.TUHLabel(c), Rate: rate, Unit: "mV"})
		x := make([]float64, int(rate)*secs)
		for i := range x {
			x[i] = 0.02 * math.Sin(2*math.Pi*7*float64(i)/rate) // 20 µV at 7 Hz, in mV
		}
		data = append(data, x)
	}
	cfg := DefaultConfig()
	cfg.Normalize, cfg.Clip = NormNone, 0
	p, err := New(cfg, inputs)
	if err != nil {
		t.Fatal(err)
	}
	out, sum, err := p.ProcessAll(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != 256*secs {
		t.Fatalf("%d samples", sum.Samples)
	}
	if len(p.Plan().Interpolated) != 2 || !strings.Contains(strings.Join(sum.Notes, "\n"), "interpolated [Fz Pz]") {
		t.Fatalf("notes %v", sum.Notes)
	}
	// Every channel (interpolated ones included) carries the 20 µV sine in
	// the middle of the recording.
	for k, name := range p.Channels() {
		amp := 0.0
		for _, v := range out[k][256*5 : 256*15] {
			amp = math.Max(amp, math.Abs(float64(v)))
		}
		if math.Abs(amp-20) > 0.5 {
			t.Errorf("%s: amplitude %v µV, want 20", name, amp)
		}
	}
}

func TestErrors(t *testing.T) {
	x := refInput()
	bad := slices.Clone(x[3])
	bad[77] = math.NaN()
	xs := slices.Clone(x)
	xs[3] = bad
	p, err := New(DefaultConfig(), refInputs(250))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.ProcessAll(context.Background(), xs); err == nil || !strings.Contains(err.Error(), `"EEG P3-REF": sample 77 is NaN`) {
		t.Errorf("NaN: %v", err)
	}

	in := refInputs(250)
	in[2].Unit = "%"
	if _, err := New(DefaultConfig(), in); err == nil || !strings.Contains(err.Error(), `"EEG C3-REF": physical dimension "%" is not a voltage`) {
		t.Errorf("unit: %v", err)
	}

	cfg := DefaultConfig()
	cfg.ResampleMaxFactor = 16
	if _, err := New(cfg, refInputs(173.61)); err == nil || !strings.Contains(err.Error(), "max_rate_error") {
		t.Errorf("rate: %v", err)
	}
	p, err = New(DefaultConfig(), refInputs(173.61))
	if err != nil {
		t.Fatal(err)
	}
	if e := p.RateError(); e < 4e-6 || e > 5e-6 || !strings.Contains(strings.Join(p.Notes(), "\n"), "87/59") {
		t.Errorf("173.61 Hz: rate error %v, notes %v", e, p.Notes())
	}

	_, err = New(DefaultConfig(), refInputs(250)[1:])
	var me *montage.MissingError
	if !errors.As(err, &me) {
		t.Errorf("missing Fp1: %v", err)
	}
	cfg = DefaultConfig()
	cfg.OnMissing = montage.OnMissingSkip
	if _, err = New(cfg, refInputs(250)[1:]); !errors.Is(err, montage.ErrSkip) {
		t.Errorf("skip: %v", err)
	}

	// Zero-phase filtering of a recording shorter than the filter padding.
	cfg = DefaultConfig()
	cfg.Phase = PhaseZero
	p, _ = New(cfg, refInputs(256))
	short := make([][]float64, 19)
	for i := range short {
		short[i] = make([]float64, 10)
	}
	if _, _, err := p.ProcessAll(context.Background(), short); !errors.Is(err, dsp.ErrTooShort) {
		t.Errorf("short zero-phase: %v", err)
	}

	// Cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ = New(DefaultConfig(), refInputs(250))
	if _, _, err := p.ProcessAll(ctx, x); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestFlatChannelAndFallbacks(t *testing.T) {
	x := refInput()
	x[5] = make([]float64, len(x[5])) // T3 disconnected
	for i := range x[5] {
		x[5][i] = 4100 // a constant offset
	}
	cfg := DefaultConfig()
	cfg.Rate = 200 // 120 Hz is above Nyquist: high-pass only
	cfg.Notch = 50
	p, err := New(cfg, refInputs(250))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p.Notes(), "\n"), "high-pass at 0.5 Hz only") {
		t.Errorf("notes %v", p.Notes())
	}
	out, sum, err := p.ProcessAll(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.Flat, []string{"T3"}) {
		t.Fatalf("flat %v", sum.Flat)
	}
	for _, v := range out[5] {
		if v != 0 {
			t.Fatalf("flat channel output %v, want 0", v)
		}
	}
	for k, ch := range out {
		for _, v := range ch {
			if math.IsNaN(float64(v)) || math.Abs(float64(v)) > 10 {
				t.Fatalf("channel %d: %v", k, v)
			}
		}
	}
}

func TestConfig(t *testing.T) {
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Rate = 0 }, "rate 0"},
		{func(c *Config) { c.BandpassLow = 200 }, "bandpass_low 200"},
		{func(c *Config) { c.BandpassHigh = 0.2 }, "bandpass_high 0.2"},
		{func(c *Config) { c.BandpassOrder = 0 }, "bandpass_order 0"},
		{func(c *Config) { c.Notch = 200 }, "notch 200"},
		{func(c *Config) { c.NotchQ = 0 }, "notch_q 0"},
		{func(c *Config) { c.Phase = "acausal" }, `phase "acausal"`},
		{func(c *Config) { c.Normalize = "minmax" }, `normalize "minmax"`},
		{func(c *Config) { c.Clip = -1 }, "clip -1"},
		{func(c *Config) { c.ResamplePad = "mean" }, "resample_pad"},
		{func(c *Config) { c.Montage = "bipolar" }, `montage "bipolar"`},
		{func(c *Config) { c.Interpolate = []string{"O1"} }, `"O1" cannot be interpolated`},
		{func(c *Config) { c.MaxRateError = math.NaN() }, "max_rate_error"},
	} {
		c := DefaultConfig()
		tt.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("want %q, got %v", tt.want, err)
		}
	}

	// Canonical encoding: stable, independent of the spelling and order of
	// Interpolate, sensitive to every field.
	a, b := DefaultConfig(), DefaultConfig()
	b.Interpolate = []string{"EEG PZ-REF", "fz", "Pz"}
	if string(a.Canonical()) != string(b.Canonical()) || a.Fingerprint() != b.Fingerprint() {
		t.Errorf("canonical differs:\n%s\n%s", a.Canonical(), b.Canonical())
	}
	if !strings.Contains(string(a.Canonical()), `"version":"`+Version+`"`) {
		t.Errorf("canonical lacks the version: %s", a.Canonical())
	}
	b.Notch = 50
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("fingerprint ignores notch")
	}

	// JSON: absent fields keep their defaults.
	c := DefaultConfig()
	if err := json.Unmarshal([]byte(`{"notch": 50, "interpolate": []}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.Notch != 50 || c.Rate != 256 || c.Interpolate == nil || len(c.Interpolate) != 0 {
		t.Errorf("json: %+v", c)
	}
}

func TestHCLConfig(t *testing.T) {
	src := `
notch = 50
phase = "zero"
interpolate = ["Fz", "Pz", "Cz"]
bandpass_high = 70
`
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "p.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := hcldec.Decode(f.Body, HCLSpec(), &hcl.EvalContext{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := FromCty(v)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Notch, want.Phase, want.Interpolate, want.BandpassHigh = 50, PhaseZero, []string{"Fz", "Pz", "Cz"}, 70
	if string(c.Canonical()) != string(want.Canonical()) {
		t.Fatalf("got %s\nwant %s", c.Canonical(), want.Canonical())
	}
	f, _ = hclparse.NewParser().ParseHCL([]byte(`clip = -3`), "q.hcl")
	v, _ = hcldec.Decode(f.Body, HCLSpec(), nil)
	if _, err := FromCty(v); err == nil || !strings.Contains(err.Error(), "clip -3") {
		t.Fatalf("invalid clip: %v", err)
	}
}

// TestRealEDF runs the preprocessing on real recordings through the EDF
// reader: TUH (250 Hz, 27 channels) and the 100 Hz scalp recording.
func TestRealEDF(t *testing.T) {
	dir := edftest.SharedDir(t, "data", "edf")
	for _, tt := range []struct {
		file string
		rate float64
	}{
		{"00009578_s002_t001.edf", 250},
		{"ombao19_seizure_100hz.edf", 100},
	} {
		r, err := edf.Open(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		inputs, sigs := EDFInputs(r.Header())
		p, err := New(DefaultConfig(), inputs)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		var n int64
		var moments [19]dsp.Moments
		sum, err := p.Run(context.Background(), EDFSource(r, sigs, p), func(b [][]float32) error {
			for k, x := range b {
				f := make([]float64, len(x))
				for i, v := range x {
					f[i] = float64(v)
				}
				moments[k].Add(f)
			}
			n += int64(len(b[0]))
			return nil
		})
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		in := r.Header().Samples(sigs[p.Inputs()[0]])
		if want := int64(math.Ceil(float64(in) * 256 / tt.rate)); n != want || sum.Samples != want {
			t.Errorf("%s: %d samples, want %d", tt.file, n, want)
		}
		for k := range moments {
			m, s := moments[k].Mean(), moments[k].Std()
			if math.Abs(m) > 0.05 || s < 0.8 || s > 1.01 {
				t.Errorf("%s %s: output mean %v std %v", tt.file, p.Channels()[k], m, s)
			}
		}
	}
}

// genSource generates a long synthetic recording chunk by chunk.
type genSource struct {
	left, chunk int
	buf         [][]float64
	phase       float64
}

func (g *genSource) Next() ([][]float64, error) {
	if g.left <= 0 {
		return nil, io.EOF
	}
	n := min(g.chunk, g.left)
	g.left -= n
	for c := range g.buf {
		g.buf[c] = g.buf[c][:n]
		for i := range g.buf[c] {
			g.buf[c][i] = 30 * math.Sin(g.phase+float64(i)*0.2+float64(c))
		}
	}
	g.phase += float64(n) * 0.2
	return g.buf, nil
}

// TestMemoryBounded checks that the heap does not grow with the recording's
// length: a 16-minute recording peaks no higher than a 4-minute one, in both
// filtering modes.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("long recording")
	}
	for _, phase := range []string{PhaseCausal, PhaseZero} {
		peak := func(minutes int) uint64 {
			cfg := DefaultConfig()
			cfg.Phase, cfg.Normalize = phase, NormNone
			p, err := New(cfg, refInputs(250))
			if err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base, top := ms.HeapInuse, ms.HeapInuse
			calls := 0
			open := func() (Source, error) {
				g := &genSource{left: minutes * 60 * 250, chunk: 250 * 4, buf: make([][]float64, 19)}
				for c := range g.buf {
					g.buf[c] = make([]float64, 0, g.chunk)
				}
				return g, nil
			}
			_, err = p.Run(context.Background(), open, func(b [][]float32) error {
				if calls++; calls%64 == 0 {
					runtime.ReadMemStats(&ms)
					top = max(top, ms.HeapInuse)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return top - min(top, base)
		}
		short, long := peak(4), peak(16)
		t.Logf("%s: heap growth %d KiB for 4 min, %d KiB for 16 min", phase, short>>10, long>>10)
		if long > short+4<<20 {
			t.Errorf("%s: heap grows with the recording: %d KiB for 4 min, %d KiB for 16 min", phase, short>>10, long>>10)
		}
	}
}

func TestSpillGivesTheSameOutput(t *testing.T) {
	x := refInput()
	for _, norm := range []string{NormZScore, NormRobust} {
		cfg := DefaultConfig()
		cfg.Normalize = norm
		p, err := New(cfg, refInputs(250))
		if err != nil {
			t.Fatal(err)
		}
		want, wantSum, err := p.ProcessAll(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		opens := 0
		got := make([][]float32, 19)
		sum, err := p.RunWith(context.Background(), func() (Source, error) {
			opens++
			return &chunkSource{data: x, pos: make([]int, len(x)), rng: rand.New(rand.NewPCG(1, 2))}, nil
		}, func(b [][]float32) error {
			for k := range b {
				got[k] = append(got[k], b[k]...)
			}
			return nil
		}, RunOptions{SpillDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if opens != 1 {
			t.Errorf("%s: source opened %d times with a spill, want 1", norm, opens)
		}
		for k := range want {
			if !slices.Equal(got[k], want[k]) {
				t.Fatalf("%s: channel %d differs with a spill", norm, k)
			}
		}
		if sum.Samples != wantSum.Samples || !slices.Equal(sum.Scale, wantSum.Scale) || !slices.Equal(sum.Center, wantSum.Center) {
			t.Fatalf("%s: summary differs: %+v vs %+v", norm, sum, wantSum)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("spill directory not empty: %v", left)
		}
	}
	if _, err := (&Preprocessor{}).RunWith(context.Background(), nil, nil, RunOptions{SpillDir: "/nonexistent/dir"}); err == nil {
		t.Error("spill in a missing directory: no error")
	}
}
