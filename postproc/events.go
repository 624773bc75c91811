package postproc

import (
	"fmt"
	"math"
)

// Event is a detected seizure, the half-open interval [Start, Stop) in
// seconds from the start of the recording.
type Event struct {
	Start, Stop float64
}

// Duration is Stop - Start.
func (e Event) Duration() float64 { return e.Stop - e.Start }

// Config is the post-processing that turns a probability trace into events.
// Durations are in seconds and are converted to whole samples by rounding
// to the nearest sample (at least 1 where a duration is set). The steps,
// in order:
//
//  1. Hysteresis with persistence (sample domain). The detector starts
//     "off". It switches on at sample i when P stays >= OnThreshold for
//     MinOn seconds starting at i, and off at sample j when P stays
//     < OffThreshold for MinOff seconds starting at j (or until the end of
//     the trace). The switch takes effect at i (j) itself, not after the
//     persistence delay: this is offline scoring, so boundaries are not
//     late. MinOn = MinOff = 0 and OffThreshold = OnThreshold is plain
//     thresholding (P >= threshold).
//  2. Morphological opening with a flat element of Opening seconds: runs
//     of "on" shorter than the element are removed, others are unchanged.
//  3. Morphological closing with a flat element of Closing seconds: gaps of
//     "off" shorter than the element between two "on" runs are filled
//     (gaps touching the start or end of the trace are not).
//  4. Each run of "on" samples i..j-1 becomes the event [i/Rate, j/Rate),
//     the last one clipped to the recording duration.
//  5. Events separated by a gap shorter than MergeGap seconds are merged.
//  6. Events shorter than MinEvent seconds are dropped.
//  7. Events longer than MaxEvent seconds (if > 0) are split into pieces of
//     exactly MaxEvent seconds and a shorter remainder.
type Config struct {
	OnThreshold  float64 `json:"on_threshold"`
	OffThreshold float64 `json:"off_threshold"`
	MinOn        float64 `json:"min_on_s"`
	MinOff       float64 `json:"min_off_s"`
	Opening      float64 `json:"opening_s"`
	Closing      float64 `json:"closing_s"`
	MergeGap     float64 `json:"merge_gap_s"`
	MinEvent     float64 `json:"min_event_s"`
	MaxEvent     float64 `json:"max_event_s"`
}

// Threshold is plain thresholding at tau (P >= tau is a seizure) with no
// further processing.
func Threshold(tau float64) Config { return Config{OnThreshold: tau, OffThreshold: tau} }

// WithThreshold returns c with the on-threshold moved to tau and the
// off-threshold moved with it, keeping the hysteresis width
// OnThreshold - OffThreshold.
func (c Config) WithThreshold(tau float64) Config {
	c.OffThreshold = tau - (c.OnThreshold - c.OffThreshold)
	c.OnThreshold = tau
	return c
}

// Validate reports a configuration that cannot be applied.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"min_on_s", c.MinOn}, {"min_off_s", c.MinOff}, {"opening_s", c.Opening}, {"closing_s", c.Closing},
		{"merge_gap_s", c.MergeGap}, {"min_event_s", c.MinEvent}, {"max_event_s", c.MaxEvent}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("postproc: %s = %v, want a finite number >= 0", f.name, f.v)
		}
	}
	if math.IsNaN(c.OnThreshold) || math.IsNaN(c.OffThreshold) {
		return fmt.Errorf("postproc: thresholds must be numbers")
	}
	if c.OffThreshold > c.OnThreshold {
		return fmt.Errorf("postproc: off_threshold %v above on_threshold %v", c.OffThreshold, c.OnThreshold)
	}
	return nil
}

// Events applies c to tr and returns the events, sorted and
// non-overlapping, within [0, duration]. duration is the recording length
// in seconds; pass tr.Duration() when the trace covers exactly the recording.
func (c Config) Events(tr Trace, duration float64) ([]Event, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !(tr.Rate > 0) {
		return nil, fmt.Errorf("postproc: trace rate %v is not positive", tr.Rate)
	}
	var b binarizer
	on, bad := b.hysteresis(tr.P, c.OnThreshold, c.OffThreshold, samples(c.MinOn, tr.Rate), samples(c.MinOff, tr.Rate))
	if bad >= 0 {
		return nil, fmt.Errorf("postproc: trace sample %d is NaN", bad)
	}
	if k := samples(c.Opening, tr.Rate); k > 1 {
		removeShortRuns(on, true, k, true)
	}
	if k := samples(c.Closing, tr.Rate); k > 1 {
		removeShortRuns(on, false, k, false)
	}
	var evs []Event
	for i := 0; i < len(on); {
		if !on[i] {
			i++
			continue
		}
		j := i
		for j < len(on) && on[j] {
			j++
		}
		e := Event{Start: float64(i) / tr.Rate, Stop: math.Min(float64(j)/tr.Rate, duration)}
		if e.Stop > e.Start {
			evs = append(evs, e)
		}
		i = j
	}
	evs = MergeGaps(evs, c.MergeGap)
	evs = dropShort(evs, c.MinEvent)
	return SplitLong(evs, c.MaxEvent), nil
}

// samples converts seconds to a whole number of samples (at least 1).
func samples(sec, rate float64) int {
	return max(1, int(math.Round(sec*rate)))
}

// binarizer holds scratch space for hysteresis.
type binarizer struct{ runOn, runOff []int32 }

// hysteresis implements step 1 of Config: runOn[i] (runOff[i]) is the number
// of consecutive samples from i with p >= on (p < off). It also returns the
// index of the first NaN sample, or -1.
func (b *binarizer) hysteresis(p []float64, on, off float64, minOn, minOff int) ([]bool, int) {
	n := len(p)
	out := make([]bool, n)
	if minOn <= 1 && minOff <= 1 {
		state := false
		for i, x := range p {
			if x != x {
				return nil, i
			}
			if state {
				state = !(x < off)
			} else {
				state = x >= on
			}
			out[i] = state
		}
		return out, -1
	}
	for i, x := range p {
		if x != x {
			return nil, i
		}
	}
	b.runOn = resize(b.runOn, n+1)
	b.runOff = resize(b.runOff, n+1)
	b.runOn[n], b.runOff[n] = 0, 0
	for i := n - 1; i >= 0; i-- {
		b.runOn[i], b.runOff[i] = 0, 0
		if p[i] >= on {
			b.runOn[i] = b.runOn[i+1] + 1
		}
		if p[i] < off {
			b.runOff[i] = b.runOff[i+1] + 1
		}
	}
	state := false
	for i := 0; i < n; i++ {
		if state {
			r := int(b.runOff[i])
			if r >= minOff || (r > 0 && i+r == n) {
				state = false
			}
		} else if int(b.runOn[i]) >= minOn {
			state = true
		}
		out[i] = state
	}
	return out, -1
}

func resize(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// removeShortRuns flips runs of value v shorter than k samples. When
// atEdges is false, runs touching either end of x are kept.
func removeShortRuns(x []bool, v bool, k int, atEdges bool) {
	for i := 0; i < len(x); {
		if x[i] != v {
			i++
			continue
		}
		j := i
		for j < len(x) && x[j] == v {
			j++
		}
		if j-i < k && (atEdges || (i > 0 && j < len(x))) {
			for m := i; m < j; m++ {
				x[m] = !v
			}
		}
		i = j
	}
}

// MergeGaps merges consecutive events (sorted, non-overlapping) whose gap
// next.Start - prev.Stop is < gap seconds into one event spanning both.
func MergeGaps(evs []Event, gap float64) []Event {
	if len(evs) == 0 || gap <= 0 {
		return evs
	}
	out := []Event{evs[0]}
	for _, e := range evs[1:] {
		last := &out[len(out)-1]
		if e.Start-last.Stop < gap {
			last.Stop = math.Max(last.Stop, e.Stop)
			continue
		}
		out = append(out, e)
	}
	return out
}

func dropShort(evs []Event, minDur float64) []Event {
	if minDur <= 0 {
		return evs
	}
	out := evs[:0]
	for _, e := range evs {
		if e.Duration() >= minDur {
			out = append(out, e)
		}
	}
	return out
}

// SplitLong cuts every event longer than maxDur seconds into consecutive
// pieces of maxDur seconds followed by the remainder (shorter or equal).
// maxDur <= 0 leaves events unchanged.
func SplitLong(evs []Event, maxDur float64) []Event {
	if maxDur <= 0 {
		return evs
	}
	var out []Event
	for _, e := range evs {
		k := 0
		for ; e.Stop-(e.Start+float64(k)*maxDur) > maxDur; k++ {
			out = append(out, Event{e.Start + float64(k)*maxDur, e.Start + float64(k+1)*maxDur})
		}
		out = append(out, Event{e.Start + float64(k)*maxDur, e.Stop})
	}
	return out
}
