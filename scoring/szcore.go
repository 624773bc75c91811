package scoring

import (
	"math"
	"slices"
	"sort"
	"strings"
)

// SzCOREParams are the parameters of SzCORE scoring (timescoring's
// EventScoring.Parameters and SampleScoring's rate).
type SzCOREParams struct {
	// ToleranceStart and ToleranceEnd (s) extend each reference event
	// before its onset and after its end when looking for detections.
	ToleranceStart, ToleranceEnd float64
	// MinOverlap is the fraction of the extended reference event that
	// detections must exceed (0: any overlap).
	MinOverlap float64
	// MaxEventDuration (s): longer events are split into pieces.
	MaxEventDuration float64
	// MinDurationBetweenEvents (s): events closer than this are merged.
	MinDurationBetweenEvents float64
	// SampleRate (Hz) of sample scoring.
	SampleRate float64
	// DirectEvents feeds event times to timescoring directly instead of
	// going through SzCORE's 1 Hz mask (see SzCOREEvents).
	DirectEvents bool
}

// DefaultSzCORE returns timescoring's defaults: tolerances 30 s before and
// 60 s after, any overlap, split above 300 s, merge below 90 s, sample
// scoring at 1 Hz, input through the 1 Hz mask as szcore-evaluation does.
func DefaultSzCORE() SzCOREParams {
	return SzCOREParams{ToleranceStart: 30, ToleranceEnd: 60, MaxEventDuration: 300, MinDurationBetweenEvents: 90, SampleRate: 1}
}

// szFS is timescoring's internal event-scoring rate (Hz).
const szFS = 10

// pyRound is Python 3's round(x): to nearest, ties to even.
func pyRound(x float64) int { return int(math.RoundToEven(x)) }

// szInput is one recording as timescoring receives it: events (seconds)
// and the length of the annotation at 1 Hz.
type szInput struct {
	ref, hyp []Event
	n1       int
}

// szInputs converts recordings to timescoring's input. By default as in
// szcore-evaluation: a 1 Hz mask of int(duration) samples with samples
// int(start) .. int(stop)-1 set for each event, and events recovered as
// the runs of that mask ([i, j+1) for a run i..j). With DirectEvents, the
// events as given and round(duration) samples.
func szInputs(recs []Recording, p SzCOREParams) ([]szInput, error) {
	out := make([]szInput, len(recs))
	for i, r := range recs {
		ref, hyp, err := r.validate()
		if err != nil {
			return nil, err
		}
		if p.DirectEvents {
			out[i] = szInput{ref, hyp, pyRound(r.Duration)}
			continue
		}
		n1 := int(r.Duration)
		out[i] = szInput{mask1Hz(ref, n1), mask1Hz(hyp, n1), n1}
	}
	return out, nil
}

func mask1Hz(evs []Event, n int) []Event {
	mask := make([]bool, n)
	for _, e := range evs {
		for k := max(0, int(e.Start)); k < min(n, int(e.Stop)); k++ {
			mask[k] = true
		}
	}
	return maskEvents(mask, 1)
}

// maskEvents returns the runs of true samples as events in seconds.
func maskEvents(mask []bool, fs float64) []Event {
	var out []Event
	for i := 0; i < len(mask); {
		if !mask[i] {
			i++
			continue
		}
		j := i
		for j < len(mask) && mask[j] {
			j++
		}
		out = append(out, Event{Start: float64(i) / fs, Stop: float64(j) / fs})
		i = j
	}
	return out
}

// rasterise builds a mask of n samples at fs with samples round(fs*start)
// .. round(fs*stop)-1 set for every event (clipped to the mask).
func rasterise(evs []Event, fs float64, n int) []bool {
	mask := make([]bool, n)
	for _, e := range evs {
		a, b := span(e, fs, n)
		for k := a; k < b; k++ {
			mask[k] = true
		}
	}
	return mask
}

// span is the sample range [a, b) of e at fs, clipped to [0, n] like a
// numpy slice.
func span(e Event, fs float64, n int) (int, int) {
	a := min(max(pyRound(e.Start*fs), 0), n)
	b := min(max(pyRound(e.Stop*fs), 0), n)
	return a, max(a, b)
}

// szMerge merges events whose gap next.start - prev.stop is < minGap.
func szMerge(evs []Event, minGap float64) []Event {
	out := append([]Event(nil), evs...)
	for i := 1; i < len(out); {
		if out[i].Start-out[i-1].Stop < minGap {
			out[i-1].Stop = out[i].Stop
			out = append(out[:i], out[i+1:]...)
		} else {
			i++
		}
	}
	return out
}

// szSplit cuts events longer than maxDur into [s, s+maxDur) and the rest,
// the rest examined again.
func szSplit(evs []Event, maxDur float64) []Event {
	var out []Event
	for _, e := range evs {
		for e.Stop-e.Start > maxDur {
			out = append(out, Event{Start: e.Start, Stop: e.Start + maxDur})
			e.Start += maxDur
		}
		out = append(out, e)
	}
	return out
}

// szCounts are one recording's (or a pool's) SzCORE counts.
type szCounts struct {
	tp, fp, refTrue int
	seconds         float64
}

// szEventCounts scores one recording with timescoring's EventScoring.
// timescoring works on 10 Hz boolean masks; here the masks are kept as
// sample ranges, which counts the same samples without allocating them.
func szEventCounts(in szInput, p SzCOREParams) szCounts {
	n := in.n1 * szFS
	dur := float64(n) / szFS
	ref := szSplit(szMerge(in.ref, p.MinDurationBetweenEvents), p.MaxEventDuration)
	hyp := szSplit(szMerge(in.hyp, p.MinDurationBetweenEvents), p.MaxEventDuration)
	hypSpans := make([][2]int, len(hyp))
	for i, e := range hyp {
		hypSpans[i][0], hypSpans[i][1] = span(e, szFS, n)
	}
	hypMask := unionSpans(hypSpans)
	var tpSpans [][2]int
	c := szCounts{refTrue: len(ref), seconds: dur}
	for _, e := range ref {
		ext := Event{Start: math.Max(0, e.Start-p.ToleranceStart), Stop: math.Min(dur, e.Stop+p.ToleranceEnd)}
		a, b := span(ext, szFS, n)
		hits := 0
		for _, h := range hypMask {
			hits += max(0, min(b, h[1])-max(a, h[0]))
		}
		if float64(hits)/szFS/(ext.Stop-ext.Start) > p.MinOverlap+1e-6 {
			c.tp++
			tpSpans = append(tpSpans, [2]int{a, b})
		}
	}
	for _, h := range hypSpans {
		covered := false
		for _, tp := range tpSpans {
			if max(h[0], tp[0]) < min(h[1], tp[1]) {
				covered = true
				break
			}
		}
		if !covered {
			c.fp++
		}
	}
	return c
}

// unionSpans returns the union of sample ranges [a, b) as sorted,
// disjoint ranges (the set samples of a mask).
func unionSpans(spans [][2]int) [][2]int {
	s := slices.Clone(spans)
	slices.SortFunc(s, func(x, y [2]int) int { return x[0] - y[0] })
	var out [][2]int
	for _, r := range s {
		if r[0] >= r[1] {
			continue
		}
		if k := len(out) - 1; k >= 0 && r[0] <= out[k][1] {
			out[k][1] = max(out[k][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// szSampleCounts scores one recording with timescoring's SampleScoring at
// p.SampleRate.
func szSampleCounts(in szInput, p SzCOREParams) szCounts {
	n := pyRound(float64(in.n1) * p.SampleRate)
	ref := rasterise(in.ref, p.SampleRate, n)
	hyp := rasterise(in.hyp, p.SampleRate, n)
	c := szCounts{seconds: float64(n) / p.SampleRate}
	for k := range ref {
		if ref[k] {
			c.refTrue++
			if hyp[k] {
				c.tp++
			}
		} else if hyp[k] {
			c.fp++
		}
	}
	return c
}

func (c *szCounts) add(o szCounts) {
	c.tp += o.tp
	c.fp += o.fp
	c.refTrue += o.refTrue
	c.seconds += o.seconds
}

func (c szCounts) result(method string) Result {
	tp, fp, pos := float64(c.tp), float64(c.fp), float64(c.refTrue)
	r := Result{
		Method: method, Targets: pos, Hits: tp, Misses: pos - tp, FalseAlarms: fp,
		Sensitivity: pct(tp, pos), FAPer24h: perDay(fp, c.seconds), TotalDuration: c.seconds,
	}
	if tp+fp > 0 {
		r.Precision = ptr(pct(tp, tp+fp))
	}
	if 2*tp+fp+(pos-tp) > 0 {
		r.F1 = ptr(2 * tp / (2*tp + fp + (pos - tp)))
	}
	return r
}

// SzCOREEvents is SzCORE event scoring (timescoring EventScoring,
// ../shared/docs/scoring.md §(v)), pooled over recordings (szcore-evaluation
// with avg_per_subject=False). Per recording, reference and hypothesis are
// rasterised at 10 Hz; events closer than MinDurationBetweenEvents are
// merged, then events longer than MaxEventDuration split. A reference
// event, extended by ToleranceStart before and ToleranceEnd after (within
// the recording), is a true positive when the hypothesis covers more than
// MinOverlap of it (by default one 0.1 s sample suffices); a hypothesis
// event touching no extended, detected reference event is a false
// positive. Sensitivity = TP / reference events, precision = TP / (TP +
// FP), F1 = 2TP / (2TP + FP + FN), FA/24h = FP per 24 h of recording (the
// duration counted at 10 Hz).
//
// Input: by default as szcore-evaluation reads BIDS files, through a 1 Hz
// mask of int(duration) samples where samples int(start) .. int(stop)-1 are
// set; with p.DirectEvents, the event times themselves over round(duration)
// seconds.
func SzCOREEvents(recs []Recording, p SzCOREParams) (Result, error) {
	return szPooled(MethodSzCORE, recs, p, szEventCounts)
}

// SzCORESamples is SzCORE sample scoring (timescoring SampleScoring) at
// p.SampleRate, pooled: masks at that rate (samples round(rate*start) ..
// round(rate*stop)-1 set), TP = samples set in both, FP = samples set only
// in the hypothesis, targets = samples set in the reference; FA/24h is
// false-positive samples per 24 h. Input as for SzCOREEvents.
func SzCORESamples(recs []Recording, p SzCOREParams) (Result, error) {
	return szPooled(MethodSzCORESample, recs, p, szSampleCounts)
}

func szPooled(method string, recs []Recording, p SzCOREParams, score func(szInput, SzCOREParams) szCounts) (Result, error) {
	ins, err := szInputs(recs, p)
	if err != nil {
		return Result{}, err
	}
	var c szCounts
	for _, in := range ins {
		c.add(score(in, p))
	}
	if err := checkTotal(method, c.seconds); err != nil {
		return Result{}, err
	}
	return c.result(method), nil
}

// SubjectMean is the mean (and population standard deviation) over
// subjects of per-subject pooled SzCORE scores, as szcore-evaluation
// reports with avg_per_subject=True; subjects whose score is undefined
// (no reference events, no detections) are left out of that score's mean.
type SubjectMean struct {
	Subjects                    int
	Sensitivity, SensitivityStd float64
	Precision, PrecisionStd     float64
	F1, F1Std                   float64
	FAPer24h, FAPer24hStd       float64
}

// SzCORESubjectMean groups recordings by subject (the recording name up
// to the first '_') and averages the per-subject scores of the event
// (sample == false) or sample scoring. Scores are fractions, not percent.
func SzCORESubjectMean(recs []Recording, p SzCOREParams, sample bool) (SubjectMean, error) {
	ins, err := szInputs(recs, p)
	if err != nil {
		return SubjectMean{}, err
	}
	score := szEventCounts
	if sample {
		score = szSampleCounts
	}
	bySubject := map[string]*szCounts{}
	for i, in := range ins {
		subj, _, _ := strings.Cut(recs[i].Name, "_")
		if bySubject[subj] == nil {
			bySubject[subj] = &szCounts{}
		}
		bySubject[subj].add(score(in, p))
	}
	names := make([]string, 0, len(bySubject))
	for s := range bySubject {
		names = append(names, s)
	}
	sort.Strings(names)
	var sens, prec, f1, fa []float64
	for _, s := range names {
		c := bySubject[s]
		tp, fp, pos := float64(c.tp), float64(c.fp), float64(c.refTrue)
		sens = append(sens, tp/pos)
		prec = append(prec, tp/(tp+fp))
		f1 = append(f1, 2*tp/(2*tp+fp+pos-tp))
		fa = append(fa, fp/(c.seconds/86400))
	}
	m := SubjectMean{Subjects: len(names)}
	m.Sensitivity, m.SensitivityStd = nanMeanStd(sens)
	m.Precision, m.PrecisionStd = nanMeanStd(prec)
	m.F1, m.F1Std = nanMeanStd(f1)
	m.FAPer24h, m.FAPer24hStd = nanMeanStd(fa)
	return m, nil
}

// nanMeanStd is numpy's nanmean and nanstd (ddof 0).
func nanMeanStd(xs []float64) (mean, std float64) {
	var n, sum float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			n++
			sum += x
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	mean = sum / n
	var ss float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			ss += (x - mean) * (x - mean)
		}
	}
	return mean, math.Sqrt(ss / n)
}
