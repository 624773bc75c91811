// Package mamba composes kernels ops into mamba_ssm's Mamba-2 block
// (in_proj → causal depthwise conv + SiLU → SSD scan → gated RMSNorm →
// out_proj) and the original project's bidirectional layer, on any
// kernels.Backend. Parameters, gradients and activations live in backend
// buffers; Forward saves what Backward needs. A Block or BiLayer is not
// safe for concurrent use.
package mamba

import (
	"fmt"
	"math"

	"github.com/pipeml/pipe/kernels"
)

// Config is a Mamba-2 block's hyper-parameters (mamba_ssm's names).
type Config struct {
	DModel, DState, DConv, Expand, HeadDim, NGroups int
	// NormEps is the gated RMSNorm's epsilon (mamba_ssm: 1e-5).
	NormEps float32
}

// V3 is the V3 node stream's block: d_model 64, d_state 16, d_conv 4,
// expand 2, headdim 8 (16 heads), one group.
func V3() Config {
	return Config{DModel: 64, DState: 16, DConv: 4, Expand: 2, HeadDim: 8, NGroups: 1, NormEps: 1e-5}
}

// DInner is Expand·DModel.
func (c Config) DInner() int { return c.Expand * c.DModel }

// NHeads is DInner/HeadDim.
func (c Config) NHeads() int { return c.DInner() / c.HeadDim }

// ConvDim is the conv's channel count: DInner + 2·NGroups·DState.
func (c Config) ConvDim() int { return c.DInner() + 2*c.NGroups*c.DState }

// DInProj is in_proj's output size: 2·DInner + 2·NGroups·DState + NHeads.
func (c Config) DInProj() int { return 2*c.DInner() + 2*c.NGroups*c.DState + c.NHeads() }

// Check reports an inconsistent configuration.
func (c Config) Check() error {
	if c.DModel < 1 || c.DState < 1 || c.DConv < 1 || c.DConv > 16 || c.Expand < 1 || c.HeadDim < 1 || c.NGroups < 1 {
		return fmt.Errorf("mamba2 config %+v: sizes must be >= 1 (d_conv <= 16)", c)
	}
	if c.DInner()%c.HeadDim != 0 {
		return fmt.Errorf("mamba2 config %+v: d_inner %d not a multiple of headdim %d", c, c.DInner(), c.HeadDim)
	}
	if c.NHeads()%c.NGroups != 0 {
		return fmt.Errorf("mamba2 config %+v: %d heads not a multiple of %d groups", c, c.NHeads(), c.NGroups)
	}
	return nil
}

// Params are a block's trainable tensors, in mamba_ssm's state_dict
// layouts: InProj (DInProj, DModel) with output rows [z | x | B | C | dt],
// ConvW (ConvDim, DConv) (conv1d.weight without its middle axis), ConvB
// (ConvDim), DtBias, ALog, D (NHeads), NormW (DInner), OutProj (DModel,
// DInner).
type Params struct {
	InProj, ConvW, ConvB, DtBias, ALog, D, NormW, OutProj kernels.Buffer
}

// List returns the parameters with their state_dict names.
func (p *Params) List() []Named {
	return []Named{{"in_proj.weight", p.InProj}, {"conv1d.weight", p.ConvW}, {"conv1d.bias", p.ConvB},
		{"dt_bias", p.DtBias}, {"A_log", p.ALog}, {"D", p.D}, {"norm.weight", p.NormW}, {"out_proj.weight", p.OutProj}}
}

// Named is a parameter buffer and its state_dict name.
type Named struct {
	Name string
	Buf  kernels.Buffer
}

// Block is one Mamba-2 block on a backend.
type Block struct {
	be  kernels.Backend
	cfg Config
	// W holds the parameters and G their gradients (overwritten by
	// Backward), allocated by NewBlock (zeroed).
	W, G Params

	// row slices of InProj/ConvW/ConvB (and of their gradients)
	wz, wx, wB, wC, wdt, cwx, cwB, cwC, cbx, cbB, cbC            kernels.Buffer
	gwz, gwx, gwB, gwC, gwdt, gcwx, gcwB, gcwC, gcbx, gcbB, gcbC kernels.Buffer

	A, gA kernels.Buffer // −exp(A_log) and its gradient
	aHost []float32

	rows, batch, L int
	ws             []kernels.Buffer // activations, sized for rows
	// activations (rows × ...): z, xr, Br, Cr, dtr, xc, Bc, Cc, dt, y, yn, rstd, u
	z, xr, Br, Cr, dtr, xc, Bc, Cc, dt, y, yn, rstd kernels.Buffer
	// gradient scratch
	gyn, gy, gz, gxc, gBc, gCc, gdt, gxr, gBr, gCr, gdtr kernels.Buffer
	u                                                    kernels.Buffer
	scratch                                              *Scratch // shared gradient scratch, or nil
	acts                                                 *Scratch // shared activations, or nil
	actPrefix                                            string
}

// NewBlock allocates a block's parameters and gradients on be.
func NewBlock(be kernels.Backend, cfg Config) (*Block, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	m := &Block{be: be, cfg: cfg}
	DI, GN, H := cfg.DInner(), cfg.NGroups*cfg.DState, cfg.NHeads()
	sizes := []int{cfg.DInProj() * cfg.DModel, cfg.ConvDim() * cfg.DConv, cfg.ConvDim(), H, H, H, DI, cfg.DModel * DI}
	for _, p := range []*Params{&m.W, &m.G} {
		dst := []*kernels.Buffer{&p.InProj, &p.ConvW, &p.ConvB, &p.DtBias, &p.ALog, &p.D, &p.NormW, &p.OutProj}
		for i, n := range sizes {
			b, err := be.Alloc(n)
			if err != nil {
				return nil, fmt.Errorf("mamba2 block: %w", err)
			}
			*dst[i] = b
		}
	}
	var err error
	sl := func(b kernels.Buffer, from, n int) kernels.Buffer {
		if err != nil {
			return nil
		}
		var s kernels.Buffer
		s, err = be.Slice(b, from, n)
		return s
	}
	dm, W := cfg.DModel, cfg.DConv
	for _, p := range []struct {
		ps                                     *Params
		z, x, B, C, dt, cx, cB, cC, bx, bB, bC *kernels.Buffer
	}{{&m.W, &m.wz, &m.wx, &m.wB, &m.wC, &m.wdt, &m.cwx, &m.cwB, &m.cwC, &m.cbx, &m.cbB, &m.cbC},
		{&m.G, &m.gwz, &m.gwx, &m.gwB, &m.gwC, &m.gwdt, &m.gcwx, &m.gcwB, &m.gcwC, &m.gcbx, &m.gcbB, &m.gcbC}} {
		*p.z = sl(p.ps.InProj, 0, DI*dm)
		*p.x = sl(p.ps.InProj, DI*dm, DI*dm)
		*p.B = sl(p.ps.InProj, 2*DI*dm, GN*dm)
		*p.C = sl(p.ps.InProj, (2*DI+GN)*dm, GN*dm)
		*p.dt = sl(p.ps.InProj, (2*DI+2*GN)*dm, H*dm)
		*p.cx = sl(p.ps.ConvW, 0, DI*W)
		*p.cB = sl(p.ps.ConvW, DI*W, GN*W)
		*p.cC = sl(p.ps.ConvW, (DI+GN)*W, GN*W)
		*p.bx = sl(p.ps.ConvB, 0, DI)
		*p.bB = sl(p.ps.ConvB, DI, GN)
		*p.bC = sl(p.ps.ConvB, DI+GN, GN)
	}
	if err != nil {
		return nil, fmt.Errorf("mamba2 block: %w", err)
	}
	if m.A, err = be.Alloc(H); err != nil {
		return nil, err
	}
	if m.gA, err = be.Alloc(H); err != nil {
		return nil, err
	}
	m.aHost = make([]float32, H)
	return m, nil
}

// Config returns the block's configuration.
func (m *Block) Config() Config { return m.cfg }

// Close frees the block's buffers.
func (m *Block) Close() error {
	bufs := append([]kernels.Buffer{m.A, m.gA}, m.ws...)
	for _, p := range []*Params{&m.W, &m.G} {
		for _, n := range p.List() {
			bufs = append(bufs, n.Buf)
		}
	}
	for _, b := range bufs {
		if err := m.be.Free(b); err != nil {
			return err
		}
	}
	m.ws = nil
	return nil
}

// grow (re)allocates the block's own buffers for rows = batch·L: the
// activations unless they are shared (ShareActivations), the gradient
// scratch unless it is shared (ShareScratch). Shared ones are taken from
// their Scratch on every Forward / Backward.
func (m *Block) grow(rows int) error {
	if m.acts != nil {
		if err := fill(m.be, m.acts, m.actBufs(), rows, nil); err != nil {
			return fmt.Errorf("mamba2 block activations: %w", err)
		}
	}
	if rows <= m.rows {
		return nil
	}
	for _, b := range m.ws {
		if err := m.be.Free(b); err != nil {
			return err
		}
	}
	m.ws = m.ws[:0]
	m.rows = rows
	if m.acts == nil {
		if err := fill(m.be, nil, m.actBufs(), rows, &m.ws); err != nil {
			return fmt.Errorf("mamba2 block activations: %w", err)
		}
	}
	if m.scratch == nil {
		return fill(m.be, nil, m.gradBufs(), rows, &m.ws)
	}
	return nil
}

// actBufs lists the activations the block saves for its backward.
func (m *Block) actBufs() []scratchBuf {
	c := m.cfg
	DI, GN, H, DM := c.DInner(), c.NGroups*c.DState, c.NHeads(), c.DModel
	p := m.actPrefix
	return []scratchBuf{{p + "z", &m.z, DI}, {p + "xr", &m.xr, DI}, {p + "Br", &m.Br, GN}, {p + "Cr", &m.Cr, GN},
		{p + "dtr", &m.dtr, H}, {p + "xc", &m.xc, DI}, {p + "Bc", &m.Bc, GN}, {p + "Cc", &m.Cc, GN}, {p + "dt", &m.dt, H},
		{p + "y", &m.y, DI}, {p + "yn", &m.yn, DI}, {p + "rstd", &m.rstd, c.NGroups}, {p + "u", &m.u, DM}}
}

// ShareActivations makes the block keep its saved activations in s under
// names starting with prefix (nil: its own buffers). Blocks sharing names
// overwrite each other's activations: the caller must rerun a block's
// Forward before its Backward (activation checkpointing). Call it before
// the first Forward.
func (m *Block) ShareActivations(s *Scratch, prefix string) { m.acts, m.actPrefix = s, prefix }

// gradBufs lists the block's gradient scratch.
func (m *Block) gradBufs() []scratchBuf {
	c := m.cfg
	DI, GN, H := c.DInner(), c.NGroups*c.DState, c.NHeads()
	return []scratchBuf{{"block.gyn", &m.gyn, DI}, {"block.gy", &m.gy, DI}, {"block.gz", &m.gz, DI},
		{"block.gxc", &m.gxc, DI}, {"block.gBc", &m.gBc, GN}, {"block.gCc", &m.gCc, GN}, {"block.gdt", &m.gdt, H},
		{"block.gxr", &m.gxr, DI}, {"block.gBr", &m.gBr, GN}, {"block.gCr", &m.gCr, GN}, {"block.gdtr", &m.gdtr, H}}
}

// ShareScratch makes the block take its gradient buffers from s (nil: its
// own). Call it before the first Forward.
func (m *Block) ShareScratch(s *Scratch) { m.scratch = s }

// view returns the first rows·n values of b (the activations are sized for
// the largest rows seen).
func (m *Block) view(b kernels.Buffer, rows, n int) kernels.Buffer {
	if b.Len() == rows*n {
		return b
	}
	s, err := m.be.Slice(b, 0, rows*n)
	if err != nil {
		panic(err) // cannot happen: grow sized b for at least rows
	}
	return s
}

// Forward computes out (batch, L, DModel) from u (batch, L, DModel) and
// keeps the activations for Backward. u must stay unchanged until
// Backward.
func (m *Block) Forward(u, out kernels.Buffer, batch, L int) error {
	if batch < 1 || L < 1 {
		return fmt.Errorf("mamba2 block: batch %d, length %d", batch, L)
	}
	rows := batch * L
	if err := m.grow(rows); err != nil {
		return err
	}
	m.batch, m.L = batch, L
	c, be := m.cfg, m.be
	DI, GN, H, DM := c.DInner(), c.NGroups*c.DState, c.NHeads(), c.DModel
	v := func(b kernels.Buffer, n int) kernels.Buffer { return m.view(b, rows, n) }
	if err := be.Download(m.aHost, m.W.ALog); err != nil {
		return err
	}
	for i, a := range m.aHost {
		m.aHost[i] = -float32(math.Exp(float64(a)))
	}
	steps := []func() error{
		func() error { return be.Affine(1, u, 0, v(m.u, DM)) },
		func() error { return be.Upload(m.A, m.aHost) },
		func() error { return be.LinearFwd(u, m.wz, nil, v(m.z, DI), rows, DM, DI) },
		func() error { return be.LinearFwd(u, m.wx, nil, v(m.xr, DI), rows, DM, DI) },
		func() error { return be.LinearFwd(u, m.wB, nil, v(m.Br, GN), rows, DM, GN) },
		func() error { return be.LinearFwd(u, m.wC, nil, v(m.Cr, GN), rows, DM, GN) },
		func() error { return be.LinearFwd(u, m.wdt, nil, v(m.dtr, H), rows, DM, H) },
		func() error {
			return be.DWConvFwd(kernels.DWShape{Batch: batch, L: L, C: DI, W: c.DConv}, v(m.xr, DI), m.cwx, m.cbx, v(m.xc, DI), true)
		},
		func() error {
			return be.DWConvFwd(kernels.DWShape{Batch: batch, L: L, C: GN, W: c.DConv}, v(m.Br, GN), m.cwB, m.cbB, v(m.Bc, GN), true)
		},
		func() error {
			return be.DWConvFwd(kernels.DWShape{Batch: batch, L: L, C: GN, W: c.DConv}, v(m.Cr, GN), m.cwC, m.cbC, v(m.Cc, GN), true)
		},
		func() error { return be.BiasSoftplusFwd(v(m.dtr, H), m.W.DtBias, v(m.dt, H), H) },
		func() error {
			return be.ScanFwd(m.scanShape(), v(m.xc, DI), v(m.dt, H), m.A, v(m.Bc, GN), v(m.Cc, GN), m.W.D, v(m.y, DI), nil, false)
		},
		func() error {
			return be.RMSNormGatedFwd(v(m.y, DI), v(m.z, DI), m.W.NormW, v(m.yn, DI), v(m.rstd, c.NGroups), rows, DI, DI/c.NGroups, c.NormEps)
		},
		func() error { return be.LinearFwd(v(m.yn, DI), m.W.OutProj, nil, out, rows, DI, DM) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("mamba2 block forward: %w", err)
		}
	}
	return nil
}

func (m *Block) scanShape() kernels.ScanShape {
	c := m.cfg
	return kernels.ScanShape{Batch: m.batch, L: m.L, H: c.NHeads(), P: c.HeadDim, G: c.NGroups, N: c.DState}
}

// Backward computes gu (overwritten) and the parameter gradients in G
// (overwritten) of the loss whose gradient with respect to the last
// Forward's out is gout.
func (m *Block) Backward(gout, gu kernels.Buffer) error {
	if m.batch == 0 {
		return fmt.Errorf("mamba2 block: Backward before Forward")
	}
	c, be := m.cfg, m.be
	batch, L, rows := m.batch, m.L, m.batch*m.L
	DI, GN, H, DM := c.DInner(), c.NGroups*c.DState, c.NHeads(), c.DModel
	if m.scratch != nil {
		if err := fill(be, m.scratch, m.gradBufs(), rows, nil); err != nil {
			return fmt.Errorf("mamba2 block backward: %w", err)
		}
	}
	v := func(b kernels.Buffer, n int) kernels.Buffer { return m.view(b, rows, n) }
	u := v(m.u, DM)
	steps := []func() error{
		func() error {
			return be.LinearBwd(v(m.yn, DI), m.W.OutProj, gout, v(m.gyn, DI), m.G.OutProj, nil, rows, DI, DM)
		},
		func() error {
			return be.RMSNormGatedBwd(v(m.y, DI), v(m.z, DI), m.W.NormW, v(m.gyn, DI), v(m.rstd, c.NGroups),
				v(m.gy, DI), v(m.gz, DI), m.G.NormW, rows, DI, DI/c.NGroups)
		},
		func() error {
			return be.ScanBwd(m.scanShape(), v(m.xc, DI), v(m.dt, H), m.A, v(m.Bc, GN), v(m.Cc, GN), m.W.D, v(m.gy, DI),
				kernels.ScanGrads{X: v(m.gxc, DI), DT: v(m.gdt, H), A: m.gA, B: v(m.gBc, GN), C: v(m.gCc, GN), D: m.G.D}, false)
		},
		// A = −exp(A_log): dA/dA_log = A.
		func() error { return be.Mul(m.gA, m.A, m.G.ALog) },
		func() error {
			return be.BiasSoftplusBwd(v(m.dtr, H), m.W.DtBias, v(m.gdt, H), v(m.gdtr, H), m.G.DtBias, H)
		},
		func() error {
			return be.DWConvBwd(kernels.DWShape{Batch: batch, L: L, C: DI, W: c.DConv}, v(m.xr, DI), m.cwx, m.cbx, v(m.gxc, DI), v(m.gxr, DI), m.gcwx, m.gcbx, true)
		},
		func() error {
			return be.DWConvBwd(kernels.DWShape{Batch: batch, L: L, C: GN, W: c.DConv}, v(m.Br, GN), m.cwB, m.cbB, v(m.gBc, GN), v(m.gBr, GN), m.gcwB, m.gcbB, true)
		},
		func() error {
			return be.DWConvBwd(kernels.DWShape{Batch: batch, L: L, C: GN, W: c.DConv}, v(m.Cr, GN), m.cwC, m.cbC, v(m.gCc, GN), v(m.gCr, GN), m.gcwC, m.gcbC, true)
		},
	}
	// in_proj: gW_i = g_iᵀ·u per output slice; gu = Σ_i g_i·W_i.
	for i, sl := range []struct {
		g, w, gw kernels.Buffer
		n        int
	}{{v(m.gz, DI), m.wz, m.gwz, DI}, {v(m.gxr, DI), m.wx, m.gwx, DI}, {v(m.gBr, GN), m.wB, m.gwB, GN},
		{v(m.gCr, GN), m.wC, m.gwC, GN}, {v(m.gdtr, H), m.wdt, m.gwdt, H}} {
		beta := float32(1)
		if i == 0 {
			beta = 0
		}
		steps = append(steps,
			func() error { return be.LinearBwd(u, sl.w, sl.g, nil, sl.gw, nil, rows, DM, sl.n) },
			func() error {
				return be.Gemm(false, false, rows, DM, sl.n, 1, sl.g, sl.n, 0, sl.w, DM, 0, beta, gu, DM, 0, 1)
			})
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("mamba2 block backward: %w", err)
		}
	}
	return nil
}
