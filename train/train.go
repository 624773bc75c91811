package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/internal/atomicfile"
	"github.com/pipeml/pipe/model"
)

// Progress is how training reports progress (stages.Progress satisfies
// it).
type Progress interface {
	Total(n int64, unit string)
	Add(n int64)
	Status(text string)
}

// FiniteDebugger is implemented by networks that can check every layer's
// output for non-finite values and name the first offending layer in
// Forward's error. Config.DebugFinite turns it on.
type FiniteDebugger interface {
	SetDebugFinite(on bool)
}

// Files written into the output directory.
const (
	MetricsFile    = "metrics.jsonl"
	ThroughputFile = "throughput.jsonl"
	SummaryFile    = "summary.json"
	CheckpointsDir = "checkpoints"
)

// Options are the inputs of a run besides its Config.
type Options struct {
	// Net is the freshly initialised network (its weights are replaced
	// when the run resumes).
	Net model.Net
	// Dataset is the opened cache and CacheDir its directory.
	Dataset  *cache.Dataset
	CacheDir string
	// Dir is the output directory (metrics, checkpoints, summary).
	Dir string
	// Key identifies the run beyond its Config (the stage fingerprint);
	// checkpoints of another key or config are not resumed from.
	Key string
	// Meta describes the network (its config as JSON) and is stored in
	// every checkpoint.
	Meta json.RawMessage
	// Log receives human-readable progress lines (nil: discarded).
	Log io.Writer
	// Progress, when set, counts optimiser steps.
	Progress Progress
	// OnStep, when set, is called after every optimiser step.
	OnStep func(StepInfo)
	// Now is the clock for time-based checkpoints (default time.Now).
	Now func() time.Time
}

// StepInfo describes one finished optimiser step.
type StepInfo struct {
	Epoch, StepInEpoch int
	GlobalStep         int64
	Loss, LR, GradNorm float64
	Skipped            bool
}

// Summary is summary.json.
type Summary struct {
	Format          string             `json:"format"`
	Epochs          int                `json:"epochs_run"`
	GlobalSteps     int64              `json:"global_steps"`
	StepsPerEpoch   int                `json:"steps_per_epoch"`
	WindowsPerEpoch int                `json:"windows_per_epoch"`
	Params          int64              `json:"params"`
	StoppedEarly    bool               `json:"stopped_early"`
	StopReason      string             `json:"stop_reason"`
	Best            *Best              `json:"best"`
	BestDir         string             `json:"best_checkpoint"`
	LastDir         string             `json:"last_checkpoint"`
	Skipped         int64              `json:"skipped_steps"`
	Sanitized       int64              `json:"sanitized_values"`
	Final           map[string]float64 `json:"final_metrics"`
	Config          Config             `json:"config"`
}

// NonFiniteError is returned when too many consecutive steps had a
// non-finite loss or gradient.
type NonFiniteError struct {
	Steps     int
	FromStep  int64
	Reason    string
	BatchFile string
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("%d consecutive non-finite steps from global step %d (%s); offending batch saved to %s; "+
		"try a lower lr, sanitize_grads = true, or debug_finite = true to name the first non-finite layer",
		e.Steps, e.FromStep, e.Reason, e.BatchFile)
}

// AbortError is returned when an abort rule fires.
type AbortError struct {
	Rule  string
	Epoch int
	Value float64
}

func (e *AbortError) Error() string {
	return fmt.Sprintf("abort rule %q fired at epoch %d (value %v)", e.Rule, e.Epoch, e.Value)
}

// trainer is one run's working state.
type trainer struct {
	cfg     Config
	opt     Options
	params  []*model.Param
	adam    *AdamW
	sched   Schedule
	loss    Loss
	st      State
	key     string
	metrics *os.File
	thru    *os.File
	log     io.Writer
	chans   int
	length  int
	steps   int // optimiser steps per epoch
	perStep int // windows per optimiser step
	now     func() time.Time
	start   time.Time
	lastCk  time.Time
	nparams int64
	dlogits []float32
	rules   []AbortRule
}

// Run trains opt.Net with cfg, resuming from the newest valid checkpoint
// in opt.Dir of the same key and configuration, and returns the summary
// (also written to summary.json).
func Run(ctx context.Context, cfg Config, opt Options) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &trainer{cfg: cfg, opt: opt, log: opt.Log, now: opt.Now}
	if t.log == nil {
		t.log = io.Discard
	}
	if t.now == nil {
		t.now = time.Now
	}
	if err := t.setup(); err != nil {
		return nil, err
	}
	defer t.metrics.Close()
	defer t.thru.Close()
	return t.run(ctx)
}

func (t *trainer) setup() error {
	cfg := &t.cfg
	if t.opt.Net == nil || t.opt.Dataset == nil || t.opt.Dir == "" {
		return fmt.Errorf("train: Net, Dataset and Dir are required")
	}
	t.params = t.opt.Net.Params()
	seen := map[string]bool{}
	h := sha256.New()
	for _, p := range t.params {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		if p.Name == "" || seen[p.Name] || len(p.W) != n || len(p.G) != n {
			return fmt.Errorf("train: parameter %q: empty or repeated name, or shape %v does not match %d values / %d gradients", p.Name, p.Shape, len(p.W), len(p.G))
		}
		seen[p.Name] = true
		t.nparams += int64(n)
		fmt.Fprintf(h, "%s%v;", p.Name, p.Shape)
	}
	if cfg.DebugFinite {
		fd, ok := t.opt.Net.(FiniteDebugger)
		if !ok {
			return fmt.Errorf("train: debug_finite is on but the network (%T) cannot check its layers", t.opt.Net)
		}
		fd.SetDebugFinite(true)
	}
	fmt.Fprintf(h, "|%s|%s|", t.opt.Key, cfg.Hash())
	h.Write(t.opt.Meta)
	t.key = hex.EncodeToString(h.Sum(nil))
	ds := t.opt.Dataset
	t.chans, t.length = len(ds.Channels()), ds.WindowSamples()
	t.loss = Loss{PosWeight: cfg.PosWeight, Alpha: cfg.FocalAlpha, Gamma: cfg.FocalGamma}
	t.adam = NewAdamW(t.params, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)
	for _, a := range cfg.Abort {
		r, _ := ParseAbortRule(a)
		t.rules = append(t.rules, r)
	}
	t.perStep = cfg.BatchSize * cfg.GradAccum
	t.dlogits = make([]float32, cfg.BatchSize*t.length)
	return os.MkdirAll(filepath.Join(t.opt.Dir, CheckpointsDir), 0o755)
}

func (t *trainer) logf(format string, args ...any) {
	fmt.Fprintf(t.log, format+"\n", args...)
}

func (t *trainer) run(ctx context.Context) (*Summary, error) {
	cfg := &t.cfg
	m := t.opt.Dataset.Manifest()
	trainRecs := Recordings(m, cfg.TrainSplit, cfg.LimitFiles)
	valRecs := Recordings(m, cfg.ValSplit, cfg.LimitFiles)
	if len(trainRecs) == 0 || len(valRecs) == 0 {
		return nil, fmt.Errorf("train: the cache has %d recordings in split %q and %d in %q; both are needed", len(trainRecs), cfg.TrainSplit, len(valRecs), cfg.ValSplit)
	}
	pool := NewPool(m, trainRecs)
	np, nf, nb, err := pool.Counts(cfg.FullRatio, cfg.BackgroundRatio)
	if err != nil {
		return nil, fmt.Errorf("train: split %q: %w", cfg.TrainSplit, err)
	}
	perEpoch := np + nf + nb
	t.steps = perEpoch / t.perStep
	if cfg.MaxStepsPerEpoch > 0 {
		t.steps = min(t.steps, cfg.MaxStepsPerEpoch)
	}
	if t.steps == 0 {
		return nil, fmt.Errorf("train: an epoch samples %d windows (%d partial, %d full, %d background), fewer than one step of batch_size × grad_accum = %d", perEpoch, np, nf, nb, t.perStep)
	}
	total := int64(t.steps) * int64(cfg.Epochs)
	t.sched = NewSchedule(cfg.LR, cfg.MinLRRatio, cfg.WarmupRatio, total)
	t.logf("train: %d parameters; %d train recordings (%d partial + %d full + %d background windows per epoch), %d validation recordings; %d steps/epoch × %d epochs",
		t.nparams, len(trainRecs), np, nf, nb, len(valRecs), t.steps, cfg.Epochs)

	if err := t.resume(); err != nil {
		return nil, err
	}
	if t.opt.Progress != nil {
		t.opt.Progress.Total(total, "steps")
		t.opt.Progress.Add(t.st.GlobalStep)
	}
	t.start, t.lastCk = t.now(), t.now()
	pred := &Predictor{Net: t.opt.Net, DS: t.opt.Dataset, Dir: t.opt.CacheDir, Batch: max(cfg.ValBatch, cfg.BatchSize), Workers: cfg.Workers, TraceHz: cfg.TraceHz, Loss: &t.loss, Step: cfg.ValWindowStep}
	sum := &Summary{Format: "pipe-train-summary", StepsPerEpoch: t.steps, WindowsPerEpoch: perEpoch, Params: t.nparams, Config: *cfg}
	for {
		// Decisions at an epoch end are taken here, from the state, so
		// that a rerun after an early stop or an abort decides the same.
		if t.st.EpochEnd && t.st.Final != nil {
			met := fromNullable(t.st.Final)
			for _, r := range t.rules {
				if r.Fires(t.st.Epoch, met) {
					abort := &AbortError{Rule: r.Text, Epoch: t.st.Epoch, Value: met[r.Metric]}
					sum.StopReason = abort.Error()
					t.finish(sum)
					return nil, fmt.Errorf("train: %w", abort)
				}
			}
			if cfg.EarlyStop.Patience > 0 && t.st.BadEpochs >= cfg.EarlyStop.Patience {
				sum.StoppedEarly = true
				sum.StopReason = fmt.Sprintf("early stopping: %s did not improve for %d epochs (best %v at epoch %d)", cfg.EarlyStop.Metric, t.st.BadEpochs, t.st.Best.Value, t.st.Best.Epoch)
				t.logf("%s", sum.StopReason)
				break
			}
		}
		if t.st.Epoch >= cfg.Epochs {
			break
		}
		epoch := t.st.Epoch
		plan, err := pool.Plan(cfg.FullRatio, cfg.BackgroundRatio, cfg.Seed, epoch)
		if err != nil {
			return nil, err
		}
		plan = plan[:t.steps*t.perStep]
		ph := planHash(plan)
		if t.st.StepInEpoch > 0 && t.st.PlanSHA256 != ph {
			return nil, fmt.Errorf("train: resuming epoch %d at step %d: the epoch's sample plan differs from the checkpoint's (the cache changed); remove %s to start over", epoch+1, t.st.StepInEpoch, t.opt.Dir)
		}
		t.st.PlanSHA256 = ph
		if err := t.epoch(ctx, plan); err != nil {
			return nil, err
		}
		if t.opt.Progress != nil {
			t.opt.Progress.Status(fmt.Sprintf("epoch %d/%d: validating", epoch+1, cfg.Epochs))
		}
		v, err := ValidateSplit(ctx, pred, valRecs, cfg)
		if err != nil {
			return nil, fmt.Errorf("train: epoch %d: %w", epoch+1, err)
		}
		met := v.Metrics
		met["train_loss"] = math.NaN()
		if t.st.EpochLossN > 0 {
			met["train_loss"] = t.st.EpochLossSum / float64(t.st.EpochLossN)
		}
		name := fmt.Sprintf("epoch-%04d", epoch+1)
		improved := t.updateBest(epoch+1, met, name)
		rec := map[string]any{"type": "epoch", "epoch": epoch + 1, "global_step": t.st.GlobalStep,
			"skipped_steps": t.st.Skipped, "is_best": improved, "best_metric": cfg.EarlyStop.Metric, "best_value": num(t.st.Best.Value),
			"validation_recordings": v.Recordings}
		for k, x := range met {
			rec[k] = num(x)
		}
		for k, x := range v.Thresholds {
			rec[k] = num(x)
		}
		if err := t.writeMetrics(rec); err != nil {
			return nil, err
		}
		t.logf("epoch %d/%d: train_loss %.4f val_loss %.4f auroc %.4f sens@10FA %.1f%% sens@1FA %.1f%%%s",
			epoch+1, cfg.Epochs, met["train_loss"], met["val_loss"], met["auroc"], met["sens_at_10fa"], met["sens_at_1fa"], map[bool]string{true: " (best)", false: ""}[improved])
		t.st.Epoch, t.st.StepInEpoch, t.st.EpochEnd = epoch+1, 0, true
		t.st.EpochLossSum, t.st.EpochLossN, t.st.PlanSHA256 = 0, 0, ""
		t.st.Final = nullable(met)
		if err := t.checkpoint(name); err != nil {
			return nil, err
		}
		t.pruneEpochs(epoch + 1)
	}
	if sum.StopReason == "" {
		sum.StopReason = fmt.Sprintf("completed %d epochs", t.st.Epoch)
	}
	if err := t.finish(sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// finish fills and writes summary.json.
func (t *trainer) finish(sum *Summary) error {
	final := fromNullable(t.st.Final)
	sum.Epochs, sum.GlobalSteps, sum.Best = t.st.Epoch, t.st.GlobalStep, t.st.Best
	sum.Skipped, sum.Sanitized = t.st.Skipped, t.st.SanitizedValues
	if t.st.Best != nil {
		sum.BestDir = filepath.Join(t.opt.Dir, CheckpointsDir, t.st.Best.Checkpoint)
	}
	if t.st.Epoch > 0 {
		sum.LastDir = filepath.Join(t.opt.Dir, CheckpointsDir, fmt.Sprintf("epoch-%04d", t.st.Epoch))
	}
	sum.Final = map[string]float64{}
	for k, v := range final {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			sum.Final[k] = v
		}
	}
	b, err := json.MarshalIndent(sum, "", " ")
	if err != nil {
		return fmt.Errorf("train: summary: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(t.opt.Dir, SummaryFile), append(b, '\n'), 0o644)
}

// updateBest records epoch's metric and reports whether it improved.
func (t *trainer) updateBest(epoch int, met map[string]float64, name string) bool {
	es := t.cfg.EarlyStop
	v := met[es.Metric]
	b := t.st.Best
	better := !math.IsNaN(v) && (b == nil || math.IsNaN(b.Value) ||
		es.Mode == "max" && v > b.Value+es.MinDelta || es.Mode == "min" && v < b.Value-es.MinDelta)
	if better || b == nil {
		t.st.Best = &Best{Metric: es.Metric, Value: v, Epoch: epoch, Checkpoint: name}
	}
	if better {
		t.st.BadEpochs = 0
	} else {
		t.st.BadEpochs++
	}
	return better
}

// nullable stores metrics for JSON: non-finite values become null.
func nullable(m map[string]float64) map[string]*float64 {
	out := make(map[string]*float64, len(m))
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = &v
		} else {
			out[k] = nil
		}
	}
	return out
}

// fromNullable is the inverse of nullable (null becomes NaN).
func fromNullable(m map[string]*float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = math.NaN()
		}
	}
	return out
}

// num turns a non-finite number into JSON null.
func num(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return x
}

func planHash(plan []int) string {
	h := sha256.New()
	var b [8]byte
	for _, i := range plan {
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// resume loads the newest valid checkpoint of this run's key, or starts
// over, removing what a previous configuration left.
func (t *trainer) resume() error {
	dir := t.opt.Dir
	ckdir := filepath.Join(dir, CheckpointsDir)
	cks, skipped := listCheckpoints(ckdir, t.key)
	for _, s := range skipped {
		t.logf("train: ignoring checkpoint: %s", s)
	}
	mpath := filepath.Join(dir, MetricsFile)
	t.st = State{Key: t.key, Seed: t.cfg.Seed, Meta: t.opt.Meta}
	if len(cks) > 0 {
		ck := cks[0]
		st, err := LoadCheckpoint(filepath.Join(ckdir, ck.name), t.params, t.adam)
		if err != nil {
			return fmt.Errorf("train: resume: %w", err)
		}
		t.st = *st
		fi, err := os.Stat(mpath)
		if err != nil || fi.Size() < st.MetricsBytes {
			return fmt.Errorf("train: resume from %s: %s is missing or shorter (%v) than the checkpoint recorded (%d bytes); remove %s to start over", ck.name, mpath, err, st.MetricsBytes, dir)
		}
		if err := os.Truncate(mpath, st.MetricsBytes); err != nil {
			return fmt.Errorf("train: resume: %w", err)
		}
		t.logf("train: resuming from checkpoint %s (epoch %d, step %d of the epoch, global step %d)", ck.name, st.Epoch+1, st.StepInEpoch, st.GlobalStep)
	} else {
		for _, name := range []string{CheckpointsDir, MetricsFile, ThroughputFile, SummaryFile} {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("train: start over: %w", err)
			}
		}
		if err := os.MkdirAll(ckdir, 0o755); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	var err error
	if t.metrics, err = os.OpenFile(mpath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if t.thru, err = os.OpenFile(filepath.Join(dir, ThroughputFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// writeMetrics appends one JSON record to metrics.jsonl and syncs it.
func (t *trainer) writeMetrics(rec map[string]any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	if _, err := t.metrics.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	return nil
}

// checkpoint saves the current state as checkpoints/name.
func (t *trainer) checkpoint(name string) error {
	if err := t.metrics.Sync(); err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	fi, err := t.metrics.Stat()
	if err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	t.st.MetricsBytes = fi.Size()
	t.st.OptimStep = t.adam.Step
	t.st.Key, t.st.Seed, t.st.Meta = t.key, t.cfg.Seed, t.opt.Meta
	if err := SaveCheckpoint(filepath.Join(t.opt.Dir, CheckpointsDir, name), t.params, t.adam, t.st); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	t.lastCk = t.now()
	// Older mid-epoch checkpoints are superseded.
	ents, _ := os.ReadDir(filepath.Join(t.opt.Dir, CheckpointsDir))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "step-") && e.Name() != name {
			os.RemoveAll(filepath.Join(t.opt.Dir, CheckpointsDir, e.Name()))
		}
	}
	return nil
}

// pruneEpochs removes epoch checkpoints other than the last KeepLast, the
// best and every CheckpointEveryEpochs-th.
func (t *trainer) pruneEpochs(last int) {
	ents, _ := os.ReadDir(filepath.Join(t.opt.Dir, CheckpointsDir))
	for _, e := range ents {
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "epoch-"))
		if !strings.HasPrefix(e.Name(), "epoch-") || err != nil {
			continue
		}
		keep := n > last-t.cfg.KeepLast ||
			t.st.Best != nil && t.st.Best.Epoch == n ||
			t.cfg.CheckpointEveryEpochs > 0 && n%t.cfg.CheckpointEveryEpochs == 0
		if !keep {
			os.RemoveAll(filepath.Join(t.opt.Dir, CheckpointsDir, e.Name()))
		}
	}
}

// epoch runs the remaining optimiser steps of the current epoch.
func (t *trainer) epoch(ctx context.Context, plan []int) error {
	cfg := &t.cfg
	st := &t.st
	from := st.StepInEpoch * t.perStep
	loader := NewLoader(ctx, t.opt.Dataset, plan[from:], cfg.BatchSize, cfg.Workers, cfg.Prefetch)
	defer loader.Close()
	winStart, tStart := 0, t.now()
	for st.StepInEpoch < t.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		lr := t.sched.LR(st.GlobalStep)
		t.opt.Net.ZeroGrad()
		var lossSum float64
		var bad string
		var badBatch *Batch
		var badLogits []float32
		for a := 0; a < cfg.GradAccum; a++ {
			b, err := loader.Next(ctx)
			if err != nil {
				return fmt.Errorf("train: %w", err)
			}
			if b == nil {
				return fmt.Errorf("train: the loader ended early at step %d of epoch %d", st.StepInEpoch, st.Epoch+1)
			}
			if bad != "" {
				loader.Release(b)
				continue
			}
			n := len(b.Windows)
			seed := SeedFor(cfg.Seed, uint64(st.GlobalStep), uint64(a), purposeDropout)
			logits, err := t.opt.Net.Forward(b.X, n, t.length, true, seed)
			if err != nil {
				if cfg.DebugFinite {
					bad = fmt.Sprintf("forward of micro-batch %d: %v", a, err)
					badBatch, badLogits = b, nil
					continue
				}
				loader.Release(b)
				return fmt.Errorf("train: epoch %d step %d: forward: %w", st.Epoch+1, st.StepInEpoch, err)
			}
			if len(logits) != n*t.length {
				return fmt.Errorf("train: the network returned %d logits for %d windows of %d samples", len(logits), n, t.length)
			}
			dl := t.dlogits[:n*t.length]
			clear(dl)
			l := t.loss.Eval(logits, b.Y, dl, 1/float64(t.perStep*t.length))
			if math.IsNaN(l) || math.IsInf(l, 0) {
				bad = fmt.Sprintf("loss %v in micro-batch %d", l, a)
				badBatch, badLogits = b, append([]float32(nil), logits...)
				continue
			}
			if err := t.opt.Net.Backward(dl); err != nil {
				loader.Release(b)
				return fmt.Errorf("train: epoch %d step %d: backward: %w", st.Epoch+1, st.StepInEpoch, err)
			}
			lossSum += l
			loader.Release(b)
		}
		var norm float64
		if bad == "" {
			var nonFinite int
			norm, nonFinite = GradNorm(t.params)
			if nonFinite > 0 {
				if cfg.SanitizeGrads {
					st.SanitizedValues += int64(SanitizeGrads(t.params))
				} else {
					bad = fmt.Sprintf("%d non-finite gradient values", nonFinite)
				}
			}
		}
		info := StepInfo{Epoch: st.Epoch + 1, StepInEpoch: st.StepInEpoch + 1, GlobalStep: st.GlobalStep + 1, LR: lr, GradNorm: norm}
		if bad != "" {
			st.Skipped++
			st.Consecutive++
			info.Skipped, info.Loss = true, math.NaN()
			path := ""
			if cfg.NaNDebug || st.Consecutive >= cfg.MaxNonFinite {
				path = filepath.Join(t.opt.Dir, fmt.Sprintf("nonfinite-step%d.safetensors", st.GlobalStep+1))
				if err := t.saveBatch(path, badBatch, badLogits, bad); err != nil {
					t.logf("train: could not save the offending batch: %v", err)
				}
			}
			if badBatch != nil {
				loader.Release(badBatch)
			}
			t.logf("train: epoch %d step %d (global %d): skipped: %s", st.Epoch+1, st.StepInEpoch+1, st.GlobalStep+1, bad)
			if err := t.writeMetrics(map[string]any{"type": "skip", "epoch": st.Epoch + 1, "step": st.StepInEpoch + 1, "global_step": st.GlobalStep + 1, "reason": bad}); err != nil {
				return err
			}
			if st.Consecutive >= cfg.MaxNonFinite {
				return fmt.Errorf("train: %w", &NonFiniteError{Steps: st.Consecutive, FromStep: st.GlobalStep + 2 - int64(st.Consecutive), Reason: bad, BatchFile: path})
			}
		} else {
			st.Consecutive = 0
			t.adam.Update(t.params, lr, ClipScale(norm, cfg.ClipNorm))
			info.Loss = lossSum / float64(t.perStep*t.length)
			st.EpochLossSum += lossSum
			st.EpochLossN += int64(t.perStep * t.length)
		}
		st.StepInEpoch++
		st.GlobalStep++
		st.EpochEnd = false
		winStart += t.perStep
		if !info.Skipped && (st.GlobalStep%int64(cfg.LogEvery) == 0 || st.StepInEpoch == 1 && st.Epoch == 0) {
			if err := t.writeMetrics(map[string]any{"type": "step", "epoch": info.Epoch, "step": info.StepInEpoch, "global_step": info.GlobalStep,
				"loss": num(info.Loss), "lr": lr, "grad_norm": num(norm)}); err != nil {
				return err
			}
			el := t.now().Sub(tStart).Seconds()
			if el > 0 {
				b, _ := json.Marshal(map[string]any{"global_step": info.GlobalStep, "windows_per_s": float64(winStart) / el, "elapsed_s": t.now().Sub(t.start).Seconds()})
				t.thru.Write(append(b, '\n'))
			}
			winStart, tStart = 0, t.now()
		}
		if t.opt.Progress != nil {
			t.opt.Progress.Add(1)
			t.opt.Progress.Status(fmt.Sprintf("epoch %d/%d step %d/%d loss %.4f", info.Epoch, cfg.Epochs, info.StepInEpoch, t.steps, info.Loss))
		}
		if t.opt.OnStep != nil {
			t.opt.OnStep(info)
		}
		if st.StepInEpoch < t.steps {
			due := cfg.CheckpointEverySteps > 0 && st.StepInEpoch%cfg.CheckpointEverySteps == 0 ||
				cfg.CheckpointEveryMinutes > 0 && t.now().Sub(t.lastCk) >= time.Duration(cfg.CheckpointEveryMinutes*float64(time.Minute))
			if due {
				if err := t.checkpoint(fmt.Sprintf("step-%010d", st.GlobalStep)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// saveBatch writes an offending batch (inputs, labels, logits when there
// are any) with the window indices and the reason as metadata.
func (t *trainer) saveBatch(path string, b *Batch, logits []float32, reason string) error {
	if b == nil {
		return errors.New("no batch")
	}
	n := len(b.Windows)
	ts := []Tensor{{Name: "x", Shape: []int{n, t.chans, t.length}, Data: b.X}, {Name: "y", Shape: []int{n, t.length}, Data: b.Y}}
	if logits != nil {
		ts = append(ts, Tensor{Name: "logits", Shape: []int{n, t.length}, Data: logits})
	}
	m := t.opt.Dataset.Manifest()
	var where []string
	for _, w := range b.Windows {
		info := t.opt.Dataset.Window(w)
		where = append(where, fmt.Sprintf("%d:%s@%d", w, m.Recordings[info.Recording].ID, info.Start))
	}
	return WriteSafetensors(path, ts, map[string]string{"reason": reason, "windows": strings.Join(where, ",")})
}
