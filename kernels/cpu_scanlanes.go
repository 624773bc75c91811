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
//
// The edge stream's shape (P = 4, N = 8, a multiple of 8 heads per group)
// has its own geometry: 8 heads per block, 32 lanes in 2 zmm, and the
// whole state (or gradient state) of 8 × 2 zmm held in registers across
// the steps of a call (scanFwdLanes4x512 and friends).

// laneHeads is the number of heads in one block of the lanes path's node
// geometry (128 lanes of P = 8: 8 zmm registers per state element).
const laneHeads = 16

// laneGeom is one geometry of the lanes path: heads per block and
// headdim (lanes = heads·P).
type laneGeom struct{ heads, P int }

// The two geometries (read-only).
var (
	laneNode = laneGeom{heads: laneHeads, P: 8} // P = 8, N a multiple of 16
	laneEdge = laneGeom{heads: 8, P: 4}         // P = 4, N = 8
)

// lanes returns the lanes of one block.
func (g laneGeom) lanes() int { return g.heads * g.P }

// laneGeomOf returns the geometry shape s takes, and false when none.
func laneGeomOf(s ScanShape) (laneGeom, bool) {
	hpg := s.H / s.G
	switch {
	case s.P == 8 && s.N%16 == 0 && hpg%laneNode.heads == 0:
		return laneNode, true
	case s.P == 4 && s.N == 8 && hpg%laneEdge.heads == 0:
		return laneEdge, true
	}
	return laneGeom{}, false
}

// scanLaneCk is the chunk length of the lanes path's backward: in the node
// geometry a chunk's states take (scanLaneCk+1)·N·512 bytes (264 KiB at
// N = 16) and the checkpoints L/scanLaneCk·N·512 (240 KiB at L = 960);
// the edge geometry's states are 1 KiB each.
const scanLaneCk = 32

// useLanes reports whether shape s takes the lanes path on c.
func (c *CPU) useLanes(s ScanShape) bool {
	_, ok := laneGeomOf(s)
	return c.scanSIMD && c.scanLanes && ok
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

// laneDecays fills dec ((L+1) rows of 16) with exp(dt·A) of the m heads
// h0 … h0+m-1 of batch row b in pass order (lanes from m on 0), and a
// zero row after the last step.
func (k *scanArgs) laneDecays(dec []float32, b, h0, m int) {
	s := k.s
	dec = dec[:(s.L+1)*16]
	_, _, sdt := k.laneStrides()
	_ = k.A[h0+m-1]
	scanDtALanes512(at(dec, 0), at(k.dt, (b*s.L+k.pos(0))*s.H+h0), at(k.A, h0), sdt, s.L, m)
	expScaleAVX(at(dec, 0), at(dec, 0), 1, s.L*16)
	clear(dec[s.L*16:])
}

// laneD fills De (one block's lanes) with D of each lane's head (zero
// without D).
func (k *scanArgs) laneD(De []float32, g laneGeom, h0 int) {
	De = De[:g.lanes()]
	if k.D == nil {
		clear(De)
		return
	}
	for l := range De {
		De[l] = k.D[h0+l/g.P]
	}
}

// laneOffsets returns the element offsets of pass step i in x-like,
// B-like and dt-like arrays for batch row b, group g and heads from h0.
func (k *scanArgs) laneOffsets(i, b, g, h0 int) (ox, ob, ot int) {
	s := k.s
	bt := b*s.L + k.pos(i)
	return (bt*s.H + h0) * s.P, (bt*s.G + g) * s.N, bt*s.H + h0
}

// runLanes is the forward of one (batch row, block of heads) item.
func (k *scanFwdTask) runLanes(w, item int) {
	s := k.s
	lg, _ := laneGeomOf(s)
	nblk := s.H / lg.heads
	b, h0 := item/nblk, (item%nblk)*lg.heads
	g := h0 / (s.H / s.G)
	nl := lg.lanes()
	S := s.N * nl // one state
	buf := align64(k.c().work(w, 16+S+(s.L+1)*16+nl))
	st, buf := buf[:S], buf[S:]
	dec, De := buf[:(s.L+1)*16], buf[(s.L+1)*16:(s.L+1)*16+nl]
	clear(st)
	k.laneDecays(dec, b, h0, lg.heads)
	k.laneD(De, lg, h0)
	sx, sb, sdt := k.laneStrides()
	ox, ob, ot := k.laneOffsets(0, b, g, h0)
	if lg == laneEdge {
		scanFwdLanes4x512(at(st, 0), at(k.x, ox), at(k.y, ox), at(k.B, ob), at(k.C, ob), at(dec, 0), at(k.dt, ot), at(De, 0),
			sx, sb, sdt, s.L)
	} else {
		scanFwdLanes512(at(st, 0), at(k.x, ox), at(k.y, ox), at(k.B, ob), at(k.C, ob), at(dec, 0), at(k.dt, ot), at(De, 0),
			sx, sb, sdt, s.L, 4*s.N)
	}
	if k.fin == nil {
		return
	}
	// The final state in (b, h, p, n) order from the lanes' n-major one.
	for h := 0; h < lg.heads; h++ {
		for p := 0; p < lg.P; p++ {
			f := k.fin[((b*s.H+h0+h)*lg.P+p)*s.N : ((b*s.H+h0+h)*lg.P+p+1)*s.N]
			for n := range f {
				f[n] = st[n*nl+h*lg.P+p]
			}
		}
	}
}

// runLanes is the backward of one (batch row, group) item: its blocks of
// heads in order, so that gB and gC are accumulated without races.
func (k *scanBwdTask) runLanes(w, item int) {
	s := k.s
	lg, _ := laneGeomOf(s)
	edge := lg == laneEdge
	b, g := item/s.G, item%s.G
	hpg := s.H / s.G
	nl := lg.lanes()
	S := s.N * nl
	ckn := scanLaneCk
	nck := (s.L + ckn - 1) / ckn
	// scr: D per lane, then (node) the step's decays and dt·x, and the gB
	// and gC accumulators; acc: Σ gy·x per lane and Σ dt·a·gh·h_prev per
	// head (a row of 16).
	nscr := 384 + 32*s.N
	if edge {
		nscr = 32 + 256
	}
	nacc := nl + 16
	buf := align64(k.c().work(w, 16+nck*S+(ckn+1)*S+S+(s.L+1)*16+nscr+nacc))
	ck, buf := buf[:nck*S], buf[nck*S:]
	sts, buf := buf[:(ckn+1)*S], buf[(ckn+1)*S:]
	gh, buf := buf[:S], buf[S:]
	dec, buf := buf[:(s.L+1)*16], buf[(s.L+1)*16:]
	scr, acc := buf[:nscr], buf[nscr:nscr+nacc]
	for t := 0; t < s.L; t++ {
		bt := b*s.L + t
		clear(k.gB[(bt*s.G+g)*s.N : (bt*s.G+g+1)*s.N])
		clear(k.gC[(bt*s.G+g)*s.N : (bt*s.G+g+1)*s.N])
	}
	sx, sb, sdt := k.laneStrides()
	nb := 4 * s.N
	steps := func(src, dst []float32, i, n, ds int, h0 int) {
		ox, ob, ot := k.laneOffsets(i, b, g, h0)
		if edge {
			scanStepsLanes4x512(at(src, 0), at(dst, 0), at(k.x, ox), at(k.B, ob), at(dec, i*16), at(k.dt, ot), ds, sx, sb, sdt, n)
			return
		}
		scanStepsLanes512(at(src, 0), at(dst, 0), at(k.x, ox), at(k.B, ob), at(dec, i*16), at(k.dt, ot), ds, sx, sb, sdt, n, nb)
	}
	for h0 := g * hpg; h0 < (g+1)*hpg; h0 += lg.heads {
		k.laneDecays(dec, b, h0, lg.heads)
		k.laneD(scr, lg, h0)
		// Forward: keep the state entering every chunk.
		st := gh
		clear(st)
		for c := 0; c < nck; c++ {
			copy(ck[c*S:(c+1)*S], st)
			if c == nck-1 {
				break // the last chunk's steps are recomputed below
			}
			steps(st, st, c*ckn, ckn, 0, h0)
		}
		// Backward, chunk by chunk from the end.
		clear(gh)
		var gA, gD [laneHeads]float64
		for c := nck - 1; c >= 0; c-- {
			lo, hi := c*ckn, min(s.L, (c+1)*ckn)
			copy(sts[:S], ck[c*S:(c+1)*S])
			steps(sts, sts[S:], lo, hi-lo, 4*S, h0)
			clear(acc)
			ox, ob, ot := k.laneOffsets(hi-1, b, g, h0)
			if edge {
				scanBwdLanes4x512(at(gh, 0), at(sts, (hi-lo)*S), at(k.x, ox), at(k.gy, ox), at(k.gx, ox),
					at(k.B, ob), at(k.C, ob), at(k.gB, ob), at(k.gC, ob), at(dec, (hi-1)*16), at(k.dt, ot), at(k.gdt, ot),
					at(k.A, h0), at(scr, 0), at(acc, 0), -sx, -sb, -sdt, hi-lo)
			} else {
				scanBwdLanes512(at(gh, 0), at(sts, (hi-lo)*S), at(k.x, ox), at(k.gy, ox), at(k.gx, ox),
					at(k.B, ob), at(k.C, ob), at(k.gB, ob), at(k.gC, ob), at(dec, (hi-1)*16), at(k.dt, ot), at(k.gdt, ot),
					at(k.A, h0), at(scr, 0), at(acc, 0), -sx, -sb, -sdt, hi-lo, nb)
			}
			// The chunk's float32 sums into float64.
			for l, v := range acc[:nl] {
				gD[l/lg.P] += float64(v)
			}
			for h, v := range acc[nl : nl+lg.heads] {
				gA[h] += float64(v)
			}
		}
		for h := 0; h < lg.heads; h++ {
			k.part[(b*s.H+h0+h)*2] = float32(gA[h])
			k.part[(b*s.H+h0+h)*2+1] = float32(gD[h])
		}
	}
}
