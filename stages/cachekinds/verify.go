package cachekinds

import (
	"context"
	"fmt"
	"math"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/stages"
)

// Verify is the verify_cache stage kind.
type Verify struct{}

// NewVerify returns the verify_cache kind.
func NewVerify() *Verify { return &Verify{} }

var _ stages.Kind = (*Verify)(nil)

// Name implements stages.Kind.
func (*Verify) Name() string { return "verify_cache" }

// Version implements stages.Kind.
func (*Verify) Version() string { return fmt.Sprintf("1/cache-%d", cache.FormatVersion) }

// ConfigSpec implements stages.Kind: `cache` (required), an optional
// `expect = { train = 4667, dev = 1832 }` map of recording counts per split
// (an attribute, so that it fits on one line: HCL's single-line blocks hold
// one argument only) and `workers`.
func (*Verify) ConfigSpec() hcldec.Spec {
	return hcldec.ObjectSpec{
		"cache":   &hcldec.AttrSpec{Name: "cache", Type: cty.String, Required: true},
		"workers": &hcldec.AttrSpec{Name: "workers", Type: cty.Number},
		"expect":  &hcldec.AttrSpec{Name: "expect", Type: cty.Map(cty.Number)},
	}
}

// Outputs implements stages.Kind: what was verified (recordings and windows
// per split, hours, total bytes).
func (*Verify) Outputs() map[string]cty.Type {
	return map[string]cty.Type{
		"counts":        cty.Map(cty.Number),
		"windows":       cty.Map(cty.Number),
		"hours":         cty.Map(cty.Number),
		"seizure_hours": cty.Map(cty.Number),
		"bytes":         cty.Number,
	}
}

// Paths implements stages.Kind: it reads the cache directory.
func (*Verify) Paths(cfg cty.Value, workdir string) (stages.Paths, error) {
	c, err := decodeVerify(cfg, workdir)
	if err != nil {
		return stages.Paths{}, err
	}
	return stages.Paths{Inputs: []string{c.Dir}}, nil
}

func decodeVerify(cfg cty.Value, workdir string) (cache.VerifyConfig, error) {
	var c cache.VerifyConfig
	if cfg.IsNull() || !cfg.IsKnown() {
		return c, fmt.Errorf("verify_cache: config block missing")
	}
	dir, err := str(cfg, "cache", "")
	if err != nil {
		return c, err
	}
	c.Dir = resolve(workdir, dir)
	if c.Workers, err = integer(cfg, "workers", 0); err != nil {
		return c, err
	}
	if ex := cfg.GetAttr("expect"); !ex.IsNull() {
		if !ex.IsWhollyKnown() {
			return c, fmt.Errorf("config.expect is not known yet")
		}
		c.Expect = map[string]int{}
		for it := ex.ElementIterator(); it.Next(); {
			k, v := it.Element()
			f, _ := v.AsBigFloat().Float64()
			if v.IsNull() || f < 0 || f != math.Trunc(f) {
				return c, fmt.Errorf("config.expect.%s: want a whole number of recordings", k.AsString())
			}
			c.Expect[k.AsString()] = int(f)
		}
	}
	return c, nil
}

// Run implements stages.Kind: it prints the report to the stage's output and
// fails with the list of problems when there are any.
func (*Verify) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	cfg, err := decodeVerify(r.Config, r.Workdir)
	if err != nil {
		return nil, err
	}
	rep, verr := cache.Verify(ctx, cfg, r.Progress)
	if rep != nil && r.Stdout != nil {
		rep.WriteReport(r.Stdout, cfg.Dir)
	}
	if verr != nil {
		return nil, verr
	}
	counts, windows, hours, seizure := splitMaps(rep.Splits)
	_, win, h, sh := totals(rep.Splits)
	return &stages.Result{
		Outputs: map[string]cty.Value{
			"counts":        counts,
			"windows":       windows,
			"hours":         hours,
			"seizure_hours": seizure,
			"bytes":         cty.NumberIntVal(rep.Bytes),
		},
		Metrics: map[string]float64{
			"recordings":    float64(rep.Recordings),
			"windows":       float64(win),
			"hours":         h,
			"seizure_hours": sh,
			"bytes":         float64(rep.Bytes),
		},
	}, nil
}
