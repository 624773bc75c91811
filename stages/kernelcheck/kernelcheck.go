// Package kernelcheck is the test_kernels stage kind (also `pipe
// test-kernels`): every kernel forward and backward on random inputs at the
// V3 shapes, on the selected device, against the float64 references, with
// a table of errors, times and throughput.
package kernelcheck

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/pipeml/pipe/kernels/check"
	"github.com/pipeml/pipe/kernels/device"
	"github.com/pipeml/pipe/stages"
)

// Config is the stage's config block.
type Config struct {
	// Device is "auto" (default), "cpu" or "cuda".
	Device string `cty:"device"`
	// RequireGPU fails the stage unless the GPU was checked.
	RequireGPU bool `cty:"require_gpu"`
	// Quick uses small shapes (seconds instead of about a minute on 2
	// cores).
	Quick bool `cty:"quick"`
	// Seed draws the random inputs.
	Seed uint64 `cty:"seed"`
	// Workers is the CPU backend's worker count (0: all cores).
	Workers int `cty:"workers"`
}

// Report is the outcome of a check.
type Report struct {
	Backend    string
	GPU        bool
	Note       string
	Results    []check.Result
	MaxFwdErr  float64
	MaxBwdErr  float64
	Failed     int
	TotalCases int
}

// Check runs the suite for cfg, writing the table to w, and returns the
// report; the error is non-nil when the device could not be opened, a
// kernel failed, or the run was cancelled.
func Check(ctx context.Context, cfg Config, w io.Writer, progress stages.Progress) (*Report, error) {
	sel, err := device.Open(device.Options{Device: cfg.Device, RequireGPU: cfg.RequireGPU, Workers: cfg.Workers})
	if err != nil {
		return nil, fmt.Errorf("test_kernels: %w", err)
	}
	defer sel.Backend.Close()
	cases := check.Suite(cfg.Quick, cfg.Seed)
	if progress == nil {
		progress = stages.NopProgress{}
	}
	progress.Total(int64(len(cases)), "kernels")
	fmt.Fprintf(w, "test_kernels on %s\n", sel.Backend.Name())
	rs, err := check.RunAll(ctx, sel.Backend, cases, check.Options{Seed: cfg.Seed}, func(r check.Result) {
		progress.Add(1)
		progress.Status(r.Name)
	})
	rep := &Report{Backend: sel.Backend.Name(), GPU: sel.GPU, Note: sel.Note, Results: rs, TotalCases: len(cases)}
	for _, r := range rs {
		rep.MaxFwdErr = math.Max(rep.MaxFwdErr, r.FwdErr)
		rep.MaxBwdErr = math.Max(rep.MaxBwdErr, r.BwdErr)
		if r.Err != nil {
			rep.Failed++
		}
	}
	if werr := check.WriteTable(w, rs); werr != nil && err == nil {
		err = werr
	}
	if sel.Note != "" {
		fmt.Fprintln(w, sel.Note)
	}
	if err != nil {
		return rep, err
	}
	if rep.Failed > 0 {
		return rep, fmt.Errorf("test_kernels: %d of %d kernels failed on %s (first: %v)", rep.Failed, len(rs), rep.Backend, firstErr(rs))
	}
	return rep, nil
}

func firstErr(rs []check.Result) error {
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// Kind is the test_kernels stage kind.
type Kind struct{}

// New returns the test_kernels kind.
func New() *Kind { return &Kind{} }

var _ stages.Kind = (*Kind)(nil)

// Name implements stages.Kind.
func (*Kind) Name() string { return "test_kernels" }

// Version implements stages.Kind.
func (*Kind) Version() string { return "1" }

// ConfigSpec implements stages.Kind: device, require_gpu, quick, seed,
// workers (all optional).
func (*Kind) ConfigSpec() hcldec.Spec {
	return hcldec.ObjectSpec{
		"device":      &hcldec.AttrSpec{Name: "device", Type: cty.String},
		"require_gpu": &hcldec.AttrSpec{Name: "require_gpu", Type: cty.Bool},
		"quick":       &hcldec.AttrSpec{Name: "quick", Type: cty.Bool},
		"seed":        &hcldec.AttrSpec{Name: "seed", Type: cty.Number},
		"workers":     &hcldec.AttrSpec{Name: "workers", Type: cty.Number},
	}
}

// resultType is one kernel's published result.
var resultType = cty.Object(map[string]cty.Type{
	"fwd_error": cty.Number, "bwd_error": cty.Number, "fwd_ms": cty.Number, "bwd_ms": cty.Number,
	"gb_per_s": cty.Number, "gflop_per_s": cty.Number,
})

// Outputs implements stages.Kind.
func (*Kind) Outputs() map[string]cty.Type {
	return map[string]cty.Type{
		"backend":       cty.String,
		"gpu_checked":   cty.Bool,
		"kernels":       cty.Number,
		"max_fwd_error": cty.Number,
		"max_bwd_error": cty.Number,
		"results":       cty.Map(resultType),
	}
}

// Paths implements stages.Kind: the check reads and writes no files.
func (*Kind) Paths(cty.Value, string) (stages.Paths, error) { return stages.Paths{}, nil }

// Decode converts the config block (null: all defaults).
func Decode(v cty.Value) (Config, error) {
	c := Config{Device: "auto"}
	if v.IsNull() || v == cty.NilVal {
		return c, nil
	}
	if !v.IsWhollyKnown() {
		return c, fmt.Errorf("test_kernels: config is not known yet")
	}
	get := func(name string, dst any) error {
		a := v.GetAttr(name)
		if a.IsNull() {
			return nil
		}
		if err := gocty.FromCtyValue(a, dst); err != nil {
			return fmt.Errorf("test_kernels: config.%s: %w", name, err)
		}
		return nil
	}
	for _, f := range []struct {
		n string
		d any
	}{{"device", &c.Device}, {"require_gpu", &c.RequireGPU}, {"quick", &c.Quick}, {"seed", &c.Seed}, {"workers", &c.Workers}} {
		if err := get(f.n, f.d); err != nil {
			return c, err
		}
	}
	if c.Workers < 0 {
		return c, fmt.Errorf("test_kernels: config.workers = %d: want >= 0", c.Workers)
	}
	return c, nil
}

// Run implements stages.Kind.
func (*Kind) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	cfg, err := Decode(r.Config)
	if err != nil {
		return nil, err
	}
	out := r.Stdout
	if out == nil {
		out = io.Discard
	}
	rep, err := Check(ctx, cfg, out, r.Progress)
	if err != nil {
		return nil, err
	}
	if r.Log != nil && rep.Note != "" {
		r.Log.Warn(rep.Note)
	}
	res := map[string]cty.Value{}
	for _, x := range rep.Results {
		res[x.Name] = cty.ObjectVal(map[string]cty.Value{
			"fwd_error": num(x.FwdErr), "bwd_error": num(x.BwdErr),
			"fwd_ms": num(x.FwdTime.Seconds() * 1e3), "bwd_ms": num(x.BwdTime.Seconds() * 1e3),
			"gb_per_s": num(x.GBps()), "gflop_per_s": num(x.GFLOPs()),
		})
	}
	return &stages.Result{
		Outputs: map[string]cty.Value{
			"backend":       cty.StringVal(rep.Backend),
			"gpu_checked":   cty.BoolVal(rep.GPU),
			"kernels":       cty.NumberIntVal(int64(len(rep.Results))),
			"max_fwd_error": num(rep.MaxFwdErr),
			"max_bwd_error": num(rep.MaxBwdErr),
			"results":       cty.MapVal(res),
		},
		Metrics: map[string]float64{"kernels": float64(len(rep.Results)), "max_fwd_error": rep.MaxFwdErr, "max_bwd_error": rep.MaxBwdErr},
	}, nil
}

func num(f float64) cty.Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return cty.NumberFloatVal(-1)
	}
	return cty.NumberFloatVal(f)
}
