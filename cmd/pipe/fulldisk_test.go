package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountSmallDisk mounts a tmpfs of size bytes at a new directory and
// unmounts it at the end of the test; it skips the test where mounting is
// not allowed (not Linux, not root, no CAP_SYS_ADMIN in a container).
func mountSmallDisk(t *testing.T, size int) string {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("full-disk test: needs Linux and root to mount a small tmpfs")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		t.Skipf("full-disk test: cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillDisk writes a file of zeros into dir until at most leave bytes are
// free, and returns its path.
func fillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	path := filepath.Join(dir, "filler")
	if free > leave {
		if err := os.WriteFile(path, make([]byte, free-leave), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func noPanic(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("a panic reached the user:\n%s", stderr)
	}
}

// TestFullDisk: with the state on a disk that fills up, pipe stops with
// one clear error (never a panic or a hang), keeps every stage that
// succeeded before, and once space is freed the next run resumes: only the
// stages that had not succeeded run.
func TestFullDisk(t *testing.T) {
	disk := mountSmallDisk(t, 2<<20)
	state := filepath.Join(disk, "state")

	// 1. The state database cannot grow: 600 silent stages.
	var b strings.Builder
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&b, "stage \"s%d\" {\n  command = \"true\"\n}\n", i)
	}
	e := newPipeEnv(t, b.String())
	if _, _, code := e.pipe("run", "--state", state, "--only", "s0", "pipeline.hcl"); code != 0 {
		t.Fatalf("first run on the empty disk failed: %d", code)
	}
	filler := fillDisk(t, disk, 64<<10)
	_, stderr, code := e.pipe("run", "--state", state, "pipeline.hcl")
	noPanic(t, stderr)
	if code == 0 {
		t.Fatalf("run on a full disk succeeded:\n%s", stderr)
	}
	if !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, "state.db") {
		t.Fatalf("error does not say what happened:\n%s", stderr)
	}
	m := regexp.MustCompile(`: (\d+) succeeded`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no run summary:\n%s", stderr)
	}
	done, _ := strconv.Atoi(m[1])
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = e.pipe("run", "--state", state, "pipeline.hcl")
	noPanic(t, stderr)
	want := fmt.Sprintf("%d succeeded, %d skipped", 600-1-done, done+1)
	if code != 0 || !strings.Contains(stderr, want) {
		t.Fatalf("resume after freeing space: exit %d, want %q in\n%s", code, want, stderr)
	}
	if _, stderr, code = e.pipe("run", "--state", state, "pipeline.hcl"); code != 0 || !strings.Contains(stderr, "600 skipped") {
		t.Fatalf("third run: exit %d\n%s", code, stderr)
	}

	// 2. A stage's log fills the disk: the stage fails naming the write
	// error, the command is not left blocked on its output.
	e2 := newPipeEnv(t, "stage \"chatty\" {\n  command = \"seq 1 150000\"\n}\nstage \"after\" {\n  command = \"true\"\n  depends_on = [stage.chatty]\n}\n")
	state2 := filepath.Join(disk, "state2")
	filler = fillDisk(t, disk, 256<<10)
	c := e2.command("run", "--state", state2, "pipeline.hcl")
	var out strings.Builder
	c.Stderr = &out
	err := runWithTimeout(t, c)
	noPanic(t, out.String())
	if err == nil || !strings.Contains(out.String(), "writing the stage's log") || !strings.Contains(out.String(), "no space left on device") {
		t.Fatalf("chatty stage on a full disk: %v\n%s", err, out.String())
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The log of the failed attempt still takes most of the disk: remove
	// the old logs as a user would, then resume.
	if err := os.RemoveAll(filepath.Join(state2, "logs")); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := e2.pipe("run", "--state", state2, "pipeline.hcl"); code != 0 || !strings.Contains(stderr, "2 succeeded") {
		t.Fatalf("resume of the chatty pipeline: exit %d\n%s", code, stderr)
	}
}

// runWithTimeout runs c and fails the test if it takes over a minute (a
// hang on a full disk is the bug this guards against).
func runWithTimeout(t *testing.T, c *exec.Cmd) error {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-t.Context().Done():
		return nil
	case <-timeAfterMinute():
		_ = c.Process.Kill()
		t.Fatal("pipe hung on a full disk")
		return nil
	}
}

func timeAfterMinute() <-chan time.Time { return time.After(time.Minute) }
