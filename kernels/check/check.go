// Package check runs kernel cases on any kernels.Backend and compares
// them with the float64 references of kernels/ref: forward outputs
// elementwise, backward gradients against central finite differences of
// the float64 forward (every coordinate, or one random direction per input
// for large shapes). Outputs are poisoned with NaN before each op so an
// element left unwritten fails the comparison. It is used by the unit tests
// and by the test_kernels stage.
package check

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/pipeml/pipe/kernels"
)

// Array is one named input of a case.
type Array struct {
	Name string
	Data []float32
	// Grad marks inputs whose gradient the case's backward computes.
	Grad bool
}

// Output is one output of a case's forward.
type Output struct {
	Name string
	Len  int
	// Cot marks outputs that the loss Σ out·cot differentiates (the rest
	// are saved intermediates such as mean/rstd).
	Cot bool
	// NoCheck skips comparing this output with the reference (the
	// reference returns nil for it).
	NoCheck bool
}

// Case is one op (or composite) at one shape.
type Case struct {
	Name string
	In   []Array
	Out  []Output
	// Ref computes every output in float64 from the inputs (nil entries
	// for NoCheck outputs).
	Ref func(in [][]float64) [][]float64
	// Fwd runs the op on a backend: in and out are allocated and filled
	// (out with NaN) by the checker.
	Fwd func(b kernels.Backend, in, out []kernels.Buffer) error
	// Bwd runs the backward: gout holds the cotangents of Cot outputs (nil
	// for the others), gin the gradient buffers of Grad inputs (nil for
	// the others). Nil when the case has no backward.
	Bwd func(b kernels.Backend, in, out, gout, gin []kernels.Buffer) error
	// Flops and Bytes estimate the forward's work and memory traffic;
	// BwdFlops and BwdBytes the backward's (for GFLOP/s and GB/s).
	Flops, Bytes, BwdFlops, BwdBytes float64
	// Tol is the largest accepted error of the forward relative to the
	// output's largest magnitude (0: 1e-4); GradTol that of the gradients
	// (0: 1e-4).
	Tol, GradTol float64
}

// Result is the outcome of running one case.
type Result struct {
	Name string
	// FwdErr and BwdErr are the largest errors relative to the largest
	// reference magnitude (outputs) and to the gradient check's scale.
	FwdErr, BwdErr float64
	// FwdTime and BwdTime are the wall-clock times of one forward and one
	// backward (best of Repeat).
	FwdTime, BwdTime time.Duration
	Flops, Bytes     float64 // forward + backward
	HasBwd           bool
	// Err describes the first failure (mismatch, non-finite value, backend
	// error); nil when the case passed.
	Err error
}

// Options control Run.
type Options struct {
	// FullFD checks every gradient coordinate against finite differences
	// (small shapes only); otherwise one random direction per input.
	FullFD bool
	// Repeat times each op this many times and keeps the best (>= 1).
	Repeat int
	Seed   uint64
}

// Run runs c on b and checks it.
func Run(b kernels.Backend, c Case, o Options) Result {
	res := Result{Name: c.Name, Flops: c.Flops + c.BwdFlops, Bytes: c.Bytes + c.BwdBytes, HasBwd: c.Bwd != nil}
	res.Err = run(b, c, o, &res)
	return res
}

func run(b kernels.Backend, c Case, o Options, res *Result) (err error) {
	if o.Repeat < 1 {
		o.Repeat = 1
	}
	tol, gtol := c.Tol, c.GradTol
	if tol == 0 {
		tol = 1e-4
	}
	if gtol == 0 {
		gtol = 1e-4
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x6b65726e656c73))
	var bufs []kernels.Buffer
	defer func() {
		for _, x := range bufs {
			if e := b.Free(x); e != nil && err == nil {
				err = e
			}
		}
	}()
	alloc := func(data []float32) (kernels.Buffer, error) {
		x, err := b.Alloc(len(data))
		if err != nil {
			return nil, err
		}
		bufs = append(bufs, x)
		return x, b.Upload(x, data)
	}
	nan := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(math.NaN())
		}
		return s
	}
	in := make([]kernels.Buffer, len(c.In))
	in64 := make([][]float64, len(c.In))
	for i, a := range c.In {
		if in[i], err = alloc(a.Data); err != nil {
			return fmt.Errorf("%s: input %s: %w", c.Name, a.Name, err)
		}
		in64[i] = f64(a.Data)
	}
	out := make([]kernels.Buffer, len(c.Out))
	for i, a := range c.Out {
		if out[i], err = alloc(nan(a.Len)); err != nil {
			return fmt.Errorf("%s: output %s: %w", c.Name, a.Name, err)
		}
	}
	var best time.Duration
	for k := 0; k < o.Repeat; k++ {
		t0 := time.Now()
		if err := c.Fwd(b, in, out); err != nil {
			return fmt.Errorf("%s: forward: %w", c.Name, err)
		}
		if err := b.Sync(); err != nil {
			return err
		}
		if d := time.Since(t0); k == 0 || d < best {
			best = d
		}
	}
	res.FwdTime = best
	want := c.Ref(in64)
	got := make([][]float32, len(c.Out))
	for i, a := range c.Out {
		got[i] = make([]float32, a.Len)
		if err := b.Download(got[i], out[i]); err != nil {
			return err
		}
		if a.NoCheck {
			continue
		}
		e, err := relErr(got[i], want[i])
		res.FwdErr = math.Max(res.FwdErr, e)
		if err != nil {
			return fmt.Errorf("%s: output %s: %w", c.Name, a.Name, err)
		}
		if e > tol {
			return fmt.Errorf("%s: output %s: error %.3g relative to max|want| exceeds %.1g", c.Name, a.Name, e, tol)
		}
	}
	if c.Bwd == nil {
		return nil
	}
	gout := make([]kernels.Buffer, len(c.Out))
	cots := make([][]float64, len(c.Out))
	for i, a := range c.Out {
		if !a.Cot {
			continue
		}
		cot := make([]float32, a.Len)
		for j := range cot {
			cot[j] = float32(2*r.Float64() - 1)
		}
		cots[i] = f64(cot)
		if gout[i], err = alloc(cot); err != nil {
			return err
		}
	}
	gin := make([]kernels.Buffer, len(c.In))
	for i, a := range c.In {
		if a.Grad {
			if gin[i], err = alloc(nan(len(a.Data))); err != nil {
				return err
			}
		}
	}
	best = 0
	for k := 0; k < o.Repeat; k++ {
		t0 := time.Now()
		if err := c.Bwd(b, in, out, gout, gin); err != nil {
			return fmt.Errorf("%s: backward: %w", c.Name, err)
		}
		if err := b.Sync(); err != nil {
			return err
		}
		if d := time.Since(t0); k == 0 || d < best {
			best = d
		}
	}
	res.BwdTime = best
	loss := func() float64 {
		outs := c.Ref(in64)
		s := 0.0
		for i, cot := range cots {
			for j, v := range cot {
				s += v * outs[i][j]
			}
		}
		return s
	}
	for i, a := range c.In {
		if !a.Grad {
			continue
		}
		g := make([]float32, len(a.Data))
		if err := b.Download(g, gin[i]); err != nil {
			return err
		}
		for j, v := range g {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s: gradient of %s: element %d is %g (not written or not finite)", c.Name, a.Name, j, v)
			}
		}
		var e float64
		if o.FullFD && len(g) <= 2000 {
			num := make([]float64, len(g))
			for j := range num {
				num[j] = fd(in64[i], j, nil, loss)
			}
			e, err = relErr(g, num)
		} else {
			dir := make([]float64, len(g))
			for j := range dir {
				dir[j] = 2*r.Float64() - 1
			}
			num := fd(in64[i], -1, dir, loss)
			ana, scale := 0.0, 0.0
			for j, v := range g {
				ana += float64(v) * dir[j]
				scale += math.Abs(float64(v) * dir[j])
			}
			e = math.Abs(ana-num) / math.Max(scale, 1e-30)
		}
		res.BwdErr = math.Max(res.BwdErr, e)
		if err != nil {
			return fmt.Errorf("%s: gradient of %s: %w", c.Name, a.Name, err)
		}
		if e > gtol {
			return fmt.Errorf("%s: gradient of %s: error %.3g against finite differences exceeds %.1g", c.Name, a.Name, e, gtol)
		}
	}
	return nil
}

// fd returns the central difference of loss at x along coordinate j (j >=
// 0) or along dir.
func fd(x []float64, j int, dir []float64, loss func() float64) float64 {
	scale := 0.0
	for _, v := range x {
		scale = math.Max(scale, math.Abs(v))
	}
	h := 1e-6 * math.Max(scale, 1e-2)
	old := append([]float64(nil), x...)
	step := func(s float64) {
		if j >= 0 {
			x[j] = old[j] + s*h
			return
		}
		for k := range x {
			x[k] = old[k] + s*h*dir[k]
		}
	}
	step(1)
	fp := loss()
	step(-1)
	fm := loss()
	copy(x, old)
	return (fp - fm) / (2 * h)
}

// relErr returns max|got−want| / max|want| and an error for a non-finite
// value in got.
func relErr(got []float32, want []float64) (float64, error) {
	if len(got) != len(want) {
		return math.Inf(1), fmt.Errorf("%d values, reference has %d", len(got), len(want))
	}
	mx, d := 0.0, 0.0
	for i, g := range got {
		if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
			return math.Inf(1), fmt.Errorf("element %d is %g (not written or not finite)", i, g)
		}
		mx = math.Max(mx, math.Abs(want[i]))
		d = math.Max(d, math.Abs(float64(g)-want[i]))
	}
	// Arrays that are zero up to float64 noise (a gradient that vanishes
	// analytically) are compared absolutely.
	return d / math.Max(mx, 1e-6), nil
}

func f64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}
