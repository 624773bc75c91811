package model

import (
	"testing"

	"github.com/pipeml/pipe/kernels"
)

// BenchmarkDemoStep is one training step (forward + backward) of the demo
// profile on a batch of 16 windows of 19 × 2048 samples (8 s at 256 Hz).
func BenchmarkDemoStep(b *testing.B) {
	n, err := New(Demo(), 19, 2048, 1)
	if err != nil {
		b.Fatal(err)
	}
	benchStep(b, n)
}

// BenchmarkDemoStepEngine is BenchmarkDemoStep on the Backend engine with
// the CPU backend (GOMAXPROCS workers).
func BenchmarkDemoStepEngine(b *testing.B) {
	be := kernels.NewCPU(0)
	defer be.Close()
	n, err := NewEngine(Demo(), 19, 2048, 1, be, false)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	benchStep(b, n)
}

// BenchmarkDemoStepEngineCheckpoint is BenchmarkDemoStepEngine with
// activation checkpointing (one more Mamba-2 forward per step).
func BenchmarkDemoStepEngineCheckpoint(b *testing.B) {
	be := kernels.NewCPU(0)
	defer be.Close()
	n, err := NewEngine(Demo(), 19, 2048, 1, be, false)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if err := n.SetCheckpoint(true); err != nil {
		b.Fatal(err)
	}
	benchStep(b, n)
}

func benchStep(b *testing.B, n Net) {
	const batch, ch, l = 16, 19, 2048
	x := randInput(batch*ch*l, 1)
	dl := randInput(batch*l, 2)
	for i := range dl {
		dl[i] *= 1e-4
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.ZeroGrad()
		if _, err := n.Forward(x, batch, l, true, uint64(i)); err != nil {
			b.Fatal(err)
		}
		if err := n.Backward(dl); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "windows/s")
}

// BenchmarkJacobi19 is the Laplacian PE's cost per window step: one
// eigendecomposition of a 19×19 symmetric matrix.
func BenchmarkJacobi19(b *testing.B) {
	const n = 19
	src := make([]float64, n*n)
	x := randInput(n*n, 3)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			src[i*n+j], src[j*n+i] = float64(x[i*n+j]), float64(x[i*n+j])
		}
	}
	a, v := make([]float64, n*n), make([]float64, n*n)
	for i := 0; i < b.N; i++ {
		copy(a, src)
		jacobiEigen(a, v, n)
	}
}

// countingBackend counts the bytes its Alloc hands out (live and peak).
type countingBackend struct {
	kernels.Backend
	live, peak int64
}

func (c *countingBackend) Alloc(n int) (kernels.Buffer, error) {
	b, err := c.Backend.Alloc(n)
	if err == nil {
		c.live += 4 * int64(n)
		c.peak = max(c.peak, c.live)
	}
	return b, err
}

func (c *countingBackend) Free(b kernels.Buffer) error {
	if b != nil {
		c.live -= 4 * int64(b.Len())
	}
	return c.Backend.Free(b)
}

// BenchmarkEngineMemoryA100 measures the backend memory the engine
// allocates for a training step of the a100 profile (fp32) at two small
// batches of 60 steps on the CPU backend, and extrapolates linearly in
// batch × steps (every activation is linear in it) to the profile's batch
// of 64 windows of 960 steps, without and with activation checkpointing.
// It reports GB (peak of Alloc minus Free; the backends' own scratch is not
// included).
func BenchmarkEngineMemoryA100(b *testing.B) {
	c := A100()
	c.Device, c.Precision = "cpu", "fp32"
	const ch = 19
	T := 60 * c.Downsample
	peak := func(batch int, ckpt bool) float64 {
		cb := &countingBackend{Backend: kernels.NewCPU(0)}
		defer cb.Backend.Close()
		e, err := NewEngine(c, ch, T, 1, cb, false)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		if err := e.SetCheckpoint(ckpt); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Forward(randInput(batch*ch*T, 1), batch, T, true, 1); err != nil {
			b.Fatal(err)
		}
		if err := e.Backward(randInput(batch*T, 2)); err != nil {
			b.Fatal(err)
		}
		return float64(cb.peak)
	}
	for i := 0; i < b.N; i++ {
		for _, ckpt := range []bool{false, true} {
			p1, p2 := peak(1, ckpt), peak(2, ckpt)
			perWindowStep := (p2 - p1) / 60
			fixed := p1 - 60*perWindowStep
			unit := ""
			if ckpt {
				unit = "-ckpt"
			}
			b.ReportMetric(fixed/1e9, "GB-fixed"+unit)
			b.ReportMetric(perWindowStep/1e6, "MB/window-step"+unit)
			b.ReportMetric((fixed+64*960*perWindowStep)/1e9, "GB@batch64"+unit)
		}
	}
}
