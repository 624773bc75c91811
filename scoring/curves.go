package scoring

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/pipeml/pipe/postproc"
)

// TracedRecording is one recording with the detector's stitched
// probability trace and the reference seizure events: the input of Curves
// and Sweep.
type TracedRecording struct {
	Name     string
	Duration float64
	Trace    postproc.Trace
	Ref      []Event
}

// sampleLabels returns, for every trace sample whose midpoint lies inside
// the recording, whether the midpoint lies inside a reference seizure
// [start, stop). Samples past the duration (padding) are left out.
func (r TracedRecording) sampleLabels() (scores []float64, labels []bool) {
	rate := r.Trace.Rate
	n := 0
	for n < len(r.Trace.P) && (float64(n)+0.5)/rate < r.Duration {
		n++
	}
	labels = make([]bool, n)
	for _, e := range r.Ref {
		for i := max(0, int(math.Ceil(e.Start*rate-0.5))); i < n && (float64(i)+0.5)/rate < e.Stop; i++ {
			if (float64(i)+0.5)/rate >= e.Start {
				labels[i] = true
			}
		}
	}
	return r.Trace.P[:n], labels
}

// CurvePoint is one point of a ROC (X = false positive rate, Y = true
// positive rate) or precision-recall (X = recall, Y = precision) curve, at
// the given threshold (score >= Threshold is positive).
type CurvePoint struct {
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
	Threshold float64 `json:"threshold"`
}

// Curve is the sample-level, threshold-free evaluation of stitched traces.
type Curve struct {
	// AUROC is the area under the ROC curve (trapezoidal over distinct
	// scores, equal to the Mann-Whitney probability that a seizure sample
	// scores above a background sample, ties counting one half). NaN when
	// either class has no sample.
	AUROC float64
	// PRAUC is the average precision, sum over distinct thresholds of
	// (R_k - R_{k-1}) * P_k (scikit-learn's average_precision_score). NaN
	// without seizure samples.
	PRAUC                float64
	Positives, Negatives int
	// ROC and PR are the curves, thinned to at most CurvePoints points
	// for plotting (first and last kept).
	ROC, PR []CurvePoint
}

// CurvePoints bounds the number of points kept per curve in a Curve.
const CurvePoints = 1000

// Curves computes AUROC and PR-AUC over every sample of every stitched
// trace, each sample counted once: a sample is a seizure sample when its
// midpoint lies in a reference event.
func Curves(recs []TracedRecording) (Curve, error) {
	var pos, neg []float64
	for _, r := range recs {
		if !(r.Trace.Rate > 0) {
			return Curve{}, fmt.Errorf("curves: %s: trace rate %v is not positive", r.Name, r.Trace.Rate)
		}
		scores, labels := r.sampleLabels()
		for i, s := range scores {
			if math.IsNaN(s) {
				return Curve{}, fmt.Errorf("curves: %s: sample %d is NaN", r.Name, i)
			}
			if labels[i] {
				pos = append(pos, s)
			} else {
				neg = append(neg, s)
			}
		}
	}
	desc := func(a, b float64) int { return -cmpFloat(a, b) }
	slices.SortFunc(pos, desc)
	slices.SortFunc(neg, desc)
	c := Curve{Positives: len(pos), Negatives: len(neg), AUROC: math.NaN(), PRAUC: math.NaN()}
	P, N := float64(len(pos)), float64(len(neg))
	var roc, pr []CurvePoint
	roc = append(roc, CurvePoint{0, 0, math.Inf(1)})
	// auc2 accumulates twice the area in units of one positive × one
	// negative: sums of products of whole counts, exact in float64 up to
	// 2^53, so the area never leaves [0, 1] through rounding.
	var tp, fp, auc2, ap float64
	for i, j := 0, 0; i < len(pos) || j < len(neg); {
		t := math.Inf(-1)
		if i < len(pos) {
			t = pos[i]
		}
		if j < len(neg) && neg[j] > t {
			t = neg[j]
		}
		prevTP, prevFP := tp, fp
		for i < len(pos) && pos[i] == t {
			i++
			tp++
		}
		for j < len(neg) && neg[j] == t {
			j++
			fp++
		}
		if P > 0 && N > 0 {
			auc2 += (fp - prevFP) * (tp + prevTP)
			roc = append(roc, CurvePoint{fp / N, tp / P, t})
		}
		if P > 0 {
			ap += (tp - prevTP) * tp / (tp + fp)
			pr = append(pr, CurvePoint{tp / P, tp / (tp + fp), t})
		}
	}
	if P > 0 && N > 0 {
		c.AUROC, c.ROC = min(auc2/(2*P*N), 1), thin(roc, CurvePoints)
	}
	if P > 0 {
		c.PRAUC, c.PR = min(ap/P, 1), thin(pr, CurvePoints)
	}
	return c, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// thin keeps at most n points, evenly spaced by index, first and last
// included.
func thin(pts []CurvePoint, n int) []CurvePoint {
	if len(pts) <= n {
		return pts
	}
	out := make([]CurvePoint, 0, n)
	for k := 0; k < n; k++ {
		out = append(out, pts[k*(len(pts)-1)/(n-1)])
	}
	return out
}

// MarshalJSON writes an infinite threshold as null.
func (p CurvePoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		X         float64  `json:"x"`
		Y         float64  `json:"y"`
		Threshold *float64 `json:"threshold"`
	}{p.X, p.Y, finitePtr(p.Threshold)})
}

func finitePtr(x float64) *float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return nil
	}
	return &x
}

// OperatingPoint is the pooled event score of a set of recordings at one
// detection threshold.
type OperatingPoint struct {
	// Threshold is the on-threshold of the post-processing; +Inf stands
	// for "no events at all" (written as null in JSON).
	Threshold   float64
	Sensitivity float64 // percent
	FAPer24h    float64
	Hits        float64
	Targets     float64
	FalseAlarms float64
}

// MarshalJSON writes the point with snake_case keys and an infinite
// threshold as null.
func (p OperatingPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Threshold   *float64 `json:"threshold"`
		Sensitivity float64  `json:"sensitivity"`
		FAPer24h    float64  `json:"fa_per_24h"`
		Hits        float64  `json:"hits"`
		Targets     float64  `json:"targets"`
		FalseAlarms float64  `json:"false_alarms"`
	}{finitePtr(p.Threshold), p.Sensitivity, p.FAPer24h, p.Hits, p.Targets, p.FalseAlarms})
}

// SweepConfig says how Sweep turns traces into events and scores them.
type SweepConfig struct {
	// Post is the post-processing; its thresholds are moved to each grid
	// value with postproc.Config.WithThreshold (the hysteresis width and
	// every other step stay fixed).
	Post postproc.Config
	// Grid lists the thresholds; nil means k/1000 for k = 0..1000.
	Grid []float64
	// Method is the event scorer: MethodOVLP (default), MethodTAES or
	// MethodSzCORE.
	Method string
	// Workers bounds parallelism; 0 means GOMAXPROCS.
	Workers int
}

// DefaultGrid is the threshold grid k/1000, k = 0..1000.
func DefaultGrid() []float64 {
	g := make([]float64, 1001)
	for k := range g {
		g[k] = float64(k) / 1000
	}
	return g
}

// Sweep scores the recordings at every threshold of the grid (../shared/
// docs/scoring.md §(vi)): for each τ, every recording's trace is
// post-processed with threshold τ into hypothesis events, and the whole
// set is scored with the chosen method (seizure class, pooled; FA/24h over
// the summed recording durations, seizure-free recordings included). The
// points are returned in increasing threshold order, followed by the point
// τ = +Inf (no events: sensitivity 0, no false alarms), so that every
// false-alarm budget has a feasible point. The whole grid is evaluated:
// neither sensitivity nor FA/24h need be monotonic in τ once merging and
// duration rules act.
func Sweep(ctx context.Context, recs []TracedRecording, cfg SweepConfig) ([]OperatingPoint, error) {
	method := cfg.Method
	if method == "" {
		method = MethodOVLP
	}
	if method != MethodOVLP && method != MethodTAES && method != MethodSzCORE {
		return nil, fmt.Errorf("sweep: method %q is not an event scorer (ovlp, taes, szcore)", method)
	}
	grid := cfg.Grid
	if grid == nil {
		grid = DefaultGrid()
	}
	grid = append(slices.Clone(grid), math.Inf(1))
	sort.Float64s(grid)
	if err := cfg.Post.Validate(); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	points := make([]OperatingPoint, len(grid))
	errs := make([]error, len(grid))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, len(grid)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				points[k], errs[k] = scoreAt(recs, cfg.Post, grid[k], method)
			}
		}()
	}
feed:
	for k := range grid {
		select {
		case next <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	for k, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("sweep at threshold %v: %w", grid[k], err)
		}
	}
	return points, nil
}

func scoreAt(recs []TracedRecording, post postproc.Config, tau float64, method string) (OperatingPoint, error) {
	scored := make([]Recording, len(recs))
	for i, r := range recs {
		scored[i] = Recording{Name: r.Name, Duration: r.Duration, Ref: r.Ref}
		if math.IsInf(tau, 1) {
			continue
		}
		hyp, err := post.WithThreshold(tau).Events(r.Trace, r.Duration)
		if err != nil {
			return OperatingPoint{}, fmt.Errorf("%s: %w", r.Name, err)
		}
		scored[i].Hyp = hyp
	}
	res, err := Score(method, scored)
	if err != nil {
		return OperatingPoint{}, err
	}
	return OperatingPoint{Threshold: tau, Sensitivity: res.Sensitivity, FAPer24h: res.FAPer24h,
		Hits: res.Hits, Targets: res.Targets, FalseAlarms: res.FalseAlarms}, nil
}

// AtFA returns the operating point with the highest sensitivity among
// those with FAPer24h <= k, the smallest threshold among equals; no
// interpolation. With Sweep's +Inf point there is always one.
func AtFA(points []OperatingPoint, k float64) (OperatingPoint, bool) {
	best, found := OperatingPoint{}, false
	for _, p := range points {
		if p.FAPer24h > k {
			continue
		}
		if !found || p.Sensitivity > best.Sensitivity || p.Sensitivity == best.Sensitivity && p.Threshold < best.Threshold {
			best, found = p, true
		}
	}
	return best, found
}

// FABudgets are the false-alarm budgets (per 24 h) reported by default.
var FABudgets = []float64{10, 5, 2.5, 1}
