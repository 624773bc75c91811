package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestGeneration checks that the attempts' generation changes with every
// attempt written (running, finished, the same key rewritten, leftovers
// marked interrupted by an open) and with no other write.
func TestGeneration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	gen := func() string {
		t.Helper()
		g, err := db.Generation()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	now := time.Now()
	g0 := gen()
	steps := []struct {
		name    string
		do      func() error
		changes bool
	}{
		{"run record", func() error { return db.PutRun(&Run{ID: "r1", Start: now, Status: "running"}) }, false},
		{"digest cached", func() error {
			f := filepath.Join(dir, "f")
			os.WriteFile(f, []byte("x"), 0o644)
			old := now.Add(-time.Hour)
			os.Chtimes(f, old, old)
			_, err := db.Digest(f)
			return err
		}, false},
		{"running attempt", func() error {
			return db.PutAttempt(&Attempt{Run: "r1", Stage: "a", Attempt: 1, Status: StatusRunning, Start: now})
		}, true},
		{"same attempt finished", func() error {
			return db.PutAttempt(&Attempt{Run: "r1", Stage: "a", Attempt: 1, Status: StatusSucceeded, Start: now, End: now})
		}, true},
		{"same attempt rewritten alike", func() error {
			return db.PutAttempt(&Attempt{Run: "r1", Stage: "a", Attempt: 1, Status: StatusSucceeded, Start: now, End: now})
		}, true},
		{"run finished", func() error { return db.PutRun(&Run{ID: "r1", Start: now, End: now, Status: "succeeded"}) }, false},
		{"left running, then opened again", func() error {
			if err := db.PutAttempt(&Attempt{Run: "r2", Stage: "b", Attempt: 1, Status: StatusRunning, Start: now}); err != nil {
				return err
			}
			if err := db.Close(); err != nil {
				return err
			}
			db2, err := Open(dir, Options{ReadOnly: true})
			if err != nil {
				return err
			}
			before, err := db2.Generation()
			db2.Close()
			if err != nil {
				return err
			}
			db, err = Open(dir, Options{})
			if err != nil {
				return err
			}
			if after := gen(); after == before {
				t.Error("marking a running attempt interrupted did not change the generation")
			}
			return nil
		}, true},
	}
	prev := g0
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		g := gen()
		if (g != prev) != s.changes {
			t.Errorf("%s: generation %q -> %q, want changed=%v", s.name, prev, g, s.changes)
		}
		prev = g
	}
	// A read-only open sees the same generation as the writer had.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if g, _ := ro.Generation(); g != prev {
		t.Errorf("read-only generation %q, writer's %q", g, prev)
	}
	// Another database with the same history has another generation.
	other := t.TempDir()
	db3, err := Open(other, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db3.Close()
	if err := db3.PutAttempt(&Attempt{Run: "r1", Stage: "a", Attempt: 1, Status: StatusSucceeded, Start: now, End: now}); err != nil {
		t.Fatal(err)
	}
	if g, _ := db3.Generation(); g == prev || strings.HasPrefix(g, strings.SplitN(prev, "-", 2)[0]) {
		t.Errorf("two databases share generation %q", g)
	}
}

// TestDigestSeen checks that a digest reports every stat it rests on: the
// followed stat of the path (missing included) and the lstat of every
// entry of a tree.
func TestDigestSeen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(filepath.Join(dir, ".pipe"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "a"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(tree, "sub", "b"), []byte("b"), 0o644)
	os.Symlink("a", filepath.Join(tree, "link"))
	type seen struct {
		path    string
		follow  bool
		present bool
	}
	var got []seen
	rec := func(p string, follow bool, fi fs.FileInfo) { got = append(got, seen{p, follow, fi != nil}) }
	if _, err := db.DigestSeen(tree, rec); err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].path < got[j].path || got[i].path == got[j].path && got[i].follow })
	want := []seen{
		{tree, true, true}, {tree, false, true},
		{filepath.Join(tree, "a"), false, true},
		{filepath.Join(tree, "link"), false, true},
		{filepath.Join(tree, "sub"), false, true},
		{filepath.Join(tree, "sub", "b"), false, true},
	}
	if len(got) != len(want) {
		t.Fatalf("seen %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("seen %v, want %v", got[i], want[i])
		}
	}
	got = nil
	missing := filepath.Join(dir, "missing")
	if _, err := db.DigestSeen(missing, rec); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if len(got) != 1 || got[0] != (seen{missing, true, false}) {
		t.Errorf("missing: seen %v", got)
	}
}
