package filehash

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestFileAndTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("abc"), 0o644)
	got, err := Path(f, PlainFile)
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; err != nil || got != want {
		t.Errorf("sha256(abc) = %s, %v; want %s", got, err, want)
	}
	mk := func(root string) {
		os.MkdirAll(filepath.Join(root, "a", "empty"), 0o755)
		os.WriteFile(filepath.Join(root, "a", "x"), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(root, "run.sh"), []byte("echo"), 0o755)
		os.Symlink("a/x", filepath.Join(root, "link"))
	}
	t1, t2 := filepath.Join(dir, "t1"), filepath.Join(dir, "t2")
	mk(t1)
	mk(t2)
	d1, err1 := Path(t1, PlainFile)
	d2, err2 := Path(t2, PlainFile)
	if err1 != nil || err2 != nil || d1 != d2 {
		t.Fatalf("equal trees: %s %v, %s %v", d1, err1, d2, err2)
	}
	changes := []struct {
		name string
		do   func()
	}{
		{"content", func() { os.WriteFile(filepath.Join(t2, "a", "x"), []byte("y"), 0o644) }},
		{"exec bit", func() { os.Chmod(filepath.Join(t2, "run.sh"), 0o644) }},
		{"link target", func() { os.Remove(filepath.Join(t2, "link")); os.Symlink("run.sh", filepath.Join(t2, "link")) }},
		{"empty dir", func() { os.Remove(filepath.Join(t2, "a", "empty")) }},
	}
	for _, c := range changes {
		os.RemoveAll(t2)
		mk(t2)
		c.do()
		if d, err := Path(t2, PlainFile); err != nil || d == d1 {
			t.Errorf("%s: digest unchanged (%v)", c.name, err)
		}
	}
	if _, err := Path(filepath.Join(dir, "missing"), PlainFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
