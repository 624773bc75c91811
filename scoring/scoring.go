// Package scoring scores seizure detections against reference annotations
// with the methods the field compares on:
//
//   - NEDC eeg_eval v6.0.0: OVLP (any-overlap), TAES (time-aligned event
//     scoring), epoch-based (0.25 s) and DP alignment, reproducing NEDC's
//     numbers exactly (OVLP, TAES, Epoch, DPAlign);
//   - SzCORE (timescoring): event scoring with tolerances, merging and
//     splitting, and sample scoring (SzCOREEvents, SzCORESamples);
//   - threshold-free curves on stitched probability traces (Curves: AUROC
//     and PR-AUC) and the operating point "sensitivity at K false alarms per
//     24 h" found by sweeping the detection threshold (Sweep, AtFA).
//
// The exact definitions are on each function and in docs/scoring.md; the
// reference for the NEDC and SzCORE semantics is
// ../shared/docs/scoring.md. The package depends on postproc (to turn traces
// into events during a sweep) and eeg/annot (to read files), never on model
// or training code.
package scoring

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/pipeml/pipe/eeg/annot"
	"github.com/pipeml/pipe/postproc"
)

// Event is a seizure event [Start, Stop) in seconds.
type Event = postproc.Event

// Recording is one scored recording: its duration and the seizure events
// of the reference and of the hypothesis (detector output). Everything not
// inside a seizure event is background.
type Recording struct {
	// Name identifies the recording in errors and reports; SzCORE's
	// per-subject means group recordings by the text before the first '_'.
	Name     string
	Duration float64
	Ref, Hyp []Event
}

// Result is the pooled score of one method over a set of recordings, for
// the seizure class.
type Result struct {
	Method string `json:"method"`
	// Targets is the number of reference seizure events (epochs for
	// "epoch", samples for "szcore_sample").
	Targets     float64 `json:"targets"`
	Hits        float64 `json:"hits"`
	Misses      float64 `json:"misses"`
	FalseAlarms float64 `json:"false_alarms"`
	// Sensitivity is 100 * Hits / (Hits + Misses), in percent (0 when
	// there are no targets).
	Sensitivity float64 `json:"sensitivity"`
	// Specificity in percent, where the method defines one (see each
	// method); nil otherwise.
	Specificity *float64 `json:"specificity,omitempty"`
	// FAPer24h is FalseAlarms * 86400 / TotalDuration (for "epoch" the
	// false alarm epochs times 0.25 s, i.e. seconds of false alarm per 24 h,
	// as NEDC prints it; for "szcore_sample" false-positive samples per 24 h).
	FAPer24h float64 `json:"fa_per_24h"`
	// TotalDuration is the summed duration of the scored recordings, in
	// seconds, as the method counts it.
	TotalDuration float64 `json:"total_duration_s"`
	// Precision (percent) and F1 where the method reports them (SzCORE).
	Precision *float64 `json:"precision,omitempty"`
	F1        *float64 `json:"f1,omitempty"`
}

// Method names accepted by Score.
const (
	MethodOVLP         = "ovlp"
	MethodTAES         = "taes"
	MethodEpoch        = "epoch"
	MethodDPAlign      = "dpalign"
	MethodSzCORE       = "szcore"
	MethodSzCORESample = "szcore_sample"
)

// Methods lists every method in the order "all" reports them.
var Methods = []string{MethodOVLP, MethodTAES, MethodEpoch, MethodDPAlign, MethodSzCORE, MethodSzCORESample}

// Score runs the named method with its default parameters.
func Score(method string, recs []Recording) (Result, error) {
	switch method {
	case MethodOVLP:
		return OVLP(recs)
	case MethodTAES:
		return TAES(recs)
	case MethodEpoch:
		return Epoch(recs)
	case MethodDPAlign:
		return DPAlign(recs)
	case MethodSzCORE:
		return SzCOREEvents(recs, DefaultSzCORE())
	case MethodSzCORESample:
		return SzCORESamples(recs, DefaultSzCORE())
	}
	return Result{}, fmt.Errorf("unknown scoring method %q (want one of %v)", method, Methods)
}

// RecordingFromFiles pairs a reference and a hypothesis annotation file of
// the same recording. Only term-based events count (as in NEDC); a label
// for which annot.IsSeizure holds is a seizure, "bckg" (any case) is
// background, and any other label is an error (NEDC crashes on it). The two
// durations must agree to 4 decimals (NEDC aborts otherwise).
func RecordingFromFiles(name string, ref, hyp *annot.File) (Recording, error) {
	if r4(ref.Duration) != r4(hyp.Duration) {
		return Recording{}, fmt.Errorf("%s: reference lasts %v s but hypothesis %v s", name, ref.Duration, hyp.Duration)
	}
	rec := Recording{Name: name, Duration: ref.Duration}
	var err error
	if rec.Ref, err = seizureEvents(ref); err != nil {
		return Recording{}, fmt.Errorf("%s: reference: %w", name, err)
	}
	if rec.Hyp, err = seizureEvents(hyp); err != nil {
		return Recording{}, fmt.Errorf("%s: hypothesis: %w", name, err)
	}
	return rec, nil
}

func seizureEvents(f *annot.File) ([]Event, error) {
	var out []Event
	for _, e := range f.TermEvents() {
		switch {
		case annot.IsSeizure(e.Label):
			out = append(out, Event{Start: e.Start, Stop: e.Stop})
		case equalFold(e.Label, annot.Background):
		default:
			return nil, fmt.Errorf("label %q of event [%v, %v] is neither a seizure label nor bckg", e.Label, e.Start, e.Stop)
		}
	}
	return out, nil
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// validate checks one recording and returns its events sorted by (start,
// stop): times finite, 0 <= start < stop, stops within the duration (to 4
// decimals), events not overlapping (to 4 decimals; touching is allowed).
func (r Recording) validate() (ref, hyp []Event, err error) {
	if !(r.Duration >= 0) || math.IsInf(r.Duration, 0) {
		return nil, nil, fmt.Errorf("%s: duration %v is not a finite number >= 0", r.Name, r.Duration)
	}
	check := func(which string, evs []Event) ([]Event, error) {
		s := append([]Event(nil), evs...)
		sort.Slice(s, func(i, j int) bool {
			if s[i].Start != s[j].Start {
				return s[i].Start < s[j].Start
			}
			return s[i].Stop < s[j].Stop
		})
		for k, e := range s {
			if !(e.Start >= 0) || !(e.Stop > e.Start) || math.IsInf(e.Stop, 0) {
				return nil, fmt.Errorf("%s: %s event [%v, %v] is not an interval with 0 <= start < stop", r.Name, which, e.Start, e.Stop)
			}
			if r4(e.Stop) > r4(r.Duration) {
				return nil, fmt.Errorf("%s: %s event [%v, %v] ends after the recording (%v s)", r.Name, which, e.Start, e.Stop, r.Duration)
			}
			if k > 0 && r4(e.Start) < r4(s[k-1].Stop) {
				return nil, fmt.Errorf("%s: %s events [%v, %v] and [%v, %v] overlap", r.Name, which, s[k-1].Start, s[k-1].Stop, e.Start, e.Stop)
			}
		}
		return s, nil
	}
	if ref, err = check("reference", r.Ref); err != nil {
		return nil, nil, err
	}
	if hyp, err = check("hypothesis", r.Hyp); err != nil {
		return nil, nil, err
	}
	return ref, hyp, nil
}

// r4 is Python's round(x, 4): the double nearest to x rounded to 4
// decimals, ties to even on the exact binary value.
//
// Fast path: unless x*1e4 lies within 1e-6 of a half-integer, the rounded
// product is the correctly rounded decimal, and n/1e4 (one IEEE division)
// is the double nearest to n * 10^-4, which is what Python returns.
// Near-ties and huge values take the exact decimal conversion.
func r4(x float64) float64 {
	if p := x * 1e4; math.Abs(p) < 1e15 {
		n := math.Round(p)
		if math.Abs(math.Abs(p-n)-0.5) > 1e-6 {
			return n / 1e4
		}
	}
	y, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 4, 64), 64)
	return y
}

// perDay converts a count over total seconds into a rate per 24 h.
func perDay(count, total float64) float64 {
	if count == 0 {
		return 0
	}
	return count * 86400 / total
}

func pct(num, den float64) float64 {
	if den == 0 {
		return 0
	}
	return 100 * num / den
}

func ptr(x float64) *float64 { return &x }

func checkTotal(method string, total float64) error {
	if !(total > 0) {
		return fmt.Errorf("%s: the scored recordings last %v s in total; nothing to score", method, total)
	}
	return nil
}
