package train

import (
	"math"
	"testing"

	"github.com/pipeml/pipe/model"
)

// BenchmarkLoss is the focal BCE of one a100-profile batch (64 windows of
// 15360 samples) with its gradient.
func BenchmarkLoss(b *testing.B) {
	n := 64 * 15360
	z, y, g := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range z {
		z[i] = float32(math.Sin(float64(i))) * 4
		if i%7 == 0 {
			y[i] = 1
		}
	}
	l := Loss{PosWeight: 2, Alpha: 0.25, Gamma: 2}
	b.SetBytes(int64(n) * 4)
	for b.Loop() {
		l.Eval(z, y, g, 1/float64(n))
	}
}

// BenchmarkAdamW is one optimiser step (norm, clipping factor, update) on
// 10 million parameters.
func BenchmarkAdamW(b *testing.B) {
	var ps []*model.Param
	for i := 0; i < 10; i++ {
		w, g := make([]float32, 1<<20), make([]float32, 1<<20)
		for j := range g {
			g[j] = float32(j%13) * 1e-3
		}
		ps = append(ps, &model.Param{Name: string(rune('a' + i)), Shape: []int{1 << 20}, W: w, G: g, Decay: i%2 == 0})
	}
	o := NewAdamW(ps, 0.9, 0.999, 1e-8, 0.01)
	b.SetBytes(10 << 22)
	for b.Loop() {
		norm, _ := GradNorm(ps)
		o.Update(ps, 1e-4, ClipScale(norm, 0.5))
	}
}
