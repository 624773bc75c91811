package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMain lets the test binary act as a second pipe process: with
// PIPE_STATE_HELPER set it runs that helper instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("PIPE_STATE_HELPER") {
	case "":
		os.Exit(m.Run())
	case "record":
		helperRecord(os.Getenv("PIPE_STATE_DIR"))
	case "hold":
		helperHold(os.Getenv("PIPE_STATE_DIR"))
	}
	os.Exit(0)
}

// helperRecord records attempts as fast as it can (running, then
// succeeded, stage after stage) and prints "ok N" once stage N's success
// is acknowledged, until it is killed.
func helperRecord(dir string) {
	db, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		stage := fmt.Sprintf("s%05d", i)
		a := &Attempt{Run: "r1", Stage: stage, Attempt: 1, Status: StatusRunning, Start: time.Now(), Fingerprint: "fp" + stage,
			Keys: map[string]string{"command": stage}}
		if err := db.PutAttempt(a); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		a.Status, a.End = StatusSucceeded, time.Now()
		if err := db.PutAttempt(a); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "ok %d\n", i)
		w.Flush()
	}
}

// helperHold takes the lock, says "held" and waits to be killed.
func helperHold(dir string) {
	db, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if err := db.PutRun(&Run{ID: "held", Start: time.Now(), Status: StatusRunning}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("held")
	time.Sleep(time.Minute)
}

// helper starts the test binary as helper mode on dir.
func helper(t *testing.T, mode, dir string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PIPE_STATE_HELPER="+mode, "PIPE_STATE_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewScanner(out)
}

// TestCrashMidWrite kills a process recording attempts with SIGKILL at
// several moments: every success it was told about survives, the state
// reopens, and the attempt it was running shows as interrupted.
func TestCrashMidWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	acked := -1
	for round, after := range []int{0, 7, 150, 400} {
		cmd, out := helper(t, "record", dir)
		seen := 0
		for seen <= after && out.Scan() {
			line := out.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatalf("round %d: helper: %s", round, line)
			}
			n, err := strconv.Atoi(strings.TrimPrefix(line, "ok "))
			if err != nil {
				t.Fatalf("round %d: helper said %q", round, line)
			}
			acked = max(acked, n)
			seen++
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		// Read-only first (what pipe status and pipe plan do), then
		// writable (what the next pipe run does).
		for _, ro := range []bool{true, false} {
			db, err := Open(dir, Options{ReadOnly: ro})
			if err != nil {
				t.Fatalf("round %d: reopen (read-only %v) after kill -9: %v", round, ro, err)
			}
			for i := 0; i <= acked; i++ {
				s, err := db.LastSuccess(fmt.Sprintf("s%05d", i))
				if err != nil || s == nil || s.Status != StatusSucceeded {
					t.Fatalf("round %d: acknowledged success of s%05d lost: %+v, %v", round, i, s, err)
				}
			}
			all, err := db.Attempts("")
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range all {
				if a.Status == StatusRunning {
					t.Errorf("round %d: attempt %s still running after reopen (read-only %v)", round, a.Stage, ro)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The writable open recorded the interruptions: no running index left.
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.view(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketRunning).Stats().KeyN; n != 0 {
			t.Errorf("%d attempts left in the running index", n)
		}
		return nil
	})
}

// TestLockOtherProcess: a live second process is refused in < 1 s with its
// PID and host named; after it is killed with SIGKILL its lock is taken
// over with a warning and its run shows as interrupted.
func TestLockOtherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, out := helper(t, "hold", dir)
	if !out.Scan() || out.Text() != "held" {
		t.Fatalf("helper: %q", out.Text())
	}
	start := time.Now()
	_, err := Open(dir, Options{})
	took := time.Since(start)
	host, _ := os.Hostname()
	var le *LockedError
	if !errors.As(err, &le) || le.Info.PID != cmd.Process.Pid || took > time.Second ||
		!strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) || !strings.Contains(err.Error(), host) {
		t.Fatalf("second opener after %v: %v (want a refusal naming PID %d on %s within 1s)", took, err, cmd.Process.Pid, host)
	}
	// A reader is not refused by the lock file (bbolt's own lock may make
	// it wait while the holder has the database open).
	if _, err := Unlock(dir); !errors.As(err, &le) {
		t.Errorf("unlock of a live holder: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	var warned string
	db, err := Open(dir, Options{Warn: func(s string) { warned = s }})
	if err != nil {
		t.Fatalf("stale lock of a killed process not taken over: %v", err)
	}
	defer db.Close()
	if !strings.Contains(warned, strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("warning %q does not name PID %d", warned, cmd.Process.Pid)
	}
	r, err := db.Run("held")
	if err != nil || r == nil || r.Status != StatusInterrupted {
		t.Errorf("run of the killed holder: %+v, %v", r, err)
	}
}

// TestConcurrentUse records, reads and digests from many goroutines at
// once (run under -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(filepath.Join(dir, ".pipe"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "input")
	os.WriteFile(f, []byte("data"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(f, old, old)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				stage := fmt.Sprintf("g%d-s%d", g, i)
				a := &Attempt{Run: "r", Stage: stage, Attempt: 1, Status: StatusRunning, Start: time.Now()}
				if err := db.PutAttempt(a); err != nil {
					errs <- err
					return
				}
				if _, err := db.Digest(f); err != nil {
					errs <- err
					return
				}
				a.Status, a.End = StatusSucceeded, time.Now()
				if err := db.PutAttempt(a); err != nil {
					errs <- err
					return
				}
				if s, err := db.LastSuccess(stage); err != nil || s == nil {
					errs <- fmt.Errorf("last success of %s right after PutAttempt: %v, %v", stage, s, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := db.RunAttempts("r")
	if err != nil || len(got) != 400 {
		t.Errorf("attempts of run r: %d, %v", len(got), err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRun(&Run{ID: "late"}); err == nil {
		t.Error("a closed state accepted a write")
	}
}

// TestRunAttemptsIndex: the attempts of one run, not of runs whose id
// starts alike.
func TestRunAttemptsIndex(t *testing.T) {
	t.Parallel()
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Now()
	for i, k := range []struct{ run, stage string }{{"r1", "b"}, {"r1", "a"}, {"r10", "a"}, {"r2", "a"}} {
		a := &Attempt{Run: k.run, Stage: k.stage, Attempt: 1, Status: StatusFailed, Start: t0.Add(time.Duration(i) * time.Second), End: t0}
		if err := db.PutAttempt(a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.RunAttempts("r1")
	if err != nil || len(got) != 2 || got[0].Stage != "b" || got[1].Stage != "a" {
		t.Errorf("attempts of r1: %+v, %v", got, err)
	}
}

// TestNewerSchema: a database of a newer pipe is refused, naming the file
// and what to do.
func TestNewerSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	bdb, err := bolt.Open(filepath.Join(dir, DBName), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte("version"), []byte("7")) })
	bdb.Close()
	for _, ro := range []bool{false, true} {
		_, err := Open(dir, Options{ReadOnly: ro})
		if err == nil || !strings.Contains(err.Error(), "newer pipe") || !strings.Contains(err.Error(), filepath.Join(dir, DBName)) {
			t.Errorf("read-only %v: %v", ro, err)
		}
	}
}

// TestCorruptPages overwrites the pages of a valid database with garbage:
// opening and reading give a *CorruptError naming the file, never a panic.
func TestCorruptPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		a := &Attempt{Run: "r", Stage: fmt.Sprintf("stage-%04d", i), Attempt: 1, Status: StatusSucceeded, Start: time.Now(), End: time.Now(),
			Error: strings.Repeat("x", 200)}
		if err := db.PutAttempt(a); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	path := filepath.Join(dir, DBName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the two meta pages (so bbolt opens it), garble the rest.
	const page = 4096
	for i := 2 * page; i < len(b); i++ {
		b[i] = byte(i*7 + 3)
	}
	os.WriteFile(path, b, 0o644)
	for _, ro := range []bool{true, false} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("read-only %v: panic %v", ro, p)
				}
			}()
			db, err := Open(dir, Options{ReadOnly: ro})
			if err == nil {
				_, err = db.Attempts("")
				if err == nil {
					_, err = db.LastSuccess("stage-0001")
				}
				db.Close()
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "mv ") {
				t.Errorf("read-only %v: %v", ro, err)
			}
		}()
	}
}

// TestLogPath: the layout the runner writes and pipe logs reads.
func TestLogPath(t *testing.T) {
	got := LogPath("/s", "20260101T000000-1", "train/x", 2)
	if want := "/s/logs/20260101T000000-1/train_x.2.log"; got != want {
		t.Errorf("LogPath = %s, want %s", got, want)
	}
	var a Attempt
	if err := json.Unmarshal([]byte(`{"run":"r","stage":"s","attempt":1,"status":"running"}`), &a); err != nil || a.Status != StatusRunning {
		t.Errorf("%+v %v", a, err)
	}
}

func TestLatestAll(t *testing.T) {
	t.Parallel()
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	db.PutAttempt(&Attempt{Run: "r1", Stage: "a", Attempt: 1, Status: StatusSucceeded, Start: now, End: now})
	db.PutAttempt(&Attempt{Run: "r2", Stage: "a", Attempt: 1, Status: StatusFailed, Start: now, End: now})
	l, err := db.LatestAll([]string{"a", "b"})
	if err != nil || len(l) != 2 || l[0] == nil || l[0].Run != "r2" || l[1] != nil {
		t.Errorf("LatestAll: %+v, %v", l, err)
	}
	s, err := db.LastSuccessAll([]string{"a"})
	if err != nil || s[0] == nil || s[0].Run != "r1" {
		t.Errorf("LastSuccessAll: %+v, %v", s, err)
	}
}

// TestLockReusedPID: a lock naming a live process that does not hold its
// flock (the dead pipe's PID reused) is taken over; unlock removes it.
func TestLockReusedPID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	host, _ := os.Hostname()
	b, _ := json.Marshal(LockInfo{PID: other.Process.Pid, Host: host, Start: time.Now().Add(-time.Hour)})
	os.WriteFile(filepath.Join(dir, lockName), b, 0o644)
	if info, live := LockHolder(dir); info == nil || live {
		t.Errorf("LockHolder: %+v, live %v", info, live)
	}
	var warned string
	db, err := Open(dir, Options{Warn: func(s string) { warned = s }})
	if err != nil {
		t.Fatalf("lock of a reused PID not taken over: %v", err)
	}
	if !strings.Contains(warned, "does not hold the lock") {
		t.Errorf("warning %q", warned)
	}
	// Now held for real: refused, and unlock refuses too.
	if _, err := Open(dir, Options{}); err == nil {
		t.Error("a held lock was taken")
	}
	if _, live := LockHolder(dir); !live {
		t.Error("LockHolder: a held lock is not live")
	}
	db.Close()
	os.WriteFile(filepath.Join(dir, lockName), b, 0o644)
	if info, err := Unlock(dir); err != nil || info == nil || info.PID != other.Process.Pid {
		t.Errorf("unlock of a reused PID's lock: %+v, %v", info, err)
	}
}

// TestMigrateOldDatabase opens a database as the previous pipe wrote it
// (JSON attempt records, no running or by-run index, a SHA-256 file cache):
// its running attempt becomes interrupted, its runs' attempts are found,
// and the old cache is dropped.
func TestMigrateOldDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bdb, err := bolt.Open(filepath.Join(dir, DBName), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"meta", "runs", "attempts", "latest", "success", "files", "keys"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		tx.Bucket([]byte("meta")).Put([]byte("version"), []byte("1"))
		tx.Bucket([]byte("runs")).Put([]byte("r1"), []byte(`{"id":"r1","start":"2026-01-01T00:00:00Z","status":"running"}`))
		put := func(stage, status string) {
			k := attemptKey(stage, "r1", 1)
			tx.Bucket([]byte("attempts")).Put(k, []byte(`{"run":"r1","stage":"`+stage+`","attempt":1,"status":"`+status+`","start":"2026-01-01T00:00:00Z","exit_code":0,"fingerprint":"fp"}`))
			tx.Bucket([]byte("latest")).Put([]byte(stage), k)
			if status == StatusSucceeded {
				tx.Bucket([]byte("success")).Put([]byte(stage), k)
			}
		}
		put("a", StatusSucceeded)
		put("b", StatusRunning)
		return tx.Bucket([]byte("files")).Put([]byte("/x"), make([]byte, 40))
	})
	if err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	as, err := db.RunAttempts("r1")
	if err != nil || len(as) != 2 {
		t.Fatalf("attempts of r1: %+v, %v", as, err)
	}
	if b, _ := db.Latest("b"); b == nil || b.Status != StatusInterrupted {
		t.Errorf("old running attempt: %+v", b)
	}
	if a, _ := db.LastSuccess("a"); a == nil || a.Fingerprint != "fp" {
		t.Errorf("old success: %+v", a)
	}
	if r, _ := db.Run("r1"); r == nil || r.Status != StatusInterrupted {
		t.Errorf("old running run: %+v", r)
	}
	db.view(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("files")) != nil {
			t.Error("the SHA-256 file cache was kept")
		}
		return nil
	})
}
