package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// pipeBin is the pipe binary the integration tests run (built by TestMain).
var pipeBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "pipe-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pipeBin = filepath.Join(dir, "pipe")
	args := []string{"build", "-o", pipeBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pipe:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pipeEnv is a temporary directory to run pipe in.
type pipeEnv struct {
	t   *testing.T
	dir string
	env []string
}

func newPipeEnv(t *testing.T, pipeline string) *pipeEnv {
	t.Helper()
	e := &pipeEnv{t: t, dir: t.TempDir()}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PIPE_VAR_") {
			e.env = append(e.env, kv)
		}
	}
	e.env = append(e.env, "NO_COLOR=1")
	if pipeline != "" {
		e.write("pipeline.hcl", pipeline)
	}
	return e
}

func (e *pipeEnv) path(name string) string { return filepath.Join(e.dir, name) }

func (e *pipeEnv) write(name, content string) {
	e.t.Helper()
	p := e.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *pipeEnv) read(name string) string {
	e.t.Helper()
	b, err := os.ReadFile(e.path(name))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *pipeEnv) command(args ...string) *exec.Cmd {
	c := exec.Command(pipeBin, args...)
	c.Dir = e.dir
	c.Env = e.env
	return c
}

// pipe runs the binary and returns stdout, stderr and the exit status.
func (e *pipeEnv) pipe(args ...string) (string, string, int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	c := e.command(args...)
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("pipe %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustPipe runs pipe and fails the test unless it exits with want.
func (e *pipeEnv) mustPipe(want int, args ...string) (string, string) {
	e.t.Helper()
	out, errs, code := e.pipe(args...)
	if code != want {
		e.t.Fatalf("pipe %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out, errs
}

// planEntry is one object of `pipe plan --json`.
type planEntry struct {
	Stage       string `json:"stage"`
	Action      string `json:"action"`
	Reason      string `json:"reason"`
	Fingerprint string `json:"fingerprint"`
}

// plan returns "stage=action(reason)" for every stage, in order.
func (e *pipeEnv) plan(args ...string) string {
	e.t.Helper()
	out, _ := e.mustPipe(0, append([]string{"plan", "--json"}, args...)...)
	var entries []planEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		e.t.Fatalf("plan --json: %v\n%s", err, out)
	}
	var parts []string
	for _, p := range entries {
		parts = append(parts, fmt.Sprintf("%s=%s(%s)", p.Stage, p.Action, p.Reason))
	}
	return strings.Join(parts, " ")
}

// ran returns the lines of runs.log (each stage appends its name when it
// runs) and truncates it.
func (e *pipeEnv) ran() string {
	e.t.Helper()
	b, err := os.ReadFile(e.path("runs.log"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		e.t.Fatal(err)
	}
	os.Remove(e.path("runs.log"))
	lines := strings.Fields(string(b))
	sort.Strings(lines)
	return strings.Join(lines, " ")
}

const diamondHCL = `
stage "a" {
  outputs = ["out/a"]
  command = "echo a >> runs.log; mkdir -p out; echo A > out/a"
}
stage "b" {
  inputs  = stage.a.outputs
  outputs = ["out/b"]
  command = "echo b >> runs.log; cat ${stage.a.outputs[0]} > out/b; echo B >> out/b"
}
stage "c" {
  inputs  = stage.a.outputs
  outputs = ["out/c"]
  command = ["sh", "-c", "echo c >> runs.log; cat out/a > out/c; echo C >> out/c"]
}
stage "d" {
  inputs  = concat(stage.b.outputs, stage.c.outputs)
  outputs = ["out/d"]
  command = "echo d >> runs.log; cat out/b out/c > out/d"
}
stage "fan1" {
  inputs  = stage.a.outputs
  outputs = ["out/fan1"]
  command = "echo fan1 >> runs.log; cp out/a out/fan1"
}
stage "fan2" {
  depends_on = [stage.a]
  outputs    = ["out/fan2"]
  command    = "echo fan2 >> runs.log; cp out/a out/fan2"
}
`

func TestRunDiamondAndFanOut(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, diamondHCL)
	if got, want := e.plan(), "a=run(never ran) b=run(upstream changed (a will run)) c=run(upstream changed (a will run)) d=run(upstream changed (b, c will run)) fan1=run(upstream changed (a will run)) fan2=run(upstream changed (a will run))"; got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
	_, stderr := e.mustPipe(0, "run", "--parallel", "3")
	if got, want := e.ran(), "a b c d fan1 fan2"; got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
	if got := e.read("out/d"); got != "A\nB\nA\nC\n" {
		t.Errorf("out/d = %q", got)
	}
	if !strings.Contains(stderr, "6 succeeded") {
		t.Errorf("summary missing: %s", stderr)
	}
	e.mustPipe(0, "run")
	if got := e.ran(); got != "" {
		t.Errorf("second run ran %q", got)
	}
	if got, want := e.plan(), "a=skip(up to date) b=skip(up to date) c=skip(up to date) d=skip(up to date) fan1=skip(up to date) fan2=skip(up to date)"; got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
	// Text plan and --dry-run print the same table.
	out, _ := e.mustPipe(0, "plan")
	dry, _ := e.mustPipe(0, "run", "--dry-run")
	if out != dry || !strings.Contains(out, "Plan: 0 to run, 6 to skip.") {
		t.Errorf("plan:\n%s\nrun --dry-run:\n%s", out, dry)
	}
	// An edited input of b reruns b and d only; a removed output reruns
	// its stage.
	e.write("out/b", "tampered\n")
	os.Remove(e.path("out/fan1"))
	if got, want := e.plan(), "a=skip(up to date) b=run(output changed (out/b)) c=skip(up to date) d=run(upstream changed (b will run)) fan1=run(output missing (out/fan1)) fan2=skip(up to date)"; got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
	e.mustPipe(0, "run")
	if got, want := e.ran(), "b d fan1"; got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
	// A changed command: config changed, names the key.
	e.write("pipeline.hcl", strings.Replace(diamondHCL, "echo C >> out/c", "echo CC >> out/c", 1))
	if got, want := e.plan(), "c=run(config changed (command))"; !strings.Contains(got, want) {
		t.Errorf("plan %s lacks %s", got, want)
	}
	e.mustPipe(0, "run")
	if got, want := e.ran(), "c d"; got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
}

func TestRunEnabledFalse(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, `
variable "on" {
  type    = bool
  default = false
}
stage "maybe" {
  enabled = var.on
  command = "echo maybe >> runs.log"
}
stage "after" {
  depends_on = [stage.maybe]
  command    = "echo after >> runs.log"
}
`)
	if got, want := e.plan(), "maybe=disabled(disabled) after=run(never ran)"; got != want {
		t.Errorf("plan %s, want %s", got, want)
	}
	_, stderr := e.mustPipe(0, "run")
	if got := e.ran(); got != "after" {
		t.Errorf("ran %q", got)
	}
	if !strings.Contains(stderr, "1 disabled") {
		t.Errorf("summary: %s", stderr)
	}
	e.mustPipe(0, "run", "-var", "on=true")
	if got := e.ran(); got != "after maybe" {
		t.Errorf("ran %q with on=true", got)
	}
}

func TestRunRetriesAndTimeout(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, `
stage "flaky" {
  retries     = 2
  retry_delay = "50ms"
  command     = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo attempt $n; [ $n -ge 3 ]"
}
stage "slow" {
  timeout = "300ms"
  command = "sleep 30"
}
`)
	start := time.Now()
	_, stderr := e.mustPipe(1, "run", "--keep-going")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	if got := e.read("count"); got != "3\n" {
		t.Errorf("flaky ran %q times", got)
	}
	logs, _ := filepath.Glob(e.path(".pipe/logs/*/flaky.*.log"))
	if len(logs) != 3 {
		t.Errorf("flaky logs %v, want 3", logs)
	} else if b, _ := os.ReadFile(logs[2]); string(b) != "attempt 3\n" {
		t.Errorf("last log %q", b)
	}
	if !strings.Contains(stderr, "stage slow failed") || !strings.Contains(stderr, "timed out after 300ms") {
		t.Errorf("stderr lacks the timeout:\n%s", stderr)
	}
	if !strings.Contains(stderr, "attempt 3") {
		t.Errorf("stage output not streamed:\n%s", stderr)
	}
}

func TestRunFailureAndResume(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, `
stage "a" {
  outputs = ["a.txt"]
  command = "echo a >> runs.log; echo a > a.txt"
}
stage "b" {
  inputs  = stage.a.outputs
  outputs = ["b.txt"]
  command = "echo b >> runs.log; test ! -e fail && echo b > b.txt"
}
stage "c" {
  inputs  = stage.b.outputs
  command = "echo c >> runs.log"
}
stage "x" {
  command = "echo x >> runs.log"
}
`)
	e.write("fail", "")
	_, stderr := e.mustPipe(1, "run", "--parallel", "1")
	if !strings.Contains(stderr, "stage b failed") {
		t.Errorf("stderr: %s", stderr)
	}
	// With one slot and no --keep-going, x (declared after b) may not start.
	if got := e.ran(); got != "a b" && got != "a b x" {
		t.Errorf("ran %q", got)
	}
	if got := e.plan(); !strings.Contains(got, "b=run(previously failed) c=run(upstream changed (b will run))") {
		t.Errorf("plan %s", got)
	}
	os.Remove(e.path("fail"))
	e.mustPipe(0, "run")
	if got := e.ran(); got != "b c x" && got != "b c" {
		t.Errorf("resume ran %q, want b c (x)", got)
	}
	e.mustPipe(0, "run")
	if got := e.ran(); got != "" {
		t.Errorf("third run ran %q", got)
	}
}

func TestRunSelection(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, diamondHCL)
	// --only a stage whose upstream never ran: blocked.
	_, stderr := e.mustPipe(0, "run", "--only", "b")
	if got := e.ran(); got != "" || !strings.Contains(stderr, "blocked") {
		t.Errorf("--only b on a fresh state ran %q\n%s", got, stderr)
	}
	e.mustPipe(0, "run")
	e.ran()
	e.mustPipe(0, "run", "--force", "b")
	if got := e.ran(); got != "b" {
		t.Errorf("--force b ran %q", got)
	}
	e.mustPipe(0, "run", "--only", "c,d", "--force", "c")
	if got := e.ran(); got != "c" {
		t.Errorf("--only c,d --force c ran %q", got)
	}
	e.mustPipe(0, "run", "--from", "b")
	if got := e.ran(); got != "b d" {
		t.Errorf("--from b ran %q", got)
	}
	e.mustPipe(0, "run", "--force-all")
	if got := e.ran(); got != "a b c d fan1 fan2" {
		t.Errorf("--force-all ran %q", got)
	}
	_, stderr = e.mustPipe(2, "run", "--only", "dd")
	if !strings.Contains(stderr, `no stage named "dd" (did you mean "d"?)`) {
		t.Errorf("stderr: %s", stderr)
	}
	e.mustPipe(2, "run", "--from", "a", "--only", "b")
}

func TestRunVariablePrecedence(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, `
variable "v" {
  type    = string
  default = "default"
}
stage "w" {
  outputs = ["v.txt"]
  command = "echo ${var.v} > v.txt"
}
`)
	e.write("a.pipevars", `v = "file-a"`+"\n")
	e.write("b.pipevars", `v = "file-b"`+"\n")
	steps := []struct {
		env  string
		args []string
		want string
	}{
		{"", nil, "default"},
		{"env", nil, "env"},
		{"env", []string{"-var-file", "a.pipevars"}, "file-a"},
		{"env", []string{"-var-file", "a.pipevars", "-var-file", "b.pipevars"}, "file-b"},
		{"env", []string{"-var", "v=flag", "-var-file", "b.pipevars"}, "flag"},
		{"", []string{"--var=v=one", "-var", "v=two"}, "two"},
	}
	base := e.env
	for _, s := range steps {
		e.env = base
		if s.env != "" {
			e.env = append(append([]string(nil), base...), "PIPE_VAR_v="+s.env)
		}
		e.mustPipe(0, append([]string{"run"}, s.args...)...)
		if got := strings.TrimSpace(e.read("v.txt")); got != s.want {
			t.Errorf("env %q args %v: v = %q, want %q", s.env, s.args, got, s.want)
		}
	}
}

func TestRunDiagnosticsGolden(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src string }{
		{"cycle", `
stage "a" {
  command = "echo ${stage.c.name}"
}
stage "b" {
  depends_on = [stage.a]
  command    = "true"
}
stage "c" {
  inputs  = stage.b.outputs
  command = "true"
}
`},
		{"badref", `
stage "prepare" {
  command = "true"
}
stage "train" {
  inputs  = stage.prepair.outputs
  command = "true"
}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPipeEnv(t, tt.src)
			for _, cmd := range []string{"run", "plan"} {
				out, stderr := e.mustPipe(2, cmd)
				if out != "" {
					t.Errorf("%s: stdout %q", cmd, out)
				}
				golden := filepath.Join("testdata", "run_"+tt.name+".golden")
				if *update && cmd == "run" {
					os.MkdirAll("testdata", 0o755)
					if err := os.WriteFile(golden, []byte(stderr), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if stderr != string(want) {
					t.Errorf("%s: stderr:\n%s\nwant (%s):\n%s", cmd, stderr, golden, want)
				}
			}
		})
	}
}

func TestRunParallelDefault(t *testing.T) {
	t.Parallel()
	// p1 and p2 each wait for the other to start: they succeed only when
	// max_parallel lets them run at once.
	e := newPipeEnv(t, `
pipeline { max_parallel = 2 }
stage "p1" {
  timeout = "20s"
  command = "touch p1.start; while [ ! -e p2.start ]; do sleep 0.01; done"
}
stage "p2" {
  timeout = "20s"
  command = "touch p2.start; while [ ! -e p1.start ]; do sleep 0.01; done"
}
`)
	e.mustPipe(0, "run")
}
