package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// decisionsHCL has a file and a tree as inputs, a chain, a stage without
// outputs (its attempts change nothing on disk) and one that fails on
// demand, and reads a variable and the environment.
const decisionsHCL = `
variable "msg" {
  default = "m"
}
stage "a" {
  inputs  = ["in.txt", "tree"]
  outputs = ["a.txt"]
  command = "cat in.txt tree/t1.txt tree/sub/deep.txt > a.txt; ls tree >> a.txt; echo ${var.msg} ${env("GREETING", "hi")} >> a.txt; echo a >> runs.log"
}
stage "b" {
  inputs  = stage.a.outputs
  outputs = ["b.txt"]
  command = "cat a.txt > b.txt; echo b >> runs.log"
}
stage "x" {
  outputs = ["x.txt"]
  command = "echo x > x.txt; echo x >> runs.log"
}
stage "n" {
  command = "echo n >> runs.log"
}
stage "f" {
  command = "test ! -e fail.flag && echo f >> runs.log"
}
`

// decisionPlan runs pipe plan --json --log-level debug and returns the
// JSON plan and what became of the decision snapshot.
func (e *pipeEnv) decisionPlan(args ...string) (plan, status string) {
	e.t.Helper()
	out, stderr := e.mustPipe(0, append([]string{"plan", "--json", "--log-level", "debug"}, args...)...)
	return out, decisionLine(stderr)
}

func decisionLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if s, ok := strings.CutPrefix(line, "decision snapshot: "); ok {
			return s
		}
	}
	return ""
}

// noCachePlan is the JSON plan with the decision snapshot off.
func (e *pipeEnv) noCachePlan(args ...string) string {
	e.t.Helper()
	saved := e.env
	e.env = append(append([]string(nil), e.env...), noDecisionsEnv+"=off")
	defer func() { e.env = saved }()
	out, stderr := e.mustPipe(0, append([]string{"plan", "--json", "--log-level", "debug"}, args...)...)
	if s := decisionLine(stderr); s != "off" {
		e.t.Errorf("%s=off: decision snapshot %q", noDecisionsEnv, s)
	}
	return out
}

// settleSnapshot waits out the racy window, then plans until a plan saves
// the snapshot and the next one uses it, each plan equal to the plan
// without the snapshot. It returns that plan.
func (e *pipeEnv) settleSnapshot(args ...string) string {
	e.t.Helper()
	time.Sleep(150 * time.Millisecond)
	want := e.noCachePlan(args...)
	p1, s1 := e.decisionPlan(args...)
	if !strings.HasSuffix(s1, "; saved") && s1 != "used" {
		e.t.Errorf("plan %v: decision snapshot %q, want it saved", args, s1)
	}
	p2, s2 := e.decisionPlan(args...)
	if s2 != "used" {
		e.t.Errorf("plan %v again: decision snapshot %q, want used", args, s2)
	}
	if p1 != want || p2 != want {
		e.t.Errorf("plan %v differs with the snapshot:\nno snapshot:\n%s\nsaving:\n%s\nfrom snapshot:\n%s", args, want, p1, p2)
	}
	return want
}

// rewriteKeepingMtime writes content (of the same size) into name and puts
// its modification time back: only the ctime tells.
func (e *pipeEnv) rewriteKeepingMtime(name, content string) {
	e.t.Helper()
	fi, err := os.Stat(e.path(name))
	if err != nil {
		e.t.Fatal(err)
	}
	if int(fi.Size()) != len(content) {
		e.t.Fatalf("%s: %d bytes, new content %d", name, fi.Size(), len(content))
	}
	e.write(name, content)
	if err := os.Chtimes(e.path(name), fi.ModTime(), fi.ModTime()); err != nil {
		e.t.Fatal(err)
	}
	if fi2, _ := os.Stat(e.path(name)); !fi2.ModTime().Equal(fi.ModTime()) || fi2.Size() != fi.Size() {
		e.t.Fatalf("%s: mtime or size not kept", name)
	}
}

// TestDecisionSnapshot changes, one at a time, everything a decision rests
// on, and checks each time that the decision snapshot is not used, that the
// plan equals the plan without it (byte for byte), that the run runs what
// changed, and that afterwards a new snapshot is saved and used.
func TestDecisionSnapshot(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, decisionsHCL)
	e.write("in.txt", "in1\n")
	e.write("tree/t1.txt", "t1\n")
	e.write("tree/sub/deep.txt", "deep1\n")
	e.mustPipe(0, "run")
	if got := e.ran(); got != "a b f n x" {
		t.Fatalf("first run ran %q", got)
	}
	e.settleSnapshot()
	// A run served from the snapshot runs nothing.
	_, stderr := e.mustPipe(0, "run", "--log-level", "debug")
	if s := decisionLine(stderr); s != "used" {
		t.Fatalf("up-to-date run: decision snapshot %q", s)
	}
	if got := e.ran(); got != "" {
		t.Fatalf("up-to-date run ran %q", got)
	}
	exe := filepath.Join(filepath.Dir(pipeBin), "pipe-decisions-test")
	t.Cleanup(func() { os.Remove(exe) })
	for _, tc := range []struct {
		name   string
		change func()
		args   []string
		why    string // in the status of the first plan after the change
		plan   string // in that plan
		ran    string // what the run after the change runs
	}{
		{name: "input content, same size and mtime", change: func() { e.rewriteKeepingMtime("in.txt", "in2\n") },
			why: "in.txt changed", plan: `"reason": "input changed (in.txt)"`, ran: "a b"},
		{name: "input touched, same content", change: func() {
			now := time.Now()
			os.Chtimes(e.path("in.txt"), now, now)
		}, why: "in.txt changed", plan: `"reason": "up to date"`, ran: ""},
		{name: "file added to a tree", change: func() { e.write("tree/t2.txt", "t2\n") },
			why: "tree changed", plan: `"reason": "input changed (tree)"`, ran: "a b"},
		{name: "file removed from a tree", change: func() { os.Remove(e.path("tree/t2.txt")) },
			why: "tree changed", plan: `"reason": "input changed (tree)"`, ran: "a b"},
		{name: "nested file changed, same size and mtime", change: func() { e.rewriteKeepingMtime("tree/sub/deep.txt", "deep2\n") },
			why: "deep.txt changed", plan: `"reason": "input changed (tree)"`, ran: "a b"},
		{name: "output deleted", change: func() { os.Remove(e.path("b.txt")) },
			why: "b.txt changed", plan: `"reason": "output missing (b.txt)"`, ran: "b"},
		{name: "output changed", change: func() { e.write("x.txt", "other\n") },
			why: "x.txt changed", plan: `"reason": "output changed (x.txt)"`, ran: "x"},
		{name: "attempt by another invocation", change: func() {
			e.mustPipe(0, "run", "--force", "n", "--only", "n")
			if got := e.ran(); got != "n" {
				e.t.Fatalf("forced run ran %q", got)
			}
		}, why: "recorded attempts changed", plan: `"reason": "up to date"`, ran: ""},
		{name: "failed attempt", change: func() {
			e.write("fail.flag", "")
			e.mustPipe(1, "run", "--force-all", "--only", "f")
			os.Remove(e.path("fail.flag"))
		}, why: "recorded attempts changed", plan: `"reason": "previously failed"`, ran: "f"},
		{name: "environment", change: func() { e.env = append(e.env, "GREETING=hello") },
			why: "key changed", plan: `"reason": "config changed (command)"`, ran: "a b"},
		{name: "pipeline file", change: func() { e.write("pipeline.hcl", strings.Replace(decisionsHCL, "cat a.txt", "cat  a.txt", 1)) },
			why: "key changed", plan: `"reason": "config changed (command)"`, ran: "b"},
		{name: "corrupt snapshot", change: func() {
			files, _ := filepath.Glob(e.path(".pipe/compiled/*.decisions"))
			if len(files) != 1 {
				e.t.Fatalf("snapshot files %v", files)
			}
			b, err := os.ReadFile(files[0])
			if err != nil {
				e.t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(files[0], b, 0o644); err != nil {
				e.t.Fatal(err)
			}
		}, why: "snapshot corrupt", plan: `"reason": "up to date"`, ran: ""},
		{name: "selection flag", args: []string{"--force", "x"},
			why: "selection flags", plan: `"reason": "forced"`, ran: "x"},
		{name: "new binary", change: func() {
			// A hard link: another path is another binary for the key
			// (a copy written here could be exec'ed while a process
			// forked by a parallel test holds it open: ETXTBSY).
			os.Remove(exe)
			if err := os.Link(pipeBin, exe); err != nil {
				e.t.Skipf("cannot link the binary: %v", err)
			}
		}, why: "key changed", plan: `"reason": "up to date"`, ran: ""},
		{name: "variable", args: []string{"-var", "msg=v"},
			why: "key changed", plan: `"reason": "config changed (command)"`, ran: "a b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			if tc.change != nil {
				tc.change()
			}
			if tc.name == "new binary" {
				e.bin = exe // from here on
			}
			want := e.noCachePlan(tc.args...)
			got, status := e.decisionPlan(tc.args...)
			if !strings.HasPrefix(status, "not used") || !strings.Contains(status, tc.why) {
				t.Errorf("plan after the change: decision snapshot %q, want not used (... %s ...)", status, tc.why)
			}
			if got != want {
				t.Errorf("plan after the change differs from the plan without the snapshot:\n%s\nwithout:\n%s", got, want)
			}
			if !strings.Contains(want, tc.plan) {
				t.Errorf("plan after the change does not say %s:\n%s", tc.plan, want)
			}
			e.mustPipe(0, append([]string{"run"}, tc.args...)...)
			if got := e.ran(); got != tc.ran {
				t.Errorf("run after the change ran %q, want %q", got, tc.ran)
			}
			if len(tc.args) > 0 && tc.args[0] == "--force" {
				tc.args = nil // a forced plan is never served from the snapshot
			}
			if p := e.settleSnapshot(tc.args...); strings.Contains(p, `"action": "run"`) {
				t.Errorf("plan after the run:\n%s", p)
			}
		})
	}
}
