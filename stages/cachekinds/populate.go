package cachekinds

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/eeg/preprocess"
	"github.com/pipeml/pipe/eeg/tusz"
	"github.com/pipeml/pipe/stages"
)

// Populate is the populate_cache stage kind.
type Populate struct{}

// NewPopulate returns the populate_cache kind.
func NewPopulate() *Populate { return &Populate{} }

var _ stages.Kind = (*Populate)(nil)

// Name implements stages.Kind.
func (*Populate) Name() string { return "populate_cache" }

// Version implements stages.Kind: it changes with the cache format and the
// preprocessing algorithm.
func (*Populate) Version() string {
	return fmt.Sprintf("1/cache-%d/%s", cache.FormatVersion, preprocess.Version)
}

// populateAttrs are populate_cache's own attributes (the preprocessing
// attributes of preprocess.HCLSpec sit beside them).
var populateAttrs = map[string]cty.Type{
	"source":      cty.String,
	"dir":         cty.String,
	"splits":      cty.List(cty.String),
	"workers":     cty.Number,
	"window_s":    cty.Number,
	"stride_s":    cty.Number,
	"encoding":    cty.String,
	"block_s":     cty.Number,
	"limit_files": cty.Number,
	"on_error":    cty.String,
	"spill":       cty.Bool,
}

// ConfigSpec implements stages.Kind: source and dir are required; the rest,
// the preprocessing attributes included, are optional.
func (*Populate) ConfigSpec() hcldec.Spec {
	spec := preprocess.HCLSpec()
	for name, ty := range populateAttrs {
		spec[name] = &hcldec.AttrSpec{Name: name, Type: ty, Required: name == "source" || name == "dir"}
	}
	return spec
}

// Outputs implements stages.Kind: the cache directory and manifest paths,
// per-split recording counts, window counts, hours and seizure hours, and
// the number of quarantined recordings.
func (*Populate) Outputs() map[string]cty.Type {
	return map[string]cty.Type{
		"dir":           cty.String,
		"manifest":      cty.String,
		"quarantine":    cty.String,
		"counts":        cty.Map(cty.Number),
		"windows":       cty.Map(cty.Number),
		"hours":         cty.Map(cty.Number),
		"seizure_hours": cty.Map(cty.Number),
		"quarantined":   cty.Number,
	}
}

// Paths implements stages.Kind: it reads the requested split directories of
// the source and writes the cache directory.
func (*Populate) Paths(cfg cty.Value, workdir string) (stages.Paths, error) {
	c, err := decodePopulate(cfg, workdir)
	if err != nil {
		return stages.Paths{}, err
	}
	var p stages.Paths
	for _, s := range c.Splits {
		p.Inputs = append(p.Inputs, filepath.Join(c.Source, s))
	}
	p.Outputs = []string{c.Dir}
	return p, nil
}

// decodePopulate turns the decoded config block into a PopulateConfig with
// paths resolved against workdir.
func decodePopulate(cfg cty.Value, workdir string) (cache.PopulateConfig, error) {
	var c cache.PopulateConfig
	if cfg.IsNull() || !cfg.IsKnown() {
		return c, fmt.Errorf("populate_cache: config block missing")
	}
	var err error
	if c.Source, err = str(cfg, "source", ""); err != nil {
		return c, err
	}
	if c.Dir, err = str(cfg, "dir", ""); err != nil {
		return c, err
	}
	c.Source, c.Dir = resolve(workdir, c.Source), resolve(workdir, c.Dir)
	if sp := cfg.GetAttr("splits"); !sp.IsNull() {
		if !sp.IsWhollyKnown() {
			return c, fmt.Errorf("config.splits is not known yet")
		}
		for it := sp.ElementIterator(); it.Next(); {
			_, v := it.Element()
			if v.IsNull() {
				return c, fmt.Errorf("config.splits holds a null")
			}
			c.Splits = append(c.Splits, v.AsString())
		}
	} else {
		c.Splits = tusz.Splits
	}
	if c.Workers, err = integer(cfg, "workers", 0); err != nil {
		return c, err
	}
	if c.LimitFiles, err = integer(cfg, "limit_files", 0); err != nil {
		return c, err
	}
	if c.WindowS, err = num(cfg, "window_s", 60); err != nil {
		return c, err
	}
	if c.StrideS, err = num(cfg, "stride_s", 10); err != nil {
		return c, err
	}
	if c.BlockS, err = num(cfg, "block_s", 1); err != nil {
		return c, err
	}
	if c.Encoding, err = str(cfg, "encoding", cache.EncodingInt16); err != nil {
		return c, err
	}
	if c.OnError, err = str(cfg, "on_error", cache.OnErrorFail); err != nil {
		return c, err
	}
	if sp := cfg.GetAttr("spill"); !sp.IsNull() {
		if !sp.IsKnown() {
			return c, fmt.Errorf("config.spill is not known yet")
		}
		c.NoSpill = sp.False()
	}
	pre := map[string]cty.Value{}
	for name := range preprocess.HCLSpec() {
		pre[name] = cfg.GetAttr(name)
	}
	if c.Preprocess, err = preprocess.FromCty(cty.ObjectVal(pre)); err != nil {
		return c, err
	}
	return c, nil
}

// Run implements stages.Kind.
func (*Populate) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	cfg, err := decodePopulate(r.Config, r.Workdir)
	if err != nil {
		return nil, err
	}
	res, err := cache.Populate(ctx, cfg, r.Progress, r.Stdout)
	if err != nil {
		return nil, err
	}
	m := res.Manifest
	counts, windows, hours, seizure := splitMaps(m.Splits)
	rec, win, h, sh := totals(m.Splits)
	return &stages.Result{
		Outputs: map[string]cty.Value{
			"dir":           cty.StringVal(cfg.Dir),
			"manifest":      cty.StringVal(filepath.Join(cfg.Dir, cache.ManifestName)),
			"quarantine":    cty.StringVal(filepath.Join(cfg.Dir, cache.QuarantineName)),
			"counts":        counts,
			"windows":       windows,
			"hours":         hours,
			"seizure_hours": seizure,
			"quarantined":   cty.NumberIntVal(int64(len(res.Quarantine))),
		},
		Metrics: map[string]float64{
			"recordings":    float64(rec),
			"windows":       float64(win),
			"hours":         h,
			"seizure_hours": sh,
			"quarantined":   float64(len(res.Quarantine)),
			"built":         float64(res.Built),
			"reused":        float64(res.Reused),
			"cache_bytes":   float64(res.CacheBytes),
		},
	}, nil
}
