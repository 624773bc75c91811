// Package trainkinds holds the stage kinds of model training: train (also
// used, with a small config, as the smoke test) and evaluate.
//
//	stage "train" {
//	  kind = "train"
//	  config {
//	    cache  = stage.populate.dir
//	    dir    = "out/train"
//	    seed   = 1
//	    epochs = 20
//	    batch_size = 16
//	    lr     = 1e-3
//	    model  = { profile = "demo" }   # handed to the model builder
//	    abort  = ["auroc < 0.55 after epoch 3"]
//	  }
//	}
//
//	stage "evaluate" {
//	  kind = "evaluate"
//	  config {
//	    checkpoint = stage.train.checkpoint
//	    cache      = stage.populate.dir
//	    dir        = "out/evaluate"
//	    split      = "eval"          # thresholds are always chosen on dev
//	  }
//	}
//
// Both kinds build their network with a Builder given to their
// constructor (cmd/pipe passes the V3 detector's), so the kinds know
// nothing of any particular architecture.
package trainkinds

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/pipeml/pipe/model"
	"github.com/pipeml/pipe/postproc"
)

// Builder makes the networks the train and evaluate kinds run.
type Builder interface {
	// Version enters the kinds' Version (and so every fingerprint):
	// change it when the network computes something else.
	Version() string
	// Build returns a network for windows of channels × length samples,
	// configured by cfg (the stage's `model` attribute as JSON; null
	// means the defaults) and initialised from seed.
	Build(cfg json.RawMessage, channels, length int, seed uint64) (model.Net, error)
}

// Meta is what a checkpoint records about its network, so that evaluate
// can rebuild it from the checkpoint alone.
type Meta struct {
	Builder  string          `json:"builder"`
	Model    json.RawMessage `json:"model"`
	Channels []string        `json:"channels"`
	Length   int             `json:"length"`
	Rate     float64         `json:"rate"`
	Seed     uint64          `json:"seed"`
}

// field decodes one config attribute into a Go value.
type field struct {
	name string
	ty   cty.Type
	set  func(v cty.Value) error
}

func numField(name string, dst *float64) field {
	return field{name, cty.Number, func(v cty.Value) error {
		f, _ := v.AsBigFloat().Float64()
		if math.IsInf(f, 0) {
			return fmt.Errorf("config.%s is out of range", name)
		}
		*dst = f
		return nil
	}}
}

func intField(name string, dst *int) field {
	return field{name, cty.Number, func(v cty.Value) error {
		f, _ := v.AsBigFloat().Float64()
		if f != math.Trunc(f) || math.Abs(f) > 1<<40 {
			return fmt.Errorf("config.%s = %v: want a whole number", name, f)
		}
		*dst = int(f)
		return nil
	}}
}

func uintField(name string, dst *uint64) field {
	return field{name, cty.Number, func(v cty.Value) error {
		f, _ := v.AsBigFloat().Float64()
		if f != math.Trunc(f) || f < 0 || f > 1<<53 {
			return fmt.Errorf("config.%s = %v: want a whole number >= 0", name, f)
		}
		*dst = uint64(f)
		return nil
	}}
}

func boolField(name string, dst *bool) field {
	return field{name, cty.Bool, func(v cty.Value) error { *dst = v.True(); return nil }}
}

func strField(name string, dst *string) field {
	return field{name, cty.String, func(v cty.Value) error { *dst = v.AsString(); return nil }}
}

func strListField(name string, dst *[]string) field {
	return field{name, cty.List(cty.String), func(v cty.Value) error {
		*dst = nil
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				return fmt.Errorf("config.%s holds a null", name)
			}
			*dst = append(*dst, e.AsString())
		}
		return nil
	}}
}

func numListField(name string, dst *[]float64) field {
	return field{name, cty.List(cty.Number), func(v cty.Value) error {
		*dst = nil
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				return fmt.Errorf("config.%s holds a null", name)
			}
			f, _ := e.AsBigFloat().Float64()
			*dst = append(*dst, f)
		}
		return nil
	}}
}

// postField decodes a map of post-processing settings (the JSON names of
// postproc.Config: on_threshold, off_threshold, min_on_s, min_off_s,
// opening_s, closing_s, merge_gap_s, min_event_s, max_event_s).
func postField(name string, dst *postproc.Config) field {
	return field{name, cty.Map(cty.Number), func(v cty.Value) error {
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return fmt.Errorf("config.%s: %w", name, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			return fmt.Errorf("config.%s: %w (keys: on_threshold, off_threshold, min_on_s, min_off_s, opening_s, closing_s, merge_gap_s, min_event_s, max_event_s)", name, err)
		}
		return nil
	}}
}

// modelField turns the `model` attribute (any object) into JSON.
func modelField(name string, dst *json.RawMessage) field {
	return field{name, cty.DynamicPseudoType, func(v cty.Value) error {
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return fmt.Errorf("config.%s: %w", name, err)
		}
		*dst = b
		return nil
	}}
}

// decodeFields applies every non-null attribute of obj to its field.
func decodeFields(kind string, obj cty.Value, fields []field) error {
	if obj.IsNull() || !obj.IsKnown() {
		return fmt.Errorf("%s: config block missing", kind)
	}
	for _, f := range fields {
		v := obj.GetAttr(f.name)
		if v.IsNull() {
			continue
		}
		if !v.IsWhollyKnown() {
			return fmt.Errorf("%s: config.%s is not known yet", kind, f.name)
		}
		if err := f.set(v); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
	}
	return nil
}

// resolve makes p absolute relative to workdir.
func resolve(workdir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(workdir, p)
}
