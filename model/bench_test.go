package model

import (
	"testing"
)

// BenchmarkDemoStep is one training step (forward + backward) of the demo
// profile on a batch of 16 windows of 19 × 2048 samples (8 s at 256 Hz).
func BenchmarkDemoStep(b *testing.B) {
	const batch, ch, l = 16, 19, 2048
	n, err := New(Demo(), ch, l, 1)
	if err != nil {
		b.Fatal(err)
	}
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
