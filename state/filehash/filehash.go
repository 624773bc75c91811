// Package filehash computes content digests of files and directory trees.
//
// A file's digest is the hex SHA-256 of its bytes. A tree's digest is the
// SHA-256 of its sorted entries: for each regular file its slash-separated
// path relative to the root, its executable bit and its file digest; for
// each symbolic link its target; for each directory its path (so empty
// directories count). File digests come from a caller-supplied function,
// which lets the state cache them by stat.
package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File returns the hex SHA-256 of the content of the file at path.
func File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FileFunc returns the digest of the regular file at path with info fi.
type FileFunc func(path string, fi fs.FileInfo) (string, error)

// PlainFile is a FileFunc hashing the content every time.
func PlainFile(path string, _ fs.FileInfo) (string, error) { return File(path) }

// Tree returns the digest of the directory tree at root, hashing regular
// files with file. Entries are visited in lexical order, so the digest
// depends only on names, kinds, executable bits and contents.
func Tree(root string, file FileFunc) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("hash tree %s: %w", root, err)
		}
		rel, rerr := filepath.Rel(root, path)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return fmt.Errorf("hash tree %s: %w", root, err)
			}
			fmt.Fprintf(h, "L %q %q\n", rel, target)
		case d.IsDir():
			fmt.Fprintf(h, "D %q\n", rel)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("hash tree %s: %w", root, err)
			}
			sum, err := file(path, fi)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "F %q %v %s\n", rel, fi.Mode()&0o111 != 0, sum)
		default:
			fmt.Fprintf(h, "O %q %s\n", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Path returns the digest of the file or tree at path (symbolic links
// followed at the top). A missing path gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func Path(path string, file FileFunc) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return Tree(path, file)
	}
	return file(path, fi)
}
