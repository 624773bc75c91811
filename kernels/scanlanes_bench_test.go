package kernels

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkScanLanesKernels times the lanes path's assembly on one chunk
// with its data in cache (node shape: 16 heads, N = 16, 32 steps), in
// ns per step of 16 heads: the forward, the state steps (in place and
// keeping every state) and the reverse loop.
func BenchmarkScanLanesKernels(b *testing.B) {
	if !scanLanesAvailable {
		b.Skip("no lanes path in this build or on this CPU")
	}
	const L, N = 32, 16
	s := ScanShape{Batch: 1, L: L, H: 16, P: 8, G: 1, N: N}
	k := newScanRun(rand.New(rand.NewPCG(1, 2)), s, false, true)
	S := N * 128
	buf := align64(make([]float32, 16+(L+2)*S+S+(L+1)*16+384+32*N+144+L*128*2+L*16))
	sts, buf := buf[:(L+1)*S], buf[(L+1)*S:]
	gh, buf := buf[:S], buf[S:]
	dec, buf := buf[:(L+1)*16], buf[(L+1)*16:]
	scr, buf := buf[:384+32*N], buf[384+32*N:]
	acc, buf := buf[:144], buf[144:]
	gx, buf := buf[:L*128], buf[L*128:]
	y, buf := buf[:L*128], buf[L*128:]
	gdt := buf[:L*16]
	gB, gC := make([]float32, L*N), make([]float32, L*N)
	a := scanArgs{s: s, x: k.x, dt: k.dt, A: k.A, D: k.D}
	a.laneDecays(dec, 0, 0, laneHeads)
	a.laneD(scr, laneNode, 0)
	sx, sb, sdt := a.laneStrides()
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"fwd", func() {
			scanFwdLanes512(at(sts, 0), at(k.x, 0), at(y, 0), at(k.B, 0), at(k.C, 0), at(dec, 0), at(k.dt, 0), at(scr, 0), sx, sb, sdt, L, 4*N)
		}},
		{"steps-in-place", func() {
			scanStepsLanes512(at(sts, 0), at(sts, 0), at(k.x, 0), at(k.B, 0), at(dec, 0), at(k.dt, 0), 0, sx, sb, sdt, L, 4*N)
		}},
		{"steps-keep", func() {
			scanStepsLanes512(at(sts, 0), at(sts, S), at(k.x, 0), at(k.B, 0), at(dec, 0), at(k.dt, 0), 4*S, sx, sb, sdt, L, 4*N)
		}},
		{"reverse", func() {
			i := L - 1
			scanBwdLanes512(at(gh, 0), at(sts, L*S), at(k.x, i*128), at(k.gy, i*128), at(gx, i*128), at(k.B, i*N), at(k.C, i*N),
				at(gB, i*N), at(gC, i*N), at(dec, i*16), at(k.dt, i*16), at(gdt, i*16), at(k.A, 0), at(scr, 0), at(acc, 0),
				-sx, -sb, -sdt, L, 4*N)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.f()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*L), "ns/step")
		})
	}
}
