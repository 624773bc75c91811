package cache

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSignal makes C channels of n samples: a sine with noise, with a quiet
// stretch and a loud burst so that per-block scales differ.
func testSignal(c, n int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([][]float32, c)
	for ch := range x {
		x[ch] = make([]float32, n)
		for i := range x[ch] {
			v := 2*math.Sin(float64(i)/9+float64(ch)) + 0.3*rng.NormFloat64()
			if i > n/3 && i < n/2 {
				v *= 0.001
			}
			if i > 2*n/3 && i < 2*n/3+50 {
				v *= 4
			}
			x[ch][i] = float32(v)
		}
	}
	return x
}

func writeTestRecording(t testing.TB, path string, x [][]float32, block int, enc string) {
	t.Helper()
	w, err := CreateRecording(path, len(x), block, enc)
	if err != nil {
		t.Fatal(err)
	}
	n := len(x[0])
	for at, k := 0, 1; at < n; k = k*3 + 1 { // uneven chunks
		e := min(n, at+k)
		chunk := make([][]float32, len(x))
		for c := range x {
			chunk[c] = x[c][at:e]
		}
		if err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		at = e
	}
	names := make([]string, len(x))
	for c := range names {
		names[c] = string(rune('A' + c))
	}
	if err := w.Close(&RecordingMeta{ID: "r", Channels: names, Rate: 256}); err != nil {
		t.Fatal(err)
	}
}

func TestRecordingRoundTrip(t *testing.T) {
	const C, N = 5, 1000
	x := testSignal(C, N, 1)
	for _, enc := range []string{EncodingInt16, EncodingFloat16, EncodingFloat32} {
		for _, block := range []int{1, 64, 256, 999, 4096} {
			path := filepath.Join(t.TempDir(), "r.eegc")
			writeTestRecording(t, path, x, block, enc)
			r, err := OpenRecording(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.VerifyData(); err != nil {
				t.Fatal(err)
			}
			m := r.Meta()
			if m.Samples != N || m.DurationS != float64(N)/256 || m.Encoding != enc || m.BlockSamples != block {
				t.Fatalf("meta %+v", m)
			}
			all := make([]float32, C*N)
			if err := r.Read(0, N, all); err != nil {
				t.Fatal(err)
			}
			for c := 0; c < C; c++ {
				for i := 0; i < N; i++ {
					got, want := all[c*N+i], x[c][i]
					var tol float64
					switch enc {
					case EncodingInt16:
						// half a step of the block's scale
						b := i / block * block
						peak := 0.0
						for j := b; j < min(N, b+block); j++ {
							peak = math.Max(peak, math.Abs(float64(x[c][j])))
						}
						tol = peak/32767/2*1.001 + 1e-12
					case EncodingFloat16:
						tol = math.Abs(float64(want))*math.Pow(2, -11) + math.Pow(2, -25)
					}
					if math.Abs(float64(got-want)) > tol {
						t.Fatalf("%s block %d: channel %d sample %d: %g, wrote %g (tol %g)", enc, block, c, i, got, want, tol)
					}
				}
			}
			for _, rg := range [][2]int{{0, 1}, {17, 300}, {N - 1, 1}, {250, 500}, {0, N}} {
				part := make([]float32, C*rg[1])
				if err := r.Read(int64(rg[0]), rg[1], part); err != nil {
					t.Fatal(err)
				}
				for c := 0; c < C; c++ {
					for i := 0; i < rg[1]; i++ {
						if part[c*rg[1]+i] != all[c*N+rg[0]+i] {
							t.Fatalf("%s block %d range %v: differs at %d/%d", enc, block, rg, c, i)
						}
					}
				}
			}
			if err := r.Read(N-10, 11, make([]float32, C*11)); err == nil {
				t.Error("read past the end accepted")
			}
			r.Close()
		}
	}
}

func TestFloat16(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := halfToFloat32(h)
		if f != f || math.IsInf(float64(f), 0) {
			continue
		}
		if back := float32ToHalf(f); back != h && !(f == 0 && back&0x7fff == 0) {
			t.Fatalf("half %#04x -> %g -> %#04x", h, f, back)
		}
	}
	// Rounding: nearest, ties to even, against float64 arithmetic.
	rng := rand.New(rand.NewPCG(3, 4))
	for k := 0; k < 100000; k++ {
		v := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-6)))
		h := float32ToHalf(v)
		got := float64(halfToFloat32(h))
		// the neighbours of h must not be closer
		for _, nb := range []uint16{h - 1, h + 1} {
			if nb&0x7c00 == 0x7c00 || (nb^h)&0x8000 != 0 {
				continue
			}
			if d := math.Abs(float64(halfToFloat32(nb)) - float64(v)); d < math.Abs(got-float64(v)) {
				t.Fatalf("%g -> %g, but %g is closer", v, got, halfToFloat32(nb))
			}
		}
	}
}

func TestEncodingRejects(t *testing.T) {
	for _, c := range []struct {
		enc  string
		v    float32
		want string
	}{
		{EncodingInt16, float32(math.NaN()), "NaN"},
		{EncodingInt16, float32(math.Inf(1)), "infinite"},
		{EncodingFloat16, 70000, "not representable in float16"},
		{EncodingFloat16, float32(math.NaN()), "not representable"},
		{EncodingFloat32, float32(math.Inf(-1)), "not finite"},
	} {
		path := filepath.Join(t.TempDir(), "x.eegc")
		w, err := CreateRecording(path, 1, 4, c.enc)
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write([][]float32{{1, c.v, 2, 3}})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "samples 0..4") {
			t.Errorf("%s %g: %v", c.enc, c.v, err)
		}
		w.Abort()
		if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
			t.Errorf("abort left %d files", len(ents))
		}
	}
}

// TestCorruption: damaged files are refused with a message naming the file.
func TestCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.eegc")
	writeTestRecording(t, path, testSignal(3, 500, 2), 128, EncodingInt16)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damage := func(name string, f func(b []byte) []byte, want string, atOpen bool) {
		p := filepath.Join(dir, name)
		b := f(append([]byte(nil), good...))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := OpenRecording(p)
		if !atOpen {
			if err != nil {
				t.Fatalf("%s: open: %v", name, err)
			}
			err = r.VerifyData()
			r.Close()
		}
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
	damage("data.eegc", func(b []byte) []byte { b[preambleSize+100] ^= 1; return b }, "data checksum", false)
	damage("meta.eegc", func(b []byte) []byte { b[len(b)-5] ^= 1; return b }, "metadata checksum", true)
	damage("pre.eegc", func(b []byte) []byte { b[30] ^= 1; return b }, "preamble checksum", true)
	damage("magic.eegc", func(b []byte) []byte { b[0] = 'X'; return b }, "not a cache recording file", true)
	damage("short.eegc", func(b []byte) []byte { return b[:len(b)-10] }, "does not match the file size", true)
	damage("tiny.eegc", func(b []byte) []byte { return b[:100] }, "too short", true)
}
