// Package train trains a model.Net on windows of an EEG cache: balanced
// sampling with prefetching workers, focal BCE-with-logits loss, AdamW with
// linear warmup and cosine decay, global-norm clipping, gradient
// accumulation, non-finite step handling, validation on stitched
// per-recording predictions (AUROC, sensitivity at K false alarms per
// 24 h), early stopping and abort rules, and checkpoints (safetensors
// weights, JSON + safetensors optimiser state) from which a killed run
// resumes mid-epoch and ends bit-identical to an uninterrupted one.
//
// Determinism: every random choice is a pure function of the seed and a
// position (epoch, step, micro-batch): the epoch's sample list comes from
// (seed, epoch), dropout from (seed, global step, micro-batch). Loss and
// gradient-norm reductions run in a fixed order in float64. So a resumed
// run needs only the weights, the optimiser moments and a few counters.
package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/pipeml/pipe/postproc"
)

// Config is everything that determines a training run's result.
type Config struct {
	// Seed drives sampling, shuffling and dropout.
	Seed uint64 `json:"seed"`
	// Epochs is the maximum number of epochs.
	Epochs int `json:"epochs"`
	// BatchSize windows per micro-batch; GradAccum micro-batches per
	// optimiser step.
	BatchSize int `json:"batch_size"`
	GradAccum int `json:"grad_accum"`
	// MaxStepsPerEpoch caps the optimiser steps of an epoch (0: no cap).
	MaxStepsPerEpoch int `json:"max_steps_per_epoch"`

	// LR is the peak learning rate; WeightDecay the decoupled AdamW decay
	// applied to parameters with Decay set; Beta1, Beta2, Eps as in Adam.
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	// WarmupRatio is the fraction of all steps with linear warmup from 0;
	// then cosine decay to MinLRRatio·LR.
	WarmupRatio float64 `json:"warmup_ratio"`
	MinLRRatio  float64 `json:"min_lr_ratio"`
	// ClipNorm is the global gradient norm bound (0: no clipping).
	ClipNorm float64 `json:"clip_norm"`

	// PosWeight multiplies the loss of seizure samples; FocalGamma is the
	// focal exponent (0: plain BCE); FocalAlpha in [0, 1] weights seizure
	// samples by α and background by 1-α (negative: no α weighting).
	PosWeight  float64 `json:"pos_weight"`
	FocalAlpha float64 `json:"focal_alpha"`
	FocalGamma float64 `json:"focal_gamma"`

	// Balanced sampling per epoch: every window partly inside a seizure,
	// FullRatio times as many windows wholly inside one, BackgroundRatio
	// times as many seizure-free windows (see Plan).
	FullRatio       float64 `json:"full_ratio"`
	BackgroundRatio float64 `json:"background_ratio"`
	// Workers read windows in parallel; Prefetch batches are prepared ahead.
	Workers  int `json:"workers"`
	Prefetch int `json:"prefetch"`
	// LimitFiles > 0 uses only the first LimitFiles recordings of each
	// split (in manifest order).
	LimitFiles int `json:"limit_files"`
	// TrainSplit and ValSplit name the cache splits used.
	TrainSplit string `json:"train_split"`
	ValSplit   string `json:"val_split"`

	// MaxNonFinite consecutive non-finite steps fail the run (the batch is
	// saved for inspection). SanitizeGrads zeroes non-finite gradient
	// values instead of skipping the step. DebugFinite asks the network
	// to check every layer's output (see FiniteDebugger). NaNDebug saves
	// every offending batch, not just the last.
	MaxNonFinite  int  `json:"max_nonfinite"`
	SanitizeGrads bool `json:"sanitize_grads"`
	DebugFinite   bool `json:"debug_finite"`
	NaNDebug      bool `json:"nan_debug"`

	// EarlyStop stops training when the named validation metric has not
	// improved for Patience epochs (Patience 0: never).
	EarlyStop EarlyStop `json:"early_stop"`
	// Abort rules fail the run, e.g. "auroc < 0.55 after epoch 3".
	Abort []string `json:"abort"`

	// Checkpoints: at every epoch end (kept: the last KeepLast, the best
	// and every CheckpointEveryEpochs-th), and mid-epoch every
	// CheckpointEveryMinutes minutes and every CheckpointEverySteps steps
	// (0: never).
	CheckpointEveryEpochs  int     `json:"checkpoint_every_epochs"`
	CheckpointEveryMinutes float64 `json:"checkpoint_every_minutes"`
	CheckpointEverySteps   int     `json:"checkpoint_every_steps"`
	KeepLast               int     `json:"keep_last"`
	// LogEvery writes a step record to metrics.jsonl every LogEvery steps.
	LogEvery int `json:"log_every"`

	// Validation: traces are stitched at TraceHz (the cache rate divided
	// by a whole number), the threshold sweep uses ValGrid+1 thresholds
	// k/ValGrid with post-processing Post and event scorer SweepMethod.
	TraceHz float64 `json:"trace_hz"`
	// ValWindowStep validates on every ValWindowStep-th window only (see
	// Predictor.Step; 0 or 1: all).
	ValWindowStep int             `json:"val_window_step"`
	ValGrid       int             `json:"val_grid"`
	ValBatch      int             `json:"val_batch"`
	Post          postproc.Config `json:"post"`
	SweepMethod   string          `json:"sweep_method"`
}

// EarlyStop configures early stopping.
type EarlyStop struct {
	// Metric is a key of the epoch record (see MetricKeys).
	Metric string `json:"metric"`
	// Mode is "max" (higher is better) or "min".
	Mode     string  `json:"mode"`
	Patience int     `json:"patience"`
	MinDelta float64 `json:"min_delta"`
}

// MetricKeys are the validation metrics of an epoch record, usable for
// early stopping, abort rules and checkpoint selection.
var MetricKeys = []string{"val_loss", "auroc", "pr_auc", "sens_at_10fa", "sens_at_5fa", "sens_at_2.5fa", "sens_at_1fa", "train_loss"}

// Budgets are the false-alarm budgets (per 24 h) reported at validation.
var Budgets = []float64{10, 5, 2.5, 1}

// budgetKey names the sensitivity-at-budget metric.
func budgetKey(k float64) string {
	return "sens_at_" + strconv.FormatFloat(k, 'f', -1, 64) + "fa"
}

// DefaultConfig returns the defaults (a CPU-sized run).
func DefaultConfig() Config {
	return Config{
		Seed: 1, Epochs: 10, BatchSize: 16, GradAccum: 1,
		LR: 1e-3, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		WarmupRatio: 0.03, MinLRRatio: 0, ClipNorm: 1,
		PosWeight: 1, FocalAlpha: -1, FocalGamma: 2,
		FullRatio: 0.3, BackgroundRatio: 2.5, Workers: 2, Prefetch: 2,
		TrainSplit: "train", ValSplit: "dev",
		MaxNonFinite: 5,
		EarlyStop:    EarlyStop{Metric: "auroc", Mode: "max", Patience: 5},
		KeepLast:     2, LogEvery: 10,
		TraceHz: 16, ValGrid: 100,
		Post:        postproc.Threshold(0.5),
		SweepMethod: "ovlp",
	}
}

// Validate reports a configuration that cannot run, naming the field.
func (c *Config) Validate() error {
	pos := func(name string, v int) error {
		if v <= 0 {
			return fmt.Errorf("train config: %s = %d, want > 0", name, v)
		}
		return nil
	}
	nonneg := func(name string, v float64) error {
		if !(v >= 0) || math.IsInf(v, 0) {
			return fmt.Errorf("train config: %s = %v, want a finite number >= 0", name, v)
		}
		return nil
	}
	for _, e := range []error{
		pos("epochs", c.Epochs), pos("batch_size", c.BatchSize), pos("grad_accum", c.GradAccum),
		pos("workers", c.Workers), pos("prefetch", c.Prefetch), pos("max_nonfinite", c.MaxNonFinite),
		pos("log_every", c.LogEvery), pos("val_grid", c.ValGrid), pos("keep_last", c.KeepLast),
		nonneg("lr", c.LR), nonneg("weight_decay", c.WeightDecay), nonneg("clip_norm", c.ClipNorm),
		nonneg("pos_weight", c.PosWeight), nonneg("focal_gamma", c.FocalGamma),
		nonneg("full_ratio", c.FullRatio), nonneg("background_ratio", c.BackgroundRatio),
		nonneg("checkpoint_every_minutes", c.CheckpointEveryMinutes), nonneg("eps", c.Eps),
	} {
		if e != nil {
			return e
		}
	}
	if c.MaxStepsPerEpoch < 0 || c.LimitFiles < 0 || c.ValWindowStep < 0 || c.CheckpointEveryEpochs < 0 || c.CheckpointEverySteps < 0 || c.ValBatch < 0 {
		return fmt.Errorf("train config: max_steps_per_epoch, limit_files, val_window_step, checkpoint_every_epochs, checkpoint_every_steps and val_batch must be >= 0")
	}
	if !(c.LR > 0) {
		return fmt.Errorf("train config: lr = %v, want > 0", c.LR)
	}
	if !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1) {
		return fmt.Errorf("train config: beta1 = %v, beta2 = %v, want each in [0, 1)", c.Beta1, c.Beta2)
	}
	if !(c.WarmupRatio >= 0 && c.WarmupRatio <= 1) || !(c.MinLRRatio >= 0 && c.MinLRRatio <= 1) {
		return fmt.Errorf("train config: warmup_ratio = %v, min_lr_ratio = %v, want each in [0, 1]", c.WarmupRatio, c.MinLRRatio)
	}
	if c.FocalAlpha > 1 || math.IsNaN(c.FocalAlpha) {
		return fmt.Errorf("train config: focal_alpha = %v, want <= 1 (negative: off)", c.FocalAlpha)
	}
	if c.TrainSplit == "" || c.ValSplit == "" {
		return fmt.Errorf("train config: train_split and val_split must be named")
	}
	if !(c.TraceHz > 0) || math.IsInf(c.TraceHz, 0) {
		return fmt.Errorf("train config: trace_hz = %v, want > 0", c.TraceHz)
	}
	if err := c.Post.Validate(); err != nil {
		return fmt.Errorf("train config: post: %w", err)
	}
	switch c.SweepMethod {
	case "ovlp", "taes", "szcore":
	default:
		return fmt.Errorf("train config: sweep_method = %q, want ovlp, taes or szcore", c.SweepMethod)
	}
	{
		if !isMetricKey(c.EarlyStop.Metric) {
			return fmt.Errorf("train config: early_stop metric %q is not a validation metric (one of %s)", c.EarlyStop.Metric, strings.Join(MetricKeys, ", "))
		}
		if c.EarlyStop.Mode != "max" && c.EarlyStop.Mode != "min" {
			return fmt.Errorf("train config: early_stop mode %q, want max or min", c.EarlyStop.Mode)
		}
		if c.EarlyStop.Patience < 0 || !(c.EarlyStop.MinDelta >= 0) {
			return fmt.Errorf("train config: early_stop patience %d and min_delta %v must be >= 0", c.EarlyStop.Patience, c.EarlyStop.MinDelta)
		}
	}
	for _, a := range c.Abort {
		if _, err := ParseAbortRule(a); err != nil {
			return fmt.Errorf("train config: abort: %w", err)
		}
	}
	return nil
}

func isMetricKey(k string) bool {
	for _, m := range MetricKeys {
		if m == k {
			return true
		}
	}
	return false
}

// Hash is a hex SHA-256 of the configuration, stored in checkpoints so
// that a run resumes only from checkpoints of the same configuration.
func (c *Config) Hash() string {
	b, _ := json.Marshal(c)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Env is the environment override names.
const (
	EnvNaNDebug      = "PIPE_NAN_DEBUG"
	EnvSanitizeGrads = "PIPE_SANITIZE_GRADS"
	EnvDebugFinite   = "PIPE_DEBUG_FINITE"
	EnvLimitFiles    = "PIPE_LIMIT_FILES"
	EnvSmoke         = "PIPE_SMOKE"
)

// Smoke limits applied by PIPE_SMOKE=1.
const (
	SmokeEpochs     = 1
	SmokeSteps      = 10
	SmokeLimitFiles = 4
)

// ApplyEnv applies the environment overrides read through getenv and
// returns a description of each one applied. PIPE_NAN_DEBUG,
// PIPE_SANITIZE_GRADS and PIPE_DEBUG_FINITE take a boolean (1, true, 0,
// false, ...); PIPE_LIMIT_FILES a whole number; PIPE_SMOKE=1 turns any run
// into a smoke run (at most SmokeEpochs epochs of SmokeSteps steps on the
// first SmokeLimitFiles recordings of each split). An unparsable value is
// an error naming the variable.
func (c *Config) ApplyEnv(getenv func(string) string) ([]string, error) {
	var notes []string
	for _, b := range []struct {
		name string
		dst  *bool
	}{{EnvNaNDebug, &c.NaNDebug}, {EnvSanitizeGrads, &c.SanitizeGrads}, {EnvDebugFinite, &c.DebugFinite}} {
		v := getenv(b.name)
		if v == "" {
			continue
		}
		x, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("environment %s=%q: want a boolean (1, true, 0, false)", b.name, v)
		}
		*b.dst = x
		notes = append(notes, fmt.Sprintf("%s=%v", b.name, x))
	}
	if v := getenv(EnvLimitFiles); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("environment %s=%q: want a whole number >= 0", EnvLimitFiles, v)
		}
		c.LimitFiles = n
		notes = append(notes, fmt.Sprintf("%s=%d", EnvLimitFiles, n))
	}
	if v := getenv(EnvSmoke); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("environment %s=%q: want a boolean (1, true, 0, false)", EnvSmoke, v)
		}
		if on {
			c.Epochs = min(c.Epochs, SmokeEpochs)
			if c.MaxStepsPerEpoch == 0 || c.MaxStepsPerEpoch > SmokeSteps {
				c.MaxStepsPerEpoch = SmokeSteps
			}
			if c.LimitFiles == 0 || c.LimitFiles > SmokeLimitFiles {
				c.LimitFiles = SmokeLimitFiles
			}
			c.EarlyStop.Patience = 0
			c.Abort = nil
			notes = append(notes, fmt.Sprintf("%s=1 (epochs %d, max_steps_per_epoch %d, limit_files %d, no early stop or abort rules)", EnvSmoke, c.Epochs, c.MaxStepsPerEpoch, c.LimitFiles))
		}
	}
	return notes, nil
}

// AbortRule fails a run when a validation metric crosses a bound from a
// given epoch on: "auroc < 0.55 after epoch 3" fails at the end of any
// epoch >= 3 whose auroc is below 0.55.
type AbortRule struct {
	Text   string
	Metric string
	Op     string // <, <=, >, >=
	Value  float64
	After  int
}

// ParseAbortRule parses "METRIC OP VALUE [after epoch N]".
func ParseAbortRule(s string) (AbortRule, error) {
	f := strings.Fields(s)
	r := AbortRule{Text: s}
	if len(f) != 3 && !(len(f) == 6 && f[3] == "after" && f[4] == "epoch") {
		return r, fmt.Errorf("rule %q: want \"METRIC OP VALUE\" or \"METRIC OP VALUE after epoch N\" (e.g. \"auroc < 0.55 after epoch 3\")", s)
	}
	r.Metric, r.Op = f[0], f[1]
	if !isMetricKey(r.Metric) {
		return r, fmt.Errorf("rule %q: %q is not a validation metric (one of %s)", s, r.Metric, strings.Join(MetricKeys, ", "))
	}
	switch r.Op {
	case "<", "<=", ">", ">=":
	default:
		return r, fmt.Errorf("rule %q: operator %q, want <, <=, > or >=", s, r.Op)
	}
	v, err := strconv.ParseFloat(f[2], 64)
	if err != nil || math.IsNaN(v) {
		return r, fmt.Errorf("rule %q: %q is not a number", s, f[2])
	}
	r.Value = v
	if len(f) == 6 {
		n, err := strconv.Atoi(f[5])
		if err != nil || n < 1 {
			return r, fmt.Errorf("rule %q: epoch %q is not a whole number >= 1", s, f[5])
		}
		r.After = n
	}
	return r, nil
}

// Fires reports whether the rule fails the run at the end of epoch (from 1)
// with the given metrics. A missing or NaN metric fires (it cannot be shown
// to be fine).
func (r AbortRule) Fires(epoch int, metrics map[string]float64) bool {
	if epoch < r.After {
		return false
	}
	v, ok := metrics[r.Metric]
	if !ok || math.IsNaN(v) {
		return true
	}
	switch r.Op {
	case "<":
		return v < r.Value
	case "<=":
		return v <= r.Value
	case ">":
		return v > r.Value
	}
	return v >= r.Value
}
