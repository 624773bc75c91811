package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runPipe runs the command line in-process and returns the exit status,
// stdout and stderr.
func runPipe(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeTemp(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const cachePipeline = "../../pipelines/cache.hcl"

func TestValidate(t *testing.T) {
	cycle := writeTemp(t, "cycle.hcl", `
stage "a" {
  kind = "verify_cache"
  config {
    cache = stage.b.dir
  }
}

stage "b" {
  kind = "populate_cache"
  config {
    source = "x"
    dir    = stage.a.name
  }
}
`)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"valid", []string{"validate", cachePipeline}, 0, "valid (2 stages)", nil},
		{"terraform-style -var", []string{"validate", cachePipeline, "-var", "out=elsewhere", "-var=on_error=fail"}, 0, "valid", nil},
		{"undeclared -var", []string{"validate", cachePipeline, "--var", "outt=x"}, 2, "", []string{`declares no variable "outt"`, `Did you mean "out"?`}},
		{"cycle with source lines", []string{"validate", cycle}, 2, "", []string{"Error: Dependency cycle", "a -> b -> a", `2: stage "a" {`, "on " + cycle + " line 2"}},
		{"missing file", []string{"validate", filepath.Join(t.TempDir(), "nope.hcl")}, 2, "", []string{"Cannot read pipeline file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runPipe(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) {
				t.Errorf("exit %d stdout %q, want %d %q (stderr %s)", code, out, tc.code, tc.stdout, errs)
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestGraph(t *testing.T) {
	code, out, errs := runPipe(t, "graph", cachePipeline)
	if code != 0 || !strings.Contains(out, `"populate" -> "verify";`) || !strings.Contains(out, `"populate" [label="populate\npopulate_cache"];`) {
		t.Errorf("dot: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runPipe(t, "graph", cachePipeline, "--format", "mermaid")
	want := "flowchart LR\n  s0[\"populate<br/><small>populate_cache</small>\"]\n  s1[\"verify<br/><small>verify_cache</small>\"]\n  s0 --> s1\n"
	if code != 0 || out != want {
		t.Errorf("mermaid: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runPipe(t, "graph", cachePipeline, "--format", "svg"); code != 2 || !strings.Contains(errs, "dot or mermaid") {
		t.Errorf("bad format: exit %d %s", code, errs)
	}
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	ugly := "stage \"a\" {\ncommand=\"x\"\n    retries    = 2\n}\n"
	pretty := "stage \"a\" {\n  command = \"x\"\n  retries = 2\n}\n"
	a := filepath.Join(dir, "a.hcl")
	v := filepath.Join(dir, "v.pipevars")
	os.WriteFile(a, []byte(ugly), 0o644)
	os.WriteFile(v, []byte("x   =   1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "other.txt"), []byte("x   =   1\n"), 0o644)

	code, out, _ := runPipe(t, "fmt", "--check", dir)
	if code != 1 || out != a+"\n"+v+"\n" {
		t.Errorf("--check: exit %d, out %q", code, out)
	}
	if b, _ := os.ReadFile(a); string(b) != ugly {
		t.Error("--check wrote the file")
	}
	code, out, _ = runPipe(t, "fmt", dir)
	if b, _ := os.ReadFile(a); code != 0 || string(b) != pretty || out != a+"\n"+v+"\n" {
		t.Errorf("fmt: exit %d, out %q, file %q", code, out, b)
	}
	if code, out, _ := runPipe(t, "fmt", "--check", dir); code != 0 || out != "" {
		t.Errorf("second --check: exit %d, out %q", code, out)
	}
	bad := writeTemp(t, "bad.hcl", "stage \"a\" {\n  command = \"x\n}\n")
	if code, _, errs := runPipe(t, "fmt", bad); code != 2 || !strings.Contains(errs, "line 2") {
		t.Errorf("syntax error: exit %d %s", code, errs)
	}
}

func TestNormalizeArgs(t *testing.T) {
	got := normalizeArgs([]string{"run", "-var", "a=1", "-var=b=2", "-var-file", "f", "-var-file=g", "-v", "--", "-var"})
	want := "run --var a=1 --var=b=2 --var-file f --var-file=g -v -- -var"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q", strings.Join(got, " "))
	}
}
