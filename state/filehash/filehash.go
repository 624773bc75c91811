// Package filehash computes content digests of files and directory trees.
//
// A file's digest is the hex BLAKE3-256 of its bytes (BLAKE3 hashes large
// files several times faster than SHA-256 without SHA instructions: see
// docs/BENCHMARKS.md, "State"). A tree's digest is the BLAKE3-256 of its
// sorted entries: for each regular file its slash-separated path relative
// to the root, its executable bit and its file digest; for each symbolic
// link its target (never followed); for each directory its path (so empty
// directories count). Only the executable bit of the mode counts, as in
// git: a umask or chmod g+w does not change a digest. File digests come
// from a caller-supplied function, which lets the state cache them by stat.
package filehash

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"lukechampine.com/blake3"
)

// Algorithm names the digest function; it changes whenever digests of
// the same content would change.
const Algorithm = "blake3-256"

// bufMax is the largest read buffer: BLAKE3 hashes big writes on several
// SIMD lanes at once.
const bufMax = 1 << 20

// File returns the hex BLAKE3-256 of the content of the file at path.
func File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	size := int64(bufMax)
	if fi, err := f.Stat(); err == nil {
		size = min(max(fi.Size(), 512), bufMax)
	}
	h := blake3.New(32, nil)
	if _, err := io.CopyBuffer(h, onlyReader{f}, make([]byte, size)); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// onlyReader hides *os.File's WriteTo, so io.CopyBuffer uses the buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// FileFunc returns the digest of the regular file at path with info fi.
type FileFunc func(path string, fi fs.FileInfo) (string, error)

// PlainFile is a FileFunc hashing the content every time.
func PlainFile(path string, _ fs.FileInfo) (string, error) { return File(path) }

// SeenFunc is told of every stat a digest rests on: the path, whether the
// stat followed symbolic links (os.Stat) or not (os.Lstat), and its result
// (nil: the path did not exist). While every one of those stats gives the
// same answer again (size, times, inode, mode) and no file was modified
// within the file system's timestamp granularity of the stat, the digest is
// the same.
type SeenFunc func(path string, follow bool, fi fs.FileInfo)

// Tree returns the digest of the directory tree at root, hashing regular
// files with file, several at a time. Entries are visited in lexical order,
// so the digest depends only on names, kinds, executable bits and contents.
func Tree(root string, file FileFunc) (string, error) {
	return tree(root, file, nil)
}

// tree is Tree, telling seen (when not nil) of the lstat of every entry,
// root and directories included (a directory's stat changes when an entry
// is added, removed or renamed; a file's when it is written or chmodded).
func tree(root string, file FileFunc, seen SeenFunc) (string, error) {
	type entry struct {
		line string // everything but a regular file's digest
		path string // regular files only
		fi   fs.FileInfo
		sum  string
	}
	var entries []*entry
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("hash tree %s: %w", root, err)
		}
		rel, rerr := filepath.Rel(root, path)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		// The stat of a directory is taken before its entries are read,
		// so an entry added or removed later changes it.
		var fi fs.FileInfo
		if seen != nil || d.Type().IsRegular() {
			if fi, err = d.Info(); err != nil {
				return fmt.Errorf("hash tree %s: %w", root, err)
			}
		}
		if seen != nil {
			seen(path, false, fi)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return fmt.Errorf("hash tree %s: %w", root, err)
			}
			entries = append(entries, &entry{line: fmt.Sprintf("L %q %q\n", rel, target)})
		case d.IsDir():
			entries = append(entries, &entry{line: fmt.Sprintf("D %q\n", rel)})
		case d.Type().IsRegular():
			entries = append(entries, &entry{line: fmt.Sprintf("F %q %v ", rel, fi.Mode()&0o111 != 0), path: path, fi: fi})
		default:
			entries = append(entries, &entry{line: fmt.Sprintf("O %q %s\n", rel, d.Type())})
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	// Digest the files with a few workers: a cold tree of large files is
	// bound by hashing, a warm one by stat-cache lookups.
	work := make(chan *entry)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				sum, err := file(e.path, e.fi)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				e.sum = sum
			}
		}()
	}
	for _, e := range entries {
		if e.path != "" {
			work <- e
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return "", err
	default:
	}
	h := blake3.New(32, nil)
	for _, e := range entries {
		io.WriteString(h, e.line)
		if e.path != "" {
			io.WriteString(h, e.sum+"\n")
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Path returns the digest of the file or tree at path (symbolic links
// followed at the top). A missing path gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func Path(path string, file FileFunc) (string, error) {
	return PathSeen(path, file, nil)
}

// PathSeen is Path, telling seen (when not nil) of every stat the digest
// rests on (see SeenFunc): the followed stat of path, missing included,
// and for a tree the lstat of each of its entries. A digest that fails
// for another reason than a missing path rests on more than those stats.
func PathSeen(path string, file FileFunc, seen SeenFunc) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if seen != nil && errors.Is(err, fs.ErrNotExist) {
			seen(path, true, nil)
		}
		return "", err
	}
	if seen != nil {
		seen(path, true, fi)
	}
	if fi.IsDir() {
		return tree(WalkRoot(path), file, seen)
	}
	return file(path, fi)
}

// WalkRoot returns the path to hand filepath.WalkDir so that it walks the
// directory at path even when path is a symbolic link to it: WalkDir does
// not follow links, not even at its root, and would report the link alone.
// A trailing separator makes the kernel resolve the link (POSIX pathname
// resolution), and the entries are still named path/name. Links inside the
// tree are not followed (a tree digest records their targets).
func WalkRoot(path string) string {
	if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 &&
		!strings.HasSuffix(path, string(filepath.Separator)) {
		return path + string(filepath.Separator)
	}
	return path
}
