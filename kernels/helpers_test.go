package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// rnd returns n values uniform in [lo, hi) in float32 and float64 (equal).
func rnd(r *rand.Rand, n int, lo, hi float64) ([]float32, []float64) {
	f := make([]float32, n)
	d := make([]float64, n)
	for i := range f {
		f[i] = float32(lo + (hi-lo)*r.Float64())
		d[i] = float64(f[i])
	}
	return f, d
}

// poisoned returns a CPU buffer of n NaNs: an op must overwrite every one.
func poisoned(n int) *Host {
	h := &Host{Data: make([]float32, n)}
	for i := range h.Data {
		h.Data[i] = float32(math.NaN())
	}
	return h
}

// closeTo compares got with want elementwise: |got−want| ≤ atol + rtol·|want|,
// with atol relative to the largest |want|.
func closeTo(t *testing.T, what string, got []float32, want []float64, rtol float64) {
	t.Helper()
	if err := compare(got, want, rtol); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func compare(got []float32, want []float64, rtol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	mx := 0.0
	for _, w := range want {
		mx = math.Max(mx, math.Abs(w))
	}
	atol := rtol * math.Max(mx, 1e-3)
	for i, g := range got {
		d := math.Abs(float64(g) - want[i])
		if !(d <= atol+rtol*math.Abs(want[i])) {
			return fmt.Errorf("element %d: got %g, want %g (|diff| %.3g, max|want| %.3g)", i, g, want[i], d, mx)
		}
	}
	return nil
}

func f64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// fdCheck compares analytic gradient grad of the scalar function f at x
// with central differences at a few random coordinates.
func fdCheck(t *testing.T, what string, r *rand.Rand, x []float64, grad []float64, f func() float64) {
	t.Helper()
	for k := 0; k < 6; k++ {
		i := r.IntN(len(x))
		old := x[i]
		h := 1e-6 * math.Max(1, math.Abs(old))
		x[i] = old + h
		fp := f()
		x[i] = old - h
		fm := f()
		x[i] = old
		num := (fp - fm) / (2 * h)
		if d := math.Abs(num - grad[i]); d > 1e-5*math.Max(1, math.Abs(num)) {
			t.Errorf("%s[%d]: analytic %g, finite difference %g", what, i, grad[i], num)
		}
	}
}
