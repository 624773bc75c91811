package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipeml/pipe/internal/atomicfile"
	"github.com/pipeml/pipe/model"
)

// Checkpoint file names inside a checkpoint directory.
const (
	WeightsFile = "weights.safetensors"
	OptimFile   = "optim.safetensors"
	StateFile   = "state.json"
)

// StateFormat identifies state.json files.
const StateFormat = "pipe-train-checkpoint"

// StateVersion is the state.json layout version.
const StateVersion = 1

// State is the JSON part of a checkpoint: everything besides the weights
// and the optimiser moments that a run needs to continue exactly where it
// was.
type State struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Key identifies the run configuration; a run resumes only from
	// checkpoints with its own key.
	Key  string `json:"key"`
	Seed uint64 `json:"seed"`
	// Epoch (from 0) and StepInEpoch (optimiser steps done in it) give
	// the sampler position; an epoch-end checkpoint has the next epoch
	// and step 0. GlobalStep counts optimiser steps, skipped ones too.
	Epoch       int   `json:"epoch"`
	StepInEpoch int   `json:"step_in_epoch"`
	GlobalStep  int64 `json:"global_step"`
	EpochEnd    bool  `json:"epoch_end"`
	// PlanSHA256 is the checksum of the current epoch's sample plan, to
	// catch a resumed run whose data changed.
	PlanSHA256 string `json:"plan_sha256,omitempty"`
	// OptimStep is AdamW's update count (skipped steps do not update).
	OptimStep int64 `json:"optim_step"`
	// Non-finite bookkeeping.
	Skipped         int64 `json:"skipped_steps"`
	Consecutive     int   `json:"consecutive_nonfinite"`
	SanitizedValues int64 `json:"sanitized_values"`
	// EpochLossSum/EpochLossN accumulate the current epoch's training
	// loss.
	EpochLossSum float64 `json:"epoch_loss_sum"`
	EpochLossN   int64   `json:"epoch_loss_n"`
	// Final holds the last finished epoch's metrics (null: undefined).
	Final map[string]*float64 `json:"final_metrics,omitempty"`
	// Early stopping.
	Best      *Best `json:"best,omitempty"`
	BadEpochs int   `json:"bad_epochs"`
	// MetricsBytes is the length of metrics.jsonl when the checkpoint was
	// taken; a resumed run truncates it there.
	MetricsBytes int64 `json:"metrics_bytes"`
	// Meta is the caller's description of the network (model config),
	// stored so that the checkpoint can be loaded on its own.
	Meta json.RawMessage `json:"meta,omitempty"`
	// Files maps each other file of the checkpoint to its SHA-256.
	Files map[string]string `json:"files"`
}

// Best is the best epoch so far by the early-stopping metric.
type Best struct {
	Metric     string  `json:"metric"`
	Value      float64 `json:"value"`
	Epoch      int     `json:"epoch"`
	Checkpoint string  `json:"checkpoint"`
}

// stateEnvelope is state.json: the state and the SHA-256 of its exact
// bytes.
type stateEnvelope struct {
	State  json.RawMessage `json:"state"`
	SHA256 string          `json:"sha256"`
}

// SaveCheckpoint writes a checkpoint directory: weights, optimiser moments
// (tensors "m.NAME" and "v.NAME"), then state.json, which lists the
// checksums of the others. Each file is written atomically; state.json
// comes last, so a directory without a valid state.json is an incomplete
// checkpoint and is ignored.
func SaveCheckpoint(dir string, params []*model.Param, opt *AdamW, st State) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	w := make([]Tensor, len(params))
	o := make([]Tensor, 0, 2*len(params))
	for i, p := range params {
		w[i] = Tensor{Name: p.Name, Shape: p.Shape, Data: p.W}
		o = append(o, Tensor{Name: "m." + p.Name, Shape: p.Shape, Data: opt.M[i]}, Tensor{Name: "v." + p.Name, Shape: p.Shape, Data: opt.V[i]})
	}
	st.Format, st.Version = StateFormat, StateVersion
	st.Files = map[string]string{}
	for _, f := range []struct {
		name string
		ts   []Tensor
	}{{WeightsFile, w}, {OptimFile, o}} {
		path := filepath.Join(dir, f.name)
		if err := WriteSafetensors(path, f.ts, map[string]string{"format": "pt"}); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		sum, err := fileSHA256(path)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		st.Files[f.name] = sum
	}
	sb, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	s := sha256.Sum256(sb)
	eb, err := json.MarshalIndent(stateEnvelope{State: sb, SHA256: hex.EncodeToString(s[:])}, "", " ")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, StateFile), append(eb, '\n'), 0o644)
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// ReadState reads and verifies a checkpoint directory's state.json and the
// checksums of the files it lists.
func ReadState(dir string) (*State, error) {
	path := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var env stateEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// The state was hashed in compact form; the envelope holds it
	// indented.
	var sb bytes.Buffer
	if err := json.Compact(&sb, env.State); err != nil {
		return nil, fmt.Errorf("%s: state: %w", path, err)
	}
	s := sha256.Sum256(sb.Bytes())
	if hex.EncodeToString(s[:]) != env.SHA256 {
		return nil, fmt.Errorf("%s: state checksum mismatch: the file is corrupt", path)
	}
	var st State
	if err := json.Unmarshal(env.State, &st); err != nil {
		return nil, fmt.Errorf("%s: state: %w", path, err)
	}
	if st.Format != StateFormat || st.Version != StateVersion {
		return nil, fmt.Errorf("%s: format %q version %d, this pipe reads %s version %d", path, st.Format, st.Version, StateFormat, StateVersion)
	}
	for name, want := range st.Files {
		got, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		if got != want {
			return nil, fmt.Errorf("checkpoint %s: %s has checksum %s, state.json says %s: the file is corrupt", dir, name, got, want)
		}
	}
	return &st, nil
}

// LoadWeights reads a weights file into params, matching tensors by name
// and shape; every parameter must be present and no extra tensor may be.
func LoadWeights(path string, params []*model.Param) error {
	ts, _, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	return assign(path, ts, params, "", func(p *model.Param) []float32 { return p.W })
}

func assign(path string, ts []Tensor, params []*model.Param, prefix string, dst func(*model.Param) []float32) error {
	by := map[string]Tensor{}
	for _, t := range ts {
		if strings.HasPrefix(t.Name, prefix) {
			by[strings.TrimPrefix(t.Name, prefix)] = t
		}
	}
	for _, p := range params {
		t, ok := by[p.Name]
		if !ok {
			return fmt.Errorf("%s: no tensor %s%s", path, prefix, p.Name)
		}
		if !equalShape(t.Shape, p.Shape) {
			return fmt.Errorf("%s: tensor %s%s has shape %v, the network's is %v", path, prefix, p.Name, t.Shape, p.Shape)
		}
		copy(dst(p), t.Data)
		delete(by, p.Name)
	}
	if len(by) > 0 {
		var extra []string
		for n := range by {
			extra = append(extra, prefix+n)
		}
		sort.Strings(extra)
		return fmt.Errorf("%s: tensors the network does not have: %s", path, strings.Join(extra, ", "))
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// LoadCheckpoint verifies a checkpoint directory and loads its weights into
// params and, when opt is not nil, its moments into opt.
func LoadCheckpoint(dir string, params []*model.Param, opt *AdamW) (*State, error) {
	st, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	if err := LoadWeights(filepath.Join(dir, WeightsFile), params); err != nil {
		return nil, err
	}
	if opt != nil {
		path := filepath.Join(dir, OptimFile)
		ts, _, err := ReadSafetensors(path)
		if err != nil {
			return nil, err
		}
		idx := map[*model.Param]int{}
		for i, p := range params {
			idx[p] = i
		}
		var mts, vts []Tensor
		for _, t := range ts {
			switch {
			case strings.HasPrefix(t.Name, "m."):
				mts = append(mts, t)
			case strings.HasPrefix(t.Name, "v."):
				vts = append(vts, t)
			default:
				return nil, fmt.Errorf("%s: unexpected tensor %s", path, t.Name)
			}
		}
		if err := assign(path, mts, params, "m.", func(p *model.Param) []float32 { return opt.M[idx[p]] }); err != nil {
			return nil, err
		}
		if err := assign(path, vts, params, "v.", func(p *model.Param) []float32 { return opt.V[idx[p]] }); err != nil {
			return nil, err
		}
		opt.Step = st.OptimStep
	}
	return st, nil
}

// checkpointInfo is one checkpoint directory found on disk.
type checkpointInfo struct {
	name  string
	state *State
}

// listCheckpoints returns the valid checkpoints under dir with the given
// key, newest first, and a description of each directory it skipped.
func listCheckpoints(dir, key string) ([]checkpointInfo, []string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, []string{err.Error()}
	}
	var out []checkpointInfo
	var skipped []string
	for _, e := range ents {
		if !e.IsDir() || !(strings.HasPrefix(e.Name(), "epoch-") || strings.HasPrefix(e.Name(), "step-")) {
			continue
		}
		st, err := ReadState(filepath.Join(dir, e.Name()))
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		if st.Key != key {
			skipped = append(skipped, fmt.Sprintf("checkpoint %s belongs to another configuration", e.Name()))
			continue
		}
		out = append(out, checkpointInfo{name: e.Name(), state: st})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].state, out[j].state
		if a.GlobalStep != b.GlobalStep {
			return a.GlobalStep > b.GlobalStep
		}
		return a.EpochEnd && !b.EpochEnd
	})
	return out, skipped
}
