package execkind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// TestMain lets the test binary act as pipe for TestDiesWithPipe: with
// EXECKIND_HELPER set it runs that command through the kind.
func TestMain(m *testing.M) {
	if sh := os.Getenv("EXECKIND_HELPER"); sh != "" {
		_, err := New().Run(context.Background(), &stages.Run{Shell: sh, Workdir: os.Getenv("EXECKIND_DIR"), Progress: stages.NopProgress{}})
		fmt.Println("helper:", err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// gone waits until pid has exited (or is a zombie waiting for init).
func gone(t *testing.T, pid int, what string) {
	t.Helper()
	for i := 0; ; i++ {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
				return
			}
		}
		if i > 300 {
			t.Fatalf("%s (PID %d) survived", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPID waits for a file holding a PID.
func readPID(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 1000; i++ {
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && strings.HasSuffix(string(b), "\n") {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no PID in %s", path)
	return 0
}

// TestDiesWithPipe: the command dies when the pipe running it is killed
// with SIGKILL (Pdeathsig).
func TestDiesWithPipe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), "EXECKIND_HELPER=echo $$ > cmd.pid; exec sleep 60", "EXECKIND_DIR="+dir)
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	pid := readPID(t, filepath.Join(dir, "cmd.pid"))
	helper.Process.Signal(syscall.SIGKILL)
	helper.Wait()
	gone(t, pid, "the command of a killed pipe")
}

// TestLeftoversKilled: a background job does not hold the stage after its
// command exited, and is killed with the group.
func TestLeftoversKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := time.Now()
	out, err := run(t, New(), context.Background(), &stages.Run{Shell: "sleep 30 & echo $! > bg.pid; echo done", Workdir: dir})
	if err != nil || out != "done\n" {
		t.Fatalf("%q, %v", out, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the stage waited %v for its background job", d)
	}
	gone(t, readPID(t, filepath.Join(dir, "bg.pid")), "the background job")
}

// TestOutputOrder: with one writer for stdout and stderr, lines keep the
// order the command wrote them in; separate writers get their own stream.
func TestOutputOrder(t *testing.T) {
	t.Parallel()
	sh := "for i in 1 2 3; do echo out$i; echo err$i >&2; done"
	out, err := run(t, New(), context.Background(), &stages.Run{Shell: sh})
	if want := "out1\nerr1\nout2\nerr2\nout3\nerr3\n"; err != nil || out != want {
		t.Errorf("one writer: %q, %v; want %q", out, err, want)
	}
	var o, e bytes.Buffer
	if _, err := New().Run(context.Background(), &stages.Run{Shell: sh, Workdir: t.TempDir(), Stdout: &o, Stderr: &e, Progress: stages.NopProgress{}}); err != nil {
		t.Fatal(err)
	}
	if o.String() != "out1\nout2\nout3\n" || e.String() != "err1\nerr2\nerr3\n" {
		t.Errorf("two writers: %q %q", o.String(), e.String())
	}
	// A file is handed to the command as it is.
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := New().Run(context.Background(), &stages.Run{Shell: sh, Workdir: t.TempDir(), Stdout: f, Stderr: f, Progress: stages.NopProgress{}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.Name()); string(b) != "out1\nerr1\nout2\nerr2\nout3\nerr3\n" {
		t.Errorf("file: %q", b)
	}
}

func TestOptions(t *testing.T) {
	if g := New().grace; g != 10*time.Second {
		t.Errorf("default grace %v", g)
	}
	if g := New(WithGrace(time.Second)).grace; g != time.Second {
		t.Errorf("WithGrace: %v", g)
	}
}

// failingWriter fails every write after the first n bytes, like a log
// file on a disk that just filled up.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, syscall.ENOSPC
	}
	w.n -= len(p)
	return len(p), nil
}

// TestWriterErrorDoesNotBlock: when the stage's writer fails (a full
// disk), the command is not left blocked on a pipe nobody reads; it runs
// to its end and the stage fails naming the write error.
func TestWriterErrorDoesNotBlock(t *testing.T) {
	t.Parallel()
	w := &failingWriter{n: 100}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &stages.Run{Shell: "seq 1 200000 && echo done > marker", Workdir: t.TempDir(), Stdout: w, Stderr: w, Progress: stages.NopProgress{}}
	_, err := New().Run(ctx, r)
	if ctx.Err() != nil {
		t.Fatal("the command blocked on its output pipe")
	}
	if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "writing the command's output") {
		t.Fatalf("err = %v, want the write error", err)
	}
	if _, serr := os.Stat(filepath.Join(r.Workdir, "marker")); serr != nil {
		t.Fatalf("the command did not run to its end: %v", serr)
	}
}
