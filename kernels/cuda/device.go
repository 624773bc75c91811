package cuda

import (
	"fmt"
	"math"
	"strconv"
)

// Buffer is a float32 array in device memory owned by a Device. The zero
// Buffer is "absent" (a null pointer for optional kernel inputs).
type Buffer struct {
	ptr DevPtr
	n   int
}

// Len returns the number of float32s.
func (b Buffer) Len() int { return b.n }

// Valid reports whether b refers to memory.
func (b Buffer) Valid() bool { return b.ptr != 0 }

// Slice returns elements [from, from+n) of b (no copy).
func (b Buffer) Slice(from, n int) (Buffer, error) {
	if from < 0 || n < 0 || from+n > b.n {
		return Buffer{}, fmt.Errorf("cuda: slice [%d, %d) of a buffer of %d", from, from+n, b.n)
	}
	return Buffer{ptr: b.ptr + DevPtr(4*from), n: n}, nil
}

// Device runs pipe's kernels through a Driver: it plans grids and shared
// memory, keeps a scratch arena, and checks every launch against the kernel
// signatures. A Device is not safe for concurrent use.
type Device struct {
	drv     Driver
	sigs    map[string][]Param
	maxThr  map[string]int
	scratch Buffer
}

// NewDevice wraps a driver whose module holds pipe's PTX.
func NewDevice(drv Driver) *Device {
	return &Device{drv: drv, sigs: Signatures(), maxThr: map[string]int{}}
}

// Driver returns the underlying driver.
func (d *Device) Driver() Driver { return d.drv }

// Close frees the scratch arena and closes the driver.
func (d *Device) Close() error {
	if d.scratch.Valid() {
		if err := d.drv.Free(d.scratch.ptr); err != nil {
			return err
		}
		d.scratch = Buffer{}
	}
	return d.drv.Close()
}

// Alloc returns a new buffer of n float32s (contents undefined).
func (d *Device) Alloc(n int) (Buffer, error) {
	if n <= 0 || n > math.MaxInt32 {
		return Buffer{}, fmt.Errorf("cuda: alloc of %d float32s (must be 1..2^31-1)", n)
	}
	p, err := d.drv.Alloc(n)
	if err != nil {
		return Buffer{}, fmt.Errorf("cuda: alloc %d float32s: %w", n, err)
	}
	return Buffer{ptr: p, n: n}, nil
}

// Free releases b.
func (d *Device) Free(b Buffer) error {
	if !b.Valid() {
		return nil
	}
	return d.drv.Free(b.ptr)
}

// Upload copies src into b (len(src) == b.Len()).
func (d *Device) Upload(b Buffer, src []float32) error {
	if len(src) != b.n {
		return fmt.Errorf("cuda: upload of %d values into a buffer of %d", len(src), b.n)
	}
	return d.drv.CopyIn(b.ptr, src)
}

// Download copies b into dst (len(dst) == b.Len()).
func (d *Device) Download(dst []float32, b Buffer) error {
	if len(dst) != b.n {
		return fmt.Errorf("cuda: download of a buffer of %d into %d values", b.n, len(dst))
	}
	return d.drv.CopyOut(dst, b.ptr)
}

// Zero sets b to 0 (no-op for an absent buffer).
func (d *Device) Zero(b Buffer) error {
	if !b.Valid() {
		return nil
	}
	return d.drv.Zero(b.ptr, b.n)
}

// arena returns scratch buffers of the given sizes carved out of one
// grow-only allocation. They are valid until the next call.
func (d *Device) arena(sizes ...int) ([]Buffer, error) {
	total := 0
	for _, s := range sizes {
		total += (s + 63) &^ 63 // 256-byte aligned pieces
	}
	if total > d.scratch.n {
		if err := d.Free(d.scratch); err != nil {
			return nil, err
		}
		d.scratch = Buffer{}
		b, err := d.Alloc(total)
		if err != nil {
			return nil, fmt.Errorf("scratch: %w", err)
		}
		d.scratch = b
	}
	out := make([]Buffer, len(sizes))
	off := 0
	for i, s := range sizes {
		out[i] = Buffer{ptr: d.scratch.ptr + DevPtr(4*off), n: s}
		off += (s + 63) &^ 63
	}
	return out, nil
}

func (d *Device) maxThreads(k string) (int, error) {
	if m, ok := d.maxThr[k]; ok {
		return m, nil
	}
	m, err := d.drv.MaxThreads(k)
	if err != nil {
		return 0, fmt.Errorf("cuda: %s: %w", k, err)
	}
	d.maxThr[k] = m
	return m, nil
}

func (d *Device) launch(l Launch) error {
	mt, err := d.maxThreads(l.Kernel)
	if err != nil {
		return err
	}
	if err := checkLaunch(d.sigs, l, mt); err != nil {
		return err
	}
	if err := d.drv.Launch(l); err != nil {
		return fmt.Errorf("cuda: launch %s grid %v block %v: %w", l.Kernel, l.Grid, l.Block, err)
	}
	return nil
}

// Argument constructors.
func ptr(b Buffer) Arg  { return Arg{Kind: U64, Bits: uint64(b.ptr)} }
func i32(v int) Arg     { return Arg{Kind: U32, Bits: uint64(uint32(int32(v)))} }
func f32(v float32) Arg { return Arg{Kind: F32, Bits: uint64(math.Float32bits(v))} }
func i64(v int64) Arg   { return Arg{Kind: U64, Bits: uint64(v)} }
func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

func cdiv(a, b int) int { return (a + b - 1) / b }

// fits32 checks that every size fits the kernels' int32 indexing.
func fits32(what string, ns ...int) error {
	p := 1
	for _, n := range ns {
		if n < 0 {
			return fmt.Errorf("cuda: %s: negative size %d", what, n)
		}
		if n != 0 && p > math.MaxInt32/n {
			return fmt.Errorf("cuda: %s: %v elements overflow int32 indexing", what, ns)
		}
		p *= n
	}
	return nil
}

// need checks that buffer b exists and holds exactly n values.
func need(what string, b Buffer, n int) error {
	if !b.Valid() {
		return fmt.Errorf("cuda: %s: missing buffer", what)
	}
	if b.n != n {
		return fmt.Errorf("cuda: %s: buffer of %d values, want %d", what, b.n, n)
	}
	return nil
}

// opt checks an optional buffer: absent, or exactly n values.
func opt(what string, b Buffer, n int) error {
	if !b.Valid() {
		return nil
	}
	return need(what, b, n)
}

// grid1 is the launch of a grid-stride elementwise kernel over n elements.
func grid1(n int) (Dim3, Dim3) {
	blocks := cdiv(n, 256)
	if blocks > 65535*8 {
		blocks = 65535 * 8 // grid-stride loops cover the rest
	}
	if blocks < 1 {
		blocks = 1
	}
	return Dim3{blocks, 1, 1}, Dim3{256, 1, 1}
}

// rowSplit is the number of row segments (grid y) of a column reduction.
func rowSplit(rows int) int {
	s := cdiv(rows, 512)
	if s > 1024 {
		s = 1024
	}
	if s < 1 {
		s = 1
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
