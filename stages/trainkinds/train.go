package trainkinds

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/stages"
	"github.com/pipeml/pipe/train"
)

// Train is the train stage kind.
type Train struct {
	b      Builder
	getenv func(string) string
}

// NewTrain returns the train kind building its networks with b. The
// environment overrides of package train (PIPE_SMOKE, PIPE_LIMIT_FILES,
// PIPE_NAN_DEBUG, PIPE_SANITIZE_GRADS, PIPE_DEBUG_FINITE) are read from
// the process environment.
func NewTrain(b Builder) *Train { return &Train{b: b, getenv: os.Getenv} }

var _ stages.Kind = (*Train)(nil)

// Name implements stages.Kind.
func (*Train) Name() string { return "train" }

// Version implements stages.Kind.
func (k *Train) Version() string { return "1/" + k.b.Version() }

// trainConfig is the decoded config block.
type trainConfig struct {
	Cache, Dir string
	Smoke      bool
	Model      json.RawMessage
	Train      train.Config
}

func trainFields(c *trainConfig) []field {
	t := &c.Train
	return []field{
		strField("cache", &c.Cache), strField("dir", &c.Dir), boolField("smoke", &c.Smoke), modelField("model", &c.Model),
		uintField("seed", &t.Seed), intField("epochs", &t.Epochs), intField("batch_size", &t.BatchSize),
		intField("grad_accum", &t.GradAccum), intField("max_steps_per_epoch", &t.MaxStepsPerEpoch),
		numField("lr", &t.LR), numField("weight_decay", &t.WeightDecay), numField("beta1", &t.Beta1), numField("beta2", &t.Beta2),
		numField("eps", &t.Eps), numField("warmup_ratio", &t.WarmupRatio), numField("min_lr_ratio", &t.MinLRRatio),
		numField("clip_norm", &t.ClipNorm), numField("pos_weight", &t.PosWeight), numField("focal_alpha", &t.FocalAlpha),
		numField("focal_gamma", &t.FocalGamma), numField("full_ratio", &t.FullRatio), numField("background_ratio", &t.BackgroundRatio),
		intField("workers", &t.Workers), intField("prefetch", &t.Prefetch), intField("limit_files", &t.LimitFiles),
		strField("train_split", &t.TrainSplit), strField("val_split", &t.ValSplit),
		intField("max_nonfinite", &t.MaxNonFinite), boolField("sanitize_grads", &t.SanitizeGrads),
		boolField("debug_finite", &t.DebugFinite), boolField("nan_debug", &t.NaNDebug),
		strField("early_stop_metric", &t.EarlyStop.Metric), strField("early_stop_mode", &t.EarlyStop.Mode),
		intField("patience", &t.EarlyStop.Patience), numField("min_delta", &t.EarlyStop.MinDelta),
		strListField("abort", &t.Abort),
		intField("checkpoint_every_epochs", &t.CheckpointEveryEpochs), numField("checkpoint_every_minutes", &t.CheckpointEveryMinutes),
		intField("checkpoint_every_steps", &t.CheckpointEverySteps), intField("keep_last", &t.KeepLast),
		intField("log_every", &t.LogEvery), numField("trace_hz", &t.TraceHz), intField("val_grid", &t.ValGrid),
		intField("val_batch", &t.ValBatch), intField("val_window_step", &t.ValWindowStep), postField("postprocess", &t.Post), strField("sweep_method", &t.SweepMethod),
	}
}

// ConfigSpec implements stages.Kind: cache and dir are required; every
// other attribute is optional with the defaults of train.DefaultConfig.
func (*Train) ConfigSpec() hcldec.Spec {
	spec := hcldec.ObjectSpec{}
	for _, f := range trainFields(&trainConfig{}) {
		spec[f.name] = &hcldec.AttrSpec{Name: f.name, Type: f.ty, Required: f.name == "cache" || f.name == "dir"}
	}
	return spec
}

// Outputs implements stages.Kind.
func (*Train) Outputs() map[string]cty.Type {
	return map[string]cty.Type{
		"checkpoint":      cty.String, // best checkpoint directory
		"last_checkpoint": cty.String,
		"dir":             cty.String,
		"metrics":         cty.String,
		"summary":         cty.String,
		"best_metric":     cty.Number,
		"best_epoch":      cty.Number,
		"epochs":          cty.Number,
		"params":          cty.Number,
		"skipped_steps":   cty.Number,
	}
}

func decodeTrain(cfg cty.Value, workdir string) (*trainConfig, error) {
	c := &trainConfig{Train: train.DefaultConfig()}
	if err := decodeFields("train", cfg, trainFields(c)); err != nil {
		return nil, err
	}
	c.Cache, c.Dir = resolve(workdir, c.Cache), resolve(workdir, c.Dir)
	if c.Model == nil {
		c.Model = json.RawMessage("null")
	}
	if c.Smoke {
		if _, err := c.Train.ApplyEnv(func(k string) string {
			if k == train.EnvSmoke {
				return "1"
			}
			return ""
		}); err != nil {
			return nil, err
		}
	}
	if err := c.Train.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return c, nil
}

// Paths implements stages.Kind: it reads the cache and writes dir.
func (*Train) Paths(cfg cty.Value, workdir string) (stages.Paths, error) {
	c, err := decodeTrain(cfg, workdir)
	if err != nil {
		return stages.Paths{}, err
	}
	return stages.Paths{Inputs: []string{c.Cache}, Outputs: []string{c.Dir}}, nil
}

// Run implements stages.Kind.
func (k *Train) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	c, err := decodeTrain(r.Config, r.Workdir)
	if err != nil {
		return nil, err
	}
	notes, err := c.Train.ApplyEnv(k.getenv)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	for _, n := range notes {
		fmt.Fprintf(r.Stdout, "train: environment override %s\n", n)
	}
	if err := c.Train.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	ds, err := cache.OpenDataset(c.Cache)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer ds.Close()
	m := ds.Manifest()
	net, err := k.b.Build(c.Model, len(m.Channels), ds.WindowSamples(), c.Train.Seed)
	if err != nil {
		return nil, fmt.Errorf("train: build model: %w", err)
	}
	if cl, ok := net.(interface{ Close() error }); ok {
		defer cl.Close()
	}
	meta, err := json.Marshal(Meta{Builder: k.b.Version(), Model: c.Model, Channels: m.Channels, Length: ds.WindowSamples(), Rate: m.Rate, Seed: c.Train.Seed})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	sum, err := train.Run(ctx, c.Train, train.Options{
		Net: net, Dataset: ds, CacheDir: c.Cache, Dir: c.Dir, Key: r.Fingerprint + "|" + m.ParamsHash,
		Meta: meta, Log: r.Stdout, Progress: r.Progress,
	})
	if err != nil {
		return nil, err
	}
	best := cty.NumberFloatVal(0)
	bestEpoch := int64(0)
	if sum.Best != nil {
		bestEpoch = int64(sum.Best.Epoch)
		if v := sum.Best.Value; v == v {
			best = cty.NumberFloatVal(v)
		}
	}
	out := map[string]cty.Value{
		"checkpoint":      cty.StringVal(sum.BestDir),
		"last_checkpoint": cty.StringVal(sum.LastDir),
		"dir":             cty.StringVal(c.Dir),
		"metrics":         cty.StringVal(filepath.Join(c.Dir, train.MetricsFile)),
		"summary":         cty.StringVal(filepath.Join(c.Dir, train.SummaryFile)),
		"best_metric":     best,
		"best_epoch":      cty.NumberIntVal(bestEpoch),
		"epochs":          cty.NumberIntVal(int64(sum.Epochs)),
		"params":          cty.NumberIntVal(sum.Params),
		"skipped_steps":   cty.NumberIntVal(sum.Skipped),
	}
	metrics := map[string]float64{"epochs": float64(sum.Epochs), "skipped_steps": float64(sum.Skipped), "params": float64(sum.Params)}
	for k, v := range sum.Final {
		metrics[k] = v
	}
	return &stages.Result{Outputs: out, Metrics: metrics}, nil
}
