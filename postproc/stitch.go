// Package postproc turns a detector's window predictions into seizure events:
// Stitcher averages overlapping window predictions into one probability
// trace per recording, and Config.Events binarises a trace (hysteresis,
// persistence, morphology) and shapes the resulting events (gap merging,
// minimum and maximum duration).
//
// Time convention: a trace at Rate samples per second has sample i covering
// [i/Rate, (i+1)/Rate); events are half-open intervals in seconds.
package postproc

import (
	"fmt"
	"math"
)

// Trace is one recording's probability of seizure, one value per sample.
type Trace struct {
	// Rate is samples per second (> 0).
	Rate float64
	// P holds probabilities in [0, 1], P[i] covering [i/Rate, (i+1)/Rate).
	P []float64
}

// Duration is the time the trace covers, len(P)/Rate seconds.
func (t Trace) Duration() float64 { return float64(len(t.P)) / t.Rate }

// Stitcher accumulates the predictions of overlapping windows of one
// recording and averages them into a Trace: each sample's value is the
// arithmetic mean (in float64) of every prediction that covers it, so a
// sample seen by three windows counts once with the mean of three values.
//
// Windows are placed by integer sample index at the trace rate, so
// alignment is exact. Predictions past the end of the recording are
// dropped: the last window may run past the end, and a recording shorter
// than one window is covered by one padded window whose tail is ignored.
type Stitcher struct {
	rate float64
	sum  []float64
	n    []uint32
}

// NewStitcher returns a Stitcher for a recording of nSamples samples at rate
// samples per second.
func NewStitcher(nSamples int, rate float64) (*Stitcher, error) {
	if nSamples < 0 {
		return nil, fmt.Errorf("stitch: negative length %d", nSamples)
	}
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil, fmt.Errorf("stitch: rate %v is not a positive number", rate)
	}
	return &Stitcher{rate: rate, sum: make([]float64, nSamples), n: make([]uint32, nSamples)}, nil
}

// Add records a window whose first prediction is for sample start and
// which predicts probs[k] for sample start+k. Predictions for samples at or
// past the recording's end are ignored. Probabilities must lie in [0, 1].
func (s *Stitcher) Add(start int, probs []float32) error {
	if start < 0 || start >= len(s.sum) && len(probs) > 0 {
		return fmt.Errorf("stitch: window starts at sample %d, outside the recording's %d samples", start, len(s.sum))
	}
	for k, p := range probs {
		i := start + k
		if i >= len(s.sum) {
			break
		}
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("stitch: window at sample %d: prediction %d is %v, not a probability", start, k, p)
		}
		s.sum[i] += float64(p)
		s.n[i]++
	}
	return nil
}

// AddConst records a window of length samples starting at start that
// predicts the single probability p for all of them (a detector with one
// output per window).
func (s *Stitcher) AddConst(start, length int, p float32) error {
	if length < 0 {
		return fmt.Errorf("stitch: negative window length %d", length)
	}
	if start < 0 || start >= len(s.sum) && length > 0 {
		return fmt.Errorf("stitch: window starts at sample %d, outside the recording's %d samples", start, len(s.sum))
	}
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("stitch: window at sample %d: prediction %v is not a probability", start, p)
	}
	end := min(start+length, len(s.sum))
	for i := start; i < end; i++ {
		s.sum[i] += float64(p)
		s.n[i]++
	}
	return nil
}

// Trace returns the averaged trace. Every sample must be covered by at least
// one window; otherwise the error names the first uncovered span, since
// inventing probabilities for unseen signal would bias every score.
func (s *Stitcher) Trace() (Trace, error) {
	p := make([]float64, len(s.sum))
	for i := range p {
		if s.n[i] == 0 {
			j := i
			for j < len(p) && s.n[j] == 0 {
				j++
			}
			return Trace{}, fmt.Errorf("stitch: samples %d..%d (%.3f s to %.3f s) are covered by no window",
				i, j-1, float64(i)/s.rate, float64(j)/s.rate)
		}
		p[i] = s.sum[i] / float64(s.n[i])
	}
	return Trace{Rate: s.rate, P: p}, nil
}
