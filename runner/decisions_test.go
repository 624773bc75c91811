package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

// TestSnapshotFile checks that a snapshot file reads back as written, and
// that every truncation or flipped byte of it is refused (never used,
// never a panic).
func TestSnapshotFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "compiled", "x.decisions")
	s := &snapshot{
		key: "k", gen: "g",
		results: []Result{
			{Stage: "a", Action: ActionSkip, Reason: "up to date", Fingerprint: "f1"},
			{Stage: "b", Action: ActionRun, Reason: "upstream changed (a will run)"},
			{Stage: "c", Action: ActionDisabled, Reason: "disabled"},
		},
		obs: []observation{
			{path: "/x/in", follow: true, size: 3, mtime: 1e18, ctime: 1e18 + 5, ino: 7, dev: 9, mode: 0o644},
			{path: "/x/tree/sub", mode: syscall.S_IFDIR | 0o755},
			{path: "/x/missing", follow: true, missing: true},
		},
	}
	if err := writeSnapshot(file, s); err != nil {
		t.Fatal(err)
	}
	got, err := readSnapshot(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("read back %+v, wrote %+v", got, s)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(filepath.Dir(file), "bad")
	for n := range len(b) {
		os.WriteFile(bad, b[:n], 0o644)
		if _, err := readSnapshot(bad); err == nil {
			t.Fatalf("truncated to %d bytes: read without error", n)
		}
		c := append([]byte(nil), b...)
		c[n] ^= 0x20
		os.WriteFile(bad, c, 0o644)
		if _, err := readSnapshot(bad); err == nil {
			t.Fatalf("byte %d flipped: read without error", n)
		}
	}
}
