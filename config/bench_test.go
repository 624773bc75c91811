package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// chainPipeline writes a pipeline of n exec stages, each touching a file
// and reading its predecessor's output (an implicit reference), as in
// bench/runner.
func chainPipeline(n int) string {
	var b strings.Builder
	b.WriteString("variable \"out\" {\n  default = \"out\"\n}\n\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "stage \"s%d\" {\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "  inputs  = stage.s%d.outputs\n", i-1)
		}
		fmt.Fprintf(&b, "  outputs = [\"${var.out}/s%d\"]\n", i)
		fmt.Fprintf(&b, "  command = \"touch ${var.out}/s%d\"\n}\n\n", i)
	}
	return b.String()
}

func writeChain(tb testing.TB, n int) (string, string) {
	dir := tb.TempDir()
	path := filepath.Join(dir, "chain.hcl")
	if err := os.WriteFile(path, []byte(chainPipeline(n)), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir, path
}

// BenchmarkLoadChain5000 measures Load of a 5000-stage chain.
func BenchmarkLoadChain5000(b *testing.B) {
	dir, path := writeChain(b, 5000)
	reg := testRegistry()
	for b.Loop() {
		if _, diags := Load(path, Inputs{Cwd: dir}, reg); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// BenchmarkPlanChain5000 measures what planning costs the front end: Load
// plus resolving every stage with its upstream outputs known (the
// up-to-date case: the runner passes recorded outputs).
func BenchmarkPlanChain5000(b *testing.B) {
	dir, path := writeChain(b, 5000)
	reg := testRegistry()
	for b.Loop() {
		p, diags := Load(path, Inputs{Cwd: dir}, reg)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if _, diags := p.ResolveAll(func(string) map[string]cty.Value { return nil }); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// TestChainScales checks a 5000-stage chain loads and resolves (the
// benchmark's correctness) and that the order is the chain.
func TestChainScales(t *testing.T) {
	dir, path := writeChain(t, 5000)
	p, diags := Load(path, Inputs{Cwd: dir}, testRegistry())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res, diags := p.ResolveAll(nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	last := res["s4999"]
	if p.Order[4999].Name != "s4999" || len(last.Inputs) != 1 || last.Inputs[0] != filepath.Join(dir, "out/s4998") {
		t.Errorf("last stage %+v", last)
	}
}

// BenchmarkResolveChain5000 measures ResolveAll alone on a loaded
// 5000-stage chain.
func BenchmarkResolveChain5000(b *testing.B) {
	dir, path := writeChain(b, 5000)
	p, diags := Load(path, Inputs{Cwd: dir}, testRegistry())
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	for b.Loop() {
		if _, diags := p.ResolveAll(nil); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
