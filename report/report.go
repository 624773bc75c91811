// Package report turns scored seizure detections into report.json,
// report.md and PNG plots (ROC curve, sensitivity against false alarms per
// 24 h, probability traces over reference seizures).
//
// The evaluator fills an Input from its stitched traces (postproc) and the
// reference annotations, Build computes every number with package scoring,
// and Write writes the files atomically into a directory.
package report

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/pipeml/pipe/postproc"
	"github.com/pipeml/pipe/scoring"
)

// Input is what a report is made of.
type Input struct {
	// Title heads report.md.
	Title string
	// Recordings are the evaluated recordings: stitched probability trace
	// and reference seizure events each.
	Recordings []scoring.TracedRecording
	// Post is the post-processing. Its OnThreshold is the operating
	// threshold at which Scores are computed; the sweep moves it over Grid.
	Post postproc.Config
	// SweepMethod is the event scorer of the sweep (default OVLP).
	SweepMethod string
	// Grid is the sweep's threshold grid (default scoring.DefaultGrid()).
	Grid []float64
	// Budgets are the false-alarm budgets K per 24 h (default
	// scoring.FABudgets: 10, 5, 2.5, 1).
	Budgets []float64
	// ThresholdSource says where the operating points' thresholds come
	// from; empty means they are chosen on the reported data itself
	// (oracle operating points), and the report says so.
	ThresholdSource string
	// Scores, when set, replace the scores Build would compute at the
	// operating threshold (e.g. exact scores of annotation files whose
	// traces are only an approximation).
	Scores []scoring.Result
	// TracePlots bounds the recordings drawn in traces.png (default 6,
	// those with the most reference seizure time first).
	TracePlots int
}

// BudgetPoint is the best operating point within one false-alarm budget.
type BudgetPoint struct {
	// Sensitivity in percent, FAPer24h achieved, and the threshold (nil
	// when only "no events at all" fits the budget).
	Sensitivity float64  `json:"sensitivity"`
	FAPer24h    float64  `json:"fa_per_24h"`
	Threshold   *float64 `json:"threshold"`
	Hits        float64  `json:"hits"`
	Targets     float64  `json:"targets"`
	FalseAlarms float64  `json:"false_alarms"`
}

// Report is the content of report.json.
type Report struct {
	Title         string  `json:"title"`
	Recordings    int     `json:"recordings"`
	TotalDuration float64 `json:"total_duration_s"`
	// AUROC and PRAUC are sample-level, over the stitched traces; nil when
	// undefined (one class absent).
	AUROC           *float64 `json:"auroc"`
	PRAUC           *float64 `json:"pr_auc"`
	PositiveSamples int      `json:"positive_samples"`
	NegativeSamples int      `json:"negative_samples"`
	// SensitivityAtFA is keyed by the budget K written as in "10", "2.5".
	SensitivityAtFA map[string]BudgetPoint `json:"sensitivity_at_fa"`
	SweepMethod     string                 `json:"sweep_method"`
	ThresholdSource string                 `json:"threshold_source"`
	Post            postproc.Config        `json:"postprocessing"`
	// OperatingThreshold is Post.OnThreshold; Scores are every method's
	// pooled scores there.
	OperatingThreshold float64                  `json:"operating_threshold"`
	Scores             []scoring.Result         `json:"scores"`
	Sweep              []scoring.OperatingPoint `json:"sweep"`
	ROC                []scoring.CurvePoint     `json:"roc"`
	PR                 []scoring.CurvePoint     `json:"pr"`
	budgets            []float64
	curve              scoring.Curve
	input              *Input
}

// BudgetKey formats a budget as a report.json key: the shortest decimal
// ("10", "5", "2.5", "1").
func BudgetKey(k float64) string { return strconv.FormatFloat(k, 'f', -1, 64) }

// Build computes the report: curves over the traces, the threshold sweep,
// the best point per budget, and every scoring method at the operating
// threshold.
func Build(ctx context.Context, in *Input) (*Report, error) {
	if len(in.Recordings) == 0 {
		return nil, fmt.Errorf("report: no recordings")
	}
	budgets := in.Budgets
	if budgets == nil {
		budgets = scoring.FABudgets
	}
	method := in.SweepMethod
	if method == "" {
		method = scoring.MethodOVLP
	}
	curve, err := scoring.Curves(in.Recordings)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	points, err := scoring.Sweep(ctx, in.Recordings, scoring.SweepConfig{Post: in.Post, Grid: in.Grid, Method: method})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	r := &Report{
		Title: in.Title, Recordings: len(in.Recordings),
		AUROC: finite(curve.AUROC), PRAUC: finite(curve.PRAUC),
		PositiveSamples: curve.Positives, NegativeSamples: curve.Negatives,
		SensitivityAtFA: map[string]BudgetPoint{}, SweepMethod: method,
		ThresholdSource: in.ThresholdSource, Post: in.Post, OperatingThreshold: in.Post.OnThreshold,
		Sweep: points, ROC: curve.ROC, PR: curve.PR, budgets: budgets, curve: curve, input: in,
	}
	if r.ThresholdSource == "" {
		r.ThresholdSource = "oracle: thresholds chosen on the reported data"
	}
	for _, k := range budgets {
		p, _ := scoring.AtFA(points, k)
		r.SensitivityAtFA[BudgetKey(k)] = BudgetPoint{
			Sensitivity: p.Sensitivity, FAPer24h: p.FAPer24h, Threshold: finite(p.Threshold),
			Hits: p.Hits, Targets: p.Targets, FalseAlarms: p.FalseAlarms,
		}
	}
	recs := make([]scoring.Recording, len(in.Recordings))
	for i, tr := range in.Recordings {
		recs[i] = scoring.Recording{Name: tr.Name, Duration: tr.Duration, Ref: tr.Ref}
		r.TotalDuration += tr.Duration
		if recs[i].Hyp, err = in.Post.Events(tr.Trace, tr.Duration); err != nil {
			return nil, fmt.Errorf("report: %s: %w", tr.Name, err)
		}
	}
	r.Scores = in.Scores
	if r.Scores == nil {
		for _, m := range scoring.Methods {
			res, err := scoring.Score(m, recs)
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			r.Scores = append(r.Scores, res)
		}
	}
	return r, nil
}

func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// sortedBudgets returns the budgets in decreasing order for tables.
func (r *Report) sortedBudgets() []float64 {
	b := slices.Clone(r.budgets)
	slices.SortFunc(b, func(x, y float64) int {
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	return b
}
