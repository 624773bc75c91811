package cuda

import (
	"fmt"
	"strings"
	"testing"
)

// fakeDriver records launches without running them. It hands out disjoint
// fake addresses and checks that every pointer argument lies inside a live
// allocation and every launch respects the signature and hardware limits.
type fakeDriver struct {
	next     DevPtr
	allocs   map[DevPtr]int
	launches []Launch
	maxThr   int
}

func newFake() *fakeDriver { return &fakeDriver{next: 1 << 40, allocs: map[DevPtr]int{}, maxThr: 1024} }

func (f *fakeDriver) Alloc(n int) (DevPtr, error) {
	p := f.next
	f.allocs[p] = n
	f.next += DevPtr(4*n+4096) &^ 255
	return p, nil
}

func (f *fakeDriver) Free(p DevPtr) error {
	if _, ok := f.allocs[p]; !ok {
		return fmt.Errorf("free of %#x", uint64(p))
	}
	delete(f.allocs, p)
	return nil
}

func (f *fakeDriver) inside(p DevPtr, n int) bool {
	for b, m := range f.allocs {
		if p >= b && p+DevPtr(4*n) <= b+DevPtr(4*m) {
			return true
		}
	}
	return false
}

func (f *fakeDriver) CopyIn(dst DevPtr, src []float32) error {
	if !f.inside(dst, len(src)) {
		return fmt.Errorf("copy in outside memory")
	}
	return nil
}

func (f *fakeDriver) CopyOut(dst []float32, src DevPtr) error {
	if !f.inside(src, len(dst)) {
		return fmt.Errorf("copy out outside memory")
	}
	return nil
}

func (f *fakeDriver) Zero(p DevPtr, n int) error {
	if !f.inside(p, n) {
		return fmt.Errorf("zero outside memory")
	}
	return nil
}

func (f *fakeDriver) MaxThreads(k string) (int, error) {
	if strings.HasSuffix(k, "_128") {
		return 256, nil
	}
	return f.maxThr, nil
}

func (f *fakeDriver) Launch(l Launch) error {
	mt, _ := f.MaxThreads(l.Kernel)
	if err := checkLaunch(Signatures(), l, mt); err != nil {
		return err
	}
	sig := Signatures()[l.Kernel]
	for i, a := range l.Args {
		// Pointers are the U64 arguments above 2^32 (GEMM strides are U64 too).
		if sig[i] == U64 && a.Bits >= 1<<32 && !f.inside(DevPtr(a.Bits), 1) {
			return fmt.Errorf("%s: argument %d %#x is not device memory", l.Kernel, i, a.Bits)
		}
	}
	f.launches = append(f.launches, l)
	return nil
}

func (f *fakeDriver) Sync() error  { return nil }
func (f *fakeDriver) Close() error { return nil }

func buf(t *testing.T, d *Device, n int) Buffer {
	t.Helper()
	b, err := d.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScanPlanV3 checks the launch plan of the scan at the V3 shapes:
// kernels, grids, blocks and shared memory (the default build, no GPU).
func TestScanPlanV3(t *testing.T) {
	cases := []struct {
		s              ScanShape
		ns, threads, T int
	}{
		{ScanShape{Batch: 76, L: 960, H: 16, P: 8, G: 1, N: 16}, 16, 128, 64},
		{ScanShape{Batch: 684, L: 960, H: 8, P: 4, G: 1, N: 8}, 8, 32, 64},
		{ScanShape{Batch: 2, L: 100, H: 4, P: 64, G: 2, N: 128}, 128, 128, 16},
	}
	for _, c := range cases {
		f := newFake()
		d := NewDevice(f)
		s := c.s
		nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
		x, dt, A, B, C, D := buf(t, d, nx), buf(t, d, nt), buf(t, d, s.H), buf(t, d, nb), buf(t, d, nb), buf(t, d, s.H)
		y := buf(t, d, nx)
		if err := d.ScanFwd(s, x, dt, A, B, C, D, y, Buffer{}, true); err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		g := ScanGrads{X: buf(t, d, nx), DT: buf(t, d, nt), A: buf(t, d, s.H), B: buf(t, d, nb), C: buf(t, d, nb), D: buf(t, d, s.H)}
		if err := d.ScanBwd(s, x, dt, A, B, C, D, y, g, true); err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		var names []string
		for _, l := range f.launches {
			names = append(names, l.Kernel)
		}
		ns := itoa(c.ns)
		want := []string{"ssd_chunk_state_" + ns, "ssd_state_pass", "ssd_chunk_fwd_" + ns,
			"ssd_chunk_state_" + ns, "ssd_state_pass", "ssd_chunk_state_" + ns, "ssd_state_pass",
			"ssd_chunk_bwd_fwd_" + ns, "ssd_chunk_bwd_rev_" + ns, "ssd_dt_grad"}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Fatalf("%+v: launches %v, want %v", s, names, want)
		}
		first := f.launches[0]
		nc := cdiv(s.L, c.T)
		if first.Block.X != c.threads || first.Grid.X != nc || first.Grid.Z != s.Batch*s.G {
			t.Errorf("%+v: chunk_state grid %v block %v, want %d chunks x %d threads", s, first.Grid, first.Block, nc, c.threads)
		}
		// rev = 1 is the last argument of the chunk kernels.
		if a := first.Args[len(first.Args)-1]; a.Bits != 1 {
			t.Errorf("%+v: rev argument %d", s, a.Bits)
		}
		for _, l := range f.launches {
			if l.Shared > maxShared {
				t.Errorf("%s: %d bytes of shared memory", l.Kernel, l.Shared)
			}
		}
	}
}

func TestCheckLaunchRejects(t *testing.T) {
	ok := Launch{Kernel: "axpy", Grid: Dim3{1, 1, 1}, Block: Dim3{256, 1, 1}, Args: []Arg{f32(1), {Kind: U64}, {Kind: U64}, i32(3)}}
	if err := checkLaunch(Signatures(), ok, 1024); err != nil {
		t.Fatalf("valid launch rejected: %v", err)
	}
	cases := []struct {
		name string
		edit func(l *Launch)
		want string
	}{
		{"unknown kernel", func(l *Launch) { l.Kernel = "nope" }, "unknown kernel"},
		{"missing argument", func(l *Launch) { l.Args = l.Args[:3] }, "3 arguments"},
		{"wrong type", func(l *Launch) { l.Args[0] = i32(1) }, "argument 0 is u32"},
		{"block too big", func(l *Launch) { l.Block = Dim3{1025, 1, 1} }, "exceeds the limit"},
		{"kernel limit", func(l *Launch) { l.Block = Dim3{512, 1, 1} }, "kernel 256"},
		{"empty grid", func(l *Launch) { l.Grid = Dim3{0, 1, 1} }, "empty grid"},
		{"grid y", func(l *Launch) { l.Grid = Dim3{1, 70000, 1} }, "exceeds the limits"},
		{"shared", func(l *Launch) { l.Shared = 49153 }, "shared memory"},
	}
	for _, c := range cases {
		l := ok
		l.Args = append([]Arg(nil), ok.Args...)
		c.edit(&l)
		mt := 1024
		if c.name == "kernel limit" {
			mt = 256
		}
		err := checkLaunch(Signatures(), l, mt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// TestDeviceValidates checks that the op methods refuse bad shapes and
// buffers before launching anything.
func TestDeviceValidates(t *testing.T) {
	f := newFake()
	d := NewDevice(f)
	s := ScanShape{Batch: 1, L: 4, H: 2, P: 2, G: 1, N: 4}
	x, dt, A, B := buf(t, d, 16), buf(t, d, 8), buf(t, d, 2), buf(t, d, 16)
	cases := []struct {
		name string
		err  error
	}{
		{"scan groups", d.ScanFwd(ScanShape{Batch: 1, L: 4, H: 3, P: 2, G: 2, N: 4}, x, dt, A, B, B, Buffer{}, x, Buffer{}, false)},
		{"scan d_state", d.ScanFwd(ScanShape{Batch: 1, L: 4, H: 2, P: 2, G: 1, N: 129}, x, dt, A, B, B, Buffer{}, x, Buffer{}, false)},
		{"scan x size", d.ScanFwd(s, dt, dt, A, B, B, Buffer{}, x, Buffer{}, false)},
		{"scan missing y", d.ScanFwd(s, x, dt, A, B, B, Buffer{}, Buffer{}, Buffer{}, false)},
		{"gemm lda", d.Gemm(false, false, 4, 4, 4, 1, x, 3, 0, x, 4, 0, 0, x, 4, 0, 1)},
		{"dwconv width", d.DWConvFwd(DWShape{Batch: 1, L: 4, C: 1, W: 17}, x, x, Buffer{}, x, false)},
		{"rms group", d.RMSNormGatedFwd(x, Buffer{}, Buffer{}, x, x, 2, 8, 3, 1e-5)},
		{"graph nodes", d.CosineFwd(GraphShape{G: 1, N: 65, F: 1}, x, x, x, 1e-6)},
		{"ssg K", d.SSGConvFwd(GraphShape{G: 1, N: 2, F: 4}, SSG{K: 0}, x, x, x)},
		{"flip in place", d.FlipTime(x, x, 1, 4, 4)},
		{"mul lengths", d.Mul(x, dt, x)},
		{"slice", func() error { _, err := x.Slice(10, 7); return err }()},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if len(f.launches) != 0 {
		t.Errorf("%d launches despite invalid input", len(f.launches))
	}
}
