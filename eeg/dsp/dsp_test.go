package dsp

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
)

// reference is testdata/reference.json, written by testdata/gen_reference.py
// with scipy.signal.
type reference struct {
	Scipy  string `json:"scipy_version"`
	Butter []struct {
		Order int         `json:"order"`
		Low   float64     `json:"low"`
		High  float64     `json:"high"`
		FS    float64     `json:"fs"`
		Btype string      `json:"btype"`
		SOS   [][]float64 `json:"sos"`
	} `json:"butter"`
	Notch []struct {
		F0, Q, FS float64
		B, A      []float64
	} `json:"notch"`
	Filter []struct {
		Name               string      `json:"name"`
		FS                 float64     `json:"fs"`
		Order              int         `json:"order"`
		Low                float64     `json:"low"`
		High               float64     `json:"high"`
		NotchF0            float64     `json:"notch_f0"`
		NotchQ             float64     `json:"notch_q"`
		X                  []float64   `json:"x"`
		SOS                [][]float64 `json:"sos"`
		ZI                 [][]float64 `json:"zi"`
		SosfiltZero        []float64   `json:"sosfilt_zero"`
		SosfiltSteady      []float64   `json:"sosfilt_steady"`
		Sosfiltfilt        []float64   `json:"sosfiltfilt"`
		NotchLfilterSteady []float64   `json:"notch_lfilter_steady"`
		NotchFiltfilt      []float64   `json:"notch_filtfilt"`
		ChainCausal        []float64   `json:"chain_causal"`
		ChainZero          []float64   `json:"chain_zero"`
	} `json:"filter"`
	Resample []struct {
		Name     string    `json:"name"`
		FSIn     float64   `json:"fs_in"`
		Up       int       `json:"up"`
		Down     int       `json:"down"`
		X        []float64 `json:"x"`
		Constant []float64 `json:"constant"`
		Edge     []float64 `json:"edge"`
	} `json:"resample"`
	Firwin struct {
		Numtaps int       `json:"numtaps"`
		Cutoff  float64   `json:"cutoff"`
		H       []float64 `json:"h"`
	} `json:"firwin"`
	Stats []struct {
		X                []float64 `json:"x"`
		Mean, Std        float64
		Q25, Median, Q75 float64
	} `json:"stats"`
}

var (
	refOnce sync.Once
	ref     reference
	refErr  error
)

func loadRef(t testing.TB) *reference {
	t.Helper()
	refOnce.Do(func() {
		raw, err := os.ReadFile("testdata/reference.json")
		if err != nil {
			refErr = err
			return
		}
		refErr = json.Unmarshal(raw, &ref)
	})
	if refErr != nil {
		t.Fatalf("reference vectors: %v", refErr)
	}
	return &ref
}

func toSOS(rows [][]float64) SOS {
	s := make(SOS, len(rows))
	for i, r := range rows {
		copy(s[i][:], r)
	}
	return s
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// assertClose fails unless got and want have the same length and agree to
// tol times the scale of want.
func assertClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := math.Max(maxAbs(want), 1e-300)
	worst, at := 0.0, -1
	for i := range got {
		if d := math.Abs(got[i] - want[i]); d > worst || math.IsNaN(d) {
			worst, at = d, i
			if math.IsNaN(d) {
				break
			}
		}
	}
	if !(worst <= tol*scale) {
		t.Fatalf("%s: max |diff| %.3g at %d (got %v want %v), allowed %.3g", what, worst, at, got[at], want[at], tol*scale)
	}
}

func TestButterMatchesScipy(t *testing.T) {
	r := loadRef(t)
	for _, c := range r.Butter {
		band := map[string]BandType{"bandpass": Bandpass, "highpass": Highpass, "lowpass": Lowpass}[c.Btype]
		got, err := Butter(c.Order, band, c.Low, c.High, c.FS)
		if err != nil {
			t.Fatalf("%s order %d %v-%v fs %v: %v", c.Btype, c.Order, c.Low, c.High, c.FS, err)
		}
		want := toSOS(c.SOS)
		if len(got) != len(want) {
			t.Fatalf("%s order %d: %d sections, want %d", c.Btype, c.Order, len(got), len(want))
		}
		for i := range want {
			assertClose(t, c.Btype+" section", got[i][:], want[i][:], 1e-12)
		}
	}
}

func TestNotchMatchesScipy(t *testing.T) {
	r := loadRef(t)
	for _, c := range r.Notch {
		got, err := Notch(c.F0, c.Q, c.FS)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "notch b", got[0][:3], c.B, 1e-14)
		assertClose(t, "notch a", got[0][3:], c.A, 1e-14)
	}
}

func TestFiltersMatchScipy(t *testing.T) {
	r := loadRef(t)
	for _, c := range r.Filter {
		t.Run(c.Name, func(t *testing.T) {
			sos, err := Butter(c.Order, Bandpass, c.Low, c.High, c.FS)
			if err != nil {
				t.Fatal(err)
			}
			zi := SteadyState(sos)
			for i := range zi {
				assertClose(t, "sosfilt_zi", zi[i][:], c.ZI[i], 1e-10)
			}
			notch, err := Notch(c.NotchF0, c.NotchQ, c.FS)
			if err != nil {
				t.Fatal(err)
			}
			y, _ := SOSFilt(sos, c.X)
			assertClose(t, "sosfilt", y, c.SosfiltZero, 1e-10)
			y, _ = SOSFiltSteady(sos, c.X)
			assertClose(t, "sosfilt steady", y, c.SosfiltSteady, 1e-10)
			y, err = SOSFiltFilt(sos, c.X)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "sosfiltfilt", y, c.Sosfiltfilt, 1e-10)
			y, _ = SOSFiltSteady(notch, c.X)
			assertClose(t, "notch lfilter", y, c.NotchLfilterSteady, 1e-10)
			y, _ = SOSFiltFilt(notch, c.X)
			assertClose(t, "notch filtfilt", y, c.NotchFiltfilt, 1e-10)
			y, _ = SOSFiltSteady(sos, c.X)
			y, _ = SOSFiltSteady(notch, y)
			assertClose(t, "chain causal", y, c.ChainCausal, 1e-10)
			y, _ = SOSFiltFilt(sos, c.X)
			y, _ = SOSFiltFilt(notch, y)
			assertClose(t, "chain zero-phase", y, c.ChainZero, 1e-10)

			// The streamed zero-phase filter gives the same (here the signal
			// fits in the final block, which is computed exactly).
			for _, chunk := range []int{1, 7, 100, len(c.X)} {
				z, err := NewZeroPhase(sos)
				if err != nil {
					t.Fatal(err)
				}
				assertClose(t, "streamed sosfiltfilt", streamZP(t, z, c.X, chunk), c.Sosfiltfilt, 1e-10)
			}
		})
	}
}

func streamZP(t testing.TB, z *ZeroPhase, x []float64, chunk int) []float64 {
	t.Helper()
	var out []float64
	for i := 0; i < len(x); i += chunk {
		out = z.Process(out, x[i:min(len(x), i+chunk)])
	}
	out, err := z.Flush(out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testSignal is a long pseudo-random EEG-like signal with an offset.
func testSignal(n int, fs float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float64, n)
	walk := 0.0
	for i := range x {
		tt := float64(i) / fs
		walk += rng.NormFloat64()
		x[i] = 300 + 0.5*walk + 30*math.Sin(2*math.Pi*9.5*tt) + 20*math.Sin(2*math.Pi*0.3*tt) + 10*math.Sin(2*math.Pi*60*tt) + 5*rng.NormFloat64()
	}
	return x
}

func TestZeroPhaseStreamingLongSignal(t *testing.T) {
	for _, fs := range []float64{256, 200} {
		sos, err := Butter(3, Bandpass, 0.5, 70, fs)
		if err != nil {
			t.Fatal(err)
		}
		notch, _ := Notch(50, 30, fs)
		x := testSignal(120000, fs, 7)
		for _, filt := range []SOS{sos, notch} {
			want, err := SOSFiltFilt(filt, x)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			z, _ := NewZeroPhase(filt)
			if len(x) < 3*(z.block+z.Lookahead()) {
				t.Fatalf("test signal too short to exercise streaming: %d < 3*(%d+%d)", len(x), z.block, z.Lookahead())
			}
			var got []float64
			for i := 0; i < len(x); {
				n := 1 + rng.IntN(5000)
				got = z.Process(got, x[i:min(len(x), i+n)])
				i += n
			}
			got, err = z.Flush(got)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "streamed zero-phase vs whole signal", got, want, 1e-12)
			// The filter is reusable after Flush.
			assertClose(t, "second use", streamZP(t, z, x, 4096), want, 1e-12)
		}
	}
}

func TestZeroPhaseTooShort(t *testing.T) {
	sos, _ := Butter(3, Bandpass, 0.5, 120, 256)
	pad := DefaultPadLen(sos)
	z, _ := NewZeroPhase(sos)
	out := z.Process(nil, make([]float64, pad))
	if _, err := z.Flush(out); !errors.Is(err, ErrTooShort) {
		t.Fatalf("signal of %d samples: err %v, want ErrTooShort", pad, err)
	}
	if _, err := SOSFiltFilt(sos, make([]float64, pad)); err == nil {
		t.Fatal("SOSFiltFilt accepted a signal no longer than the padding")
	}
	out, err := z.Flush(nil)
	if err != nil || len(out) != 0 {
		t.Fatalf("empty signal: %v, %d outputs", err, len(out))
	}
	// pad+1 samples is enough, as in scipy.
	x := testSignal(pad+1, 256, 1)
	want, err := SOSFiltFilt(sos, x)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "shortest signal", streamZP(t, z, x, 1), want, 1e-12)
}

func TestSOSFilterChunkedIsExact(t *testing.T) {
	sos, _ := Butter(3, Bandpass, 0.5, 120, 256)
	x := testSignal(10000, 256, 2)
	want, _ := SOSFiltSteady(sos, x)
	f, _ := NewSOSFilter(sos)
	f.SetSteadyState(x[0])
	got := make([]float64, len(x))
	for i := 0; i < len(x); i += 333 {
		j := min(len(x), i+333)
		f.Process(got[i:j], x[i:j])
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d: chunked %v, whole %v", i, got[i], want[i])
		}
	}
}

func TestResampleMatchesScipy(t *testing.T) {
	r := loadRef(t)
	for _, c := range r.Resample {
		t.Run(c.Name, func(t *testing.T) {
			for _, pc := range []struct {
				pad  Pad
				want []float64
			}{{PadZero, c.Constant}, {PadEdge, c.Edge}} {
				got, err := ResamplePoly(c.X, c.Up, c.Down, pc.pad)
				if err != nil {
					t.Fatal(err)
				}
				assertClose(t, "resample_poly "+pc.pad.String(), got, pc.want, 1e-12)
				// Streaming in any chunking gives the same samples.
				p, _ := NewPolyphase(c.Up, c.Down)
				for _, chunk := range []int{1, 3, 64, 1000} {
					rs := p.NewResampler(pc.pad)
					var s []float64
					for i := 0; i < len(c.X); i += chunk {
						s = rs.Process(s, c.X[i:min(len(c.X), i+chunk)])
					}
					s = rs.Flush(s)
					if len(s) != len(got) {
						t.Fatalf("chunk %d: %d samples, want %d", chunk, len(s), len(got))
					}
					for i := range s {
						if s[i] != got[i] {
							t.Fatalf("chunk %d: sample %d streamed %v, whole %v", chunk, i, s[i], got[i])
						}
					}
				}
			}
		})
	}
}

func TestFirwinMatchesScipy(t *testing.T) {
	r := loadRef(t)
	h, err := Firwin(r.Firwin.Numtaps, r.Firwin.Cutoff, KaiserBeta)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "firwin", h, r.Firwin.H, 1e-13)
}

func TestRatio(t *testing.T) {
	tests := []struct {
		fin, fout   float64
		max         int
		up, down    int
		maxErr      float64
		errContains string
	}{
		{250, 256, DefaultMaxFactor, 128, 125, 0, ""},
		{400, 256, DefaultMaxFactor, 16, 25, 0, ""},
		{100, 256, DefaultMaxFactor, 64, 25, 0, ""},
		{512, 256, DefaultMaxFactor, 1, 2, 0, ""},
		{256, 256, DefaultMaxFactor, 1, 1, 0, ""},
		{1000, 256, DefaultMaxFactor, 32, 125, 0, ""},
		{173.61, 256, DefaultMaxFactor, 87, 59, 5e-6, ""},
		{173.61, 256, 4096, 3682, 2497, 4e-8, ""},
		{250, 256, 64, 43, 42, 2e-4, ""},
		{0, 256, 10, 0, 0, 0, "positive"},
		{250, 256, 0, 0, 0, 0, "max factor"},
	}
	for _, tt := range tests {
		up, down, e, err := Ratio(tt.fin, tt.fout, tt.max)
		if tt.errContains != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errContains) {
				t.Errorf("Ratio(%v, %v, %d): err %v, want %q", tt.fin, tt.fout, tt.max, err, tt.errContains)
			}
			continue
		}
		if err != nil || up != tt.up || down != tt.down || e > tt.maxErr {
			t.Errorf("Ratio(%v, %v, %d) = %d/%d err %.3g (%v), want %d/%d err <= %.3g", tt.fin, tt.fout, tt.max, up, down, e, err, tt.up, tt.down, tt.maxErr)
		}
		if tt.maxErr > 0 && e == 0 {
			t.Errorf("Ratio(%v, %v): reported no error for an inexact ratio", tt.fin, tt.fout)
		}
	}
}

func TestStatsMatchNumpy(t *testing.T) {
	r := loadRef(t)
	for i, c := range r.Stats {
		var m Moments
		for j := 0; j < len(c.X); j += 97 {
			m.Add(c.X[j:min(len(c.X), j+97)])
		}
		if math.Abs(m.Mean()-c.Mean) > 1e-12*math.Max(1, math.Abs(c.Mean)) || math.Abs(m.Std()-c.Std) > 1e-12*c.Std {
			t.Errorf("case %d: mean %v std %v, numpy %v %v", i, m.Mean(), m.Std(), c.Mean, c.Std)
		}
		q := NewQuantiles()
		q.Add(c.X)
		for _, p := range []struct {
			p, want float64
		}{{0.25, c.Q25}, {0.5, c.Median}, {0.75, c.Q75}} {
			got := q.Quantile(p.p)
			if math.Abs(got-p.want) > QuantileRelErr*math.Abs(p.want)+1e-6 {
				t.Errorf("case %d: quantile %v = %v, numpy %v", i, p.p, got, p.want)
			}
		}
	}
}

func TestMomentsIgnoresNonFinite(t *testing.T) {
	var m Moments
	m.Add([]float64{1, math.NaN(), 3, math.Inf(1)})
	if m.N() != 2 || m.Mean() != 2 || m.Std() != 1 || m.NonFinite() != 2 {
		t.Fatalf("got n %d mean %v std %v non-finite %d", m.N(), m.Mean(), m.Std(), m.NonFinite())
	}
	// Chunking does not change the result, bit for bit.
	x := testSignal(20000, 256, 4)
	var a, b Moments
	a.Add(x)
	for i := 0; i < len(x); i += 777 {
		b.Add(x[i:min(len(x), i+777)])
	}
	if a.Mean() != b.Mean() || a.Std() != b.Std() || a.N() != 20000 {
		t.Fatalf("chunked moments differ: %v %v vs %v %v", a.Mean(), a.Std(), b.Mean(), b.Std())
	}
	q := NewQuantiles()
	if !math.IsNaN(q.Quantile(0.5)) {
		t.Fatal("empty quantiles should be NaN")
	}
	q.Add([]float64{-1, math.NaN(), -3, -2})
	if got := q.Quantile(0.5); math.Abs(got+2) > 2*QuantileRelErr {
		t.Fatalf("median of negatives %v, want -2", got)
	}
}

func TestDesignErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"upper edge at Nyquist", func() error { _, err := Butter(3, Bandpass, 0.5, 128, 256); return err }(), "high edge 128 Hz must be in (0, 128)"},
		{"edges reversed", func() error { _, err := Butter(3, Bandpass, 40, 10, 256); return err }(), "below high edge"},
		{"order 0", func() error { _, err := Butter(0, Lowpass, 0, 10, 256); return err }(), "order 0"},
		{"bad fs", func() error { _, err := Butter(2, Lowpass, 0, 10, math.NaN()); return err }(), "sample rate"},
		{"notch above Nyquist", func() error { _, err := Notch(60, 30, 100); return err }(), "frequency 60 Hz"},
		{"notch Q", func() error { _, err := Notch(50, 0, 256); return err }(), "quality factor"},
		{"polyphase", func() error { _, err := NewPolyphase(0, 3); return err }(), "at least 1"},
		{"pad name", func() error { _, err := ParsePad("mean"); return err }(), "unknown resampler padding"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: err %v, want it to contain %q", tt.name, tt.err, tt.want)
		}
	}
}

func TestInnerLoopsDoNotAllocate(t *testing.T) {
	sos, _ := Butter(3, Bandpass, 0.5, 120, 256)
	x := testSignal(4096, 250, 5)
	p, _ := NewPolyphase(128, 125)
	rs := p.NewResampler(PadEdge)
	out := make([]float64, 0, 8192)
	out = rs.Process(out[:0], x) // warm up
	if a := testing.AllocsPerRun(20, func() { out = rs.Process(out[:0], x) }); a != 0 {
		t.Errorf("Resampler.Process: %v allocations per call", a)
	}
	f, _ := NewSOSFilter(sos)
	y := make([]float64, len(x))
	if a := testing.AllocsPerRun(20, func() { f.Process(y, x) }); a != 0 {
		t.Errorf("SOSFilter.Process: %v allocations per call", a)
	}
	z, _ := NewZeroPhase(sos)
	zout := make([]float64, 0, 1<<16)
	for i := 0; i < 20; i++ {
		zout = z.Process(zout[:0], x) // warm up buffers
	}
	if a := testing.AllocsPerRun(20, func() { zout = z.Process(zout[:0], x) }); a != 0 {
		t.Errorf("ZeroPhase.Process: %v allocations per call", a)
	}
}

func TestSOSBankMatchesFilters(t *testing.T) {
	sos, _ := Butter(3, Bandpass, 0.5, 120, 256)
	for _, nch := range []int{1, 2, 5} {
		bank, err := NewSOSBank(sos, nch)
		if err != nil {
			t.Fatal(err)
		}
		x := make([][]float64, nch)
		var want [][]float64
		for c := range x {
			x[c] = testSignal(3000, 256, uint64(c))
			bank.SetSteadyState(c, x[c][0])
			w, _ := SOSFiltSteady(sos, x[c])
			want = append(want, w)
		}
		for i := 0; i < 3000; i += 1000 {
			chunk := make([][]float64, nch)
			for c := range x {
				chunk[c] = x[c][i : i+1000]
			}
			bank.Process(chunk)
		}
		for c := range x {
			for i := range x[c] {
				if x[c][i] != want[c][i] {
					t.Fatalf("%d channels: channel %d sample %d: bank %v, filter %v", nch, c, i, x[c][i], want[c][i])
				}
			}
		}
	}
}
