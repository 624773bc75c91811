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
