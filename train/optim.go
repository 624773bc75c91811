package train

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pipeml/pipe/model"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter): for
// each parameter with gradient g at step t (from 1),
//
//	m = β1·m + (1-β1)·g,  v = β2·v + (1-β2)·g²
//	w -= lr · (m/(1-β1^t)) / (sqrt(v/(1-β2^t)) + ε) + lr·λ·w   (λ only where Param.Decay)
//
// as torch.optim.AdamW computes it (decay first, then the Adam update).
// Moments are float32, one pair per parameter value.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// Step counts the updates made.
	Step int64
	M, V [][]float32
}

// NewAdamW returns an optimiser with zero moments for params.
func NewAdamW(params []*model.Param, beta1, beta2, eps, wd float64) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: wd}
	for _, p := range params {
		o.M = append(o.M, make([]float32, len(p.W)))
		o.V = append(o.V, make([]float32, len(p.W)))
	}
	return o
}

// Update applies one step with learning rate lr, the gradients scaled by
// gscale (the clipping factor), to params. Slices of the parameters are
// updated in parallel; every value's update is independent of the others,
// so the result does not depend on scheduling.
func (o *AdamW) Update(params []*model.Param, lr, gscale float64) {
	o.Step++
	t := float64(o.Step)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := 1 - math.Pow(o.Beta2, t)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	stepSize := float32(lr / bc1)
	sq2 := float32(math.Sqrt(bc2))
	eps := float32(o.Eps)
	gs := float32(gscale)
	forSlices(params, func(_, k, a, b int) {
		p := params[k]
		m, v := o.M[k][a:b], o.V[k][a:b]
		w := p.W[a:b]
		decay := float32(1)
		if p.Decay && o.WeightDecay != 0 {
			decay = float32(1 - lr*o.WeightDecay)
		}
		for i, g := range p.G[a:b] {
			g *= gs
			m[i] = b1*m[i] + (1-b1)*g
			v[i] = b2*v[i] + (1-b2)*g*g
			denom := float32(math.Sqrt(float64(v[i])))/sq2 + eps
			w[i] = w[i]*decay - stepSize*m[i]/denom
		}
	})
}

// sliceLen is the number of parameter values one task covers.
const sliceLen = 1 << 16

// forSlices calls fn(task, param, from, to) for consecutive slices of at
// most sliceLen values of every parameter, on GOMAXPROCS goroutines. Task
// numbers follow parameter order.
func forSlices(params []*model.Param, fn func(task, k, a, b int)) {
	type slice struct{ k, a, b int }
	var tasks []slice
	for k, p := range params {
		for a := 0; a < len(p.W); a += sliceLen {
			tasks = append(tasks, slice{k, a, min(a+sliceLen, len(p.W))})
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(tasks))
	if workers <= 1 {
		for i, t := range tasks {
			fn(i, t.k, t.a, t.b)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(tasks); i = int(next.Add(1)) - 1 {
				fn(i, tasks[i].k, tasks[i].a, tasks[i].b)
			}
		}()
	}
	wg.Wait()
}

// Schedule is linear warmup from 0 over Warmup steps, then cosine decay
// from Peak to Peak·MinRatio at step Total.
type Schedule struct {
	Peak, MinRatio float64
	Warmup, Total  int64
}

// NewSchedule returns the schedule of total steps with warmupRatio of them
// warming up (rounded up).
func NewSchedule(peak, minRatio, warmupRatio float64, total int64) Schedule {
	w := int64(math.Ceil(warmupRatio * float64(total)))
	return Schedule{Peak: peak, MinRatio: minRatio, Warmup: w, Total: total}
}

// LR is the learning rate of step t (from 0).
func (s Schedule) LR(t int64) float64 {
	if t < s.Warmup {
		return s.Peak * float64(t+1) / float64(s.Warmup)
	}
	span := s.Total - s.Warmup
	if span <= 1 {
		return s.Peak
	}
	frac := math.Min(1, float64(t-s.Warmup)/float64(span-1))
	lo := s.Peak * s.MinRatio
	return lo + (s.Peak-lo)*0.5*(1+math.Cos(math.Pi*frac))
}

// GradNorm returns the global L2 norm of the gradients and the number of
// non-finite gradient values. Partial sums of squares (float64) over
// fixed slices are added in parameter order, so the result does not
// depend on scheduling.
func GradNorm(params []*model.Param) (norm float64, nonFinite int) {
	n := 0
	for _, p := range params {
		n += (len(p.W) + sliceLen - 1) / sliceLen
	}
	sums := make([]float64, n)
	bad := make([]int, n)
	forSlices(params, func(task, k, a, b int) {
		var ss float64
		for _, g := range params[k].G[a:b] {
			x := float64(g)
			if math.IsNaN(x) || math.IsInf(x, 0) {
				bad[task]++
				continue
			}
			ss += x * x
		}
		sums[task] = ss
	})
	var ss float64
	for i := range sums {
		ss += sums[i]
		nonFinite += bad[i]
	}
	return math.Sqrt(ss), nonFinite
}

// SanitizeGrads sets non-finite gradient values to zero and returns how
// many there were.
func SanitizeGrads(params []*model.Param) int {
	n := 0
	for _, p := range params {
		for i, g := range p.G {
			if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
				p.G[i] = 0
				n++
			}
		}
	}
	return n
}

// ClipScale is the factor that brings a gradient of the given norm down to
// maxNorm (1 when it is within, or maxNorm is 0), as
// torch.nn.utils.clip_grad_norm_ computes it.
func ClipScale(norm, maxNorm float64) float64 {
	if maxNorm <= 0 || norm <= maxNorm {
		return 1
	}
	return maxNorm / (norm + 1e-6)
}
