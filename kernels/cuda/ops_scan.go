package cuda

import "fmt"

// ScanShape is the shape of an SSD scan: x (Batch, L, H, P), dt (Batch, L,
// H), A and D (H), B and C (Batch, L, G, N).
type ScanShape struct {
	Batch, L, H, P, G, N int
}

func (s ScanShape) check() error {
	if s.Batch < 1 || s.L < 1 || s.H < 1 || s.P < 1 || s.G < 1 || s.N < 1 {
		return fmt.Errorf("cuda: scan shape %+v: every size must be >= 1", s)
	}
	if s.H%s.G != 0 {
		return fmt.Errorf("cuda: scan shape %+v: heads %d not a multiple of groups %d", s, s.H, s.G)
	}
	if s.N > 128 {
		return fmt.Errorf("cuda: scan shape %+v: d_state %d > 128 is not compiled", s, s.N)
	}
	if s.Batch*s.G > maxGridYZ {
		return fmt.Errorf("cuda: scan shape %+v: batch*groups %d > %d", s, s.Batch*s.G, maxGridYZ)
	}
	return fits32("scan", s.Batch, s.L, s.H, s.P*s.N)
}

// scanPlan is the launch geometry shared by the scan kernels of one call.
type scanPlan struct {
	ns, ht, threads, T, nc, tiles int
}

// planScan picks the compiled state size, the heads per block and the chunk
// length so that every kernel's shared memory stays within 48 KiB.
func (d *Device) planScan(s ScanShape, kernels ...string) (scanPlan, error) {
	var p scanPlan
	for _, ns := range ScanStateSizes() {
		if ns >= s.N {
			p.ns = ns
			break
		}
	}
	limit := maxBlockThreads
	for _, k := range kernels {
		m, err := d.maxThreads(k + "_" + itoa(p.ns))
		if err != nil {
			return p, err
		}
		if m < limit {
			limit = m
		}
	}
	limit &^= 31
	if s.P > limit {
		return p, fmt.Errorf("cuda: scan headdim %d exceeds %d threads per block for d_state %d", s.P, limit, s.N)
	}
	hpg := s.H / s.G
	p.ht = 128 / s.P // about 128 threads per block
	if p.ht < 1 {
		p.ht = 1
	}
	if p.ht > hpg {
		p.ht = hpg
	}
	for p.ht > 1 && cdiv(p.ht*s.P, 32)*32 > limit {
		p.ht--
	}
	p.threads = cdiv(p.ht*s.P, 32) * 32
	p.tiles = cdiv(hpg, p.ht)
	p.T = 64
	for p.T > 1 && 4*(3*p.T*p.ns+2*p.T*p.ht+p.ht) > maxShared {
		p.T /= 2
	}
	if p.T > s.L {
		p.T = s.L
	}
	p.nc = cdiv(s.L, p.T)
	if p.tiles > maxGridYZ {
		return p, fmt.Errorf("cuda: scan: %d head tiles", p.tiles)
	}
	return p, nil
}

func (p scanPlan) dims(s ScanShape, rev bool) []Arg {
	return []Arg{i32(s.Batch), i32(s.L), i32(s.H), i32(s.P), i32(s.G), i32(s.N), i32(p.T), i32(p.nc), i32(p.ht), i32(b2i(rev))}
}

func (p scanPlan) grid(s ScanShape) Dim3 { return Dim3{p.nc, p.tiles, s.Batch * s.G} }

// chunkStates runs ssd_chunk_state (mode 0: x/B forward, mode 1: gy/C
// backward) and the carry pass, leaving the carry into every chunk in S.
func (d *Device) chunkStates(s ScanShape, p scanPlan, mode int, u, dt, A, W, S, ld, final Buffer, rev bool) error {
	args := append([]Arg{ptr(u), ptr(dt), ptr(A), ptr(W), ptr(S), ptr(ld), i32(mode)}, p.dims(s, rev)...)
	if err := d.launch(Launch{Kernel: "ssd_chunk_state_" + itoa(p.ns), Grid: p.grid(s), Block: Dim3{p.threads, 1, 1},
		Shared: 4 * (p.T*p.ns + p.T*p.ht), Args: args}); err != nil {
		return err
	}
	pn := s.P * s.N
	return d.launch(Launch{Kernel: "ssd_state_pass", Grid: Dim3{cdiv(pn, 128), s.Batch * s.H, 1}, Block: Dim3{128, 1, 1},
		Args: []Arg{ptr(S), ptr(ld), ptr(final), i32(s.Batch * s.H), i32(p.nc), i32(pn), i32(mode)}})
}

// ScanFwd computes y = SSD(x, dt, A, B, C, D) (see src/scan.cu). D and
// final (the state after the last step, (Batch, H, P, N)) are optional.
// rev runs the recurrence from t = L-1 down to 0.
func (d *Device) ScanFwd(s ScanShape, x, dt, A, B, C, D, y, final Buffer, rev bool) error {
	if err := s.check(); err != nil {
		return err
	}
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	for _, c := range []error{need("scan x", x, nx), need("scan dt", dt, nt), need("scan A", A, s.H),
		need("scan B", B, nb), need("scan C", C, nb), opt("scan D", D, s.H), need("scan y", y, nx),
		opt("scan final state", final, s.Batch*s.H*s.P*s.N)} {
		if c != nil {
			return c
		}
	}
	p, err := d.planScan(s, "ssd_chunk_state", "ssd_chunk_fwd")
	if err != nil {
		return err
	}
	sc, err := d.arena(s.Batch*s.H*p.nc*s.P*s.N, s.Batch*s.H*p.nc)
	if err != nil {
		return err
	}
	S, ld := sc[0], sc[1]
	if err := d.chunkStates(s, p, 0, x, dt, A, B, S, ld, final, rev); err != nil {
		return err
	}
	args := append([]Arg{ptr(x), ptr(dt), ptr(A), ptr(B), ptr(C), ptr(D), ptr(S), ptr(y)}, p.dims(s, rev)...)
	return d.launch(Launch{Kernel: "ssd_chunk_fwd_" + itoa(p.ns), Grid: p.grid(s), Block: Dim3{p.threads, 1, 1},
		Shared: 4 * (2*p.T*p.ns + p.T*p.ht), Args: args})
}

// ScanGrads are the gradient outputs of ScanBwd; each is overwritten. GD
// is optional (absent when the scan has no D).
type ScanGrads struct {
	X, DT, A, B, C, D Buffer
}

// ScanBwd computes the gradients of sum(y * gy) for ScanFwd's inputs.
func (d *Device) ScanBwd(s ScanShape, x, dt, A, B, C, D, gy Buffer, g ScanGrads, rev bool) error {
	if err := s.check(); err != nil {
		return err
	}
	nx, nt, nb := s.Batch*s.L*s.H*s.P, s.Batch*s.L*s.H, s.Batch*s.L*s.G*s.N
	for _, c := range []error{need("scan x", x, nx), need("scan dt", dt, nt), need("scan A", A, s.H),
		need("scan B", B, nb), need("scan C", C, nb), opt("scan D", D, s.H), need("scan gy", gy, nx),
		need("scan gx", g.X, nx), need("scan gdt", g.DT, nt), need("scan gA", g.A, s.H),
		need("scan gB", g.B, nb), need("scan gC", g.C, nb), opt("scan gD", g.D, s.H)} {
		if c != nil {
			return c
		}
	}
	if g.D.Valid() && !D.Valid() {
		return fmt.Errorf("cuda: scan: gD requested without D")
	}
	p, err := d.planScan(s, "ssd_chunk_state", "ssd_chunk_bwd_fwd", "ssd_chunk_bwd_rev")
	if err != nil {
		return err
	}
	ns := s.Batch * s.H * p.nc * s.P * s.N
	sc, err := d.arena(ns, ns, s.Batch*s.H*p.nc, nt, nt)
	if err != nil {
		return err
	}
	S, Q, ld, U, R := sc[0], sc[1], sc[2], sc[3], sc[4]
	if err := d.chunkStates(s, p, 0, x, dt, A, B, S, ld, Buffer{}, rev); err != nil {
		return err
	}
	if err := d.chunkStates(s, p, 1, gy, dt, A, C, Q, ld, Buffer{}, rev); err != nil {
		return err
	}
	for _, b := range []Buffer{g.A, g.B, g.C, g.D} {
		if err := d.Zero(b); err != nil {
			return err
		}
	}
	blk := Dim3{p.threads, 1, 1}
	args := append([]Arg{ptr(x), ptr(dt), ptr(A), ptr(B), ptr(C), ptr(gy), ptr(S), ptr(g.C), ptr(U), ptr(g.D)}, p.dims(s, rev)...)
	if err := d.launch(Launch{Kernel: "ssd_chunk_bwd_fwd_" + itoa(p.ns), Grid: p.grid(s), Block: blk,
		Shared: 4 * (3*p.T*p.ns + 2*p.T*p.ht + p.ht), Args: args}); err != nil {
		return err
	}
	args = append([]Arg{ptr(x), ptr(dt), ptr(A), ptr(B), ptr(C), ptr(D), ptr(gy), ptr(Q), ptr(g.X), ptr(g.B), ptr(R)}, p.dims(s, rev)...)
	if err := d.launch(Launch{Kernel: "ssd_chunk_bwd_rev_" + itoa(p.ns), Grid: p.grid(s), Block: blk,
		Shared: 4 * (3*p.T*p.ns + 2*p.T*p.ht), Args: args}); err != nil {
		return err
	}
	return d.launch(Launch{Kernel: "ssd_dt_grad", Grid: Dim3{s.Batch * s.H, 1, 1}, Block: Dim3{256, 1, 1},
		Args: []Arg{ptr(U), ptr(R), ptr(dt), ptr(A), ptr(g.DT), ptr(g.A), i32(s.Batch), i32(s.L), i32(s.H), i32(b2i(rev))}})
}
