package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestDiagnosticsGolden loads each pipeline in testdata/diags, resolves it
// with unknown upstream outputs (as pipe validate does), and compares the
// printed diagnostics with NAME.golden.
func TestDiagnosticsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Inputs
		want []string // fragments the output must contain, beyond the golden file
	}{
		{name: "unknown_stage", want: []string{`There is no stage named "prepar". Did you mean "prepare"?`, "line 6"}},
		{name: "cycle", want: []string{"a -> b -> c -> a"}},
		{name: "unknown_attribute", want: []string{`Did you mean "command"?`}},
		{name: "unknown_config_attribute", want: []string{`"dta"`}},
		{name: "unknown_output", want: []string{`Did you mean "model"?`}},
		{name: "wrong_type", want: []string{`"retries"`, `"enabled"`, `"epochs"`, `"timeout"`}},
		{name: "unknown_kind", want: []string{`Known kinds: cache, exec, train. Did you mean "train"?`}},
		{name: "variable_type", in: Inputs{Vars: []string{"epochs=many"}}, want: []string{`variable "epochs"`, `variable "layers"`}},
		{name: "variable_validation", want: []string{`variable "rate"`, "rate must be between 100 and 200 Hz."}},
		{name: "variable_validation_cli", in: Inputs{Env: []string{"PIPE_VAR_rate=50"}}, want: []string{"from env PIPE_VAR_rate", "rate must be between"}},
		{name: "variable_required", want: []string{`Variable "data" has no default`}},
		{name: "undeclared_refs", want: []string{`Did you mean "out"?`, `Did you mean "dir"?`, "There is no path.root: path.pipeline is", `Did you mean "var"?`}},
		{name: "locals_cycle", want: []string{"local.a -> local.b -> local.a"}},
		{name: "depends_on", want: []string{"Invalid depends_on entry", "Self-referential stage"}},
		{name: "syntax"},
		{name: "missing_config", want: []string{`The argument "epochs" is required`, `Stages of kind "train" need a config block.`, "line 1"}},
		{name: "function_error", want: []string{"no/such/file.txt", "upper", "PIPE_TEST_SURELY_UNSET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", "diags", tc.name+".hcl")
			tc.in.Cwd = "/nonexistent/cwd"
			p, diags := Load(path, tc.in, testRegistry())
			if !diags.HasErrors() {
				_, diags = p.ResolveAll(nil)
			}
			if !diags.HasErrors() {
				t.Fatal("no errors")
			}
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, diags, 0, false); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			golden := filepath.Join("testdata", "diags", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}
