package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Host is a CPU backend buffer: a float32 slice in host memory. Code that
// knows it runs on the CPU backend may read and write Data directly.
type Host struct {
	Data []float32
}

// Len implements Buffer.
func (h *Host) Len() int {
	if h == nil {
		return 0
	}
	return len(h.Data)
}

// Wrap returns a CPU buffer sharing s (no copy), for model code that keeps
// its parameters in Go slices and runs on the CPU backend.
func Wrap(s []float32) *Host { return &Host{Data: s} }

// CPU is the Go backend (the scan in AVX2 assembly on amd64 CPUs that have
// it, see cpu_scan.go). Ops run on a fixed pool of worker goroutines
// (NewCPU's workers); scratch memory grows to the largest call and is then
// reused, so steady-state calls allocate nothing. Not safe for concurrent
// use.
type CPU struct {
	workers int
	jobs    chan job
	wg      sync.WaitGroup // running tasks of the current op
	closed  bool

	next atomic.Int64 // next work item of the current op

	scratch [][]float32 // per worker
	shared  []float32   // per op

	tasks tasks // the ops' parallel bodies, reused across calls

	// The scan's fast-path switches, fixed by NewCPU (tests of this
	// package change them on their own CPU to run the other paths).
	scanSIMD      bool // take the assembly where the shape allows (scanSIMDAvailable)
	scanAVX512    bool // with scanSIMD, N = 16 takes the AVX-512 loops (scanAVX512Available)
	scanAllStates int  // see scanAllStatesMax
	scanLanes     bool // with scanSIMD, shapes that allow it take the lanes layout (scanLanesAvailable)
}

// task is one op's parallel body: run(i) does work item i.
type task interface{ run(w, i int) }

type job struct {
	t    task
	next *atomic.Int64
	n    int
	w    int
}

// NewCPU returns a CPU backend with the given number of workers (<= 0:
// GOMAXPROCS).
func NewCPU(workers int) *CPU {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	c := &CPU{workers: workers, jobs: make(chan job), scratch: make([][]float32, workers),
		scanSIMD: scanSIMDAvailable, scanAVX512: scanAVX512Available, scanAllStates: scanAllStatesMax,
		scanLanes: scanLanesAvailable}
	for w := 1; w < workers; w++ {
		go c.worker()
	}
	return c
}

func (c *CPU) worker() {
	for j := range c.jobs {
		drain(j)
		c.wg.Done()
	}
}

func drain(j job) {
	for {
		i := int(j.next.Add(1) - 1)
		if i >= j.n {
			return
		}
		j.t.run(j.w, i)
	}
}

// parallel runs t.run(w, i) for i in [0, n) on up to all workers; w is the
// worker index (for per-worker scratch). Items are taken in order from a
// shared counter.
func (c *CPU) parallel(n int, t task) {
	if n <= 0 {
		return
	}
	c.next.Store(0)
	nw := min(c.workers, n)
	c.wg.Add(nw - 1)
	for w := 1; w < nw; w++ {
		c.jobs <- job{t: t, next: &c.next, n: n, w: w}
	}
	drain(job{t: t, next: &c.next, n: n, w: 0})
	c.wg.Wait()
}

// Workers returns the number of workers.
func (c *CPU) Workers() int { return c.workers }

// work returns worker w's scratch of n values (contents undefined).
func (c *CPU) work(w, n int) []float32 {
	if cap(c.scratch[w]) < n {
		c.scratch[w] = make([]float32, n)
	}
	return c.scratch[w][:n]
}

// growShared returns the op-wide scratch of n values, zeroed.
func (c *CPU) growShared(n int) []float32 {
	if cap(c.shared) < n {
		c.shared = make([]float32, n)
	}
	s := c.shared[:n]
	clear(s)
	return s
}

// Name implements Memory.
func (c *CPU) Name() string { return fmt.Sprintf("cpu (%d workers)", c.workers) }

// Alloc implements Memory.
func (c *CPU) Alloc(n int) (Buffer, error) {
	if n < 1 {
		return nil, fmt.Errorf("cpu: alloc of %d values (must be >= 1)", n)
	}
	return &Host{Data: make([]float32, n)}, nil
}

// Free implements Memory (the garbage collector frees host memory).
func (c *CPU) Free(b Buffer) error {
	if b == nil {
		return nil
	}
	if _, err := host("free", b, -1, true); err != nil {
		return err
	}
	return nil
}

// Slice implements Memory.
func (c *CPU) Slice(b Buffer, from, n int) (Buffer, error) {
	h, err := host("slice", b, -1, true)
	if err != nil {
		return nil, err
	}
	if from < 0 || n < 0 || from+n > len(h) {
		return nil, fmt.Errorf("cpu: slice [%d, %d) of a buffer of %d", from, from+n, len(h))
	}
	return &Host{Data: h[from : from+n : from+n]}, nil
}

// Upload implements Memory.
func (c *CPU) Upload(b Buffer, src []float32) error {
	h, err := host("upload", b, len(src), true)
	if err != nil {
		return err
	}
	copy(h, src)
	return nil
}

// Download implements Memory.
func (c *CPU) Download(dst []float32, b Buffer) error {
	h, err := host("download", b, len(dst), true)
	if err != nil {
		return err
	}
	copy(dst, h)
	return nil
}

// Zero implements Memory.
func (c *CPU) Zero(b Buffer) error {
	if b == nil {
		return nil
	}
	h, err := host("zero", b, -1, true)
	if err != nil {
		return err
	}
	clear(h)
	return nil
}

// Sync implements Memory.
func (c *CPU) Sync() error { return nil }

// Close stops the workers. The backend must not be used afterwards.
func (c *CPU) Close() error {
	if !c.closed {
		c.closed = true
		close(c.jobs)
	}
	return nil
}

// host returns b's data, checking that it is a CPU buffer of n values (n <
// 0: any length). An absent optional buffer (required false) gives nil.
func host(what string, b Buffer, n int, required bool) ([]float32, error) {
	if b == nil {
		if required {
			return nil, fmt.Errorf("cpu: %s: missing buffer", what)
		}
		return nil, nil
	}
	h, ok := b.(*Host)
	if !ok {
		return nil, fmt.Errorf("cpu: %s: buffer of type %T belongs to another backend", what, b)
	}
	if h == nil {
		if required {
			return nil, fmt.Errorf("cpu: %s: missing buffer", what)
		}
		return nil, nil
	}
	if n >= 0 && len(h.Data) != n {
		return nil, fmt.Errorf("cpu: %s: buffer of %d values, want %d", what, len(h.Data), n)
	}
	return h.Data, nil
}

// args resolves several buffers at once; the first error wins.
type args struct{ err error }

func (a *args) need(what string, b Buffer, n int) []float32 {
	if a.err != nil {
		return nil
	}
	h, err := host(what, b, n, true)
	a.err = err
	return h
}

func (a *args) opt(what string, b Buffer, n int) []float32 {
	if a.err != nil {
		return nil
	}
	h, err := host(what, b, n, false)
	a.err = err
	return h
}

func (a *args) check(err error) {
	if a.err == nil && err != nil {
		a.err = err
	}
}

var _ Backend = (*CPU)(nil)
