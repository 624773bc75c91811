package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeml/pipe/runner"
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
	bin string // the pipe binary, when not pipeBin
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
	bin := pipeBin
	if e.bin != "" {
		bin = e.bin
	}
	c := exec.Command(bin, args...)
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
	_, stderr := e.mustPipe(0, "run", "--parallel", "3", "--fsync")
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
	// A tampered output reruns its stage; as b then writes what it wrote
	// before, d (planned to run) is skipped. A removed output reruns its
	// stage.
	e.write("out/b", "tampered\n")
	os.Remove(e.path("out/fan1"))
	if got, want := e.plan(), "a=skip(up to date) b=run(output changed (out/b)) c=skip(up to date) d=run(upstream changed (b will run)) fan1=run(output missing (out/fan1)) fan2=skip(up to date)"; got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
	e.mustPipe(0, "run")
	if got, want := e.ran(), "b fan1"; got != want {
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
stage "noout" {
  outputs = ["never.txt"]
  command = "true"
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
	if !strings.Contains(stderr, "stage noout failed after 1 attempt(s): declared output never.txt") {
		t.Errorf("stderr lacks the missing output:\n%s", stderr)
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

// crashHCL is a 20-stage pipeline: two chains of 6 joined by a merge, and a
// fan of 7 from the merge. Each stage appends its name to runs.log when it
// starts and writes its output atomically (temp file + mv), its content
// derived from its inputs.
func crashHCL() string {
	var b strings.Builder
	stage := func(name string, deps []string) {
		fmt.Fprintf(&b, "stage %q {\n", name)
		ins := make([]string, len(deps))
		for i, d := range deps {
			ins[i] = fmt.Sprintf("stage.%s.outputs", d)
		}
		if len(ins) > 0 {
			fmt.Fprintf(&b, "  inputs  = concat(%s)\n", strings.Join(ins, ", "))
		}
		fmt.Fprintf(&b, "  outputs = [\"out/%s\"]\n", name)
		cat := ""
		for _, d := range deps {
			cat += " out/" + d
		}
		if cat == "" {
			cat = " /dev/null"
		}
		fmt.Fprintf(&b, "  command = \"echo %s >> runs.log; mkdir -p out; sleep 0.02; { cat%s; echo %s; } > out/%s.tmp && mv out/%s.tmp out/%s\"\n}\n",
			name, cat, name, name, name, name)
	}
	for _, ch := range []string{"l", "r"} {
		for i := 0; i < 6; i++ {
			var deps []string
			if i > 0 {
				deps = []string{fmt.Sprintf("%s%d", ch, i-1)}
			}
			stage(fmt.Sprintf("%s%d", ch, i), deps)
		}
	}
	stage("merge", []string{"l5", "r5"})
	for i := 0; i < 7; i++ {
		stage(fmt.Sprintf("f%d", i), []string{"merge"})
	}
	return b.String()
}

// outputs returns the content of every file under out/.
func (e *pipeEnv) outputs() map[string]string {
	e.t.Helper()
	m := map[string]string{}
	files, _ := filepath.Glob(e.path("out/*"))
	for _, f := range files {
		if strings.HasSuffix(f, ".tmp") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		m[filepath.Base(f)] = string(b)
	}
	return m
}

// succeeded returns the stages whose latest recorded attempt succeeded.
func (e *pipeEnv) succeeded(names []string) map[string]bool {
	e.t.Helper()
	st, err := openState(&globals{stdout: io.Discard, stderr: io.Discard, stateDir: e.path(".pipe")}, false, false)
	if err != nil {
		e.t.Fatalf("open state: %v", err)
	}
	defer st.Close()
	ok := map[string]bool{}
	for _, n := range names {
		a, err := st.store.Latest(n)
		if err != nil {
			e.t.Fatalf("latest %s: %v", n, err)
		}
		if a != nil && a.Status == runner.StatusSucceeded {
			ok[n] = true
		}
	}
	return ok
}

func TestRunCrashResume(t *testing.T) {
	t.Parallel()
	src := crashHCL()
	ref := newPipeEnv(t, src)
	start := time.Now()
	ref.mustPipe(0, "run", "--parallel", "4")
	full := time.Since(start)
	want := ref.outputs()
	if len(want) != 20 {
		t.Fatalf("reference run wrote %d outputs", len(want))
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for epoch := 0; kills < 20 && epoch < 20; epoch++ {
		e := newPipeEnv(t, src)
		for round := 0; ; round++ {
			done := e.succeeded(names)
			e.ran()
			c := e.command("run", "--parallel", "4")
			var errb bytes.Buffer
			c.Stderr = &errb
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- c.Wait() }()
			var err error
			killed := false
			select {
			case err = <-exited:
			case <-time.After(time.Duration(rng.Int64N(int64(full)))):
				c.Process.Signal(syscall.SIGKILL)
				err = <-exited
				var ee *exec.ExitError
				killed = errors.As(err, &ee) && !ee.Exited()
			}
			for _, n := range strings.Fields(e.ran()) {
				if done[n] {
					t.Errorf("epoch %d round %d: stage %s ran again after it had succeeded", epoch, round, n)
				}
			}
			if killed {
				kills++
				continue
			}
			if err != nil {
				t.Fatalf("epoch %d round %d: run failed: %v\n%s", epoch, round, err, errb.String())
			}
			break
		}
		if got := e.outputs(); !maps.Equal(got, want) {
			t.Errorf("epoch %d: outputs differ from an uninterrupted run:\n got %v\nwant %v", epoch, got, want)
		}
		plan := e.plan()
		if strings.Count(plan, "(up to date)") != 20 {
			t.Errorf("epoch %d: after the last rerun not every stage is up to date: %s", epoch, plan)
		}
	}
	if kills < 20 {
		t.Errorf("only %d kills landed during a run", kills)
	}
}

func TestRunLock(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, `
stage "hold" {
  command = "touch started; while [ ! -e release ]; do sleep 0.02; done"
}
`)
	first := e.command("run")
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(e.path("started")); err == nil {
			break
		}
		if i > 1000 {
			first.Process.Kill()
			t.Fatalf("the first run did not start its stage:\n%s", firstErr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	_, stderr, code := e.pipe("run")
	took := time.Since(start)
	host, _ := os.Hostname()
	if code == 0 || took > time.Second || !strings.Contains(stderr, strconv.Itoa(first.Process.Pid)) || !strings.Contains(stderr, host) {
		t.Errorf("second run: exit %d after %v, stderr:\n%s\n(want refusal in < 1s naming PID %d and host %s)", code, took, stderr, first.Process.Pid, host)
	}
	// Kill the holder: its lock is stale and the next run takes it over.
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	if got := e.plan(); got != "hold=run(interrupted)" {
		t.Errorf("plan after kill -9: %s", got)
	}
	e.write("release", "")
	_, stderr = e.mustPipe(0, "run")
	if want := fmt.Sprintf("warning: taking over the stale lock of pipe PID %d", first.Process.Pid); !strings.Contains(stderr, want) {
		t.Errorf("no %q in:\n%s", want, stderr)
	}
	if got := e.plan(); got != "hold=skip(up to date)" {
		t.Errorf("plan after takeover: %s", got)
	}
}

func TestRunInterruptCancels(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, `
stage "long" {
  command = "touch started; sleep 30"
}
stage "after" {
  depends_on = [stage.long]
  command    = "echo after >> runs.log"
}
`)
	c := e.command("run")
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(e.path("started")); err == nil {
			break
		}
		if i > 1000 {
			c.Process.Kill()
			t.Fatalf("stage did not start:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	c.Process.Signal(os.Interrupt)
	err := c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("interrupted run: %v, want exit 1\n%s", err, errb.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	if !strings.Contains(errb.String(), "1 cancelled") {
		t.Errorf("summary:\n%s", errb.String())
	}
	if got, want := e.plan(), "long=run(cancelled) after=run(upstream changed (long will run))"; got != want {
		t.Errorf("plan %s, want %s", got, want)
	}
	if e.ran() != "" {
		t.Error("the stage after a cancelled one ran")
	}
}
