//go:build cudaemu

// Package emu is a CPU emulator of pipe's CUDA kernels, for tests on
// machines without a GPU (build tag `cudaemu`, needs cgo and g++). It
// compiles the very .cu sources the PTX is built from as C++ (emu.h maps
// threadIdx, __syncthreads, warp shuffles, atomics and shared memory onto
// fibers) and implements cuda.Driver, so the CUDA backend's planning,
// argument marshalling and kernels run end to end and can be compared with
// the CPU backend. What it cannot check: nvcc's code generation, the real
// memory model (races between blocks), timing, and register limits (it
// assumes 256 threads for the d_state 128 scan kernels, 1024 otherwise).
// Allocations end at a guard page (overruns fault) and start as NaN.
package emu

/*
#cgo CXXFLAGS: -std=c++17 -O2 -w
#include <stdlib.h>
#include <string.h>
const char* emu_launch(const char* name, int gx, int gy, int gz, int bx, int by, int bz, int shared, void** args);
void* emu_alloc(size_t n);
void emu_free(void* p, size_t n);
int emu_has(const char* name);
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/pipeml/pipe/kernels/cuda"
)

// launchMu serialises launches: the emulated kernels' __shared__ arrays
// are C statics shared by every emulator in the process.
var launchMu sync.Mutex

type alloc struct {
	p unsafe.Pointer
	n int // float32s
}

// Driver is an emulated cuda.Driver. Not safe for concurrent use.
type Driver struct {
	allocs map[cuda.DevPtr]alloc
	// Launches records every launch, for tests of the planning.
	Launches []cuda.Launch
}

// New returns an emulated driver.
func New() *Driver { return &Driver{allocs: map[cuda.DevPtr]alloc{}} }

var _ cuda.Driver = (*Driver)(nil)

// Alloc implements cuda.Driver.
func (d *Driver) Alloc(n int) (cuda.DevPtr, error) {
	if n <= 0 {
		return 0, fmt.Errorf("emu: alloc of %d", n)
	}
	p := C.emu_alloc(C.size_t(4 * n))
	if p == nil {
		return 0, fmt.Errorf("emu: out of memory (%d float32s)", n)
	}
	dp := cuda.DevPtr(uintptr(p))
	d.allocs[dp] = alloc{p: p, n: n}
	return dp, nil
}

// Free implements cuda.Driver.
func (d *Driver) Free(p cuda.DevPtr) error {
	a, ok := d.allocs[p]
	if !ok {
		return fmt.Errorf("emu: free of %#x, not an allocation", uint64(p))
	}
	C.emu_free(a.p, C.size_t(4*a.n))
	delete(d.allocs, p)
	return nil
}

// find returns the host address of p and checks that n float32s fit.
func (d *Driver) find(p cuda.DevPtr, n int) (unsafe.Pointer, error) {
	for base, a := range d.allocs {
		if p >= base && p < base+cuda.DevPtr(4*a.n) {
			off := int(p-base) / 4
			if off+n > a.n {
				return nil, fmt.Errorf("emu: %d float32s at offset %d of an allocation of %d", n, off, a.n)
			}
			return unsafe.Add(a.p, 4*off), nil
		}
	}
	return nil, fmt.Errorf("emu: %#x is not device memory", uint64(p))
}

// CopyIn implements cuda.Driver.
func (d *Driver) CopyIn(dst cuda.DevPtr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	h, err := d.find(dst, len(src))
	if err != nil {
		return err
	}
	C.memcpy(h, unsafe.Pointer(&src[0]), C.size_t(4*len(src)))
	return nil
}

// CopyOut implements cuda.Driver.
func (d *Driver) CopyOut(dst []float32, src cuda.DevPtr) error {
	if len(dst) == 0 {
		return nil
	}
	h, err := d.find(src, len(dst))
	if err != nil {
		return err
	}
	C.memcpy(unsafe.Pointer(&dst[0]), h, C.size_t(4*len(dst)))
	return nil
}

// Zero implements cuda.Driver.
func (d *Driver) Zero(p cuda.DevPtr, n int) error {
	h, err := d.find(p, n)
	if err != nil {
		return err
	}
	C.memset(h, 0, C.size_t(4*n))
	return nil
}

// MaxThreads implements cuda.Driver (see the package comment).
func (d *Driver) MaxThreads(kernel string) (int, error) {
	ck := C.CString(kernel)
	defer C.free(unsafe.Pointer(ck))
	if C.emu_has(ck) == 0 {
		return 0, fmt.Errorf("emu: no kernel %q", kernel)
	}
	if strings.HasSuffix(kernel, "_128") {
		return 256, nil
	}
	return 1024, nil
}

// Launch implements cuda.Driver. Pointer arguments must be device memory of
// this driver (or 0).
func (d *Driver) Launch(l cuda.Launch) error {
	for i, a := range l.Args {
		if a.Kind == cuda.U64 && a.Bits != 0 {
			// Long long arguments (GEMM strides) are small; pointers are
			// mapped addresses. Only check values that look like pointers.
			if a.Bits > 1<<32 {
				if _, err := d.find(cuda.DevPtr(a.Bits), 0); err != nil {
					return fmt.Errorf("emu: %s argument %d: %w", l.Kernel, i, err)
				}
			}
		}
	}
	d.Launches = append(d.Launches, l)
	n := len(l.Args)
	vals := C.malloc(C.size_t(8 * (n + 1)))
	ptrs := C.malloc(C.size_t(8 * (n + 1)))
	defer C.free(vals)
	defer C.free(ptrs)
	vs := unsafe.Slice((*uint64)(vals), n+1)
	ps := unsafe.Slice((*unsafe.Pointer)(ptrs), n+1)
	for i, a := range l.Args {
		vs[i] = a.Bits // little endian: u32/f32 live in the low 4 bytes
		ps[i] = unsafe.Pointer(&vs[i])
	}
	name := C.CString(l.Kernel)
	defer C.free(unsafe.Pointer(name))
	launchMu.Lock()
	msg := C.emu_launch(name, C.int(l.Grid.X), C.int(l.Grid.Y), C.int(l.Grid.Z), C.int(l.Block.X), C.int(l.Block.Y), C.int(l.Block.Z),
		C.int(l.Shared), (*unsafe.Pointer)(ptrs))
	launchMu.Unlock()
	if msg != nil {
		return fmt.Errorf("emu: %s: %s", l.Kernel, C.GoString(msg))
	}
	return nil
}

// Sync implements cuda.Driver (launches are synchronous).
func (d *Driver) Sync() error { return nil }

// Close frees every allocation.
func (d *Driver) Close() error {
	for p := range d.allocs {
		if err := d.Free(p); err != nil {
			return err
		}
	}
	return nil
}
