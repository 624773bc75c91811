package config

import (
	"os"
	"os/exec"
	"path/filepath"
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

// TestExampleCommandsRun runs the example's commands in order, as the exec
// kind would (sh -c or argv, env added, in the workdir), to keep the example
// working. Disabled stages are skipped.
func TestExampleCommandsRun(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	cwd := t.TempDir()
	p, diags := Load("../pipelines/example.hcl", Inputs{Cwd: cwd, Vars: []string{"top=5"}}, testRegistry())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res, diags := p.ResolveAll(nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, st := range p.Order {
		r := res[st.Name]
		if !r.Enabled {
			continue
		}
		var cmd *exec.Cmd
		if r.Shell != "" {
			cmd = exec.Command("sh", "-c", r.Shell)
		} else {
			cmd = exec.Command(r.Argv[0], r.Argv[1:]...)
		}
		cmd.Dir = r.Workdir
		cmd.Env = os.Environ()
		for k, v := range r.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("stage %s: %v\n%s", st.Name, err, out)
		}
		for _, o := range r.Outputs {
			if _, err := os.Stat(o); err != nil {
				t.Errorf("stage %s did not write %s", st.Name, o)
			}
		}
	}
	report, err := os.ReadFile(filepath.Join(cwd, "out/example/latest.md"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(report), "\n| "); rows != 6 { // header + 5 words
		t.Errorf("report has %d table rows, want 6:\n%s", rows, report)
	}
	t.Logf("report:\n%s", report)
	if !strings.Contains(string(report), "distinct") {
		t.Errorf("report lacks the totals:\n%s", report)
	}
}
