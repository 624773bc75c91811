package state

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pipeml/pipe/internal/atomicfile"
	"github.com/pipeml/pipe/state/filehash"
)

// benchAttempt is a typical attempt record of an exec stage.
func benchAttempt(stage string) *Attempt {
	return &Attempt{Run: "20260101T000000Z-beef", Stage: stage, Attempt: 1, Status: StatusRunning, Start: time.Now(),
		ExitCode: -1, Fingerprint: "f3b1c2d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00",
		Keys: map[string]string{"command": "8e1f", "kind": "exec 1", "upstream:prev": "77aa"}}
}

// recordStages records a running and a succeeded attempt for n stages from
// par goroutines, as the runner does with --parallel par.
func recordStages(b *testing.B, db *DB, n, par int) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				a := benchAttempt(fmt.Sprintf("stage-%05d", i))
				if err := db.PutAttempt(a); err != nil {
					b.Error(err)
					return
				}
				a.Status, a.End, a.ExitCode = StatusSucceeded, time.Now(), 0
				if err := db.PutAttempt(a); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// BenchmarkRecordAttempts: 1000 stages, each a running and a succeeded
// attempt (2000 transitions), from 8 goroutines.
func BenchmarkRecordAttempts(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync SyncMode
	}{{"SyncBatch", SyncBatch}, {"SyncFull", SyncFull}} {
		b.Run(mode.name, func(b *testing.B) {
			db, err := Open(b.TempDir(), Options{Sync: mode.sync})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for b.Loop() {
				recordStages(b, db, 1000, 8)
			}
			b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "transitions/s")
		})
	}
}

// BenchmarkRecordNaiveBolt is the peer: one bbolt transaction, fsynced,
// per transition (bbolt's default use), same records, same goroutines.
func BenchmarkRecordNaiveBolt(b *testing.B) {
	bdb, err := bolt.Open(filepath.Join(b.TempDir(), "naive.db"), 0o644, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bdb.Close()
	bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucketAttempts); return err })
	put := func(a *Attempt) error {
		v, _ := json.Marshal(a)
		return bdb.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketAttempts).Put(attemptKey(a.Stage, a.Run, a.Attempt), v)
		})
	}
	for b.Loop() {
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					a := benchAttempt(fmt.Sprintf("stage-%05d", i))
					put(a)
					a.Status, a.End = StatusSucceeded, time.Now()
					put(a)
				}
			}()
		}
		for i := range 1000 {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "transitions/s")
}

// BenchmarkRecordSnapshot is the other peer: a whole-run status file
// rewritten atomically (no fsync) at every transition, as tools that keep
// one status document per run do; 1000 stages.
func BenchmarkRecordSnapshot(b *testing.B) {
	path := filepath.Join(b.TempDir(), "run.json")
	for b.Loop() {
		run := map[string]*Attempt{}
		for i := range 1000 {
			a := benchAttempt(fmt.Sprintf("stage-%05d", i))
			for _, st := range []string{StatusRunning, StatusSucceeded} {
				a.Status = st
				run[a.Stage] = a
				v, _ := json.Marshal(run)
				if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(v); return err }); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "transitions/s")
}

// BenchmarkLastSuccess5000 looks up the last success of each of 5000
// stages (what a plan of 5000 stages reads), in a state holding 10 runs.
func BenchmarkLastSuccess5000(b *testing.B) {
	dir := b.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for r := range 10 {
		err := db.write(false, false, func(tx *bolt.Tx) error {
			for i := range 5000 {
				a := benchAttempt(fmt.Sprintf("stage-%05d", i))
				a.Run = fmt.Sprintf("run-%02d", r)
				a.Status, a.End = StatusSucceeded, time.Now()
				v := encodeAttempt(a)
				k := attemptKey(a.Stage, a.Run, 1)
				tx.Bucket(bucketAttempts).Put(k, v)
				tx.Bucket(bucketLatest).Put([]byte(a.Stage), k)
				tx.Bucket(bucketSuccess).Put([]byte(a.Stage), k)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	db.Close()
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf("stage-%05d", i)
	}
	b.Run("one-by-one", func(b *testing.B) {
		for b.Loop() {
			for _, name := range names {
				if a, err := ro.LastSuccess(name); err != nil || a == nil {
					b.Fatal(a, err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/5000-stages")
	})
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if as, err := ro.LastSuccessAll(names); err != nil || as[4999] == nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/5000-stages")
	})
}

// BenchmarkOpen50k: a writable open (lock, page walk, interruption check)
// and close of a state holding 10 runs of 5000 stages.
func BenchmarkOpen50k(b *testing.B) {
	dir := b.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for r := range 10 {
		db.write(false, false, func(tx *bolt.Tx) error {
			for i := range 5000 {
				a := benchAttempt(fmt.Sprintf("stage-%05d", i))
				a.Run = fmt.Sprintf("run-%02d", r)
				a.Status, a.End = StatusSucceeded, time.Now()
				v := encodeAttempt(a)
				tx.Bucket(bucketAttempts).Put(attemptKey(a.Stage, a.Run, 1), v)
				tx.Bucket(bucketByRun).Put(runKey(a.Run, a.Stage, 1), nil)
			}
			return nil
		})
	}
	db.Close()
	for b.Loop() {
		db, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}

// benchTree writes n files of size bytes in 50 directories.
func benchTree(b *testing.B, n, size int) string {
	root := filepath.Join(b.TempDir(), "tree")
	buf := make([]byte, size)
	for i := range n {
		d := filepath.Join(root, fmt.Sprintf("d%02d", i%50))
		if i < 50 {
			os.MkdirAll(d, 0o755)
		}
		for j := range buf {
			buf[j] = byte(i + j)
		}
		p := filepath.Join(d, fmt.Sprintf("f%05d", i))
		os.WriteFile(p, buf, 0o644)
		old := time.Now().Add(-time.Hour) // older than the racy window
		os.Chtimes(p, old, old)
	}
	return root
}

// BenchmarkDigestTree5000 digests a tree of 5000 files of 4 KiB: cold
// (every file read and hashed) and cached (stat only).
func BenchmarkDigestTree5000(b *testing.B) {
	root := benchTree(b, 5000, 4096)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := filehash.Path(root, filehash.PlainFile); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		db, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Digest(root); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := db.Digest(root); err != nil {
				b.Fatal(err)
			}
		}
	})
}
