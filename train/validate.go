package train

import (
	"context"
	"fmt"
	"math"

	"github.com/pipeml/pipe/scoring"
)

// Validation is the result of one validation pass.
type Validation struct {
	// Metrics holds val_loss, auroc, pr_auc and sens_at_Kfa (percent) for
	// each budget of Budgets; NaN where undefined.
	Metrics map[string]float64
	// Thresholds holds the threshold chosen for each budget (NaN: only "no
	// events" fits), keyed like the sensitivities with "thr_" prefix.
	Thresholds map[string]float64
	Recordings int
	Short      []string
}

// ValidateSplit predicts the recordings recs, stitches them and scores
// them: sample-level AUROC and PR-AUC, and the best sensitivity within
// each false-alarm budget over a sweep of the threshold grid k/grid with
// post-processing from cfg.
func ValidateSplit(ctx context.Context, p *Predictor, recs []int, cfg *Config) (*Validation, error) {
	var traces []scoring.TracedRecording
	res, err := p.Run(ctx, recs, func(_ int, tr scoring.TracedRecording) error {
		traces = append(traces, tr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	v := &Validation{Metrics: map[string]float64{}, Thresholds: map[string]float64{}, Recordings: len(traces), Short: res.Short}
	v.Metrics["val_loss"] = math.NaN()
	if res.LossSamples > 0 {
		v.Metrics["val_loss"] = res.LossSum / float64(res.LossSamples)
	}
	if len(traces) == 0 {
		return nil, fmt.Errorf("validation: no recording of the validation split is at least one window long")
	}
	curve, err := scoring.Curves(traces)
	if err != nil {
		return nil, fmt.Errorf("validation: %w", err)
	}
	v.Metrics["auroc"], v.Metrics["pr_auc"] = curve.AUROC, curve.PRAUC
	grid := make([]float64, cfg.ValGrid+1)
	for k := range grid {
		grid[k] = float64(k) / float64(cfg.ValGrid)
	}
	pts, err := scoring.Sweep(ctx, traces, scoring.SweepConfig{Post: cfg.Post, Grid: grid, Method: cfg.SweepMethod, Workers: cfg.Workers})
	if err != nil {
		return nil, fmt.Errorf("validation: %w", err)
	}
	for _, k := range Budgets {
		op, _ := scoring.AtFA(pts, k)
		v.Metrics[budgetKey(k)] = op.Sensitivity
		v.Thresholds["thr_"+budgetKey(k)[len("sens_"):]] = op.Threshold
	}
	return v, nil
}
