package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compiledHCL reads from outside its file in every way the compiled-
// pipeline cache records: env(), file(), fileexists(), glob() and an
// `inputs` glob, and a -var-file when given one.
const compiledHCL = `
variable "msg" {
  default = "m"
}
locals {
  extra = trimspace(file("extra.txt"))
}
stage "a" {
  command = "echo ${var.msg} ${env("GREETING", "hi")} ${local.extra} ${length(glob("data/*.csv"))} > a.txt; echo a >> runs.log"
  inputs  = ["conf/*.cfg"]
  outputs = ["a.txt"]
}
stage "b" {
  inputs  = stage.a.outputs
  outputs = ["b.txt"]
  enabled = !fileexists("skip-b")
  command = "cat a.txt > b.txt; echo b >> runs.log"
}
`

// planStatus runs pipe plan --log-level debug and returns the plan and how
// the compiled pipeline was served ("cached", "loaded (...)").
func (e *pipeEnv) planStatus(args ...string) (plan, status string) {
	e.t.Helper()
	out, stderr := e.mustPipe(0, append([]string{"plan", "--log-level", "debug"}, args...)...)
	for _, line := range strings.Split(stderr, "\n") {
		if s, ok := strings.CutPrefix(line, "compiled pipeline: "); ok {
			status = s
		}
	}
	return out, status
}

// checkCompiled plans three times — the first loading the file and saving
// the cache, the second from the cache, the third with the cache off — and
// fails unless the first was loaded for a reason containing why (cached
// when why is ""), the second came from the cache, and all three plans are
// identical (text and JSON). It returns the plan.
func (e *pipeEnv) checkCompiled(why string, args ...string) string {
	e.t.Helper()
	p1, s1 := e.planStatus(args...)
	if why == "" && s1 != "cached" || why != "" && !strings.Contains(s1, why) {
		e.t.Errorf("plan %v: compiled pipeline %q, want one with %q", args, s1, why)
	}
	p2, s2 := e.planStatus(args...)
	if s2 != "cached" {
		e.t.Errorf("plan %v again: compiled pipeline %q, want cached", args, s2)
	}
	saved := e.env
	e.env = append(append([]string(nil), e.env...), noCompiledEnv+"=off")
	p3, s3 := e.planStatus(args...)
	j3, _ := e.mustPipe(0, append([]string{"plan", "--json"}, args...)...)
	e.env = saved
	j2, _ := e.mustPipe(0, append([]string{"plan", "--json"}, args...)...)
	if !strings.HasPrefix(s3, "loaded (off") {
		e.t.Errorf("%s=off: compiled pipeline %q", noCompiledEnv, s3)
	}
	if p1 != p2 || p2 != p3 || j2 != j3 {
		e.t.Errorf("plan %v differs with the cache:\nloaded:\n%s\ncached:\n%s\nno cache:\n%s\njson cached:\n%s\njson no cache:\n%s", args, p1, p2, p3, j2, j3)
	}
	return p2
}

func TestCompiledInvalidation(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, compiledHCL)
	e.write("extra.txt", "x1\n")
	e.write("data/1.csv", "")
	e.write("conf/a.cfg", "1")
	e.write("vars.hcl", "msg = \"f\"\n")
	e.mustPipe(0, "run")
	if got := e.ran(); got != "a b" {
		t.Fatalf("first run ran %q", got)
	}
	upToDate := "Plan: 0 to run, 2 to skip."
	if p := e.checkCompiled(""); !strings.Contains(p, upToDate) {
		t.Fatalf("plan after the run:\n%s", p)
	}
	// Each change: the cache is not used (for the reason named), the plan
	// says what changed, a run runs it, and the next plan is cached again.
	for _, tc := range []struct {
		name   string
		change func()
		args   []string
		why    string
		plan   string // a line the plan shows
		ran    string
	}{
		// Changes of what the pipeline reads from outside: the key is the
		// same, a recorded read changed.
		{name: "env()", change: func() { e.env = append(e.env, "GREETING=hello") },
			why: "env GREETING changed", plan: "config changed (command)", ran: "a b"},
		{name: "file()", change: func() { e.write("extra.txt", "x2\n") }, why: "file " + e.path("extra.txt") + " changed", plan: "config changed (command)", ran: "a b"},
		{name: "glob()", change: func() { e.write("data/2.csv", "") }, why: "glob " + e.path("data/*.csv") + " changed", plan: "config changed (command)", ran: "a b"},
		{name: "inputs glob", change: func() { e.write("conf/b.cfg", "2") }, why: "glob " + e.path("conf/*.cfg") + " changed", plan: "config changed (inputs); input changed (conf/b.cfg)", ran: "a b"},
		// Changes of the key.
		{name: "pipeline file", change: func() { e.write("pipeline.hcl", strings.Replace(compiledHCL, "cat a.txt", "cat  a.txt", 1)) },
			why: "key changed", plan: "config changed (command)", ran: "b"},
		{name: "var", args: []string{"-var", "msg=v"}, why: "key changed", plan: "config changed (command)", ran: "a b"},
		{name: "var-file", args: []string{"-var-file", "vars.hcl"}, why: "key changed", plan: "config changed (command)", ran: "a b"},
		{name: "var-file content", args: []string{"-var-file", "vars.hcl"},
			change: func() { e.write("vars.hcl", "msg = \"g\"\n") }, why: "file " + e.path("vars.hcl") + " changed", plan: "config changed (command)", ran: "a b"},
		{name: "PIPE_VAR", change: func() { e.env = append(e.env, "PIPE_VAR_msg=p") }, why: "key changed", plan: "config changed (command)", ran: "a b"},
		{name: "fileexists()", change: func() { e.write("skip-b", "") }, why: "stat " + e.path("skip-b") + " changed", plan: "disabled", ran: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			if tc.change != nil {
				tc.change()
			}
			if p := e.checkCompiled(tc.why, tc.args...); !strings.Contains(p, tc.plan) {
				t.Errorf("plan after the change does not say %q:\n%s", tc.plan, p)
			}
			e.mustPipe(0, append([]string{"run"}, tc.args...)...)
			if got := e.ran(); got != tc.ran {
				t.Errorf("run after the change ran %q, want %q", got, tc.ran)
			}
			if p := e.checkCompiled("", tc.args...); !strings.Contains(p, "0 to run") {
				t.Errorf("plan after the run:\n%s", p)
			}
		})
	}
	e.t = t

	// A new pipe binary (another build, here a copy at a new path and then
	// a rewrite of that copy) does not use the cache of the old one.
	bin := filepath.Join(t.TempDir(), "pipe")
	copyFile := func() {
		t.Helper()
		in, err := os.Open(pipeBin)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		os.Remove(bin)
		out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	statusOf := func() string {
		t.Helper()
		c := e.command("plan", "--log-level", "debug")
		c.Path, c.Args[0] = bin, bin
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s plan: %v\n%s", bin, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if s, ok := strings.CutPrefix(line, "compiled pipeline: "); ok {
				return s
			}
		}
		return ""
	}
	e.checkCompiled("")
	copyFile()
	if s := statusOf(); !strings.Contains(s, "key changed") {
		t.Errorf("new binary: compiled pipeline %q", s)
	}
	if s := statusOf(); s != "cached" {
		t.Errorf("new binary again: compiled pipeline %q", s)
	}
	copyFile()
	if s := statusOf(); !strings.Contains(s, "key changed") {
		t.Errorf("rebuilt binary: compiled pipeline %q", s)
	}
}

// TestCompiledSamePlan checks that plans are the same with and without the
// cache on the benchmark's pipelines and on pipelines/example.hcl, before
// and after runs and after edits.
func TestCompiledSamePlan(t *testing.T) {
	t.Parallel()
	for _, shape := range []string{"chain", "fan"} {
		t.Run(shape, func(t *testing.T) {
			e := newPipeEnv(t, benchPipeline(shape, 200))
			os.Mkdir(e.path("out"), 0o755)
			os.Mkdir(e.path(".pipe"), 0o755) // plan writes no state directory
			e.checkCompiled("no cache file")
			e.settleSnapshot()
			e.mustPipe(0, "run")
			e.checkCompiled("")
			e.settleSnapshot()
			os.WriteFile(e.path("out/s1"), []byte("changed"), 0o644)
			e.checkCompiled("")
			e.settleSnapshot()
			e.mustPipe(0, "run")
			e.checkCompiled("")
			e.settleSnapshot()
		})
	}
	t.Run("example", func(t *testing.T) {
		e := newPipeEnv(t, "")
		root, err := filepath.Abs("../..")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"pipelines/example.hcl", "README.md"} {
			b, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				t.Fatal(err)
			}
			e.write(f, string(b))
		}
		docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
		for _, d := range docs[:min(3, len(docs))] {
			b, _ := os.ReadFile(d)
			e.write(filepath.Join("docs", filepath.Base(d)), string(b))
		}
		p := "pipelines/example.hcl"
		os.Mkdir(e.path(".pipe"), 0o755) // plan writes no state directory
		e.checkCompiled("no cache file", p)
		e.settleSnapshot(p)
		e.mustPipe(0, "run", p)
		e.checkCompiled("", p)
		e.settleSnapshot(p)
		e.checkCompiled("key changed", p, "-var", "top=20", "-var", "shout=true")
		e.settleSnapshot(p, "-var", "top=20", "-var", "shout=true")
		e.write("README.md", "changed words words words\n")
		e.checkCompiled("key changed", p)
		e.settleSnapshot(p)
		e.write("docs/new.md", "more words\n")
		e.checkCompiled("glob", p)
		e.settleSnapshot(p)
		e.mustPipe(0, "run", p, "-var", "top=20", "-var", "shout=true")
		e.checkCompiled("", p, "-var", "top=20", "-var", "shout=true")
		e.settleSnapshot(p, "-var", "top=20", "-var", "shout=true")
	})
}

// benchPipeline is bench/runner/gen's pipeline.hcl: n stages that each
// touch out/sI; chain: stage I reads stage I-1's file; fan: one root, n-2
// stages reading it, one join reading all.
func benchPipeline(shape string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "stage \"s%d\" {\n", i)
		var deps []string
		switch {
		case i == 0:
		case shape == "chain":
			deps = []string{fmt.Sprintf("stage.s%d.outputs", i-1)}
		case i < n-1:
			deps = []string{"stage.s0.outputs"}
		default:
			for j := 1; j < n-1; j++ {
				deps = append(deps, fmt.Sprintf("stage.s%d.outputs", j))
			}
		}
		if len(deps) > 0 {
			fmt.Fprintf(&b, "  inputs  = concat(%s)\n", strings.Join(deps, ", "))
		}
		fmt.Fprintf(&b, "  outputs = [\"out/s%d\"]\n  command = [\"touch\", \"out/s%d\"]\n}\n", i, i)
	}
	return b.String()
}
