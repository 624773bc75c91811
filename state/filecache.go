package state

import (
	"encoding/binary"
	"io/fs"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pipeml/pipe/state/filehash"
)

// racyWindow: a file modified this recently is hashed but not cached, since
// a second write within the file system's timestamp granularity could leave
// its stat unchanged (git's "racily clean" problem).
const racyWindow = 100 * time.Millisecond

// statKey is what must be unchanged for a cached digest to hold.
type statKey struct {
	size, mtime, ino, ctime int64
}

func keyOf(fi fs.FileInfo) (statKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statKey{}, false
	}
	return statKey{
		size:  fi.Size(),
		mtime: fi.ModTime().UnixNano(),
		ino:   int64(st.Ino),
		ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
	}, true
}

func (k statKey) encode(digest string) []byte {
	b := make([]byte, 32, 32+len(digest))
	binary.BigEndian.PutUint64(b[0:], uint64(k.size))
	binary.BigEndian.PutUint64(b[8:], uint64(k.mtime))
	binary.BigEndian.PutUint64(b[16:], uint64(k.ino))
	binary.BigEndian.PutUint64(b[24:], uint64(k.ctime))
	return append(b, digest...)
}

func decodeEntry(b []byte) (statKey, string, bool) {
	if len(b) < 32 {
		return statKey{}, "", false
	}
	return statKey{
		size:  int64(binary.BigEndian.Uint64(b[0:])),
		mtime: int64(binary.BigEndian.Uint64(b[8:])),
		ino:   int64(binary.BigEndian.Uint64(b[16:])),
		ctime: int64(binary.BigEndian.Uint64(b[24:])),
	}, string(b[32:]), true
}

// Digest returns the content digest (filehash) of the file or directory
// tree at path. File digests are cached keyed by (path, size, mtime, inode,
// ctime), so an unchanged tree is checked by stat alone. A missing path
// gives an error satisfying errors.Is(err, fs.ErrNotExist).
func (d *DB) Digest(path string) (string, error) {
	return filehash.Path(path, d.fileDigest)
}

// DigestSeen is Digest, telling seen (when not nil) of every stat the
// digest rests on (filehash.SeenFunc).
func (d *DB) DigestSeen(path string, seen filehash.SeenFunc) (string, error) {
	return filehash.PathSeen(path, d.fileDigest, seen)
}

// memoDigest is a digest remembered in memory with the stat key it holds
// for.
type memoDigest struct {
	key    statKey
	digest string
}

// memo remembers a digest for this process, under the same rule as the
// database cache (not for a file modified in the last racyWindow): a plan
// checks each stage's output and, as an input, again in each stage
// downstream, and a map lookup is cheaper than a read transaction.
func (d *DB) memo(path string, key statKey, mtime time.Time, digest string) {
	if time.Since(mtime) <= racyWindow {
		return
	}
	d.digestMu.Lock()
	if d.digests == nil {
		d.digests = make(map[string]memoDigest)
	}
	d.digests[path] = memoDigest{key, digest}
	d.digestMu.Unlock()
}

// maxWarm bounds how many cache entries WarmDigests loads.
const maxWarm = 200000

// WarmDigests loads the file-hash cache (up to 200000 entries) into memory
// in one read transaction, so that the Digest calls that follow, one per
// input and output of each stage, do not each open a transaction. Entries
// are still used only when the file's stat matches.
func (d *DB) WarmDigests() error {
	memo := make(map[string]memoDigest)
	err := d.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFiles)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(memo) < maxWarm; k, v = c.Next() {
			if key, dg, ok := decodeEntry(v); ok {
				memo[string(k)] = memoDigest{key, dg}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.digestMu.Lock()
	defer d.digestMu.Unlock()
	for k, m := range d.digests {
		memo[k] = m // what this process found is newer
	}
	d.digests = memo
	return nil
}

// fileDigest is a filehash.FileFunc backed by the cache.
func (d *DB) fileDigest(path string, fi fs.FileInfo) (string, error) {
	key, ok := keyOf(fi)
	if !ok {
		return filehash.File(path)
	}
	d.digestMu.Lock()
	m, ok := d.digests[path]
	d.digestMu.Unlock()
	if ok && m.key == key {
		return m.digest, nil
	}
	var cached string
	_ = d.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFiles)
		if b == nil {
			return nil
		}
		if k, dg, ok := decodeEntry(b.Get([]byte(path))); ok && k == key {
			cached = dg
		}
		return nil
	})
	if cached != "" {
		d.memo(path, key, fi.ModTime(), cached)
		return cached, nil
	}
	sum, err := filehash.File(path)
	if err != nil {
		return "", err
	}
	d.memo(path, key, fi.ModTime(), sum)
	if d.reqs != nil && time.Since(fi.ModTime()) > racyWindow {
		v := key.encode(sum)
		_ = d.write(false, true, func(tx *bolt.Tx) error { // a failed cache write costs a rehash later
			return tx.Bucket(bucketFiles).Put([]byte(path), v)
		})
	}
	return sum, nil
}
