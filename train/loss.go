package train

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Loss is binary cross-entropy with logits, with a positive-class weight
// and focal modulation: for a sample with logit z and label y, with
// p_t = σ(z) when y = 1 and 1-σ(z) when y = 0,
//
//	ℓ = w_t · (1 - p_t)^γ · (-log p_t),  w_t = α·PosWeight (y = 1), 1-α (y = 0)
//
// (α < 0: w_t = PosWeight for y = 1, 1 for y = 0). γ = 0 and α < 0 is
// PyTorch's BCEWithLogitsLoss(pos_weight). Computed in float64 with
// log-sigmoid, so no logit overflows it.
type Loss struct {
	PosWeight, Alpha, Gamma float64
}

// lossChunk is the number of samples one goroutine handles at a time;
// chunk sums are added in chunk order, so the result does not depend on
// scheduling.
const lossChunk = 1 << 15

// Eval adds scale·dℓ/dz of every sample to grad and returns the sum of ℓ
// over the samples. Labels >= 0.5 are seizure. Chunks of samples run in
// parallel; their sums are added in order, so the result is the same on
// every run. A non-finite logit makes the sum non-finite.
func (l Loss) Eval(z, y, grad []float32, scale float64) float64 {
	return l.chunked(z, y, grad, scale)
}

// Value returns the summed loss without gradients.
func (l Loss) Value(z, y []float32) float64 {
	return l.chunked(z, y, nil, 0)
}

func (l Loss) chunked(z, y, grad []float32, scale float64) float64 {
	n := (len(z) + lossChunk - 1) / lossChunk
	sums := make([]float64, n)
	work := func(c int) {
		a, b := c*lossChunk, min((c+1)*lossChunk, len(z))
		var sum float64
		for i := a; i < b; i++ {
			v, g := l.sample(float64(z[i]), y[i] >= 0.5)
			sum += v
			if grad != nil {
				grad[i] += float32(scale * g)
			}
		}
		sums[c] = sum
	}
	if workers := min(runtime.GOMAXPROCS(0), n); workers <= 1 {
		for c := range n {
			work(c)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := int(next.Add(1)) - 1; c < n; c = int(next.Add(1)) - 1 {
					work(c)
				}
			}()
		}
		wg.Wait()
	}
	var total float64
	for _, s := range sums {
		total += s
	}
	return total
}

// sample returns ℓ and dℓ/dz of one sample.
func (l Loss) sample(z float64, pos bool) (loss, grad float64) {
	s, w := -1.0, 1.0
	if pos {
		s, w = 1, l.PosWeight
	}
	if l.Alpha >= 0 {
		if pos {
			w *= l.Alpha
		} else {
			w *= 1 - l.Alpha
		}
	}
	u := s * z
	// With e = exp(-|u|): log σ(u) = min(u, 0) - log1p(e), and σ(u),
	// σ(-u) from e without overflow.
	e := math.Exp(-math.Abs(u))
	logPt := math.Min(u, 0) - math.Log1p(e)
	var pt, q float64 // σ(u), 1 - σ(u)
	if u >= 0 {
		pt = 1 / (1 + e)
		q = e * pt
	} else {
		q = 1 / (1 + e)
		pt = e * q
	}
	mod := 1.0
	switch l.Gamma {
	case 0:
	case 1:
		mod = q
	case 2:
		mod = q * q
	default:
		mod = math.Pow(q, l.Gamma)
	}
	loss = -w * mod * logPt
	grad = w * s * (l.Gamma*pt*mod*logPt - mod*q)
	return loss, grad
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
