package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/config"
	"github.com/pipeml/pipe/stages"
	"github.com/pipeml/pipe/state"
)

// touchKind is an in-process stand-in for `exec` running `touch FILE`, so
// that the benchmarks measure the runner and the state, not fork/exec.
type touchKind struct{}

func (touchKind) Name() string                 { return "exec" }
func (touchKind) Version() string              { return "bench" }
func (touchKind) ConfigSpec() hcldec.Spec      { return nil }
func (touchKind) Outputs() map[string]cty.Type { return nil }
func (touchKind) Paths(cty.Value, string) (stages.Paths, error) {
	return stages.Paths{}, nil
}
func (touchKind) Run(_ context.Context, r *stages.Run) (*stages.Result, error) {
	f, err := os.Create(filepath.Join(r.Workdir, r.Argv[1]))
	if err != nil {
		return nil, err
	}
	return &stages.Result{}, f.Close()
}

// benchChain sets up a chain of n touch stages in a temp dir, runs it once
// and returns a runner over the up-to-date pipeline.
func benchChain(b *testing.B, n int) (*Runner, func()) {
	b.Helper()
	dir := b.TempDir()
	var src strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&src, "stage \"s%d\" {\n", i)
		if i > 0 {
			fmt.Fprintf(&src, "  inputs  = stage.s%d.outputs\n", i-1)
		}
		fmt.Fprintf(&src, "  outputs = [\"out/s%d\"]\n  command = [\"touch\", \"out/s%d\"]\n}\n", i, i)
	}
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	path := filepath.Join(dir, "pipeline.hcl")
	os.WriteFile(path, []byte(src.String()), 0o644)
	reg, _ := stages.NewRegistry(touchKind{})
	p, diags := config.Load(path, config.Inputs{Cwd: dir}, reg)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	db, err := state.Open(filepath.Join(dir, ".pipe"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Parallel: 2, StateDir: filepath.Join(dir, ".pipe"), RunID: "cold"}
	rep, err := New(FromConfig(p), StateStore(db), opts).Run(context.Background())
	if err != nil || rep.Failed {
		b.Fatalf("cold run: %v", err)
	}
	// A second run caches the output digests (the first saw them "racily
	// clean").
	opts.RunID = "warm"
	if _, err := New(FromConfig(p), StateStore(db), opts).Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	opts.RunID = "bench"
	return New(FromConfig(p), StateStore(db), opts), func() { db.Close() }
}

// BenchmarkPlanUpToDateChain5000 is the runner's share of `pipe plan` on an
// up-to-date chain of 5000 stages: resolving each stage, fingerprinting it
// (stat-cached digests), reading its latest attempt and checking its output.
// Parsing the file (config.Load) is not included.
func BenchmarkPlanUpToDateChain5000(b *testing.B) {
	r, done := benchChain(b, 5000)
	defer done()
	for b.Loop() {
		res, err := r.Plan()
		if err != nil || res[4999].Reason != "up to date" {
			b.Fatalf("%v %+v", err, res[4999])
		}
	}
}

// BenchmarkRunUpToDateChain5000 is the same through Run (which also records
// the run).
func BenchmarkRunUpToDateChain5000(b *testing.B) {
	r, done := benchChain(b, 5000)
	defer done()
	for b.Loop() {
		rep, err := r.Run(context.Background())
		if err != nil || rep.Results[4999].Status != "skipped" {
			b.Fatalf("%v %+v", err, rep.Results[4999])
		}
	}
}
