package dsp

import "fmt"

// SteadyState returns scipy.signal.sosfilt_zi(sos): the per-section state
// (direct form II transposed) of the cascade after an infinitely long
// constant input of 1. Scaled by a signal's first sample it starts a filter
// without a transient from the signal's offset.
func SteadyState(sos SOS) [][2]float64 {
	zi := make([][2]float64, len(sos))
	scale := 1.0
	for i, s := range sos {
		b0, b1, b2 := s[0]/s[3], s[1]/s[3], s[2]/s[3]
		a1, a2 := s[4]/s[3], s[5]/s[3]
		// Solve zi = A zi + B for the 2-state companion form (lfilter_zi).
		B0, B1 := b1-a1*b0, b2-a2*b0
		z0 := (B0 + B1) / (1 + a1 + a2)
		z1 := B1 - a2*z0
		zi[i] = [2]float64{scale * z0, scale * z1}
		scale *= (s[0] + s[1] + s[2]) / (s[3] + s[4] + s[5])
	}
	return zi
}

// SOSFilter applies a cascade of second-order sections causally
// (scipy.signal.sosfilt), keeping its state between calls so that a signal
// may be filtered in chunks of any size with the same result as in one call.
// It is not safe for concurrent use.
type SOSFilter struct {
	sos   SOS
	zi    [][2]float64 // steady state for a unit input
	state [][2]float64
}

// NewSOSFilter returns a filter for sos with zero initial state.
func NewSOSFilter(sos SOS) (*SOSFilter, error) {
	if err := sos.Validate(); err != nil {
		return nil, err
	}
	s := append(SOS(nil), sos...)
	return &SOSFilter{sos: s, zi: SteadyState(s), state: make([][2]float64, len(s))}, nil
}

// Reset sets the state to zero (scipy's default: zi = None).
func (f *SOSFilter) Reset() {
	for i := range f.state {
		f.state[i] = [2]float64{}
	}
}

// SetSteadyState sets the state to the steady state for a constant input x0
// (sosfilt_zi(sos) * x0): the filter behaves as if the signal had been x0
// forever before its first sample.
func (f *SOSFilter) SetSteadyState(x0 float64) {
	for i, z := range f.zi {
		f.state[i] = [2]float64{z[0] * x0, z[1] * x0}
	}
}

// State returns a copy of the filter state, one pair per section.
func (f *SOSFilter) State() [][2]float64 { return append([][2]float64(nil), f.state...) }

// Process filters src into dst (len(dst) must be len(src); dst may be src).
// It does not allocate.
func (f *SOSFilter) Process(dst, src []float64) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("dsp: SOSFilter.Process: len(dst) %d != len(src) %d", len(dst), len(src)))
	}
	in := src
	for i := range f.sos {
		s := &f.sos[i]
		b0, b1, b2, a1, a2 := s[0], s[1], s[2], s[4], s[5]
		z0, z1 := f.state[i][0], f.state[i][1]
		for n, x := range in {
			dst[n], z0, z1 = biquad(b0, b1, b2, a1, a2, x, z0, z1)
		}
		f.state[i] = [2]float64{z0, z1}
		in = dst
	}
	if len(f.sos) == 0 {
		copy(dst, src)
	}
}

// biquad is one step of a section in direct form II transposed: output y for
// input x and the new state.
func biquad(b0, b1, b2, a1, a2, x, z0, z1 float64) (y, nz0, nz1 float64) {
	y = b0*x + z0
	return y, b1*x - a1*y + z1, b2*x - a2*y
}

// processReverse filters src backwards in time: dst[n] is the output for
// src[n] when the signal is fed from its last sample to its first.
func (f *SOSFilter) processReverse(dst, src []float64) {
	in := src
	for i := range f.sos {
		s := &f.sos[i]
		b0, b1, b2, a1, a2 := s[0], s[1], s[2], s[4], s[5]
		z0, z1 := f.state[i][0], f.state[i][1]
		for n := len(in) - 1; n >= 0; n-- {
			dst[n], z0, z1 = biquad(b0, b1, b2, a1, a2, in[n], z0, z1)
		}
		f.state[i] = [2]float64{z0, z1}
		in = dst
	}
}

// SOSFilt filters x causally with zero initial state and returns the
// output (scipy.signal.sosfilt(sos, x)).
func SOSFilt(sos SOS, x []float64) ([]float64, error) {
	f, err := NewSOSFilter(sos)
	if err != nil {
		return nil, err
	}
	y := make([]float64, len(x))
	f.Process(y, x)
	return y, nil
}

// SOSFiltSteady filters x causally starting in the steady state of its first
// sample (scipy.signal.sosfilt(sos, x, zi=sosfilt_zi(sos)*x[0])).
func SOSFiltSteady(sos SOS, x []float64) ([]float64, error) {
	f, err := NewSOSFilter(sos)
	if err != nil {
		return nil, err
	}
	y := make([]float64, len(x))
	if len(x) > 0 {
		f.SetSteadyState(x[0])
	}
	f.Process(y, x)
	return y, nil
}

// DefaultPadLen is scipy.signal.sosfiltfilt's default edge padding for sos:
// three times the number of filter taps, where sections that are really
// first order (b2 = a2 = 0) count one tap less.
func DefaultPadLen(sos SOS) int {
	ntaps := 2*len(sos) + 1
	zb, za := 0, 0
	for _, s := range sos {
		if s[2] == 0 {
			zb++
		}
		if s[5] == 0 {
			za++
		}
	}
	return 3 * (ntaps - min(zb, za))
}

// SOSFiltFilt is scipy.signal.sosfiltfilt(sos, x) with its defaults: the
// signal is extended at both ends by DefaultPadLen(sos) samples of odd
// reflection, filtered forwards from the steady state of its first sample,
// then backwards from the steady state of the last forward output, and the
// extension is cut off. The signal must be longer than the padding.
func SOSFiltFilt(sos SOS, x []float64) ([]float64, error) {
	f, err := NewSOSFilter(sos)
	if err != nil {
		return nil, err
	}
	pad := DefaultPadLen(sos)
	n := len(x)
	if n <= pad {
		return nil, fmt.Errorf("zero-phase filter: signal of %d samples is too short: it must be longer than the padding of %d samples", n, pad)
	}
	ext := make([]float64, n+2*pad)
	for i := 0; i < pad; i++ {
		ext[i] = 2*x[0] - x[pad-i]
		ext[pad+n+i] = 2*x[n-1] - x[n-2-i]
	}
	copy(ext[pad:], x)
	f.SetSteadyState(ext[0])
	f.Process(ext, ext)
	f.SetSteadyState(ext[len(ext)-1])
	f.processReverse(ext, ext)
	return ext[pad : pad+n : pad+n], nil
}
