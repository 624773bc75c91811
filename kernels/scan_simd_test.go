package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pipeml/pipe/kernels/ref"
)

// scanRun is one scan's inputs (float32 and float64 copies) and outputs.
type scanRun struct {
	s                                  ScanShape
	rev, withD                         bool
	x, dt, A, B, C, D, gy              []float32
	x64, dt64, A64, B64, C64, D64, g64 []float64
}

func newScanRun(r *rand.Rand, s ScanShape, rev, withD bool) *scanRun {
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	k := &scanRun{s: s, rev: rev, withD: withD}
	k.x, k.x64 = rnd(r, nx, -1, 1)
	k.dt, k.dt64 = rnd(r, nt, 0.01, 0.5)
	k.A, k.A64 = rnd(r, s.H, -2, -0.2)
	k.B, k.B64 = rnd(r, nb, -1, 1)
	k.C, k.C64 = rnd(r, nb, -1, 1)
	k.D, k.D64 = rnd(r, s.H, -1, 1)
	k.gy, k.g64 = rnd(r, nx, -1, 1)
	if !withD {
		k.D, k.D64 = nil, nil
	}
	return k
}

// scanOut holds a scan's forward outputs and gradients in a fixed order:
// y, final, gx, gdt, gA, gB, gC, gD.
type scanOut [8][]float32

var scanOutNames = [8]string{"y", "final", "gx", "gdt", "gA", "gB", "gC", "gD"}

// scanPath is one of the scan's implementations: the Go path, the AVX2
// assembly, or the AVX2 assembly with the AVX-512 N = 16 loops.
type scanPath int

const (
	pathGo scanPath = iota
	pathAVX2
	pathAVX512
	pathLanes
)

var scanPathNames = [...]string{"go path", "avx2", "avx512", "lanes"}

// available reports whether p can run in this build on this CPU.
func (p scanPath) available() bool {
	switch p {
	case pathAVX2:
		return scanSIMDAvailable
	case pathAVX512:
		return scanAVX512Available
	case pathLanes:
		return scanLanesAvailable
	}
	return true
}

// run runs the forward and backward on c on the given path (and with it,
// the backward keeping every state or checkpoints).
func (k *scanRun) run(t *testing.T, c *CPU, path scanPath, allStates bool) scanOut {
	t.Helper()
	defer func(old, old512, oldLanes bool, oldAll int) {
		c.scanSIMD, c.scanAVX512, c.scanLanes, c.scanAllStates = old, old512, oldLanes, oldAll
	}(c.scanSIMD, c.scanAVX512, c.scanLanes, c.scanAllStates)
	c.scanSIMD, c.scanAVX512, c.scanLanes = path != pathGo, path == pathAVX512, path == pathLanes
	if !allStates {
		c.scanAllStates = 0
	}
	s := k.s
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	var Db, gDb Buffer
	var gD *Host
	if k.withD {
		gD = poisoned(s.H)
		Db, gDb = Wrap(k.D), gD
	}
	y, fin := poisoned(nx), poisoned(s.Batch*s.H*s.P*s.N)
	if err := c.ScanFwd(s, Wrap(k.x), Wrap(k.dt), Wrap(k.A), Wrap(k.B), Wrap(k.C), Db, y, fin, k.rev); err != nil {
		t.Fatal(err)
	}
	gx, gdt, gA, gB, gC := poisoned(nx), poisoned(nt), poisoned(s.H), poisoned(nb), poisoned(nb)
	g := ScanGrads{X: gx, DT: gdt, A: gA, B: gB, C: gC, D: gDb}
	if err := c.ScanBwd(s, Wrap(k.x), Wrap(k.dt), Wrap(k.A), Wrap(k.B), Wrap(k.C), Db, Wrap(k.gy), g, k.rev); err != nil {
		t.Fatal(err)
	}
	o := scanOut{y.Data, fin.Data, gx.Data, gdt.Data, gA.Data, gB.Data, gC.Data}
	if gD != nil {
		o[7] = gD.Data
	}
	return o
}

// TestScanSIMDAndGoPaths runs every path this machine has (the Go path,
// the AVX2 assembly, and its AVX-512 N = 16 loops) on many shapes — P and N from 1 to 20 (N also 24
// and 32), L = 1 and lengths that are not multiples of the backward's
// chunk, one and two groups, both directions, with and without D —
// against the float64 reference, and the two paths against each other.
func TestScanSIMDAndGoPaths(t *testing.T) {
	if !scanSIMDAvailable {
		t.Log("no scan assembly in this build or on this CPU: the Go path only")
	} else if !scanAVX512Available {
		t.Log("no AVX-512 on this CPU: the Go path and the AVX2 assembly only")
	}
	c := NewCPU(2)
	defer c.Close()
	r := rand.New(rand.NewPCG(7, 8))
	Ls := []int{1, 5, 33, 70}
	idx := 0
	// N 1..20, and 24 and 32: the assembly has its own loops for N = 8 and
	// 16 and general ones for other multiples of 8.
	Ns := []int{24, 32}
	for N := 1; N <= 20; N++ {
		Ns = append(Ns, N)
	}
	for P := 1; P <= 20; P++ {
		for _, N := range Ns {
			covered := P%4 == 0 && N%8 == 0
			pick := idx % 4
			for v := 0; v < 4; v++ {
				rev, withD := v&1 == 1, v&2 == 2
				if !covered && v != pick {
					continue // one direction/D combination per shape the assembly does not take
				}
				idx++
				G := 1 + idx%2
				s := ScanShape{Batch: 1 + idx%2, L: Ls[idx%len(Ls)], H: 2 * G, P: P, G: G, N: N}
				name := fmt.Sprintf("P%d/N%d/L%d/G%d/rev=%v/D=%v", P, N, s.L, G, rev, withD)
				k := newScanRun(r, s, rev, withD)
				t.Run(name, func(t *testing.T) { testScanPaths(t, c, k, covered) })
			}
		}
	}
}

func testScanPaths(t *testing.T, c *CPU, k *scanRun, covered bool) {
	s := k.s
	// Every path available here: the fast paths run with every state kept
	// and with checkpoints. The AVX-512 path differs from AVX2 only for
	// N = 16 (other shapes take the AVX2 loops on it too).
	type result struct {
		name string
		out  scanOut
	}
	res := []result{{"go path", k.run(t, c, pathGo, true)}}
	for _, p := range []scanPath{pathAVX2, pathAVX512} {
		if !covered || !p.available() || (p == pathAVX512 && s.N != 16) {
			continue
		}
		res = append(res, result{scanPathNames[p], k.run(t, c, p, true)},
			result{scanPathNames[p] + " (checkpoints)", k.run(t, c, p, false)})
	}
	if pathLanes.available() && lanesShape(s) {
		res = append(res, result{scanPathNames[pathLanes], k.run(t, c, pathLanes, false)})
	}
	wy, wfin := ref.Scan(s.Batch, s.L, s.H, s.P, s.G, s.N, k.x64, k.dt64, k.A64, k.B64, k.C64, k.D64, k.rev)
	wg := ref.ScanBwd(s.Batch, s.L, s.H, s.P, s.G, s.N, k.x64, k.dt64, k.A64, k.B64, k.C64, k.D64, k.g64, k.rev)
	want := [8][]float64{wy, wfin, wg.X, wg.DT, wg.A, wg.B, wg.C, wg.D}
	for i, name := range scanOutNames {
		if i == 7 && !k.withD {
			continue
		}
		tol := 1e-3 // gradients
		if i < 2 {
			tol = 1e-4
		}
		for ri, r := range res {
			closeTo(t, r.name+" "+name, r.out[i], want[i], tol)
			// Each path against every other: they differ only in rounding.
			for _, q := range res[:ri] {
				if err := ulpClose(r.out[i], q.out[i], s.L*s.N*s.P); err != nil {
					t.Errorf("%s vs %s %s: %v", r.name, q.name, name, err)
				}
			}
		}
	}
}

// lanesShape reports whether s is a shape of the lanes path.
func lanesShape(s ScanShape) bool { _, ok := laneGeomOf(s); return ok }

// TestScanLanesPath runs the shapes of the lanes path on every path: the
// node geometry (P = 8, N 16 or 32, 16 or 32 heads per group) and the
// edge geometry (P = 4, N = 8, 8 or 16 heads per group), one or two
// groups, lengths 1, within one chunk, across chunks and not a multiple of
// the chunk, both directions, with and without D.
func TestScanLanesPath(t *testing.T) {
	if !scanLanesAvailable {
		t.Log("no lanes path in this build or on this CPU: the other paths only")
	}
	c := NewCPU(2)
	defer c.Close()
	r := rand.New(rand.NewPCG(9, 10))
	Ls := []int{1, 5, 32, 33, 70}
	idx := 0
	type geom struct{ H, G, P, N int }
	var gs []geom
	for _, hg := range [][2]int{{16, 1}, {32, 1}, {32, 2}} {
		gs = append(gs, geom{hg[0], hg[1], 8, 16}, geom{hg[0], hg[1], 8, 32})
	}
	for _, hg := range [][2]int{{8, 1}, {16, 1}, {16, 2}} {
		gs = append(gs, geom{hg[0], hg[1], 4, 8})
	}
	for _, ge := range gs {
		for v := 0; v < 4; v++ {
			rev, withD := v&1 == 1, v&2 == 2
			idx++
			s := ScanShape{Batch: 1 + idx%3, L: Ls[idx%len(Ls)], H: ge.H, P: ge.P, G: ge.G, N: ge.N}
			if !lanesShape(s) {
				t.Fatalf("%+v is not a lanes shape", s)
			}
			name := fmt.Sprintf("H%d/G%d/P%d/N%d/L%d/B%d/rev=%v/D=%v", s.H, s.G, s.P, s.N, s.L, s.Batch, rev, withD)
			k := newScanRun(r, s, rev, withD)
			t.Run(name, func(t *testing.T) { testScanPaths(t, c, k, true) })
		}
	}
}

// TestScanPathsRun guards the path test against silently running fewer
// paths than the machine has: it lists what runs here.
func TestScanPathsRun(t *testing.T) {
	for p := pathGo; p <= pathLanes; p++ {
		t.Logf("%s: available=%v", scanPathNames[p], p.available())
	}
	c := NewCPU(1)
	defer c.Close()
	s := ScanShape{Batch: 1, L: 3, H: 1, P: 8, G: 1, N: 16}
	if c.useSIMD(s) != scanSIMDAvailable || c.useAVX512(s) != scanAVX512Available {
		t.Fatalf("node shape: useSIMD %v useAVX512 %v, want %v %v", c.useSIMD(s), c.useAVX512(s), scanSIMDAvailable, scanAVX512Available)
	}
	if c.useAVX512(ScanShape{Batch: 1, L: 3, H: 1, P: 8, G: 1, N: 8}) {
		t.Fatal("N = 8 must take the AVX2 loops")
	}
	if node := (ScanShape{Batch: 76, L: 960, H: 16, P: 8, G: 1, N: 16}); c.useLanes(node) != scanLanesAvailable {
		t.Fatalf("node shape: useLanes %v, want %v", c.useLanes(node), scanLanesAvailable)
	}
	if edge := (ScanShape{Batch: 684, L: 960, H: 8, P: 4, G: 1, N: 8}); c.useLanes(edge) != scanLanesAvailable {
		t.Fatalf("edge shape: useLanes %v, want %v", c.useLanes(edge), scanLanesAvailable)
	}
	if c.useLanes(s) {
		t.Fatal("one head per group must not take the lanes path")
	}
}

// ulpClose compares the two float32 paths: they differ only in rounding
// (fused multiply-adds, summation order), so each element must lie within
// 16·√terms float32 epsilons of the largest magnitude in the array, terms
// being the length of the longest sum behind an element.
func ulpClose(got, want []float32, terms int) error {
	mx := 0.0
	for _, w := range want {
		mx = math.Max(mx, math.Abs(float64(w)))
	}
	tol := 16 * math.Sqrt(float64(terms)) * 0x1p-23 * math.Max(mx, 1e-6)
	worst, at := 0.0, -1
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !(d <= worst) {
			worst, at = d, i
		}
	}
	if at >= 0 && !(worst <= tol) {
		return fmt.Errorf("element %d: %g vs %g (|diff| %.3g > %.3g = 16·√%d ε·max %.3g)", at, got[at], want[at], worst, tol, terms, mx)
	}
	return nil
}

// TestExpScaleAVX checks the assembly exp of the decays against math.Exp:
// within 4 float32 ulps (relative 2⁻²¹), 0 below ln(FLT_MIN), clamped above
// ln(FLT_MAX).
func TestExpScaleAVX(t *testing.T) {
	if !scanSIMDAvailable {
		t.Skip("no scan assembly in this build or on this CPU")
	}
	r := rand.New(rand.NewPCG(5, 6))
	const n = 4096
	src, dst := make([]float32, n), make([]float32, n)
	for i := range src {
		switch {
		case i < 8:
			src[i] = []float32{0, -0, 1e-30, -1e-30, -87, -87.5, -200, 80}[i]
		default:
			src[i] = float32(-110 * r.Float64())
		}
	}
	for _, a := range []float32{1, 0.37, 2.5, 1e-6} {
		expScaleAVX(at(dst, 0), at(src, 0), a, n)
		for i, v := range src {
			x := a * v
			want := math.Exp(float64(x))
			got := float64(dst[i])
			if float64(x) < -87.3365447505531 {
				if got != 0 {
					t.Fatalf("exp(%g) = %g, want 0 below ln(FLT_MIN)", x, got)
				}
				continue
			}
			if x > 88.3762626647949 { // clamped (decays have x ≤ 0)
				if !(got > 1e38 && got < math.MaxFloat32) {
					t.Fatalf("exp(%g) = %g, want the clamped value ~2.4e38", x, got)
				}
				continue
			}
			if math.Abs(got-want) > 0x1p-21*want {
				t.Fatalf("exp(%g) = %g, want %g (relative error %.3g)", x, got, want, math.Abs(got-want)/want)
			}
		}
	}
}
