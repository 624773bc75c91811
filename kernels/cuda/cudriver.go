//go:build cuda

package cuda

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"gorgonia.org/cu"
)

// CUDriver is the Driver on a real GPU through gorgonia.org/cu (the CUDA
// driver API; the binary links libcuda.so.1 and nothing else). Importing
// gorgonia.org/cu initialises the driver in its init and exits the process
// when that fails, so only `cuda` builds contain this file.
//
// Every method makes the driver's context current on a locked OS thread,
// so a CUDriver may be used from any goroutine, one call at a time.
type CUDriver struct {
	dev          cu.Device
	ctx          cu.CUContext
	mod          cu.Module
	fns          map[string]cu.Function
	name, arch   string
	major, minor int
}

var _ Driver = (*CUDriver)(nil)

// OpenCU creates a context on GPU ordinal and loads the embedded PTX for
// its compute capability (the driver JIT-compiles it).
func OpenCU(ordinal int) (*CUDriver, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: count devices: %w", err)
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d requested, %d present", ordinal, n)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	d := &CUDriver{dev: dev, fns: map[string]cu.Function{}}
	if d.name, err = dev.Name(); err != nil {
		return nil, fmt.Errorf("cuda: device %d name: %w", ordinal, err)
	}
	if d.major, err = dev.Attribute(cu.ComputeCapabilityMajor); err != nil {
		return nil, fmt.Errorf("cuda: %s: compute capability: %w", d.name, err)
	}
	if d.minor, err = dev.Attribute(cu.ComputeCapabilityMinor); err != nil {
		return nil, fmt.Errorf("cuda: %s: compute capability: %w", d.name, err)
	}
	ptx, arch, err := PTXFor(d.major, d.minor)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	d.arch = arch
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if d.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return nil, fmt.Errorf("cuda: %s: create context: %w", d.name, err)
	}
	if d.mod, err = cu.LoadData(string(ptx)); err != nil {
		d.ctx.Destroy()
		return nil, fmt.Errorf("cuda: %s: load %s PTX (JIT by the driver): %w", d.name, arch, err)
	}
	return d, nil
}

// Describe names the device, e.g. "NVIDIA H200 (sm_90, PTX sm_90)".
func (d *CUDriver) Describe() string {
	return fmt.Sprintf("%s (compute %d.%d, PTX %s, driver API %d)", d.name, d.major, d.minor, d.arch, cu.Version())
}

// do runs f with the context current on a locked thread.
func (d *CUDriver) do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("cuda: set context: %w", err)
	}
	return f()
}

func (d *CUDriver) fn(name string) (cu.Function, error) {
	if f, ok := d.fns[name]; ok {
		return f, nil
	}
	f, err := d.mod.Function(name)
	if err != nil {
		return f, fmt.Errorf("cuda: kernel %s: %w", name, err)
	}
	d.fns[name] = f
	return f, nil
}

// Alloc implements Driver.
func (d *CUDriver) Alloc(n int) (DevPtr, error) {
	var p cu.DevicePtr
	err := d.do(func() (err error) {
		p, err = cu.MemAlloc(int64(4 * n))
		return err
	})
	return DevPtr(p), err
}

// Free implements Driver.
func (d *CUDriver) Free(p DevPtr) error {
	return d.do(func() error { return cu.MemFree(cu.DevicePtr(p)) })
}

// CopyIn implements Driver.
func (d *CUDriver) CopyIn(dst DevPtr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return d.do(func() error {
		return cu.MemcpyHtoD(cu.DevicePtr(dst), unsafe.Pointer(&src[0]), int64(4*len(src)))
	})
}

// CopyOut implements Driver (synchronous: waits for prior launches).
func (d *CUDriver) CopyOut(dst []float32, src DevPtr) error {
	if len(dst) == 0 {
		return nil
	}
	return d.do(func() error {
		return cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), cu.DevicePtr(src), int64(4*len(dst)))
	})
}

// Zero implements Driver.
func (d *CUDriver) Zero(p DevPtr, n int) error {
	return d.do(func() error { return cu.MemsetD32(cu.DevicePtr(p), 0, int64(n)) })
}

// MaxThreads implements Driver (CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK).
func (d *CUDriver) MaxThreads(kernel string) (int, error) {
	var m int
	err := d.do(func() error {
		f, err := d.fn(kernel)
		if err != nil {
			return err
		}
		m, err = f.Attribute(cu.FnMaxThreadsPerBlock)
		return err
	})
	return m, err
}

// Launch implements Driver: cuLaunchKernel on the default stream.
func (d *CUDriver) Launch(l Launch) error {
	vals := make([]uint64, len(l.Args))
	params := make([]unsafe.Pointer, len(l.Args))
	for i, a := range l.Args {
		vals[i] = a.Bits // cu copies 8 bytes per parameter; 4-byte ones use the low half
		params[i] = unsafe.Pointer(&vals[i])
	}
	return d.do(func() error {
		f, err := d.fn(l.Kernel)
		if err != nil {
			return err
		}
		return f.Launch(l.Grid.X, l.Grid.Y, l.Grid.Z, l.Block.X, l.Block.Y, l.Block.Z, l.Shared, cu.Stream{}, params)
	})
}

// Sync implements Driver.
func (d *CUDriver) Sync() error { return d.do(cu.Synchronize) }

// Close implements Driver: unloads the module and destroys the context.
func (d *CUDriver) Close() error {
	return d.do(func() error {
		if err := d.mod.Unload(); err != nil {
			return fmt.Errorf("cuda: unload module: %w", err)
		}
		return d.ctx.Destroy()
	})
}

// CopyBandwidth measures device-to-device copy bandwidth (bytes read +
// written per second) with buffers of n float32s, best of reps copies: the
// roofline the kernels' GB/s are compared with.
func (d *CUDriver) CopyBandwidth(n, reps int) (float64, error) {
	src, err := d.Alloc(n)
	if err != nil {
		return 0, err
	}
	defer d.Free(src)
	dst, err := d.Alloc(n)
	if err != nil {
		return 0, err
	}
	defer d.Free(dst)
	if err := d.Zero(src, n); err != nil {
		return 0, err
	}
	best := 0.0
	for r := 0; r < reps; r++ {
		if err := d.Sync(); err != nil {
			return 0, err
		}
		t0 := time.Now()
		if err := d.do(func() error { return cu.MemcpyDtoD(cu.DevicePtr(dst), cu.DevicePtr(src), int64(4*n)) }); err != nil {
			return 0, err
		}
		if err := d.Sync(); err != nil {
			return 0, err
		}
		if bw := float64(8*n) / time.Since(t0).Seconds(); bw > best {
			best = bw
		}
	}
	return best, nil
}
