// Package state is pipe's state directory: a bbolt database of runs, stage
// attempts (one key per attempt, never a whole-run snapshot), the index of
// each stage's latest and last successful attempt, and a file-hash cache
// keyed by (path, size, mtime, inode, ctime); a lock file naming the pipe
// that runs; and the attempts' log files (LogPath).
//
// Writes go through one writer goroutine that commits whatever is pending
// in one transaction (group commit). Whether each commit is also fsynced
// is Options.Sync: with SyncBatch (the default) the file is fsynced at most
// every SyncInterval and at Close, which keeps thousands of tiny stages
// from paying an fsync each; with SyncFull every commit that records a
// finished attempt or run is fsynced before the call returns.
//
// Invariants the runner relies on:
//
//   - A finished attempt (End set: succeeded, failed, cancelled) is
//     committed before PutAttempt returns: the runner calls it before it
//     releases any downstream stage, so no stage ever starts after a
//     success that a kill -9 of pipe could lose. With SyncFull the commit
//     is also on disk (power loss); with SyncBatch a power loss may lose
//     the last SyncInterval of commits.
//   - A running attempt is queued and committed in order without waiting:
//     losing it loses only the "interrupted" reason of a stage that runs
//     again anyway. PutAttempt copies what it needs; the caller may reuse
//     the Attempt at once.
//   - Only one writer: Open takes the lock file (an flock its holder
//     keeps, plus PID, host and start for the message); bbolt's own flock
//     on the database backs it up.
//   - Attempts and runs left running by a dead pipe become interrupted:
//     a writable Open records them so (the running index makes that
//     O(leftovers)); a read-only Open shows them so when no live pipe
//     holds the lock.
//   - Nothing in the database makes pipe panic: bbolt's panics on corrupt
//     pages are recovered into a *CorruptError naming the file and the way
//     out (move it away; the next run starts from an empty state).
package state

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"lukechampine.com/blake3"

	"github.com/pipeml/pipe/state/filehash"
)

// DBName is the database file's name inside the state directory.
const DBName = "state.db"

// schemaVersion is stored in the meta bucket; a database of another version
// is refused with a clear message.
const schemaVersion = "1"

// schemaVersionNum is schemaVersion as a number, to tell newer from unknown.
const schemaVersionNum = 1

var (
	bucketMeta     = []byte("meta")
	bucketRuns     = []byte("runs")
	bucketAttempts = []byte("attempts")
	bucketLatest   = []byte("latest")
	bucketSuccess  = []byte("success")
	// The file-hash cache's bucket is named after the digest algorithm:
	// a new algorithm starts an empty cache (the old one is dropped).
	bucketFiles   = []byte("files." + filehash.Algorithm)
	bucketKeys    = []byte("keys")
	bucketRunning = []byte("running")
	bucketByRun   = []byte("byrun")
)

// metaGeneration is the meta key of the attempts' generation: 16 random
// bytes written anew in every transaction that writes an attempt record
// (see Generation).
var metaGeneration = []byte("attempts-generation")

// newGeneration returns a fresh attempts' generation.
func newGeneration() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand does not fail on Linux
	return b
}

// allBuckets are created by a writable Open.
var allBuckets = [][]byte{bucketMeta, bucketRuns, bucketAttempts, bucketLatest, bucketSuccess, bucketFiles, bucketKeys, bucketRunning, bucketByRun}

// Attempt and run statuses the state knows. The runner may record others
// (skipped, blocked); the state treats every status but StatusRunning and
// StatusSucceeded alike.
const (
	StatusRunning     = "running"
	StatusSucceeded   = "succeeded"
	StatusFailed      = "failed"
	StatusCancelled   = "cancelled"
	StatusInterrupted = "interrupted"
	StatusSkipped     = "skipped"
	StatusBlocked     = "blocked"
)

// interruptedError is the error text of an attempt found running by Open.
const interruptedError = "interrupted: the pipe that ran it was killed"

// SyncMode says when commits are fsynced.
type SyncMode int

// Sync modes.
const (
	// SyncBatch fsyncs at most every Options.SyncInterval and at Close.
	SyncBatch SyncMode = iota
	// SyncFull fsyncs every commit that records a finished attempt or run.
	SyncFull
)

// Options configure Open.
type Options struct {
	// ReadOnly opens without the lock and without writing (plan, status).
	ReadOnly bool
	// Timeout bounds the wait for the database file (another pipe has it
	// open for writing). Default 1s.
	Timeout time.Duration
	// Sync and SyncInterval (default 1s) choose the fsync policy.
	Sync         SyncMode
	SyncInterval time.Duration
	// Warn receives warnings (a stale lock taken over). May be nil.
	Warn func(string)
}

// DB is an open state directory.
type DB struct {
	dir  string
	db   *bolt.DB
	lock *Lock
	opts Options

	reqs    chan *writeReq
	stopped chan struct{}
	asyncMu sync.Mutex
	// pending counts write requests queued and not committed yet.
	pending  atomic.Int64
	asyncErr error // the first failure of an asynchronous write
	closeMu  sync.Mutex
	closed   bool
	// stale: read-only, and no live pipe holds the lock, so what is
	// recorded as running was interrupted.
	stale bool
	// digests remembers the file digests this process looked up or
	// computed, by path with their stat key (see fileDigest).
	digestMu sync.Mutex
	digests  map[string]memoDigest
}

// CorruptError reports a state database that cannot be read.
type CorruptError struct {
	Path string
	Err  error
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("state database %s is corrupt or unreadable (%v). To recover, move it away (mv %s %s.bad): the next pipe run starts from an empty state and runs every stage once more",
		e.Path, e.Err, e.Path, e.Path)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// Open opens (creating it if needed) the state directory dir. Unless
// opts.ReadOnly it takes the lock first: a second pipe gets a *LockedError
// at once.
func Open(dir string, opts Options) (db *DB, err error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	path := filepath.Join(dir, DBName)
	d := &DB{dir: dir, opts: opts}
	if opts.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return d, nil // nothing recorded yet: every lookup finds nothing
		}
		if _, err := ReadLock(dir); err == nil {
			_, live := LockHolder(dir)
			d.stale = !live
		}
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
		d.lock, err = acquireLock(filepath.Join(dir, lockName), opts.Warn)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				d.lock.Release()
			}
		}()
	}
	defer func() {
		if p := recover(); p != nil {
			err = &CorruptError{Path: path, Err: fmt.Errorf("%v", p)}
		}
	}()
	if !opts.ReadOnly {
		if err := verify(path, opts.Timeout); err != nil {
			return nil, err
		}
	}
	bdb, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly, NoFreelistSync: true})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			holder := "another pipe"
			if info, _ := ReadLock(dir); info != nil {
				holder = fmt.Sprintf("pipe PID %d on host %s", info.PID, info.Host)
			}
			return nil, fmt.Errorf("state database %s is in use by %s (waited %s); try again when it has finished", path, holder, opts.Timeout)
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("open state database: %w", err)
		}
		return nil, &CorruptError{Path: path, Err: err}
	}
	d.db = bdb
	if !opts.ReadOnly {
		bdb.NoSync = true // the writer decides per commit; Close fsyncs
	}
	if err := d.check(); err != nil {
		bdb.Close()
		return nil, err
	}
	if !opts.ReadOnly {
		d.reqs = make(chan *writeReq, 256)
		d.stopped = make(chan struct{})
		go d.writer()
	}
	return d, nil
}

// verify reads every page of an existing database at path, read-only, in
// this goroutine. A writable bbolt open without a stored freelist walks the
// pages in a goroutine of its own, where a corrupt page's panic cannot be
// recovered: walking them here first turns that into a *CorruptError.
func verify(path string, timeout time.Duration) (err error) {
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return nil // absent or new: bbolt creates it
	}
	bdb, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return nil // reported by the open that follows
	}
	defer bdb.Close()
	defer func() {
		if p := recover(); p != nil {
			err = &CorruptError{Path: path, Err: fmt.Errorf("%v", p)}
		}
	}()
	return bdb.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return walkBucket(b)
		})
	})
}

// walkBucket visits every key of b and its nested buckets.
func walkBucket(b *bolt.Bucket) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				if err := walkBucket(nb); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// versionError refuses a database of another schema version.
func versionError(path string, v []byte) error {
	if n, err := strconv.Atoi(string(v)); err == nil && n > schemaVersionNum {
		return fmt.Errorf("state database %s has schema version %s, written by a newer pipe; this pipe reads version %s. Use the newer pipe, or move the file away (mv %s %s.new): the next run starts from an empty state",
			path, v, schemaVersion, path, path)
	}
	return &CorruptError{Path: path, Err: fmt.Errorf("unknown schema version %q (this pipe reads version %s)", v, schemaVersion)}
}

// check checks the schema version and, when writable, creates missing
// buckets (filling the indexes a database of an older pipe lacks) and marks
// the attempts and runs left running by a dead pipe as interrupted: the
// lock is ours, so no live pipe runs them.
func (d *DB) check() error {
	path := filepath.Join(d.dir, DBName)
	if d.opts.ReadOnly {
		return d.view(func(tx *bolt.Tx) error {
			if m := tx.Bucket(bucketMeta); m != nil {
				if v := m.Get([]byte("version")); v != nil && string(v) != schemaVersion {
					return versionError(path, v)
				}
			}
			return nil
		})
	}
	ready := false
	if err := d.view(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m != nil {
			if v := m.Get([]byte("version")); v != nil && string(v) != schemaVersion {
				return versionError(path, v)
			}
		}
		ready = m != nil && string(m.Get([]byte("version"))) == schemaVersion
		for _, b := range allBuckets {
			ready = ready && tx.Bucket(b) != nil
		}
		if ready {
			ready = tx.Bucket(bucketRunning).Stats().KeyN == 0 && !hasRunningRun(tx)
		}
		return nil
	}); err != nil {
		return err
	}
	if ready {
		return nil
	}
	return d.update(func(tx *bolt.Tx) error {
		missing := map[string]bool{}
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				missing[string(b)] = true
			}
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return &CorruptError{Path: path, Err: err}
			}
		}
		m := tx.Bucket(bucketMeta)
		if v := m.Get([]byte("version")); v != nil && string(v) != schemaVersion {
			return versionError(path, v)
		}
		if err := m.Put([]byte("version"), []byte(schemaVersion)); err != nil {
			return err
		}
		if err := migrate(tx, missing); err != nil {
			return &CorruptError{Path: path, Err: err}
		}
		if err := m.Put(metaGeneration, newGeneration()); err != nil {
			return err
		}
		return interruptLeftovers(tx)
	})
}

// hasRunningRun reports whether a run is recorded as running.
func hasRunningRun(tx *bolt.Tx) bool {
	c := tx.Bucket(bucketRuns).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if bytes.Contains(v, []byte(`"status":"running"`)) {
			return true
		}
	}
	return false
}

// migrate fills the indexes of a database written before they existed.
func migrate(tx *bolt.Tx, missing map[string]bool) error {
	attempts := tx.Bucket(bucketAttempts)
	if missing[string(bucketRunning)] {
		// Only a stage's latest attempt can still be running.
		if err := tx.Bucket(bucketLatest).ForEach(func(_, k []byte) error {
			if v := attempts.Get(k); v != nil && bytes.Contains(v, []byte(`"status":"running"`)) {
				return tx.Bucket(bucketRunning).Put(k, nil)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if missing[string(bucketFiles)] {
		var stale [][]byte
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if bytes.HasPrefix(name, []byte("files")) && !bytes.Equal(name, bucketFiles) {
				stale = append(stale, bytes.Clone(name))
			}
			return nil
		})
		for _, name := range stale {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	if missing[string(bucketByRun)] {
		byRun := tx.Bucket(bucketByRun)
		return attempts.ForEach(func(k, _ []byte) error {
			stage, run, n, ok := splitAttemptKey(k)
			if !ok {
				return fmt.Errorf("malformed attempt key %q", k)
			}
			return byRun.Put(runKey(run, stage, n), nil)
		})
	}
	return nil
}

// interruptLeftovers marks attempts and runs still recorded as running as
// interrupted (their end stays unknown).
func interruptLeftovers(tx *bolt.Tx) error {
	attempts, running := tx.Bucket(bucketAttempts), tx.Bucket(bucketRunning)
	var keys [][]byte
	if err := running.ForEach(func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if v := attempts.Get(k); v != nil {
			a, err := decodeAttemptRecord(v)
			if err != nil {
				return fmt.Errorf("attempt %q: %w", k, err)
			}
			if a.Status == StatusRunning {
				a.Status = StatusInterrupted // End stays unknown
				if a.Error == "" {
					a.Error = interruptedError
				}
				if err := attempts.Put(k, encodeAttempt(a)); err != nil {
					return err
				}
			}
		}
		if err := running.Delete(k); err != nil {
			return err
		}
	}
	runs := tx.Bucket(bucketRuns)
	type kv struct{ k, v []byte }
	var fix []kv
	if err := runs.ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, []byte(`"status":"running"`)) {
			return nil
		}
		r := new(Run)
		if err := json.Unmarshal(v, r); err != nil {
			return fmt.Errorf("run %q: %w", k, err)
		}
		if r.Status != StatusRunning {
			return nil
		}
		r.Status = StatusInterrupted
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		fix = append(fix, kv{bytes.Clone(k), b})
		return nil
	}); err != nil {
		return err
	}
	for _, f := range fix {
		if err := runs.Put(f.k, f.v); err != nil {
			return err
		}
	}
	return nil
}

// Dir returns the state directory.
func (d *DB) Dir() string { return d.dir }

// Close flushes pending writes, fsyncs, closes the database and releases
// the lock.
func (d *DB) Close() error {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.reqs != nil {
		close(d.reqs)
		<-d.stopped
		if d.asyncErr != nil {
			errs = append(errs, d.asyncErr)
		}
		if err := d.db.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync state: %w", err))
		}
	}
	if d.db != nil {
		if err := d.db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if d.lock != nil {
		if err := d.lock.Release(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeReq is one write for the writer goroutine.
type writeReq struct {
	fn   func(tx *bolt.Tx) error
	sync bool
	done chan error
}

// write runs fn in a write transaction shared with other pending writes and
// returns once it is committed. With async it returns at once (after
// queueing: writes are committed in order); its failure is returned by a
// later write or Close.
func (d *DB) write(sync, async bool, fn func(tx *bolt.Tx) error) (err error) {
	if d.reqs == nil {
		return errors.New("state opened read-only")
	}
	req := &writeReq{fn: fn, sync: sync}
	if !async {
		req.done = make(chan error, 1)
	}
	defer func() {
		if recover() != nil { // reqs closed: Close raced with a write
			err = errors.New("state closed")
		}
	}()
	d.pending.Add(1)
	d.reqs <- req
	if async {
		return nil
	}
	if err := <-req.done; err != nil {
		return err
	}
	d.asyncMu.Lock()
	defer d.asyncMu.Unlock()
	return d.asyncErr
}

// writer commits pending requests in batches and, under SyncBatch,
// fsyncs written commits every SyncInterval.
func (d *DB) writer() {
	defer close(d.stopped)
	tick := time.NewTicker(d.opts.SyncInterval)
	defer tick.Stop()
	dirty := false
	var batch []*writeReq
	for {
		var req *writeReq
		select {
		case r, ok := <-d.reqs:
			if !ok {
				return
			}
			req = r
		case <-tick.C:
			if dirty {
				_ = d.db.Sync() // a failure shows again at Close
				dirty = false
			}
			continue
		}
		batch = append(batch[:0], req)
	drain:
		for len(batch) < 1024 {
			select {
			case r, ok := <-d.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		full := false
		if d.opts.Sync == SyncFull {
			for _, r := range batch {
				full = full || r.sync
			}
		}
		d.db.NoSync = !full
		errs := make([]error, len(batch))
		err := d.update(func(tx *bolt.Tx) error {
			for i, r := range batch {
				errs[i] = r.fn(tx)
			}
			return nil
		})
		dirty = !full
		d.pending.Add(-int64(len(batch)))
		for i, r := range batch {
			e := errs[i]
			if err != nil {
				e = fmt.Errorf("write state: %w", err)
			}
			if r.done != nil {
				r.done <- e
			} else if e != nil {
				d.asyncMu.Lock()
				if d.asyncErr == nil {
					d.asyncErr = e
				}
				d.asyncMu.Unlock()
			}
		}
	}
}

// Run is one recorded pipe run.
type Run struct {
	ID       string    `json:"id"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end,omitzero"`
	Status   string    `json:"status"`
	Pipeline string    `json:"pipeline,omitempty"`
	Args     []string  `json:"args,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Host     string    `json:"host,omitempty"`
}

// Attempt is one recorded attempt of one stage.
type Attempt struct {
	Run      string    `json:"run"`
	Stage    string    `json:"stage"`
	Attempt  int       `json:"attempt"`
	Status   string    `json:"status"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end,omitzero"`
	ExitCode int       `json:"exit_code"`
	// Fingerprint and the per-key hashes it was computed from. The keys
	// are stored once per fingerprint (bucket keys), not in the attempt:
	// Latest and LastSuccess leave Keys nil; DB.Keys reads them.
	Fingerprint string            `json:"fingerprint"`
	Keys        map[string]string `json:"keys,omitempty"`
	// Outputs are the published outputs (cty JSON with type).
	Outputs json.RawMessage `json:"outputs,omitempty"`
	// Files maps declared output paths to their digests.
	Files   map[string]string  `json:"files,omitempty"`
	Error   string             `json:"error,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// attemptKey is stage NUL run NUL attempt (4 bytes big-endian): one key per
// attempt, a stage's attempts adjacent and ordered by run id.
func attemptKey(stage, run string, attempt int) []byte {
	k := make([]byte, 0, len(stage)+len(run)+6)
	k = append(k, stage...)
	k = append(k, 0)
	k = append(k, run...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(attempt))
}

// splitAttemptKey is the inverse of attemptKey.
func splitAttemptKey(k []byte) (stage, run string, attempt int, ok bool) {
	if len(k) < 6 || k[len(k)-5] != 0 {
		return "", "", 0, false
	}
	i := bytes.IndexByte(k, 0)
	if i < 0 || i >= len(k)-5 {
		return "", "", 0, false
	}
	return string(k[:i]), string(k[i+1 : len(k)-5]), int(binary.BigEndian.Uint32(k[len(k)-4:])), true
}

// runKey is run NUL stage NUL attempt (4 bytes big-endian): the by-run
// index, whose keys alone name the attempt.
func runKey(run, stage string, attempt int) []byte {
	return attemptKey(run, stage, attempt)
}

// PutRun records r (replacing the record of the same id). A finished run
// (End set) is fsynced under SyncFull.
func (d *DB) PutRun(r *Run) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return d.write(!r.End.IsZero(), false, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).Put([]byte(r.ID), v)
	})
}

// PutAttempt records a (replacing the record of the same run, stage and
// attempt) and updates the stage's latest and last-success index. A
// finished attempt (End set) is committed before PutAttempt returns (and
// fsynced under SyncFull); an unfinished one ("running") is queued and
// committed in order without waiting, since losing it only loses the
// "interrupted" reason of a stage that runs again anyway.
func (d *DB) PutAttempt(a *Attempt) error {
	v := encodeAttempt(a)
	var keys []byte
	var err error
	if len(a.Keys) > 0 && a.Fingerprint != "" {
		if keys, err = json.Marshal(a.Keys); err != nil {
			return err
		}
	}
	// The write may run after PutAttempt returned (a running attempt is
	// queued): the closure holds copies, never a, which the caller may
	// change at once.
	stage, status, fp := []byte(a.Stage), a.Status, []byte(a.Fingerprint)
	k := attemptKey(a.Stage, a.Run, a.Attempt)
	rk := runKey(a.Run, a.Stage, a.Attempt)
	done := !a.End.IsZero()
	return d.write(done, !done, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketAttempts).Put(k, v); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(metaGeneration, newGeneration()); err != nil {
			return err
		}
		if kb := tx.Bucket(bucketKeys); keys != nil && kb.Get(fp) == nil {
			if err := kb.Put(fp, keys); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketLatest).Put(stage, k); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByRun).Put(rk, nil); err != nil {
			return err
		}
		if status == StatusRunning {
			if err := tx.Bucket(bucketRunning).Put(k, nil); err != nil {
				return err
			}
		} else if err := tx.Bucket(bucketRunning).Delete(k); err != nil {
			return err
		}
		if status == StatusSucceeded {
			return tx.Bucket(bucketSuccess).Put(stage, k)
		}
		return nil
	})
}

// view runs fn in a read transaction; without a database (read-only open
// of a fresh directory) it does nothing. bbolt panics on some corrupt
// pages: the panic becomes a *CorruptError.
func (d *DB) view(fn func(tx *bolt.Tx) error) (err error) {
	if d.db == nil {
		return nil
	}
	defer d.recoverCorrupt(&err)
	return d.db.View(fn)
}

// update runs fn in a write transaction of its own (Open only; later
// writes go through the writer goroutine).
func (d *DB) update(fn func(tx *bolt.Tx) error) (err error) {
	defer d.recoverCorrupt(&err)
	return d.db.Update(fn)
}

// recoverCorrupt turns a panic of bbolt (a corrupt page) into a
// *CorruptError in *err. Deferred directly.
func (d *DB) recoverCorrupt(err *error) {
	if p := recover(); p != nil {
		*err = &CorruptError{Path: filepath.Join(d.dir, DBName), Err: fmt.Errorf("%v", p)}
	}
}

// indexed returns the attempt an index bucket points to for stage.
func (d *DB) indexed(bucket []byte, stage string) (*Attempt, error) {
	var a *Attempt
	err := d.view(func(tx *bolt.Tx) error {
		idx, attempts := tx.Bucket(bucket), tx.Bucket(bucketAttempts)
		if idx == nil || attempts == nil {
			return nil // a database created by a pipe killed at once
		}
		k := idx.Get([]byte(stage))
		if k == nil {
			return nil
		}
		v := attempts.Get(k)
		if v == nil {
			return fmt.Errorf("state: index of stage %s points to a missing attempt", stage)
		}
		var err error
		a, err = d.decodeAttempt(k, v)
		return err
	})
	return a, err
}

// decodeAttempt decodes the attempt record v stored under k. In a
// read-only view of a state no live pipe holds, a running attempt shows as
// interrupted (the next writable Open records it so).
func (d *DB) decodeAttempt(k, v []byte) (*Attempt, error) {
	a, err := decodeAttemptRecord(v)
	if err != nil {
		return nil, &CorruptError{Path: filepath.Join(d.dir, DBName), Err: fmt.Errorf("attempt %q: %w", k, err)}
	}
	if d.stale && a.Status == StatusRunning {
		a.Status = StatusInterrupted
		if a.Error == "" {
			a.Error = interruptedError
		}
	}
	return a, nil
}

// decodeRun decodes the run record v stored under k (running shows as
// interrupted like attempts, see decodeAttempt).
func (d *DB) decodeRun(k, v []byte) (*Run, error) {
	r := new(Run)
	if err := json.Unmarshal(v, r); err != nil {
		return nil, &CorruptError{Path: filepath.Join(d.dir, DBName), Err: fmt.Errorf("run %q: %w", k, err)}
	}
	if d.stale && r.Status == StatusRunning {
		r.Status = StatusInterrupted
	}
	return r, nil
}

// Latest returns the most recent attempt of stage, nil if it never ran.
func (d *DB) Latest(stage string) (*Attempt, error) { return d.indexed(bucketLatest, stage) }

// LastSuccess returns the most recent succeeded attempt of stage, or nil.
func (d *DB) LastSuccess(stage string) (*Attempt, error) { return d.indexed(bucketSuccess, stage) }

// LatestAll returns the most recent attempt of each of stages (nil for a
// stage that never ran), read in one transaction: for a plan of thousands
// of stages it saves a transaction per stage over Latest.
func (d *DB) LatestAll(stages []string) ([]*Attempt, error) {
	return d.indexedAll(bucketLatest, stages)
}

// LastSuccessAll is LatestAll for the last succeeded attempts.
func (d *DB) LastSuccessAll(stages []string) ([]*Attempt, error) {
	return d.indexedAll(bucketSuccess, stages)
}

// indexedAll looks up stages in an index bucket in one transaction.
func (d *DB) indexedAll(bucket []byte, stages []string) ([]*Attempt, error) {
	out := make([]*Attempt, len(stages))
	err := d.view(func(tx *bolt.Tx) error {
		idx, attempts := tx.Bucket(bucket), tx.Bucket(bucketAttempts)
		if idx == nil || attempts == nil {
			return nil
		}
		for i, stage := range stages {
			k := idx.Get([]byte(stage))
			if k == nil {
				continue
			}
			v := attempts.Get(k)
			if v == nil {
				return fmt.Errorf("state: index of stage %s points to a missing attempt", stage)
			}
			a, err := d.decodeAttempt(k, v)
			if err != nil {
				return err
			}
			out[i] = a
		}
		return nil
	})
	return out, err
}

// Generation returns a token of what the runner's decisions read from the
// state: it changes whenever an attempt record is written or rewritten
// (every such transaction writes new random bytes into the meta bucket),
// and it covers the stages' latest-attempt index itself (a hash of it), so
// that attempts written by a pipe that predates the generation, or another
// database file put in place, change it too. Run records and the file-hash
// cache do not change it. A read-only view of a state that no live pipe
// holds shows running attempts as interrupted and has the same token: the
// runner decides alike on both.
//
// On a writable database with writes still queued (a running attempt is
// queued without waiting) it is read in the writer's transaction, after
// them.
func (d *DB) Generation() (string, error) {
	if d.db == nil {
		return "no database", nil
	}
	var tok string
	read := d.view
	if d.reqs != nil && d.pending.Load() > 0 {
		read = func(fn func(tx *bolt.Tx) error) error { return d.write(false, false, fn) }
	}
	err := read(func(tx *bolt.Tx) error {
		m, latest := tx.Bucket(bucketMeta), tx.Bucket(bucketLatest)
		h := blake3.New(16, nil)
		if latest != nil {
			var n [binary.MaxVarintLen64]byte
			c := latest.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				h.Write(n[:binary.PutUvarint(n[:], uint64(len(k)))])
				h.Write(k)
				h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
				h.Write(v)
			}
		}
		var gen []byte
		if m != nil {
			gen = m.Get(metaGeneration)
		}
		tok = fmt.Sprintf("%x-%x", gen, h.Sum(nil))
		return nil
	})
	return tok, err
}

// Keys returns the per-key hashes recorded for fingerprint, nil if none.
func (d *DB) Keys(fingerprint string) (map[string]string, error) {
	var keys map[string]string
	err := d.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(fingerprint))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &keys); err != nil {
			return &CorruptError{Path: filepath.Join(d.dir, DBName), Err: fmt.Errorf("keys of %s: %w", fingerprint, err)}
		}
		return nil
	})
	return keys, err
}

// Runs returns every recorded run, oldest first (run ids sort by time).
func (d *DB) Runs() ([]*Run, error) {
	var out []*Run
	err := d.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			r, err := d.decodeRun(k, v)
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Run returns the run with id, nil if none.
func (d *DB) Run(id string) (*Run, error) {
	var r *Run
	err := d.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		var err error
		r, err = d.decodeRun([]byte(id), v)
		return err
	})
	return r, err
}

// Attempts returns the attempts of stage, oldest run first; every stage's
// when stage is "".
func (d *DB) Attempts(stage string) ([]*Attempt, error) {
	var out []*Attempt
	err := d.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAttempts)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		prefix := []byte(nil)
		if stage != "" {
			prefix = append([]byte(stage), 0)
		}
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			a, err := d.decodeAttempt(k, v)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// RunAttempts returns the attempts of run id, ordered by start time (a
// prefix scan of the by-run index: the cost does not grow with other runs).
func (d *DB) RunAttempts(id string) ([]*Attempt, error) {
	var out []*Attempt
	err := d.view(func(tx *bolt.Tx) error {
		idx, attempts := tx.Bucket(bucketByRun), tx.Bucket(bucketAttempts)
		if idx == nil || attempts == nil {
			return nil
		}
		prefix := append([]byte(id), 0)
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			run, stage, n, ok := splitAttemptKey(k)
			if !ok || run != id {
				continue // a run id with a NUL: not ours
			}
			ak := attemptKey(stage, run, n)
			v := attempts.Get(ak)
			if v == nil {
				continue
			}
			a, err := d.decodeAttempt(ak, v)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, err
}

// LogPath is the log file of one attempt: <dir>/logs/<run>/<stage>.<attempt>.log.
func (d *DB) LogPath(run, stage string, attempt int) string {
	return LogPath(d.dir, run, stage, attempt)
}

// LogPath is the log file of one attempt in state directory dir.
func LogPath(dir, run, stage string, attempt int) string {
	return filepath.Join(dir, "logs", run, fmt.Sprintf("%s.%d.log", sanitize(stage), attempt))
}

// sanitize keeps a stage name usable as a file name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, s)
}
