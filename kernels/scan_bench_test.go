//go:build linux

package kernels

import (
	"math/rand/v2"
	"runtime"
	"sort"
	"testing"

	"golang.org/x/sys/unix"
)

// threadCPU returns this thread's CPU time in seconds
// (CLOCK_THREAD_CPUTIME_ID: precise, unlike getrusage's ticks).
func threadCPU(t testing.TB) float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		t.Fatal(err)
	}
	return float64(ts.Nano()) / 1e9
}

// BenchmarkScanNodePaths times the AVX2 and AVX-512 N = 16 loops on the
// node shape in the same process, interleaved call by call on one worker,
// in CPU time of the calling thread (so that load from other processes
// hits both alike); it reports the median of each path's forward and
// backward in thread cpu-ms, and of a scalar loop run right after each
// path's backward (a clock drop after AVX-512 would show there):
// go test -run '^$' -bench ScanNodePaths -benchtime 15x ./kernels/
func BenchmarkScanNodePaths(b *testing.B) {
	if !scanAVX512Available {
		b.Skip("no AVX-512 on this CPU (or no assembly in this build)")
	}
	t := b
	s := ScanShape{Batch: 76, L: 960, H: 16, P: 8, G: 1, N: 16}
	k := newScanRun(rand.New(rand.NewPCG(1, 2)), s, false, true)
	c := NewCPU(1)
	defer c.Close()
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	y := make([]float32, nx)
	g := ScanGrads{X: Wrap(make([]float32, nx)), DT: Wrap(make([]float32, nt)), A: Wrap(make([]float32, s.H)),
		B: Wrap(make([]float32, nb)), C: Wrap(make([]float32, nb)), D: Wrap(make([]float32, s.H))}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var fw, bw, sc [3][]float64
	b.ResetTimer()
	for r := 0; r < b.N; r++ {
		for _, p := range []scanPath{pathAVX2, pathAVX512} {
			c.scanSIMD, c.scanAVX512 = true, p == pathAVX512
			t0 := threadCPU(t)
			if err := c.ScanFwd(s, Wrap(k.x), Wrap(k.dt), Wrap(k.A), Wrap(k.B), Wrap(k.C), Wrap(k.D), Wrap(y), nil, false); err != nil {
				t.Fatal(err)
			}
			t1 := threadCPU(t)
			if err := c.ScanBwd(s, Wrap(k.x), Wrap(k.dt), Wrap(k.A), Wrap(k.B), Wrap(k.C), Wrap(k.D), Wrap(k.gy), g, false); err != nil {
				t.Fatal(err)
			}
			t2 := threadCPU(t)
			// A scalar loop right after: slower after the AVX-512 loops if
			// they lowered the core's clock (the license takes ~ms to
			// return).
			n := scalarWork(1 << 20)
			t3 := threadCPU(t)
			sink += n
			sc[p] = append(sc[p], (t3-t2)*1e6)
			fw[p] = append(fw[p], (t1-t0)*1e3)
			bw[p] = append(bw[p], (t2-t1)*1e3)
		}
	}
	med := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
	b.ReportMetric(med(fw[pathAVX2]), "avx2-fwd-cpu-ms")
	b.ReportMetric(med(fw[pathAVX512]), "avx512-fwd-cpu-ms")
	b.ReportMetric(med(bw[pathAVX2]), "avx2-bwd-cpu-ms")
	b.ReportMetric(med(bw[pathAVX512]), "avx512-bwd-cpu-ms")
	b.ReportMetric(med(sc[pathAVX2]), "scalar-after-avx2-us")
	b.ReportMetric(med(sc[pathAVX512]), "scalar-after-avx512-us")
}

var sink uint64

// scalarWork is a fixed integer loop (no vector instructions) whose time
// tracks the core's clock.
func scalarWork(n int) uint64 {
	h := uint64(1)
	for i := 0; i < n; i++ {
		h = h*0x9e3779b97f4a7c15 + uint64(i)
	}
	return h
}
