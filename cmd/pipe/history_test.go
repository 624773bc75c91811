package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStatusRunsShowLogs(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, `
stage "a" {
  command = "echo hello from a"
}
stage "b" {
  depends_on = [stage.a]
  command    = "echo try; exit 3"
  retries    = 1
}
stage "c" {
  depends_on = [stage.b]
  command    = "echo c"
}
`)
	// Nothing recorded yet.
	if out, _ := e.mustPipe(0, "status"); !strings.Contains(out, "no runs recorded") {
		t.Errorf("status of an empty state: %q", out)
	}
	if out, _ := e.mustPipe(0, "runs", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("runs --json of an empty state: %q", out)
	}
	e.mustPipe(1, "run")

	var st struct {
		Run    *runJSON      `json:"run"`
		Stages []attemptJSON `json:"stages"`
	}
	out, _ := e.mustPipe(0, "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.Run == nil || st.Run.Status != "failed" || len(st.Stages) != 2 ||
		st.Stages[0].Stage != "a" || st.Stages[0].Status != "succeeded" || *st.Stages[0].ExitCode != 0 ||
		st.Stages[1].Stage != "b" || st.Stages[1].Attempt != 2 || *st.Stages[1].ExitCode != 3 {
		t.Errorf("status --json:\n%s", out)
	}
	out, _ = e.mustPipe(0, "status", "pipeline.hcl")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[3], "c ") || !strings.Contains(lines[3], "none") {
		t.Errorf("status pipeline.hcl:\n%s", out)
	}

	var runs []runJSON
	out, _ = e.mustPipe(0, "runs", "--json")
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 || runs[0].ID != st.Run.ID || runs[0].DurationS == nil {
		t.Fatalf("runs --json: %v\n%s", err, out)
	}
	id := runs[0].ID

	var show struct {
		Run      *runJSON      `json:"run"`
		Attempts []attemptJSON `json:"attempts"`
	}
	out, _ = e.mustPipe(0, "show", id[:10], "--json")
	if err := json.Unmarshal([]byte(out), &show); err != nil || show.Run.ID != id || len(show.Attempts) != 3 {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	if out, _ := e.mustPipe(0, "show", "last"); !strings.Contains(out, "command exited with status 3") {
		t.Errorf("show last:\n%s", out)
	}
	if _, errs, code := e.pipe("show", "nope"); code != 2 || !strings.Contains(errs, `no run "nope"`) {
		t.Errorf("show nope: exit %d, %s", code, errs)
	}

	if out, _ := e.mustPipe(0, "logs", "a"); out != "hello from a\n" {
		t.Errorf("logs a: %q", out)
	}
	if out, _ := e.mustPipe(0, "logs", "b", "--run", id); out != "try\n" {
		t.Errorf("logs b: %q", out)
	}
	if _, errs, code := e.pipe("logs", "c"); code != 2 || !strings.Contains(errs, "no run has a log of stage c") {
		t.Errorf("logs c: exit %d, %s", code, errs)
	}
}

// TestStatusAfterKill: a run killed with SIGKILL shows as interrupted, and
// logs -f of its stage ends once the pipe is gone.
func TestStatusAfterKill(t *testing.T) {
	t.Parallel()
	e := newPipeEnv(t, `
stage "hold" {
  command = "echo started; touch started; while true; do sleep 0.02; done"
}
`)
	first := e.command("run")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(e.path("started")); err == nil {
			break
		}
		if i > 1000 {
			first.Process.Kill()
			t.Fatal("the run did not start its stage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	follow := e.command("logs", "hold", "-f")
	pr, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pr)
	if !sc.Scan() || sc.Text() != "started" {
		t.Errorf("logs -f: %q", sc.Text())
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("logs -f: %v", err)
		}
	case <-time.After(5 * time.Second):
		follow.Process.Kill()
		t.Error("logs -f did not end after the pipe was killed")
	}
	var st struct {
		Run    *runJSON      `json:"run"`
		Stages []attemptJSON `json:"stages"`
	}
	out, _ := e.mustPipe(0, "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Run.Status != "interrupted" || len(st.Stages) != 1 || st.Stages[0].Status != "interrupted" {
		t.Errorf("status after kill -9: %v\n%s", err, out)
	}
}
