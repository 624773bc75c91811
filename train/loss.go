package train

import "math"

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

// Eval adds scale·dℓ/dz of every sample to grad and returns the sum of ℓ
// over the samples (summed in index order). Labels >= 0.5 are seizure.
// A non-finite logit makes the sum non-finite.
func (l Loss) Eval(z, y, grad []float32, scale float64) float64 {
	var sum float64
	for i, zi := range z {
		v, g := l.sample(float64(zi), y[i] >= 0.5)
		sum += v
		grad[i] += float32(scale * g)
	}
	return sum
}

// Value returns the summed loss without gradients.
func (l Loss) Value(z, y []float32) float64 {
	var sum float64
	for i, zi := range z {
		v, _ := l.sample(float64(zi), y[i] >= 0.5)
		sum += v
	}
	return sum
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
	logPt := -softplus(-u) // log σ(u)
	q := sigmoid(-u)       // 1 - p_t
	pt := sigmoid(u)
	var mod float64 = 1
	if l.Gamma != 0 {
		mod = math.Pow(q, l.Gamma)
	}
	loss = -w * mod * logPt
	grad = w * s * (l.Gamma*pt*mod*logPt - mod*q)
	return loss, grad
}

func softplus(x float64) float64 {
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
