package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pipeml/pipe/kernels/ref"
)

func TestScanAgainstReference(t *testing.T) {
	c := NewCPU(3)
	defer c.Close()
	r := rand.New(rand.NewPCG(1, 2))
	shapes := []ScanShape{
		{1, 1, 1, 1, 1, 1}, {2, 1, 2, 3, 1, 5}, {1, 7, 4, 3, 2, 5}, {3, 33, 6, 5, 3, 7},
		{2, 70, 16, 8, 1, 16}, {1, 65, 2, 2, 2, 3},
	}
	for _, s := range shapes {
		for _, rev := range []bool{false, true} {
			for _, withD := range []bool{true, false} {
				t.Run(fmt.Sprintf("%+v/rev=%v/D=%v", s, rev, withD), func(t *testing.T) {
					testScan(t, c, r, s, rev, withD)
				})
			}
		}
	}
}

func testScan(t *testing.T, c *CPU, r *rand.Rand, s ScanShape, rev, withD bool) {
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	x, x64 := rnd(r, nx, -1, 1)
	dt, dt64 := rnd(r, nt, 0.01, 0.5)
	A, A64 := rnd(r, s.H, -2, -0.2)
	B, B64 := rnd(r, nb, -1, 1)
	C, C64 := rnd(r, nb, -1, 1)
	D, D64 := rnd(r, s.H, -1, 1)
	gy, gy64 := rnd(r, nx, -1, 1)
	var Db, gDb Buffer
	if !withD {
		D64 = nil
	} else {
		Db, gDb = Wrap(D), poisoned(s.H)
	}
	y, fin := poisoned(nx), poisoned(s.Batch*s.H*s.P*s.N)
	if err := c.ScanFwd(s, Wrap(x), Wrap(dt), Wrap(A), Wrap(B), Wrap(C), Db, y, fin, rev); err != nil {
		t.Fatal(err)
	}
	wy, wfin := ref.Scan(s.Batch, s.L, s.H, s.P, s.G, s.N, x64, dt64, A64, B64, C64, D64, rev)
	closeTo(t, "y", y.Data, wy, 1e-4)
	closeTo(t, "final", fin.Data, wfin, 1e-4)

	g := ScanGrads{X: poisoned(nx), DT: poisoned(nt), A: poisoned(s.H), B: poisoned(nb), C: poisoned(nb), D: gDb}
	if err := c.ScanBwd(s, Wrap(x), Wrap(dt), Wrap(A), Wrap(B), Wrap(C), Db, Wrap(gy), g, rev); err != nil {
		t.Fatal(err)
	}
	wg := ref.ScanBwd(s.Batch, s.L, s.H, s.P, s.G, s.N, x64, dt64, A64, B64, C64, D64, gy64, rev)
	closeTo(t, "gx", g.X.(*Host).Data, wg.X, 1e-3)
	closeTo(t, "gdt", g.DT.(*Host).Data, wg.DT, 1e-3)
	closeTo(t, "gA", g.A.(*Host).Data, wg.A, 1e-3)
	closeTo(t, "gB", g.B.(*Host).Data, wg.B, 1e-3)
	closeTo(t, "gC", g.C.(*Host).Data, wg.C, 1e-3)
	if withD {
		closeTo(t, "gD", gDb.(*Host).Data, wg.D, 1e-3)
	}

	// The reference's gradients against finite differences.
	if s.Batch*s.L*s.H > 400 {
		return
	}
	loss := func() float64 {
		y, _ := ref.Scan(s.Batch, s.L, s.H, s.P, s.G, s.N, x64, dt64, A64, B64, C64, D64, rev)
		return dot(y, gy64)
	}
	fdCheck(t, "ref gx", r, x64, wg.X, loss)
	fdCheck(t, "ref gdt", r, dt64, wg.DT, loss)
	fdCheck(t, "ref gA", r, A64, wg.A, loss)
	fdCheck(t, "ref gB", r, B64, wg.B, loss)
	fdCheck(t, "ref gC", r, C64, wg.C, loss)
	if withD {
		fdCheck(t, "ref gD", r, D64, wg.D, loss)
	}
}

func TestScanErrors(t *testing.T) {
	c := NewCPU(1)
	defer c.Close()
	s := ScanShape{1, 2, 2, 1, 1, 1}
	ok := func(n int) Buffer { return Wrap(make([]float32, n)) }
	if err := c.ScanFwd(ScanShape{1, 2, 3, 1, 2, 1}, ok(6), ok(6), ok(3), ok(4), ok(4), nil, ok(6), nil, false); err == nil {
		t.Error("heads not a multiple of groups accepted")
	}
	if err := c.ScanFwd(s, ok(3), ok(4), ok(2), ok(2), ok(2), nil, ok(4), nil, false); err == nil {
		t.Error("short x accepted")
	}
	if err := c.ScanFwd(s, ok(4), ok(4), ok(2), ok(2), ok(2), nil, nil, nil, false); err == nil {
		t.Error("missing y accepted")
	}
	_ = math.Pi
}
