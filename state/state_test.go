package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAttemptsAndIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	put := func(run, stage string, n int, status string) {
		t.Helper()
		a := &Attempt{Run: run, Stage: stage, Attempt: n, Status: status, Start: now, Fingerprint: "fp-" + run,
			Keys: map[string]string{"command": "h"}, Outputs: json.RawMessage(`{"value":{"v":"x"},"type":["object",{"v":"string"}]}`)}
		if status != "running" {
			a.End = now
		}
		if err := db.PutAttempt(a); err != nil {
			t.Fatal(err)
		}
	}
	put("r1", "a", 1, "running")
	put("r1", "a", 1, "failed")
	put("r1", "a", 2, "succeeded")
	put("r2", "a", 1, "running")
	put("r1", "ab", 1, "succeeded") // a prefix of another stage's name
	if err := db.PutRun(&Run{ID: "r1", Start: now, Status: "succeeded", End: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, lockName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock not released: %v", err)
	}
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	l, err := ro.Latest("a")
	// No pipe holds the state: the running attempt was interrupted.
	if err != nil || l == nil || l.Run != "r2" || l.Status != StatusInterrupted {
		t.Errorf("latest %+v, %v", l, err)
	}
	s, err := ro.LastSuccess("a")
	if err != nil || s == nil || s.Run != "r1" || s.Attempt != 2 || s.Keys != nil || !strings.Contains(string(s.Outputs), `"v":"x"`) {
		t.Errorf("last success %+v, %v", s, err)
	}
	if keys, err := ro.Keys("fp-r1"); err != nil || keys["command"] != "h" {
		t.Errorf("keys of fp-r1: %v, %v", keys, err)
	}
	if keys, err := ro.Keys("nope"); err != nil || keys != nil {
		t.Errorf("keys of an unknown fingerprint: %v, %v", keys, err)
	}
	if x, err := ro.Latest("nope"); x != nil || err != nil {
		t.Errorf("unknown stage: %+v, %v", x, err)
	}
	as, err := ro.Attempts("a")
	if err != nil || len(as) != 3 {
		t.Errorf("attempts of a: %d, %v", len(as), err)
	}
	runs, err := ro.Runs()
	if err != nil || len(runs) != 1 || runs[0].Status != "succeeded" {
		t.Errorf("runs %+v, %v", runs, err)
	}
	if err := ro.PutRun(&Run{ID: "x"}); err == nil {
		t.Error("a read-only state accepted a write")
	}
}

func TestReadOnlyFresh(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "none")
	db, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if a, err := db.Latest("x"); a != nil || err != nil {
		t.Errorf("%v %v", a, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Error("a read-only open created the state directory")
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) || le.Info.PID != os.Getpid() {
		t.Fatalf("second open: %v", err)
	}
	host, _ := os.Hostname()
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprint(os.Getpid())) || !strings.Contains(msg, host) || time.Since(start) > time.Second {
		t.Errorf("refusal %q after %v", msg, time.Since(start))
	}
	if _, err := Unlock(dir); !errors.As(err, &le) {
		t.Errorf("unlock of a live holder: %v", err)
	}
	db.Close()

	// A lock of a dead process is taken over with a warning.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(LockInfo{PID: dead.Process.Pid, Host: host, Start: time.Now()})
	os.WriteFile(filepath.Join(dir, lockName), b, 0o644)
	var warned string
	db, err = Open(dir, Options{Warn: func(s string) { warned = s }})
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	db.Close()
	if !strings.Contains(warned, "stale lock") || !strings.Contains(warned, fmt.Sprint(dead.Process.Pid)) {
		t.Errorf("warning %q", warned)
	}
	// A lock of another host is not.
	b, _ = json.Marshal(LockInfo{PID: 1, Host: host + "-elsewhere", Start: time.Now()})
	os.WriteFile(filepath.Join(dir, lockName), b, 0o644)
	if _, err := Open(dir, Options{}); !errors.As(err, &le) {
		t.Errorf("foreign lock: %v", err)
	}
	if info, err := Unlock(dir); err != nil || info == nil || info.Host != host+"-elsewhere" {
		t.Errorf("unlock: %+v %v", info, err)
	}
}

func TestCorruptDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, DBName), []byte(strings.Repeat("not a bolt database ", 400)), 0o644)
	for _, ro := range []bool{false, true} {
		_, err := Open(dir, Options{ReadOnly: ro})
		var ce *CorruptError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "mv ") || !strings.Contains(err.Error(), DBName) {
			t.Errorf("read-only %v: %v", ro, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, lockName)); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed open left its lock")
	}
}

func TestDigestCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(filepath.Join(dir, ".pipe"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("one"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(f, old, old)
	d1, err := db.Digest(f)
	if err != nil {
		t.Fatal(err)
	}
	// Cached: same stat gives the cached digest even though the content
	// is not read again.
	if d, _ := db.Digest(f); d != d1 {
		t.Errorf("digest changed: %s %s", d, d1)
	}
	// Same size, same mtime, new content: ctime changes, so it is rehashed.
	os.WriteFile(f, []byte("two"), 0o644)
	os.Chtimes(f, old, old)
	d2, err := db.Digest(f)
	if err != nil || d2 == d1 {
		t.Errorf("rewritten file: %s (was %s), %v", d2, d1, err)
	}
	// Trees: content and names count.
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "sub", "x"), []byte("x"), 0o644)
	t1, err := db.Digest(tree)
	if err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(tree, "sub", "x"), filepath.Join(tree, "sub", "y"))
	if t2, _ := db.Digest(tree); t2 == t1 {
		t.Error("renaming a file did not change the tree digest")
	}
	if _, err := db.Digest(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestWarmDigests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, ".pipe")
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("one"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(f, old, old)
	db, err := Open(state, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d1, err := db.Digest(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{true, false} {
		db, err := Open(state, Options{ReadOnly: ro})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.WarmDigests(); err != nil {
			t.Fatal(err)
		}
		if len(db.digests) != 1 {
			t.Errorf("read-only %v: warmed %d entries, want 1", ro, len(db.digests))
		}
		if d, err := db.Digest(f); err != nil || d != d1 {
			t.Errorf("read-only %v: warmed digest %s, %v; want %s", ro, d, err, d1)
		}
		db.Close()
	}
	// A warmed entry whose stat no longer matches is not used.
	db, err = Open(state, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.WarmDigests(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f, []byte("two"), 0o644)
	os.Chtimes(f, old, old)
	if d, err := db.Digest(f); err != nil || d == d1 {
		t.Errorf("rewritten file after warming: %s (was %s), %v", d, d1, err)
	}
}
