package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/stages"
)

// load loads src as p.hcl in a fresh directory (the cwd) and fails on
// errors.
func load(t *testing.T, src string, in Inputs) *Pipeline {
	t.Helper()
	p, diags := loadDiags(t, src, in)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

func loadDiags(t *testing.T, src string, in Inputs) (*Pipeline, hcl.Diagnostics) {
	t.Helper()
	if in.Cwd == "" {
		in.Cwd = t.TempDir()
	}
	path := filepath.Join(in.Cwd, "p.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path, in, testRegistry())
}

func resolveAll(t *testing.T, p *Pipeline, outputs func(string) map[string]cty.Value) map[string]*Resolved {
	t.Helper()
	res, diags := p.ResolveAll(outputs)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return res
}

func TestVariablePrecedence(t *testing.T) {
	src := `
variable "a" {
  default = "default"
}
variable "n" {
  type    = number
  default = 1
}
variable "l" {
  type    = list(string)
  default = []
}
variable "o" {
  type = object({ x = number, y = optional(string, "dy") })
  default = { x = 1 }
}
`
	dir := t.TempDir()
	f1 := filepath.Join(dir, "one.pipevars")
	f2 := filepath.Join(dir, "two.pipevars")
	os.WriteFile(f1, []byte("a = \"file1\"\nn = 10\n"), 0o644)
	os.WriteFile(f2, []byte("a = \"file2\"\nl = [\"x\", \"y\"]\n"), 0o644)
	for _, tc := range []struct {
		name   string
		in     Inputs
		a      string
		n      int64
		l      []string
		source string
	}{
		{"defaults", Inputs{}, "default", 1, nil, "default"},
		{"env over default", Inputs{Env: []string{"PIPE_VAR_a=env", "PIPE_VAR_n=5", "PIPE_VAR_l=[\"e\"]", "PIPE_VAR_undeclared=1"}}, "env", 5, []string{"e"}, "env PIPE_VAR_a"},
		{"file over env", Inputs{Env: []string{"PIPE_VAR_a=env"}, VarFiles: []string{f1}}, "file1", 10, nil, "file " + f1},
		{"later file wins", Inputs{VarFiles: []string{f1, f2}}, "file2", 10, []string{"x", "y"}, "file " + f2},
		{"-var over files", Inputs{VarFiles: []string{f2}, Vars: []string{"a=cli"}}, "cli", 1, []string{"x", "y"}, "-var"},
		{"later -var wins", Inputs{Vars: []string{"a=one", "a=two=2", "n=7"}}, "two=2", 7, nil, "-var"},
		{"-var with HCL for lists", Inputs{Vars: []string{`l=["p", "q"]`}}, "default", 1, []string{"p", "q"}, "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, src, tc.in)
			a := p.Variables["a"]
			if a.Value.AsString() != tc.a || a.Source != tc.source {
				t.Errorf("a = %#v from %q, want %q from %q", a.Value, a.Source, tc.a, tc.source)
			}
			if n, _ := p.Variables["n"].Value.AsBigFloat().Int64(); n != tc.n {
				t.Errorf("n = %d, want %d", n, tc.n)
			}
			var l []string
			for _, v := range p.Variables["l"].Value.AsValueSlice() {
				l = append(l, v.AsString())
			}
			if !reflect.DeepEqual(l, tc.l) {
				t.Errorf("l = %q, want %q", l, tc.l)
			}
			o := p.Variables["o"].Value
			if o.GetAttr("y").AsString() != "dy" {
				t.Errorf("optional default not applied: %#v", o)
			}
		})
	}
}

func TestVariableErrors(t *testing.T) {
	src := `
variable "a" {
  type = number
  default = 1
}
`
	dir := t.TempDir()
	vf := filepath.Join(dir, "v.pipevars")
	os.WriteFile(vf, []byte("b = 1\n"), 0o644)
	for _, tc := range []struct {
		name    string
		in      Inputs
		wantErr string
		warn    bool
	}{
		{"undeclared -var", Inputs{Vars: []string{"aa=1"}}, `no variable "aa" (set with -var "aa=1"). Did you mean "a"?`, false},
		{"malformed -var", Inputs{Vars: []string{"a"}}, "NAME=VALUE", false},
		{"env wrong type", Inputs{Env: []string{"PIPE_VAR_a=x"}}, `(from env PIPE_VAR_a) is not suitable for variable "a"`, false},
		{"missing var file", Inputs{VarFiles: []string{filepath.Join(dir, "nope")}}, "Cannot read variable file", false},
		{"undeclared in var file is a warning", Inputs{VarFiles: []string{vf}}, `declares no variable "b"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := loadDiags(t, src, tc.in)
			if diags.HasErrors() == tc.warn || !strings.Contains(diags.Error(), tc.wantErr) {
				t.Errorf("diags %v, want error=%v containing %q", diags, !tc.warn, tc.wantErr)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	cwd := t.TempDir()
	for _, f := range []string{"data/a.csv", "data/b.csv", "data/sub/c.csv", "data/x.txt", "notes.txt"} {
		os.MkdirAll(filepath.Join(cwd, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(cwd, f), []byte(f), 0o644)
	}
	src := `
variable "token" {
  default   = "s3cret"
  sensitive = true
}
locals {
  n = length(glob("data/*.csv"))
}
stage "prep" {
  description = "prepare"
  command     = "echo ${local.n} ${jsonencode({a = 1})} ${basename(path.pipeline) == basename(path.cwd)}"
  inputs      = ["data/*.csv", "data/**/*.csv", "missing.txt", abspath("notes.txt")]
  outputs     = ["out/prep"]
  workdir     = "sub"
  env         = { TOKEN = var.token, N = local.n }
  retries     = 3
  retry_delay = "2s"
  timeout     = "1h30m"
  resources {
    cpus     = 2
    memory   = "1.5GiB"
    gpus     = 1
    gpu_type = "h100"
  }
}
stage "fit" {
  kind    = "train"
  command = ["train", "--in", stage.prep.outputs[0], "--secret", var.token]
  enabled = stage.prep.retries == 3
  config {
    epochs   = stage.prep.resources.cpus * 5
    data     = stage.prep.workdir
    password = var.token
  }
}
stage "use" {
  command = "cp ${stage.fit.model} ${stage.fit.config.data}"
  timeout = 30
}
`
	p := load(t, src, Inputs{Cwd: cwd})
	res := resolveAll(t, p, nil)

	prep := res["prep"]
	want := &Resolved{
		Name:        "prep",
		Kind:        prep.Kind,
		Description: "prepare",
		Shell:       `echo 2 {"a":1} true`,
		Env:         map[string]string{"TOKEN": "s3cret", "N": "2"},
		Workdir:     filepath.Join(cwd, "sub"),
		Inputs: []string{
			filepath.Join(cwd, "data/a.csv"), filepath.Join(cwd, "data/b.csv"), filepath.Join(cwd, "data/sub/c.csv"),
			filepath.Join(cwd, "missing.txt"), filepath.Join(cwd, "notes.txt"),
		},
		Outputs:    []string{filepath.Join(cwd, "out/prep")},
		Retries:    3,
		RetryDelay: 2 * time.Second,
		Timeout:    90 * time.Minute,
		Enabled:    true,
		Resources:  stages.Resources{CPUs: 2, Memory: 3 << 29, GPUs: 1, GPUType: "h100"},
		Sensitive:  []string{"env.TOKEN"},
	}
	prep.attrs, prep.outputs, prep.stage = nil, nil, nil
	if !reflect.DeepEqual(prep, want) {
		t.Errorf("prep\n got %+v\nwant %+v", prep, want)
	}

	fit := res["fit"]
	if !fit.Known() || !fit.Enabled || fit.Shell != "" {
		t.Errorf("fit: unknown %v enabled %v shell %q", fit.Unknown, fit.Enabled, fit.Shell)
	}
	if want := []string{"train", "--in", filepath.Join(cwd, "out/prep"), "--secret", "s3cret"}; !reflect.DeepEqual(fit.Argv, want) {
		t.Errorf("fit argv %q", fit.Argv)
	}
	if want := []string{"command[4]", "config.password"}; !reflect.DeepEqual(fit.Sensitive, want) {
		t.Errorf("fit sensitive %q, want %q", fit.Sensitive, want)
	}
	if got := fit.Config.GetAttr("epochs"); !got.RawEquals(cty.NumberIntVal(10)) {
		t.Errorf("epochs %#v", got)
	}
	if fit.Config.ContainsMarked() {
		t.Error("Config carries marks")
	}

	// At plan time fit's outputs are unknown, so use's command is unknown.
	use := res["use"]
	if use.Known() || !reflect.DeepEqual(use.Unknown, []string{"command"}) || use.Timeout != 30*time.Second {
		t.Errorf("use: unknown %v timeout %v", use.Unknown, use.Timeout)
	}
	// With fit's outputs known it resolves.
	res = resolveAll(t, p, func(s string) map[string]cty.Value {
		if s == "fit" {
			return map[string]cty.Value{"model": cty.StringVal("m.bin"), "loss": cty.NumberFloatVal(0.1)}
		}
		return nil
	})
	if use := res["use"]; !use.Known() || use.Shell != "cp m.bin "+filepath.Join(cwd, "sub") {
		t.Errorf("use: unknown %v shell %q", use.Unknown, use.Shell)
	}
	// Deps and order.
	if got := p.Stages["use"].Deps; !reflect.DeepEqual(got, []string{"fit"}) {
		t.Errorf("use deps %q", got)
	}
	if got := p.Stages["fit"].Deps; !reflect.DeepEqual(got, []string{"prep"}) {
		t.Errorf("fit deps %q", got)
	}
}

func TestResolveDefaults(t *testing.T) {
	p := load(t, `
stage "a" {}
stage "b" {
  command = "echo ${length(keys(stage.a))} ${stage.c.outputs[0]}"
}
stage "c" {
  outputs = ["x"]
}
`, Inputs{})
	res := resolveAll(t, p, nil)
	if b := res["b"]; b.Shell != "echo 14 "+filepath.Join(p.Cwd, "x") {
		t.Errorf("b: %q", b.Shell)
	}
	// Only what is read is in the object of a stage read by attribute.
	if v := res["c"].Value(nil); len(v.Type().AttributeTypes()) != 1 || !v.Type().HasAttribute("outputs") {
		t.Errorf("c's object: %#v", v)
	}
	r := res["a"]
	if !r.Enabled || r.Workdir != p.Cwd || r.Shell != "" || r.Argv != nil || r.Config != cty.NilVal || r.Kind.Name() != "exec" {
		t.Errorf("defaults: %+v", r)
	}
	v := r.Value(nil)
	for _, a := range stageObjectAttrs {
		if !v.Type().HasAttribute(a) {
			t.Errorf("stage object lacks %q", a)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty command", `command = "  "`, "the command is empty"},
		{"empty argv", `command = []`, "the command list is empty"},
		{"command object", `command = { a = 1 }`, "a string (run with sh -c) or a list of strings"},
		{"negative retries", `retries = -1`, "a whole number ≥ 0 is required"},
		{"fractional retries", `retries = 1.5`, "a whole number is required"},
		{"bad duration", `retry_delay = "soon"`, `"soon" is not a duration`},
		{"negative timeout", `timeout = "-1s"`, "negative"},
		{"huge timeout", `timeout = 1e300`, "more than 100 years"},
		{"huge timeout string", `timeout = "9999999999h"`, "not a duration"},
		{"null env value", `env = { A = null }`, `env "A" is null`},
		{"bad memory", `resources { memory = "lots" }`, `"lots" is not a size`},
		{"bad memory unit", `resources { memory = "3 parsecs" }`, `unknown unit "parsecs"`},
		{"bad glob", `inputs = ["a/**b/c"]`, "** must be a whole path element"},
		{"null enabled", `enabled = null`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, "stage \"a\" {\n"+tc.body+"\n}\n", Inputs{})
			_, diags := p.Resolve("a", nil)
			if tc.want == "" {
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Errorf("diags %v, want %q", diags, tc.want)
			}
			if d := diags[0]; d.Subject == nil || d.Subject.Start.Line != 2 {
				t.Errorf("diagnostic not at line 2: %v", d.Subject)
			}
		})
	}
	p := load(t, `stage "a" {}`, Inputs{})
	if _, diags := p.Resolve("b", nil); !strings.Contains(diags.Error(), `no stage named "b"`) {
		t.Errorf("unknown stage: %v", diags)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"1024": 1024, "1kB": 1000, "2KiB": 2048, "1.5GiB": 3 << 29, "16G": 16e9, "3 MiB": 3 << 20, "1TiB": 1 << 40,
	} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "1XB", "-1", "1e99"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

func TestFunctions(t *testing.T) {
	cwd := t.TempDir()
	os.WriteFile(filepath.Join(cwd, "f.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(cwd, "bin.dat"), []byte{0xff, 0xfe}, 0o644)
	os.MkdirAll(filepath.Join(cwd, "d/e"), 0o755)
	os.WriteFile(filepath.Join(cwd, "d/e/g.txt"), nil, 0o644)
	os.Symlink("d", filepath.Join(cwd, "ld")) // a link to a directory is walked by **
	fns := functions(cwd, map[string]string{"HOME": "/home/x"}, &readLog{})
	ctx := &hcl.EvalContext{Functions: fns}
	for _, tc := range []struct{ expr, want string }{
		{`file("f.txt")`, "hello\n"},
		{`tostring(fileexists("f.txt"))`, "true"},
		{`tostring(fileexists("nope"))`, "false"},
		{`abspath("a/../b")`, filepath.Join(cwd, "b")},
		{`basename("/x/y.txt")`, "y.txt"},
		{`dirname("/x/y.txt")`, "/x"},
		{`pathjoin("a", "b", "c.txt")`, "a/b/c.txt"},
		{`join(",", glob("**/*.txt"))`, "d/e/g.txt,f.txt"},
		{`join(",", glob("ld/**/*.txt"))`, "ld/e/g.txt"},
		{`join(",", glob("*.nothing"))`, ""},
		{`env("HOME")`, "/home/x"},
		{`env("NOPE", "dflt")`, "dflt"},
		{`jsonencode(jsondecode("{\"a\":[1,2]}"))`, `{"a":[1,2]}`},
		{`upper(format("%s-%03d", "x", 7))`, "X-007"},
		{`join("+", [for k in keys(merge({a=1},{b=2})) : k])`, "a+b"},
		{`tostring(length(range(5)))`, "5"},
		{`tostring(max(1, 9, 3))`, "9"},
		{`coalesce(null, "z")`, "z"},
		{`try(file("nope"), "fallback")`, "fallback"},
		{`lookup({a = "b"}, "c", "d")`, "d"},
		{`element(split(",", "p,q,r"), 1)`, "q"},
	} {
		v, diags := parseExpr(t, tc.expr).Value(ctx)
		if diags.HasErrors() {
			t.Errorf("%s: %v", tc.expr, diags)
			continue
		}
		if v.Type() != cty.String || v.AsString() != tc.want {
			t.Errorf("%s = %#v, want %q", tc.expr, v, tc.want)
		}
	}
	for _, tc := range []struct{ expr, want string }{
		{`file("nope")`, "no such file"},
		{`file("bin.dat")`, "not valid UTF-8"},
		{`fileexists("d")`, "is a directory"},
		{`env("NOPE")`, `"NOPE" is not set`},
		{`env("A", "b", "c")`, "at most one default"},
	} {
		_, diags := parseExpr(t, tc.expr).Value(ctx)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.expr, diags, tc.want)
		}
	}
}

// TestConcurrentResolve resolves every stage of the example from many
// goroutines at once (the runner resolves stages in parallel); run with
// -race.
func TestConcurrentResolve(t *testing.T) {
	p, diags := Load("../pipelines/example.hcl", Inputs{Cwd: t.TempDir()}, testRegistry())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	done := make(chan hcl.Diagnostics)
	for i := 0; i < 4; i++ {
		for _, st := range p.Order {
			go func() {
				_, d := p.Resolve(st.Name, nil)
				done <- d
			}()
		}
	}
	for i := 0; i < 4*len(p.Order); i++ {
		if d := <-done; d.HasErrors() {
			t.Error(d)
		}
	}
}
