package execkind

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeml/pipe/stages"
)

func run(t *testing.T, k *Kind, ctx context.Context, r *stages.Run) (string, error) {
	t.Helper()
	var out bytes.Buffer
	r.Stdout, r.Stderr, r.Progress = &out, &out, stages.NopProgress{}
	if r.Workdir == "" {
		r.Workdir = t.TempDir()
	}
	_, err := k.Run(ctx, r)
	return out.String(), err
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name  string
		r     stages.Run
		out   string
		code  int
		error string
	}{
		{"shell", stages.Run{Shell: "echo $GREETING from $(basename $PWD)", Env: map[string]string{"GREETING": "hi"}, Workdir: dir}, "hi from " + filepath.Base(dir) + "\n", 0, ""},
		{"argv", stages.Run{Argv: []string{"printf", "%s|", "a b", "$HOME"}}, "a b|$HOME|", 0, ""},
		{"exit", stages.Run{Shell: "echo no >&2; exit 3"}, "no\n", 3, "exited with status 3"},
		{"missing", stages.Run{Argv: []string{"no-such-program-xyz"}}, "", -1, "no-such-program-xyz"},
		{"empty", stages.Run{}, "", -1, "needs a command"},
	}
	for _, tt := range tests {
		out, err := run(t, New(), context.Background(), &tt.r)
		if out != tt.out {
			t.Errorf("%s: output %q, want %q", tt.name, out, tt.out)
		}
		if tt.error == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.error) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.error)
		}
		var ee *ExitError
		if tt.code >= 0 && (!errors.As(err, &ee) || ee.ExitCode() != tt.code) {
			t.Errorf("%s: exit code from %v, want %d", tt.name, err, tt.code)
		}
	}
}

func TestCancelKillsGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for i := 0; i < 500; i++ {
			if _, err := os.Stat(pidFile); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	// The shell ignores SIGTERM; its background child does not hold the
	// stage either: SIGKILL after the grace period takes the whole group.
	_, err := run(t, NewWithGrace(200*time.Millisecond), ctx, &stages.Run{
		Shell: "trap '' TERM; sleep 30 & echo $! > child.pid; while true; do sleep 0.05; done", Workdir: dir,
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancel took %v", d)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("no child pid: %q", b)
	}
	for i := 0; ; i++ {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		// A killed orphan stays a zombie until init reaps it.
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
				break
			}
		}
		if i > 200 {
			t.Fatalf("background child %d survived the cancellation", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
