package cuda

import "fmt"

// DevPtr is a device address (CUdeviceptr).
type DevPtr uint64

// Arg is one kernel argument, typed as the PTX declares it.
type Arg struct {
	Kind Param
	Bits uint64 // u32/f32: the low 32 bits; u64: the value
}

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z int }

// Count returns X*Y*Z.
func (d Dim3) Count() int { return d.X * d.Y * d.Z }

// Launch is one kernel launch as the Device plans it.
type Launch struct {
	Kernel string
	Grid   Dim3
	Block  Dim3
	Shared int // dynamic shared memory in bytes
	Args   []Arg
}

// Driver is the small part of the CUDA driver API the backend needs. The
// `cuda` build implements it with gorgonia.org/cu (cudriver.go); tests use
// fakes and, under the `cudaemu` tag, a CPU emulator that runs the .cu
// sources themselves. Sizes are in float32 elements.
type Driver interface {
	// Alloc allocates n float32s; contents are undefined.
	Alloc(n int) (DevPtr, error)
	// Free releases an allocation.
	Free(p DevPtr) error
	// CopyIn copies src to the device at dst.
	CopyIn(dst DevPtr, src []float32) error
	// CopyOut copies len(dst) float32s from the device at src.
	CopyOut(dst []float32, src DevPtr) error
	// Zero sets n float32s at p to 0.
	Zero(p DevPtr, n int) error
	// Launch runs a kernel of the loaded module (asynchronously on the
	// driver's stream; CopyOut synchronises).
	Launch(l Launch) error
	// MaxThreads returns the largest block size kernel can be launched
	// with (registers limit the big scan variants).
	MaxThreads(kernel string) (int, error)
	// Sync waits for all launched work and reports asynchronous errors.
	Sync() error
	// Close releases the context and module.
	Close() error
}

// Limits a launch must respect on every supported card (sm_80, sm_90).
const (
	maxBlockThreads = 1024
	maxGridYZ       = 65535
	maxGridX        = 1<<31 - 1
	// maxShared is the dynamic shared memory a launch may use without the
	// opt-in attribute; every plan stays within it.
	maxShared = 48 * 1024
)

// checkLaunch validates a launch against the kernel's signature and the
// hardware limits; every Device launch goes through it, and so does the
// fake driver of the tests.
func checkLaunch(sigs map[string][]Param, l Launch, maxThreads int) error {
	want, ok := sigs[l.Kernel]
	if !ok {
		return fmt.Errorf("cuda: launch of unknown kernel %q", l.Kernel)
	}
	if len(l.Args) != len(want) {
		return fmt.Errorf("cuda: %s: %d arguments, the kernel takes %d", l.Kernel, len(l.Args), len(want))
	}
	for i, a := range l.Args {
		if a.Kind != want[i] {
			return fmt.Errorf("cuda: %s: argument %d is %v, the kernel takes %v", l.Kernel, i, a.Kind, want[i])
		}
	}
	b, g := l.Block, l.Grid
	if b.X < 1 || b.Y < 1 || b.Z < 1 || g.X < 1 || g.Y < 1 || g.Z < 1 {
		return fmt.Errorf("cuda: %s: empty grid %v or block %v", l.Kernel, g, b)
	}
	if b.Count() > maxBlockThreads || (maxThreads > 0 && b.Count() > maxThreads) {
		return fmt.Errorf("cuda: %s: block of %d threads exceeds the limit (%d, kernel %d)", l.Kernel, b.Count(), maxBlockThreads, maxThreads)
	}
	if b.Z > 64 {
		return fmt.Errorf("cuda: %s: block z %d > 64", l.Kernel, b.Z)
	}
	if g.X > maxGridX || g.Y > maxGridYZ || g.Z > maxGridYZ {
		return fmt.Errorf("cuda: %s: grid %v exceeds the limits", l.Kernel, g)
	}
	if l.Shared < 0 || l.Shared > maxShared {
		return fmt.Errorf("cuda: %s: %d bytes of dynamic shared memory (limit %d)", l.Kernel, l.Shared, maxShared)
	}
	return nil
}
