package kernels

import "unsafe"

// The scan's lanes path (scanlanes_amd64.s): for shapes with headdim P = 8,
// d_state N a multiple of 16 and a multiple of 16 heads per group (the V3
// node stream), one work item is a batch row and a block of 16 heads of
// one group, and a zmm register holds one state element n for 16 (head,
// p) lanes — the memory layout of x, y, gy and gx. The state update and
// y = C·state are then vertical multiply-adds with B[n] and C[n]
// broadcast; per step the 16 heads share one load of B, C, dt and the
// decays, and the backward reduces gB, gC and each head's gdt with a
// transpose tree per step instead of per row. The backward keeps a
// checkpoint every scanLaneCk steps and recomputes a chunk's states at a
// time, as the checkpointed path of the other layouts does.

// laneHeads is the number of heads in one block of the lanes path (128
// lanes of P = 8: 8 zmm registers per state element).
const laneHeads = 16

// scanLaneCk is the chunk length of the lanes path's backward: a chunk's
// states take (scanLaneCk+1)·N·512 bytes (264 KiB at N = 16), the
// checkpoints L/scanLaneCk·N·512 (240 KiB at L = 960).
const scanLaneCk = 32

// useLanes reports whether shape s takes the lanes path on c.
func (c *CPU) useLanes(s ScanShape) bool {
	return c.scanSIMD && c.scanLanes && s.P == 8 && s.N%16 == 0 && (s.H/s.G)%laneHeads == 0
}

// align64 returns buf from its first element at a 64-byte boundary (buf
// must have 15 floats to spare).
func align64(buf []float32) []float32 {
	if off := int(uintptr(unsafe.Pointer(&buf[0]))&63) / 4; off != 0 {
		return buf[16-off:]
	}
	return buf
}

// laneStrides returns the byte strides from one step to the next in pass
// order of x-like, B-like and dt-like arrays.
func (k *scanArgs) laneStrides() (sx, sb, sdt int) {
	s := k.s
	sx, sb, sdt = 4*s.H*s.P, 4*s.G*s.N, 4*s.H
	if k.rev {
		return -sx, -sb, -sdt
	}
	return sx, sb, sdt
}

// laneDecays fills dec ((L+1) rows of 16) with exp(dt·A) of heads h0 …
// h0+15 of batch row b in pass order, and a zero row after the last step.
func (k *scanArgs) laneDecays(dec []float32, b, h0 int) {
	s := k.s
	dec = dec[:(s.L+1)*laneHeads]
	_, _, sdt := k.laneStrides()
	_ = k.A[h0+laneHeads-1]
	scanDtALanes512(at(dec, 0), at(k.dt, (b*s.L+k.pos(0))*s.H+h0), at(k.A, h0), sdt, s.L)
	expScaleAVX(at(dec, 0), at(dec, 0), 1, s.L*laneHeads)
	clear(dec[s.L*laneHeads:])
}

// laneD fills De (128 lanes) with D of each lane's head (zero without D).
func (k *scanArgs) laneD(De []float32, h0 int) {
	De = De[:laneHeads*8]
	if k.D == nil {
		clear(De)
		return
	}
	for l := range De {
		De[l] = k.D[h0+l/8]
	}
}

// laneOffsets returns the element offsets of pass step i in x-like,
// B-like and dt-like arrays for batch row b, group g and heads from h0.
func (k *scanArgs) laneOffsets(i, b, g, h0 int) (ox, ob, ot int) {
	s := k.s
	bt := b*s.L + k.pos(i)
	return (bt*s.H + h0) * s.P, (bt*s.G + g) * s.N, bt*s.H + h0
}

// runLanes is the forward of one (batch row, 16-head block) item.
func (k *scanFwdTask) runLanes(w, item int) {
	s := k.s
	nblk := s.H / laneHeads
	b, h0 := item/nblk, (item%nblk)*laneHeads
	g := h0 / (s.H / s.G)
	S := s.N * laneHeads * 8 // one state
	buf := align64(k.c().work(w, 16+S+(s.L+1)*laneHeads+laneHeads*8))
	st, buf := buf[:S], buf[S:]
	dec, De := buf[:(s.L+1)*laneHeads], buf[(s.L+1)*laneHeads:(s.L+1)*laneHeads+laneHeads*8]
	clear(st)
	k.laneDecays(dec, b, h0)
	k.laneD(De, h0)
	sx, sb, sdt := k.laneStrides()
	ox, ob, ot := k.laneOffsets(0, b, g, h0)
	scanFwdLanes512(at(st, 0), at(k.x, ox), at(k.y, ox), at(k.B, ob), at(k.C, ob), at(dec, 0), at(k.dt, ot), at(De, 0),
		sx, sb, sdt, s.L, 4*s.N)
	if k.fin == nil {
		return
	}
	// The final state in (b, h, p, n) order from the lanes' n-major one.
	for h := 0; h < laneHeads; h++ {
		for p := 0; p < 8; p++ {
			f := k.fin[((b*s.H+h0+h)*8+p)*s.N : ((b*s.H+h0+h)*8+p+1)*s.N]
			for n := range f {
				f[n] = st[n*laneHeads*8+h*8+p]
			}
		}
	}
}

// runLanes is the backward of one (batch row, group) item: its 16-head
// blocks in order, so that gB and gC are accumulated without races.
func (k *scanBwdTask) runLanes(w, item int) {
	s := k.s
	b, g := item/s.G, item%s.G
	hpg := s.H / s.G
	S := s.N * laneHeads * 8
	ckn := scanLaneCk
	nck := (s.L + ckn - 1) / ckn
	nscr := 384 + 32*s.N // D per lane, the step's decays and dt·x, the gB and gC accumulators
	const nacc = laneHeads*8 + laneHeads
	buf := align64(k.c().work(w, 16+nck*S+(ckn+1)*S+S+(s.L+1)*laneHeads+nscr+nacc))
	ck, buf := buf[:nck*S], buf[nck*S:]
	sts, buf := buf[:(ckn+1)*S], buf[(ckn+1)*S:]
	gh, buf := buf[:S], buf[S:]
	dec, buf := buf[:(s.L+1)*laneHeads], buf[(s.L+1)*laneHeads:]
	scr, acc := buf[:nscr], buf[nscr:nscr+nacc]
	for t := 0; t < s.L; t++ {
		bt := b*s.L + t
		clear(k.gB[(bt*s.G+g)*s.N : (bt*s.G+g+1)*s.N])
		clear(k.gC[(bt*s.G+g)*s.N : (bt*s.G+g+1)*s.N])
	}
	sx, sb, sdt := k.laneStrides()
	nb := 4 * s.N
	for h0 := g * hpg; h0 < (g+1)*hpg; h0 += laneHeads {
		k.laneDecays(dec, b, h0)
		k.laneD(scr, h0)
		// Forward: keep the state entering every chunk.
		st := gh
		clear(st)
		for c := 0; c < nck; c++ {
			copy(ck[c*S:(c+1)*S], st)
			if c == nck-1 {
				break // the last chunk's steps are recomputed below
			}
			ox, ob, ot := k.laneOffsets(c*ckn, b, g, h0)
			scanStepsLanes512(at(st, 0), at(st, 0), at(k.x, ox), at(k.B, ob), at(dec, c*ckn*laneHeads), at(k.dt, ot),
				0, sx, sb, sdt, ckn, nb)
		}
		// Backward, chunk by chunk from the end.
		clear(gh)
		var gA, gD [laneHeads]float64
		for c := nck - 1; c >= 0; c-- {
			lo, hi := c*ckn, min(s.L, (c+1)*ckn)
			copy(sts[:S], ck[c*S:(c+1)*S])
			ox, ob, ot := k.laneOffsets(lo, b, g, h0)
			scanStepsLanes512(at(sts, 0), at(sts, S), at(k.x, ox), at(k.B, ob), at(dec, lo*laneHeads), at(k.dt, ot),
				4*S, sx, sb, sdt, hi-lo, nb)
			clear(acc)
			ox, ob, ot = k.laneOffsets(hi-1, b, g, h0)
			scanBwdLanes512(at(gh, 0), at(sts, (hi-lo)*S), at(k.x, ox), at(k.gy, ox), at(k.gx, ox),
				at(k.B, ob), at(k.C, ob), at(k.gB, ob), at(k.gC, ob), at(dec, (hi-1)*laneHeads), at(k.dt, ot), at(k.gdt, ot),
				at(k.A, h0), at(scr, 0), at(acc, 0), -sx, -sb, -sdt, hi-lo, nb)
			// The chunk's float32 sums into float64.
			for l, v := range acc[:laneHeads*8] {
				gD[l/8] += float64(v)
			}
			for h, v := range acc[laneHeads*8:] {
				gA[h] += float64(v)
			}
		}
		for h := range gA {
			k.part[(b*s.H+h0+h)*2] = float32(gA[h])
			k.part[(b*s.H+h0+h)*2+1] = float32(gD[h])
		}
	}
}
