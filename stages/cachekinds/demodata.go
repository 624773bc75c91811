package cachekinds

import (
	"context"
	"fmt"
	"math"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/demo"
	"github.com/pipeml/pipe/stages"
)

// DemoData is the demo_data stage kind: it writes a deterministic
// TUSZ-layout tree of synthetic EEG with seizures (package demo).
//
//	stage "data" {
//	  kind = "demo_data"
//	  config {
//	    out          = "out/demo"                          # required
//	    patients     = { train = 12, dev = 6, eval = 4 }   # default
//	    recordings   = 2                                   # per patient
//	    minutes      = 10                                  # per recording
//	    seizure_rate = 12                                  # seizures per recording-hour
//	    seed         = 1
//	    workers      = 0                                   # default: all cores
//	  }
//	}
type DemoData struct{}

// NewDemoData returns the demo_data kind.
func NewDemoData() *DemoData { return &DemoData{} }

var _ stages.Kind = (*DemoData)(nil)

// Name implements stages.Kind.
func (*DemoData) Name() string { return "demo_data" }

// Version implements stages.Kind: it changes with the generator.
func (*DemoData) Version() string { return "1/demo-" + demo.Version }

// ConfigSpec implements stages.Kind: out is required, the rest default to
// demo.DefaultConfig.
func (*DemoData) ConfigSpec() hcldec.Spec {
	return hcldec.ObjectSpec{
		"out":          &hcldec.AttrSpec{Name: "out", Type: cty.String, Required: true},
		"patients":     &hcldec.AttrSpec{Name: "patients", Type: cty.Map(cty.Number)},
		"recordings":   &hcldec.AttrSpec{Name: "recordings", Type: cty.Number},
		"minutes":      &hcldec.AttrSpec{Name: "minutes", Type: cty.Number},
		"seizure_rate": &hcldec.AttrSpec{Name: "seizure_rate", Type: cty.Number},
		"seed":         &hcldec.AttrSpec{Name: "seed", Type: cty.Number},
		"workers":      &hcldec.AttrSpec{Name: "workers", Type: cty.Number},
	}
}

// Outputs implements stages.Kind: the tree's root, its number of
// recordings and its recording-hours.
func (*DemoData) Outputs() map[string]cty.Type {
	return map[string]cty.Type{
		"dir":        cty.String,
		"recordings": cty.Number,
		"hours":      cty.Number,
	}
}

// Paths implements stages.Kind: it writes the output directory and reads
// nothing.
func (*DemoData) Paths(cfg cty.Value, workdir string) (stages.Paths, error) {
	c, err := decodeDemo(cfg, workdir)
	if err != nil {
		return stages.Paths{}, err
	}
	return stages.Paths{Outputs: []string{c.Out}}, nil
}

func decodeDemo(cfg cty.Value, workdir string) (demo.Config, error) {
	c := demo.DefaultConfig()
	if cfg.IsNull() || !cfg.IsKnown() {
		return c, fmt.Errorf("demo_data: config block missing")
	}
	out, err := str(cfg, "out", "")
	if err != nil {
		return c, err
	}
	c.Out = resolve(workdir, out)
	if p := cfg.GetAttr("patients"); !p.IsNull() {
		if !p.IsWhollyKnown() {
			return c, fmt.Errorf("config.patients is not known yet")
		}
		c.Patients = demo.PatientCounts{}
		for it := p.ElementIterator(); it.Next(); {
			k, v := it.Element()
			f := math.NaN()
			if !v.IsNull() {
				f, _ = v.AsBigFloat().Float64()
			}
			if !(f >= 0) || f != math.Trunc(f) || f > 1e5 {
				return c, fmt.Errorf("config.patients.%s: want a whole number of patients", k.AsString())
			}
			switch k.AsString() {
			case "train":
				c.Patients.Train = int(f)
			case "dev":
				c.Patients.Dev = int(f)
			case "eval":
				c.Patients.Eval = int(f)
			default:
				return c, fmt.Errorf("config.patients.%s: unknown split (want train, dev, eval)", k.AsString())
			}
		}
	}
	if c.Recordings, err = integer(cfg, "recordings", c.Recordings); err != nil {
		return c, err
	}
	if c.Minutes, err = num(cfg, "minutes", c.Minutes); err != nil {
		return c, err
	}
	if c.SeizureRate, err = num(cfg, "seizure_rate", c.SeizureRate); err != nil {
		return c, err
	}
	seed, err := num(cfg, "seed", float64(c.Seed))
	if err != nil {
		return c, err
	}
	if seed < 0 || seed != math.Trunc(seed) || seed >= 1<<53 {
		return c, fmt.Errorf("config.seed = %g: want a whole number from 0 to 2^53", seed)
	}
	c.Seed = uint64(seed)
	if c.Workers, err = integer(cfg, "workers", 0); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Run implements stages.Kind.
func (*DemoData) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	cfg, err := decodeDemo(r.Config, r.Workdir)
	if err != nil {
		return nil, err
	}
	res, err := demo.Generate(ctx, cfg, r.Progress, r.Stdout)
	if err != nil {
		return nil, err
	}
	return &stages.Result{
		Outputs: map[string]cty.Value{
			"dir":        cty.StringVal(res.Dir),
			"recordings": cty.NumberIntVal(int64(res.Recordings)),
			"hours":      cty.NumberFloatVal(res.Hours),
		},
		Metrics: map[string]float64{
			"recordings":    float64(res.Recordings),
			"hours":         res.Hours,
			"seizure_hours": res.SeizureHours,
			"seizures":      float64(res.Seizures),
			"written":       float64(res.Written),
			"kept":          float64(res.Kept),
		},
	}, nil
}
