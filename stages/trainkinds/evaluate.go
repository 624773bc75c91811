package trainkinds

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/eeg/annot"
	"github.com/pipeml/pipe/internal/atomicfile"
	"github.com/pipeml/pipe/postproc"
	"github.com/pipeml/pipe/report"
	"github.com/pipeml/pipe/scoring"
	"github.com/pipeml/pipe/stages"
	"github.com/pipeml/pipe/train"
)

// Evaluate is the evaluate stage kind.
type Evaluate struct{ b Builder }

// NewEvaluate returns the evaluate kind building its networks with b.
func NewEvaluate(b Builder) *Evaluate { return &Evaluate{b: b} }

var _ stages.Kind = (*Evaluate)(nil)

// Name implements stages.Kind.
func (*Evaluate) Name() string { return "evaluate" }

// Version implements stages.Kind.
func (k *Evaluate) Version() string { return "1/" + k.b.Version() }

// evalConfig is the decoded config block.
type evalConfig struct {
	Checkpoint, Cache, Dir string
	// Split is scored; thresholds come from ThresholdSplit.
	Split, ThresholdSplit string
	Batch, Workers        int
	LimitFiles            int
	WindowStep            int
	TraceHz               float64
	Post                  postproc.Config
	SweepMethod           string
	Grid                  int
	Budgets               []float64
	// OperatingFA picks the operating threshold (the dev threshold of that
	// budget) unless OperatingThreshold is set (>= 0).
	OperatingFA        float64
	OperatingThreshold float64
	Title              string
}

func evalFields(c *evalConfig) []field {
	return []field{
		strField("checkpoint", &c.Checkpoint), strField("cache", &c.Cache), strField("dir", &c.Dir),
		strField("split", &c.Split), strField("threshold_split", &c.ThresholdSplit),
		intField("batch", &c.Batch), intField("workers", &c.Workers), intField("limit_files", &c.LimitFiles), intField("window_step", &c.WindowStep),
		numField("trace_hz", &c.TraceHz), postField("postprocess", &c.Post), strField("sweep_method", &c.SweepMethod),
		intField("grid", &c.Grid), numListField("budgets", &c.Budgets), numField("operating_fa", &c.OperatingFA),
		numField("operating_threshold", &c.OperatingThreshold), strField("title", &c.Title),
	}
}

// ConfigSpec implements stages.Kind: checkpoint, cache and dir are
// required.
func (*Evaluate) ConfigSpec() hcldec.Spec {
	spec := hcldec.ObjectSpec{}
	for _, f := range evalFields(&evalConfig{}) {
		spec[f.name] = &hcldec.AttrSpec{Name: f.name, Type: f.ty, Required: f.name == "checkpoint" || f.name == "cache" || f.name == "dir"}
	}
	return spec
}

// Outputs implements stages.Kind: the headline numbers and where the
// report is.
func (*Evaluate) Outputs() map[string]cty.Type {
	return map[string]cty.Type{
		"auroc":               cty.Number,
		"pr_auc":              cty.Number,
		"sensitivity_at_fa":   cty.Map(cty.Number),
		"fa_per_24h_at_fa":    cty.Map(cty.Number),
		"operating_threshold": cty.Number,
		"recordings":          cty.Number,
		"report":              cty.String,
		"dir":                 cty.String,
	}
}

func decodeEval(cfg cty.Value, workdir string) (*evalConfig, error) {
	c := &evalConfig{Split: "dev", ThresholdSplit: "dev", Batch: 16, Workers: 2, TraceHz: 16, Post: postproc.Threshold(0.5),
		SweepMethod: scoring.MethodOVLP, Grid: 1000, Budgets: slices.Clone(scoring.FABudgets), OperatingFA: 10, OperatingThreshold: -1}
	if err := decodeFields("evaluate", cfg, evalFields(c)); err != nil {
		return nil, err
	}
	c.Checkpoint, c.Cache, c.Dir = resolve(workdir, c.Checkpoint), resolve(workdir, c.Cache), resolve(workdir, c.Dir)
	switch {
	case c.Batch <= 0 || c.Workers <= 0 || c.Grid <= 0 || c.LimitFiles < 0 || c.WindowStep < 0:
		return nil, fmt.Errorf("evaluate: batch, workers and grid must be > 0, limit_files >= 0")
	case !(c.TraceHz > 0):
		return nil, fmt.Errorf("evaluate: trace_hz = %v, want > 0", c.TraceHz)
	case c.OperatingThreshold > 1:
		return nil, fmt.Errorf("evaluate: operating_threshold = %v, want a probability", c.OperatingThreshold)
	case len(c.Budgets) == 0:
		return nil, fmt.Errorf("evaluate: budgets is empty")
	}
	if err := c.Post.Validate(); err != nil {
		return nil, fmt.Errorf("evaluate: postprocess: %w", err)
	}
	return c, nil
}

// Paths implements stages.Kind: it reads the checkpoint and the cache and
// writes dir.
func (*Evaluate) Paths(cfg cty.Value, workdir string) (stages.Paths, error) {
	c, err := decodeEval(cfg, workdir)
	if err != nil {
		return stages.Paths{}, err
	}
	return stages.Paths{Inputs: []string{c.Checkpoint, c.Cache}, Outputs: []string{c.Dir}}, nil
}

// Thresholds is thresholds.json: the threshold chosen on the threshold
// split for each false-alarm budget (null: only "no events" fits).
type Thresholds struct {
	Split     string              `json:"split"`
	Method    string              `json:"method"`
	PerBudget map[string]*float64 `json:"per_budget"`
	Operating float64             `json:"operating_threshold"`
	Note      string              `json:"note,omitempty"`
}

// Run implements stages.Kind.
func (k *Evaluate) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	c, err := decodeEval(r.Config, r.Workdir)
	if err != nil {
		return nil, err
	}
	st, err := train.ReadState(c.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	var meta Meta
	if err := json.Unmarshal(st.Meta, &meta); err != nil {
		return nil, fmt.Errorf("evaluate: %s: network description: %w", c.Checkpoint, err)
	}
	ds, err := cache.OpenDataset(c.Cache)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	defer ds.Close()
	m := ds.Manifest()
	if !slices.Equal(meta.Channels, m.Channels) || meta.Length != ds.WindowSamples() || meta.Rate != m.Rate {
		return nil, fmt.Errorf("evaluate: checkpoint %s was trained on %d channels, windows of %d samples at %g Hz; the cache has %d channels, %d samples at %g Hz",
			c.Checkpoint, len(meta.Channels), meta.Length, meta.Rate, len(m.Channels), ds.WindowSamples(), m.Rate)
	}
	net, err := k.b.Build(meta.Model, len(meta.Channels), meta.Length, meta.Seed)
	if err != nil {
		return nil, fmt.Errorf("evaluate: build model: %w", err)
	}
	if cl, ok := net.(interface{ Close() error }); ok {
		defer cl.Close()
	}
	if err := train.LoadWeights(filepath.Join(c.Checkpoint, train.WeightsFile), net.Params()); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	pred := &train.Predictor{Net: net, DS: ds, Dir: c.Cache, Batch: c.Batch, Workers: c.Workers, TraceHz: c.TraceHz, Step: c.WindowStep}
	grid := make([]float64, c.Grid+1)
	for i := range grid {
		grid[i] = float64(i) / float64(c.Grid)
	}

	// 1. Thresholds on the threshold split.
	thrRecs := train.Recordings(m, c.ThresholdSplit, c.LimitFiles)
	if len(thrRecs) == 0 {
		return nil, fmt.Errorf("evaluate: the cache has no recording in split %q", c.ThresholdSplit)
	}
	r.Progress.Status("predicting " + c.ThresholdSplit)
	var thrTraces []scoring.TracedRecording
	if _, err := pred.Run(ctx, thrRecs, func(_ int, tr scoring.TracedRecording) error {
		thrTraces = append(thrTraces, tr)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	pts, err := scoring.Sweep(ctx, thrTraces, scoring.SweepConfig{Post: c.Post, Grid: grid, Method: c.SweepMethod, Workers: c.Workers})
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	thr := Thresholds{Split: c.ThresholdSplit, Method: c.SweepMethod, PerBudget: map[string]*float64{}}
	budgetThr := map[float64]float64{}
	for _, b := range c.Budgets {
		p, _ := scoring.AtFA(pts, b)
		budgetThr[b] = p.Threshold
		thr.PerBudget[report.BudgetKey(b)] = finite(p.Threshold)
	}
	thr.Operating = c.OperatingThreshold
	if thr.Operating < 0 {
		p, _ := scoring.AtFA(pts, c.OperatingFA)
		thr.Operating = p.Threshold
		if math.IsInf(thr.Operating, 1) {
			thr.Operating = 0.5
			thr.Note = fmt.Sprintf("no threshold keeps %s within %g FA/24h on %s; the operating threshold falls back to 0.5", c.SweepMethod, c.OperatingFA, c.ThresholdSplit)
			fmt.Fprintf(r.Stdout, "evaluate: %s\n", thr.Note)
		}
	}
	post := c.Post.WithThreshold(thr.Operating)

	// 2. The scored split, streamed: hypothesis files are written as each
	// recording's trace completes.
	hypDir := filepath.Join(c.Dir, "hyp")
	if err := os.MkdirAll(hypDir, 0o755); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	var traces []scoring.TracedRecording
	emit := func(_ int, tr scoring.TracedRecording) error {
		traces = append(traces, tr)
		return writeHypotheses(hypDir, tr, post)
	}
	if c.Split == c.ThresholdSplit {
		for _, tr := range thrTraces {
			if err := emit(0, tr); err != nil {
				return nil, err
			}
		}
	} else {
		recs := train.Recordings(m, c.Split, c.LimitFiles)
		if len(recs) == 0 {
			return nil, fmt.Errorf("evaluate: the cache has no recording in split %q", c.Split)
		}
		r.Progress.Status("predicting " + c.Split)
		if _, err := pred.Run(ctx, recs, emit); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
	}
	if len(traces) == 0 {
		return nil, fmt.Errorf("evaluate: no recording of split %q is at least one window long", c.Split)
	}

	// 3. The report.
	r.Progress.Status("scoring")
	source := fmt.Sprintf("chosen on the %s split itself (per budget, %s sweep)", c.Split, c.SweepMethod)
	if c.Split != c.ThresholdSplit {
		source = fmt.Sprintf("chosen on the %s split (per budget, %s sweep) and applied unchanged to %s", c.ThresholdSplit, c.SweepMethod, c.Split)
	}
	title := c.Title
	if title == "" {
		title = fmt.Sprintf("Seizure detection: %s split", c.Split)
	}
	rep, err := report.Build(ctx, &report.Input{Title: title, Recordings: traces, Post: post, SweepMethod: c.SweepMethod,
		Grid: grid, Budgets: c.Budgets, ThresholdSource: source})
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if c.Split != c.ThresholdSplit {
		// Replace the report's own (oracle) operating points by the
		// threshold-split thresholds applied to this split.
		for _, b := range c.Budgets {
			tau := budgetThr[b]
			p := scoring.OperatingPoint{Threshold: tau}
			if !math.IsInf(tau, 1) {
				ps, err := scoring.Sweep(ctx, traces, scoring.SweepConfig{Post: c.Post, Grid: []float64{tau}, Method: c.SweepMethod, Workers: c.Workers})
				if err != nil {
					return nil, fmt.Errorf("evaluate: %w", err)
				}
				p = ps[0]
			} else {
				p.Targets = rep.SensitivityAtFA[report.BudgetKey(b)].Targets
			}
			rep.SensitivityAtFA[report.BudgetKey(b)] = report.BudgetPoint{Sensitivity: p.Sensitivity, FAPer24h: p.FAPer24h,
				Threshold: finite(p.Threshold), Hits: p.Hits, Targets: p.Targets, FalseAlarms: p.FalseAlarms}
		}
	}
	tb, err := json.MarshalIndent(thr, "", " ")
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(c.Dir, "thresholds.json"), append(tb, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if err := report.Write(c.Dir, rep); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	sens, fa := map[string]cty.Value{}, map[string]cty.Value{}
	metrics := map[string]float64{"operating_threshold": thr.Operating, "recordings": float64(len(traces))}
	for key, p := range rep.SensitivityAtFA {
		sens[key], fa[key] = cty.NumberFloatVal(p.Sensitivity), cty.NumberFloatVal(p.FAPer24h)
		metrics["sens_at_"+key+"fa"] = p.Sensitivity
	}
	out := map[string]cty.Value{
		"sensitivity_at_fa": cty.MapVal(sens), "fa_per_24h_at_fa": cty.MapVal(fa),
		"operating_threshold": cty.NumberFloatVal(thr.Operating), "recordings": cty.NumberIntVal(int64(len(traces))),
		"report": cty.StringVal(filepath.Join(c.Dir, report.JSONFile)), "dir": cty.StringVal(c.Dir),
	}
	for name, p := range map[string]*float64{"auroc": rep.AUROC, "pr_auc": rep.PRAUC} {
		if p == nil {
			// Undefined (one class absent): published as -1 so that
			// downstream comparisons stay numeric.
			out[name] = cty.NumberIntVal(-1)
			continue
		}
		out[name] = cty.NumberFloatVal(*p)
		metrics[name] = *p
	}
	return &stages.Result{Outputs: out, Metrics: metrics}, nil
}

func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// writeHypotheses writes a recording's detected events at the operating
// post-processing as csv_bi (seiz and bckg, NEDC's hypothesis format) and
// SzCORE events.tsv, the confidence being the mean probability over each
// event.
func writeHypotheses(dir string, tr scoring.TracedRecording, post postproc.Config) error {
	evs, err := post.Events(tr.Trace, tr.Duration)
	if err != nil {
		return fmt.Errorf("evaluate: %s: %w", tr.Name, err)
	}
	csv := &annot.File{Duration: tr.Duration, Bname: tr.Name}
	tsv := &annot.File{Duration: tr.Duration}
	at := 0.0
	for _, e := range evs {
		conf := meanP(tr.Trace, e)
		if e.Start > at {
			csv.Events = append(csv.Events, annot.Event{Channel: annot.Term, Start: at, Stop: e.Start, Label: annot.Background, Confidence: 1})
		}
		csv.Events = append(csv.Events, annot.Event{Channel: annot.Term, Start: e.Start, Stop: e.Stop, Label: annot.Seizure, Confidence: conf})
		tsv.Events = append(tsv.Events, annot.Event{Channel: annot.Term, Start: e.Start, Stop: e.Stop, Label: "sz", Confidence: conf})
		at = e.Stop
	}
	if at < tr.Duration {
		csv.Events = append(csv.Events, annot.Event{Channel: annot.Term, Start: at, Stop: tr.Duration, Label: annot.Background, Confidence: 1})
	}
	if err := annot.WriteFile(filepath.Join(dir, tr.Name+".csv_bi"), csv); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	if err := annot.WriteFile(filepath.Join(dir, tr.Name+"_events.tsv"), tsv); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	return nil
}

func meanP(tr postproc.Trace, e postproc.Event) float64 {
	a := max(0, int(e.Start*tr.Rate))
	b := min(len(tr.P), int(math.Ceil(e.Stop*tr.Rate)))
	if b <= a {
		return 1
	}
	var s float64
	for _, p := range tr.P[a:b] {
		s += p
	}
	return s / float64(b-a)
}
