package model

import (
	"math"
	"math/rand/v2"
)

// paramSet creates a model's parameters in order, initialised from one
// PCG stream.
type paramSet struct {
	list []*Param
	rng  *rand.Rand
}

func newParamSet(seed uint64) *paramSet {
	return &paramSet{rng: rand.New(rand.NewPCG(seed, 0x6d6f64656c5633))}
}

func (ps *paramSet) add(name string, shape []int, decay bool) *Param {
	n := 1
	for _, s := range shape {
		n *= s
	}
	p := &Param{Name: name, Shape: append([]int(nil), shape...), W: make([]float32, n), G: make([]float32, n), Decay: decay}
	ps.list = append(ps.list, p)
	return p
}

// uniform is torch.nn.Linear's default: U(−bound, bound), bound = 1/√fan_in.
func (ps *paramSet) uniform(name string, shape []int, bound float64, decay bool) *Param {
	p := ps.add(name, shape, decay)
	for i := range p.W {
		p.W[i] = float32((2*ps.rng.Float64() - 1) * bound)
	}
	return p
}

func (ps *paramSet) fill(name string, shape []int, v float32, decay bool) *Param {
	p := ps.add(name, shape, decay)
	for i := range p.W {
		p.W[i] = v
	}
	return p
}

// normal draws N(0, std²).
func (ps *paramSet) normal(name string, shape []int, std float64, decay bool) *Param {
	p := ps.add(name, shape, decay)
	for i := range p.W {
		p.W[i] = float32(ps.rng.NormFloat64() * std)
	}
	return p
}

// ParamCount is the number of trainable scalars of a configuration for
// windows of the given number of channels (it does not depend on the
// window length).
func ParamCount(c Config, channels int) (int, error) {
	n, err := New(c, channels, c.Downsample, 1)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, p := range n.Params() {
		total += len(p.W)
	}
	return total, nil
}

// He-style standard deviation for a ReLU layer with the given fan-in.
func heStd(fanIn int) float64 { return math.Sqrt(2 / float64(fanIn)) }
