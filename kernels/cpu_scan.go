package kernels

import (
	"math"
	"unsafe"
)

// scanCk is the chunk length of the backward's recomputation: the backward
// keeps the state at every scanCk-th step and recomputes the states inside
// one chunk at a time (memory (L/scanCk + scanCk)·P·N per worker).
const scanCk = 32

// scanAllStatesMax is the largest (L+1)·P·N (floats) for which the
// assembly path keeps every state of a sequence instead of checkpoints: one
// recomputation pass instead of two, in 1 MiB of scratch at most (the
// default of CPU.scanAllStates; the tests set 0 to also run the
// checkpointed assembly path).
const scanAllStatesMax = 1 << 18

type scanArgs struct {
	s                         ScanShape
	x, dt, A, B, C, D, y, fin []float32
	gy                        []float32
	gx, gdt, gB, gC           []float32
	part                      []float32 // (Batch, H, 2): per (b,h) gA, gD
	rev                       bool
	simd                      bool // the shape takes the assembly (CPU.useSIMD)
	avx512                    bool // with simd: N = 16 on AVX-512 (CPU.useAVX512)
	lanes                     bool // the lanes path (CPU.useLanes)
	cpu                       *CPU
}

// useSIMD reports whether shape s takes the assembly on c: the fast path on
// (CPU.scanSIMD, where this CPU has it), P a multiple of 4 and N of 8 (other
// shapes run the Go path).
func (c *CPU) useSIMD(s ScanShape) bool { return c.scanSIMD && s.P%4 == 0 && s.N%8 == 0 }

// useAVX512 reports whether shape s takes the AVX-512 variants of the
// assembly's N = 16 loops on c (CPU.scanAVX512, where this CPU has
// AVX-512F); other shapes on the fast path take the AVX2 loops.
func (c *CPU) useAVX512(s ScanShape) bool { return c.useSIMD(s) && c.scanAVX512 && s.N == 16 }

// at returns a pointer to s[i] (bounds-checked).
func at(s []float32, i int) unsafe.Pointer { return unsafe.Pointer(&s[i]) }

// strides returns the byte strides of x-like (Batch, L, H, P) and B-like
// (Batch, L, G, N) arrays from one step to the next in pass order.
func (k *scanArgs) strides() (sx, sb int) {
	s := k.s
	sx, sb = 4*s.H*s.P, 4*s.G*s.N
	if k.rev {
		return -sx, -sb
	}
	return sx, sb
}

// pos returns the time index of the i-th step.
func (a *scanArgs) pos(i int) int {
	if a.rev {
		return a.s.L - 1 - i
	}
	return i
}

type scanFwdTask struct{ scanArgs }

func (k *scanFwdTask) run(w, item int) {
	if k.lanes {
		k.runLanes(w, item)
		return
	}
	c := k.c()
	s := k.s
	b, h := item/s.H, item%s.H
	g := h / (s.H / s.G)
	P, N := s.P, s.N
	buf := c.work(w, P*N+2*(s.L+1))
	st, dec, dts := buf[:P*N], buf[P*N:P*N+s.L+1], buf[P*N+s.L+1:]
	clear(st)
	k.decays(dec, dts, b, h)
	var Dh float32
	if k.D != nil {
		Dh = k.D[h]
	}
	if k.simd {
		bt := b*s.L + k.pos(0)
		sx, sb := k.strides()
		fwd := scanFwdAVX
		if k.avx512 {
			fwd = scanFwd16AVX512
		}
		fwd(at(st, 0), at(k.x, (bt*s.H+h)*P), at(k.y, (bt*s.H+h)*P), at(k.B, (bt*s.G+g)*N), at(k.C, (bt*s.G+g)*N),
			at(dec, 0), at(dts, 0), sx, sb, s.L, 4*P, 4*N, Dh)
	} else {
		k.fwdGo(st, dec, dts, b, g, h, Dh)
	}
	if k.fin != nil {
		copy(k.fin[(b*s.H+h)*P*N:(b*s.H+h+1)*P*N], st)
	}
}

// fwdGo is the forward of one (b, h) sequence in Go (state st, decays dec
// and dts in pass order): the path for shapes and CPUs without the
// assembly.
func (k *scanFwdTask) fwdGo(st, dec, dts []float32, b, g, h int, Dh float32) {
	s := k.s
	P, N := s.P, s.N
	for i := 0; i < s.L; i++ {
		t := k.pos(i)
		bt := b*s.L + t
		dt, a := dts[i], dec[i]
		x := k.x[(bt*s.H+h)*P : (bt*s.H+h+1)*P]
		B := k.B[(bt*s.G+g)*N : (bt*s.G+g+1)*N]
		C := k.C[(bt*s.G+g)*N : (bt*s.G+g+1)*N]
		y := k.y[(bt*s.H+h)*P : (bt*s.H+h+1)*P]
		for p := 0; p < P; p++ {
			y[p] = rowStep(st[p*N:(p+1)*N], B, C, a, dt*x[p]) + Dh*x[p]
		}
	}
}

// rowStep advances one state row, row = a·row + xp·B, and returns row·C.
// Four partial sums (four elements per iteration) keep the dot product
// from being one chain of dependent adds.
func rowStep(row, B, C []float32, a, xp float32) float32 {
	B, C = B[:len(row)], C[:len(row)]
	var s0, s1, s2, s3 float32
	n := 0
	for ; n+3 < len(row); n += 4 {
		v0 := a*row[n] + xp*B[n]
		v1 := a*row[n+1] + xp*B[n+1]
		v2 := a*row[n+2] + xp*B[n+2]
		v3 := a*row[n+3] + xp*B[n+3]
		row[n], row[n+1], row[n+2], row[n+3] = v0, v1, v2, v3
		s0 += v0 * C[n]
		s1 += v1 * C[n+1]
		s2 += v2 * C[n+2]
		s3 += v3 * C[n+3]
	}
	for ; n < len(row); n++ {
		v := a*row[n] + xp*B[n]
		row[n] = v
		s0 += v * C[n]
	}
	return (s0 + s1) + (s2 + s3)
}

// rowBack is one row of the reverse loop: gh = decay·gh + gy_p·C, gC +=
// state·gy_p, gB += dt·x_p·gh; it returns gh·B and gh·h_prev, each as two
// partial sums (two elements per iteration) to halve the add chains.
func rowBack(row, sr, hr, B, C, gB, gC []float32, decay, gyp, dxp float32) (sx, sa float32) {
	sr, hr, B, C, gB, gC = sr[:len(row)], hr[:len(row)], B[:len(row)], C[:len(row)], gB[:len(row)], gC[:len(row)]
	var sx1, sa1 float32
	n := 0
	for ; n+1 < len(row); n += 2 {
		v0 := decay*row[n] + gyp*C[n]
		v1 := decay*row[n+1] + gyp*C[n+1]
		row[n], row[n+1] = v0, v1
		gC[n] += sr[n] * gyp
		gC[n+1] += sr[n+1] * gyp
		sx += v0 * B[n]
		sx1 += v1 * B[n+1]
		gB[n] += dxp * v0
		gB[n+1] += dxp * v1
		sa += v0 * hr[n]
		sa1 += v1 * hr[n+1]
	}
	if n < len(row) {
		v := decay*row[n] + gyp*C[n]
		row[n] = v
		gC[n] += sr[n] * gyp
		sx += v * B[n]
		gB[n] += dxp * v
		sa += v * hr[n]
	}
	return sx + sx1, sa + sa1
}

// decays fills dec[i] = exp(dt·A_h) and dts[i] = dt for the i-th step of
// the (b, h) sequence (i in pass order), and dec[L] = 0: one exp per step
// and pass, shared by the forward, the recomputation and the reverse loop
// (8 at a time in assembly on the fast path).
func (k *scanArgs) decays(dec, dts []float32, b, h int) {
	s := k.s
	dts = dts[:s.L]
	// Gather dt with a running index (one bounds check per step, no
	// position arithmetic): dt[b, t, h] is at (b·L+t)·H+h.
	j, step := (b*s.L)*s.H+h, s.H
	if k.rev {
		j, step = (b*s.L+s.L-1)*s.H+h, -s.H
	}
	src := k.dt
	for i := range dts {
		dts[i] = src[j]
		j += step
	}
	k.expDecays(dec, dts, h)
}

// expDecays fills dec[i] = exp(dts[i]·A_h) for the L steps and dec[L] = 0.
func (k *scanArgs) expDecays(dec, dts []float32, h int) {
	s := k.s
	dec, dts = dec[:s.L+1], dts[:s.L]
	n := 0
	if k.simd {
		n = s.L &^ 7
		if n > 0 {
			expScaleAVX(at(dec, 0), at(dts, 0), k.A[h], n)
		}
	}
	Ah := float64(k.A[h])
	for i := n; i < s.L; i++ {
		dec[i] = float32(math.Exp(float64(dts[i]) * Ah))
	}
	dec[s.L] = 0
}

// c is set by the backend before each call (see CPU.ScanFwd).
func (k *scanArgs) c() *CPU { return k.cpu }

type scanBwdTask struct{ scanArgs }

// run handles one (batch, group) pair: its heads in order, so that the
// group's shared gB and gC are accumulated without races.
func (k *scanBwdTask) run(w, item int) {
	if k.lanes {
		k.runLanes(w, item)
		return
	}
	s := k.s
	b, g := item/s.G, item%s.G
	P, N, PN := s.P, s.N, s.P*s.N
	hpg := s.H / s.G
	ckn := scanCk // chunk length
	if k.simd && (s.L+1)*PN <= k.cpu.scanAllStates {
		ckn = s.L // one chunk: every state kept, no checkpoint pass
	}
	nck := (s.L + ckn - 1) / ckn
	// Scratch: chunk entry states, the states of one chunk (slot 0: its
	// entry state, slot j: after its j-th step), the gradient state, the
	// decays, the group's dts and gdts, and (fast path) per-step sums (4
	// per step) and row sums.
	// The group's dt (per head, in pass order) and gdt (per head, in time
	// order) are transposed through scratch once per item: dt and gdt
	// hold one value per (step, head), so a per-head walk would touch one
	// cache line per step and head.
	buf := k.c().work(w, (nck+ckn+2)*PN+(s.L+1)+hpg*(s.L+1)+hpg*s.L+4*ckn+9*P)
	ck, buf := buf[:nck*PN], buf[nck*PN:]
	sts, buf := buf[:(ckn+1)*PN], buf[(ckn+1)*PN:]
	gh, buf := buf[:PN], buf[PN:]
	dec, buf := buf[:s.L+1], buf[s.L+1:]
	dtT, buf := buf[:hpg*(s.L+1)], buf[hpg*(s.L+1):]
	gdtT, buf := buf[:hpg*s.L], buf[hpg*s.L:]
	out, scr := buf[:4*ckn], buf[4*ckn:]
	for t := 0; t < s.L; t++ {
		bt := b*s.L + t
		clear(k.gB[(bt*s.G+g)*N : (bt*s.G+g+1)*N])
		clear(k.gC[(bt*s.G+g)*N : (bt*s.G+g+1)*N])
		row := k.dt[bt*s.H+g*hpg : bt*s.H+(g+1)*hpg]
		i := k.pos(t) // the step of time t (pos is its own inverse)
		for j, v := range row {
			dtT[j*(s.L+1)+i] = v
		}
	}
	xs, bs := k.strides() // byte strides per step
	steps, bwd := scanStepsAVX, scanBwdAVX
	if k.avx512 {
		steps, bwd = scanSteps16AVX512, scanBwd16AVX512
	}
	for h := g * hpg; h < (g+1)*hpg; h++ {
		Af := k.A[h]
		dts := dtT[(h-g*hpg)*(s.L+1) : (h-g*hpg+1)*(s.L+1)]
		k.expDecays(dec, dts, h)
		hgdt := gdtT[(h-g*hpg)*s.L : (h-g*hpg+1)*s.L]
		var Dh float32
		if k.D != nil {
			Dh = k.D[h]
		}
		// Forward: keep the state entering every chunk.
		st := gh
		clear(st)
		for c := 0; c < nck; c++ {
			copy(ck[c*PN:(c+1)*PN], st)
			if c == nck-1 {
				break // the last chunk's steps are recomputed below
			}
			lo, hi := c*ckn, (c+1)*ckn
			if k.simd {
				bt := b*s.L + k.pos(lo)
				steps(at(st, 0), at(st, 0), at(k.x, (bt*s.H+h)*P), at(k.B, (bt*s.G+g)*N), at(dec, lo), at(dts, lo),
					0, xs, bs, hi-lo, 4*P, 4*N)
				continue
			}
			for i := lo; i < hi; i++ {
				k.step(st, st, b, g, h, i, dts[i], dec[i])
			}
		}
		// Backward, chunk by chunk from the end.
		clear(gh)
		var gA, gD float64
		for c := nck - 1; c >= 0; c-- {
			lo, hi := c*ckn, min(s.L, (c+1)*ckn)
			copy(sts[:PN], ck[c*PN:(c+1)*PN])
			if k.simd {
				bt := b*s.L + k.pos(lo)
				steps(at(sts, 0), at(sts, PN), at(k.x, (bt*s.H+h)*P), at(k.B, (bt*s.G+g)*N), at(dec, lo), at(dts, lo),
					4*PN, xs, bs, hi-lo, 4*P, 4*N)
				bt = b*s.L + k.pos(hi-1)
				ix, ib := (bt*s.H+h)*P, (bt*s.G+g)*N
				bwd(at(gh, 0), at(sts, (hi-lo)*PN), at(k.x, ix), at(k.gy, ix), at(k.gx, ix),
					at(k.B, ib), at(k.C, ib), at(k.gB, ib), at(k.gC, ib), at(dec, hi), at(dts, hi-1), at(out, 4*(hi-1-lo)),
					at(scr, 0), -xs, -bs, hi-lo, 4*P, 4*N, Dh)
				// Per-step results (latest step first, the order of the
				// sums unchanged): gdt, and gA and gD accumulated.
				o := out[:4*(hi-lo)]
				dd, aa := dts[lo:hi], dec[lo:hi]
				dd, aa = dd[:len(aa)], aa[:len(aa)]
				gdt := hgdt[lo:hi]
				gdt = gdt[:len(aa)]
				for j := len(aa) - 1; j >= 0; j-- {
					q := o[4*j : 4*j+3 : 4*j+3]
					a := aa[j]
					gdt[j] = q[0] + Af*a*q[1]
					gA += float64(dd[j] * a * q[1])
					gD += float64(q[2])
				}
				continue
			}
			for i := lo; i < hi; i++ {
				k.step(sts[(i-lo)*PN:(i-lo+1)*PN], sts[(i-lo+1)*PN:(i-lo+2)*PN], b, g, h, i, dts[i], dec[i])
			}
			for i := hi - 1; i >= lo; i-- {
				t := k.pos(i)
				bt := b*s.L + t
				cur := sts[(i-lo+1)*PN : (i-lo+2)*PN]
				hp := sts[(i-lo)*PN : (i-lo+1)*PN]
				dt, a := dts[i], dec[i]
				decay := dec[i+1] // gh flows to this step scaled by the next step's decay
				x := k.x[(bt*s.H+h)*P : (bt*s.H+h+1)*P]
				gy := k.gy[(bt*s.H+h)*P : (bt*s.H+h+1)*P]
				gx := k.gx[(bt*s.H+h)*P : (bt*s.H+h+1)*P]
				B := k.B[(bt*s.G+g)*N : (bt*s.G+g+1)*N]
				C := k.C[(bt*s.G+g)*N : (bt*s.G+g+1)*N]
				gB := k.gB[(bt*s.G+g)*N : (bt*s.G+g+1)*N]
				gC := k.gC[(bt*s.G+g)*N : (bt*s.G+g+1)*N]
				var gdt, gaa float32
				C, B, gB, gC = C[:N], B[:N], gB[:N], gC[:N]
				for p := 0; p < P; p++ {
					row := gh[p*N : (p+1)*N : (p+1)*N]
					sr := cur[p*N : (p+1)*N : (p+1)*N]
					hr := hp[p*N : (p+1)*N : (p+1)*N]
					row, sr, hr = row[:N], sr[:N], hr[:N]
					gyp, xp := gy[p], x[p]
					dxp := dt * xp
					gD += float64(gyp * xp)
					sx, sa := rowBack(row, sr, hr, B, C, gB, gC, decay, gyp, dxp)
					gx[p] = dt*sx + Dh*gyp
					gdt += sx * xp
					gaa += sa
				}
				// d/d dt of exp(dt·A)·h_prev is A·a·h_prev; d/dA is dt·a·h_prev.
				hgdt[i] = gdt + Af*a*gaa
				gA += float64(dt * a * gaa)
			}
		}
		k.part[(b*s.H+h)*2] = float32(gA)
		k.part[(b*s.H+h)*2+1] = float32(gD)
	}
	for t := 0; t < s.L; t++ {
		row := k.gdt[(b*s.L+t)*s.H+g*hpg : (b*s.L+t)*s.H+(g+1)*hpg]
		i := k.pos(t)
		for j := range row {
			row[j] = gdtT[j*s.L+i]
		}
	}
}

// step advances the state of (b, h) by step i (dt and its decay a):
// dst = a·src + dt·x ⊗ B (dst may be src).
func (k *scanArgs) step(src, dst []float32, b, g, h, i int, dt, a float32) {
	s := k.s
	t := k.pos(i)
	bt := b*s.L + t
	x := k.x[(bt*s.H+h)*s.P : (bt*s.H+h+1)*s.P]
	B := k.B[(bt*s.G+g)*s.N : (bt*s.G+g+1)*s.N]
	N := s.N
	for p, xv := range x {
		xp := dt * xv
		sr, dr := src[p*N:(p+1)*N], dst[p*N:(p+1)*N]
		for n, bn := range B[:len(dr)] {
			dr[n] = a*sr[n] + xp*bn
		}
	}
}

// ScanFwd implements Scan.
func (c *CPU) ScanFwd(s ScanShape, x, dt, A, B, C, D, y, final Buffer, rev bool) error {
	if err := s.Check(); err != nil {
		return err
	}
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	var a args
	k := &c.tasks.scanFwd
	k.scanArgs = scanArgs{s: s, rev: rev, cpu: c, simd: c.useSIMD(s), avx512: c.useAVX512(s), lanes: c.useLanes(s),
		x: a.need("scan x", x, nx), dt: a.need("scan dt", dt, nt), A: a.need("scan A", A, s.H),
		B: a.need("scan B", B, nb), C: a.need("scan C", C, nb), D: a.opt("scan D", D, s.H),
		y: a.need("scan y", y, nx), fin: a.opt("scan final state", final, s.Batch*s.H*s.P*s.N)}
	if a.err != nil {
		return a.err
	}
	items := s.Batch * s.H // (b, h)
	if lg, ok := laneGeomOf(s); k.lanes && ok {
		items = s.Batch * s.H / lg.heads // (b, block of heads)
	}
	c.parallel(items, k)
	k.scanArgs = scanArgs{}
	return nil
}

// ScanBwd implements Scan.
func (c *CPU) ScanBwd(s ScanShape, x, dt, A, B, C, D, gy Buffer, g ScanGrads, rev bool) error {
	if err := s.Check(); err != nil {
		return err
	}
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	var a args
	k := &c.tasks.scanBwd
	k.scanArgs = scanArgs{s: s, rev: rev, cpu: c, simd: c.useSIMD(s), avx512: c.useAVX512(s), lanes: c.useLanes(s),
		x: a.need("scan x", x, nx), dt: a.need("scan dt", dt, nt), A: a.need("scan A", A, s.H),
		B: a.need("scan B", B, nb), C: a.need("scan C", C, nb), D: a.opt("scan D", D, s.H),
		gy: a.need("scan gy", gy, nx), gx: a.need("scan gx", g.X, nx), gdt: a.need("scan gdt", g.DT, nt),
		gB: a.need("scan gB", g.B, nb), gC: a.need("scan gC", g.C, nb)}
	gA := a.need("scan gA", g.A, s.H)
	gD := a.opt("scan gD", g.D, s.H)
	if a.err != nil {
		return a.err
	}
	if gD != nil && k.D == nil {
		return errorf("scan: gD requested without D")
	}
	k.part = c.growShared(2 * s.Batch * s.H)
	c.parallel(s.Batch*s.G, k)
	for h := 0; h < s.H; h++ {
		var sa, sd float64
		for b := 0; b < s.Batch; b++ {
			sa += float64(k.part[(b*s.H+h)*2])
			sd += float64(k.part[(b*s.H+h)*2+1])
		}
		gA[h] = float32(sa)
		if gD != nil {
			gD[h] = float32(sd)
		}
	}
	k.scanArgs = scanArgs{}
	return nil
}
