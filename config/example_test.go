package config

import (
	"strings"
	"testing"
)

// TestExamplePipeline loads pipelines/example.hcl and resolves every stage
// with upstream outputs unknown, then known.
func TestExamplePipeline(t *testing.T) {
	cwd := t.TempDir()
	p, diags := Load("../pipelines/example.hcl", Inputs{Cwd: cwd, Vars: []string{"top=3"}}, testRegistry())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var order []string
	for _, st := range p.Order {
		order = append(order, st.Name+"<"+strings.Join(st.Deps, ",")+">")
	}
	want := "gather<> words<gather> count<words> total<words> report<count,total> shout<report> publish<total,report>"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}
	res, diags := p.ResolveAll(nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if r := res["count"]; !r.Known() || !strings.Contains(r.Shell, "head -n 3 >") {
		t.Errorf("count: unknown %v, shell %q", r.Unknown, r.Shell)
	}
	if r := res["shout"]; r.Enabled {
		t.Errorf("shout enabled by default")
	}
	if r := res["publish"]; len(r.Argv) != 3 || r.Argv[2] != "out/example/latest.md" {
		t.Errorf("publish argv %q", r.Argv)
	}
	if r := res["gather"]; len(r.Inputs) < 2 || r.Retries != 2 {
		t.Errorf("gather inputs %q retries %d", r.Inputs, r.Retries)
	}
}
