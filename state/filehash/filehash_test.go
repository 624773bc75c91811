package filehash

import (
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFileAndTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("abc"), 0o644)
	got, err := Path(f, PlainFile)
	// The BLAKE3 test vector of "abc".
	if want := "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"; err != nil || got != want {
		t.Errorf("blake3(abc) = %s, %v; want %s", got, err, want)
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

// TestLinkedTree: an input that is a symbolic link to a directory is the
// directory's tree (a change inside it changes the digest), with stats of
// its entries told to seen; repointing the link changes it too.
func TestLinkedTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real1, real2, link := filepath.Join(dir, "real1"), filepath.Join(dir, "real2"), filepath.Join(dir, "data")
	for _, d := range []string{real1, real2} {
		os.MkdirAll(filepath.Join(d, "sub"), 0o755)
		os.WriteFile(filepath.Join(d, "sub", "x"), []byte("x"), 0o644)
	}
	if err := os.Symlink(real1, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	want, err := Path(real1, PlainFile)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	got, err := PathSeen(link, PlainFile, func(p string, _ bool, _ fs.FileInfo) { seen = append(seen, p) })
	if err != nil || got != want {
		t.Fatalf("digest through the link = %s, %v; want the directory's %s", got, err, want)
	}
	if wantSeen := filepath.Join(link, "sub", "x"); !slices.Contains(seen, wantSeen) {
		t.Errorf("stats told to seen %q: no %q", seen, wantSeen)
	}
	os.WriteFile(filepath.Join(real1, "sub", "x"), []byte("y"), 0o644)
	if d, err := Path(link, PlainFile); err != nil || d == want {
		t.Errorf("edit inside the linked directory: digest %s unchanged (%v)", d, err)
	}
	os.WriteFile(filepath.Join(real1, "sub", "x"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(real2, "sub", "x"), []byte("z"), 0o644)
	os.Remove(link)
	os.Symlink(real2, link)
	if d, err := Path(link, PlainFile); err != nil || d == want {
		t.Errorf("link repointed: digest %s unchanged (%v)", d, err)
	}
}

// BenchmarkFile64MiB hashes a 64 MiB file with File (BLAKE3) and, as the
// peer, with SHA-256 (the digest pipe used before), same reads.
func BenchmarkFile64MiB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big")
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i * 31)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("blake3", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if _, err := File(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			io.CopyBuffer(h, onlyReader{f}, make([]byte, bufMax))
			f.Close()
		}
	})
}
