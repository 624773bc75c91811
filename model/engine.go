package model

import (
	"errors"
	"fmt"

	"github.com/pipeml/pipe/kernels"
	"github.com/pipeml/pipe/kernels/mamba"
)

// Engine runs a V3 on a kernels.Backend: the same parameters (names,
// shapes, initialisation: Params is the V3's own list, so checkpoints load
// in either engine) and the same computation as V3's pure-Go layers,
// written with Backend ops only, so it runs unchanged on the CPU backend
// and on the CUDA backend. It implements Net, SetDebugFinite and Close.
//
// Parameters live on the host (Param.W, Param.G: the optimiser updates
// them there): Forward uploads every Param.W, Backward downloads the
// gradients and adds them to Param.G. Dropout masks are the Backend's
// DropoutMask, the same hash of seed, layer and element as V3's.
// The Laplacian positional encoding (lap_pe) is not supported (it needs a
// batched eigensolver) and is refused by NewEngine. An Engine is not safe
// for concurrent use.
type Engine struct {
	net   *V3
	be    kernels.Backend
	ownBE bool
	bufs  map[string]kernels.Buffer
	w, g  map[*Param]kernels.Buffer
	node  []*mamba.BiLayer
	edge  []*mamba.BiLayer
	grads *mamba.Scratch // gradient scratch shared by the Mamba-2 layers
	acts  *mamba.Scratch // their activations, with checkpointing (else nil)
	ran   bool           // a Forward was attempted
	owned []kernels.Buffer
	host  []float32 // download scratch

	b, t, l int
	seed    uint64
	train   bool
	done    bool // a Forward ran (Backward may follow)
	logits  []float32
}

var _ Net = (*Engine)(nil)

// NewEngine builds the V3 of New(c, channels, length, seed) and the
// buffers to run it on be. When own is true, Close closes be.
func NewEngine(c Config, channels, length int, seed uint64, be kernels.Backend, own bool) (*Engine, error) {
	if c.LapPE {
		return nil, errors.New("model: lap_pe = true runs on the CPU engine only (device = \"cpu\"): the Backend engine has no batched eigensolver")
	}
	n, err := New(c, channels, length, seed)
	if err != nil {
		return nil, err
	}
	e := &Engine{net: n, be: be, ownBE: own, bufs: map[string]kernels.Buffer{},
		w: map[*Param]kernels.Buffer{}, g: map[*Param]kernels.Buffer{}}
	if err := e.bind(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func mambaConfig(d mambaDims) mamba.Config {
	return mamba.Config{DModel: d.dModel, DState: d.dState, DConv: d.dConv, Expand: d.dInner / d.dModel,
		HeadDim: d.headDim, NGroups: 1, NormEps: 1e-5}
}

// bind allocates a device buffer (value and gradient) for every parameter;
// those of the bidirectional Mamba-2 layers are kernels/mamba's own.
func (e *Engine) bind() error {
	n := e.net
	byName := map[string]*Param{}
	for _, p := range n.params {
		byName[p.Name] = p
	}
	attach := func(name string, w, g kernels.Buffer) error {
		p := byName[name]
		if p == nil {
			return fmt.Errorf("model engine: kernels parameter %s has no model parameter", name)
		}
		if w.Len() != len(p.W) || g.Len() != len(p.G) {
			return fmt.Errorf("model engine: parameter %s: %d values on the backend, %d in the model", name, w.Len(), len(p.W))
		}
		e.w[p], e.g[p] = w, g
		return nil
	}
	layers := func(prefix string, count int, d mambaDims, out *[]*mamba.BiLayer) error {
		for i := 0; i < count; i++ {
			l, err := mamba.NewBiLayer(e.be, mambaConfig(d))
			if err != nil {
				return fmt.Errorf("model engine: %s.%d: %w", prefix, i, err)
			}
			*out = append(*out, l) // (Close frees it should binding fail)
			l.ShareScratch(e.grads)
			pre := fmt.Sprintf("%s.%d.", prefix, i)
			for _, blk := range []struct {
				name string
				m    *mamba.Block
			}{{"fwd", l.Fwd}, {"bwd", l.Bwd}} {
				ws, gs := blk.m.W.List(), blk.m.G.List()
				for j := range ws {
					if err := attach(pre+blk.name+"."+ws[j].Name, ws[j].Buf, gs[j].Buf); err != nil {
						return err
					}
				}
			}
			for _, a := range []struct {
				name string
				w, g kernels.Buffer
			}{{"proj.weight", l.ProjW, l.GProjW}, {"proj.bias", l.ProjB, l.GProjB},
				{"norm.weight", l.LnW, l.GLnW}, {"norm.bias", l.LnB, l.GLnB}} {
				if err := attach(pre+a.name, a.w, a.g); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var err error
	e.grads = mamba.NewScratch(e.be)
	if err = layers("node", len(n.node), n.cfg.nodeDims(), &e.node); err != nil {
		return err
	}
	if err = layers("edge", len(n.edge), n.cfg.edgeDims(), &e.edge); err != nil {
		return err
	}
	for _, p := range n.params {
		if _, ok := e.w[p]; ok {
			continue
		}
		w, err := e.be.Alloc(len(p.W))
		if err != nil {
			return fmt.Errorf("model engine: parameter %s: %w", p.Name, err)
		}
		e.owned = append(e.owned, w)
		g, err := e.be.Alloc(len(p.G))
		if err != nil {
			return fmt.Errorf("model engine: parameter %s: %w", p.Name, err)
		}
		e.owned = append(e.owned, g)
		e.w[p], e.g[p] = w, g
	}
	return nil
}

// SetCheckpoint turns activation checkpointing of the Mamba-2 layers on
// or off; it must be called before the first Forward. With it, the node and
// edge layers keep their activations in one shared set (the largest
// layer's) instead of one set each, and Backward reruns each layer's
// forward from its saved input right before the layer's backward: less
// memory (docs/model.md), one more Mamba-2 forward per step.
func (e *Engine) SetCheckpoint(on bool) error {
	if e.ran {
		return errors.New("model engine: SetCheckpoint after the first Forward")
	}
	if on == (e.acts != nil) {
		return nil
	}
	if !on {
		return errors.New("model engine: checkpointing cannot be turned off once on")
	}
	e.acts = mamba.NewScratch(e.be)
	for _, l := range append(e.node, e.edge...) {
		l.ShareActivations(e.acts)
	}
	return nil
}

// Model returns the V3 whose parameters the engine runs.
func (e *Engine) Model() *V3 { return e.net }

// Backend returns the backend the engine runs on.
func (e *Engine) Backend() kernels.Backend { return e.be }

// Config returns the network's configuration.
func (e *Engine) Config() Config { return e.net.cfg }

// Params implements Net.
func (e *Engine) Params() []*Param { return e.net.params }

// NumParams is the number of trainable scalars.
func (e *Engine) NumParams() int { return e.net.NumParams() }

// ZeroGrad implements Net.
func (e *Engine) ZeroGrad() { e.net.ZeroGrad() }

// SetDebugFinite turns on checking every layer's output for NaN and ±Inf
// (each output is downloaded: slow, for debugging).
func (e *Engine) SetDebugFinite(on bool) { e.net.debugFinite = on }

// Close frees the engine's buffers (and the backend when the engine owns
// it).
func (e *Engine) Close() error {
	var errs []error
	for _, b := range e.bufs {
		errs = append(errs, e.be.Free(b))
	}
	for _, b := range e.owned {
		errs = append(errs, e.be.Free(b))
	}
	e.bufs, e.owned = map[string]kernels.Buffer{}, nil
	for _, l := range append(e.node, e.edge...) {
		errs = append(errs, l.Close())
	}
	e.node, e.edge = nil, nil
	for _, sc := range []*mamba.Scratch{e.grads, e.acts} {
		if sc != nil {
			errs = append(errs, sc.Close())
		}
	}
	if e.ownBE {
		errs = append(errs, e.be.Close())
		e.ownBE = false
	}
	return errors.Join(errs...)
}

// buf returns the activation buffer called name with n values, allocating
// it (or replacing it when the size changed).
func (e *Engine) buf(name string, n int) (kernels.Buffer, error) {
	if b, ok := e.bufs[name]; ok {
		if b.Len() == n {
			return b, nil
		}
		if err := e.be.Free(b); err != nil {
			return nil, err
		}
		delete(e.bufs, name)
	}
	b, err := e.be.Alloc(n)
	if err != nil {
		return nil, fmt.Errorf("model engine: buffer %s (%d values): %w", name, n, err)
	}
	e.bufs[name] = b
	return b, nil
}

// ops runs a list of Backend calls with the buffers they need; the first
// error stops it.
type ops struct {
	e   *Engine
	err error
}

func (o *ops) buf(name string, n int) kernels.Buffer {
	if o.err != nil {
		return nil
	}
	b, err := o.e.buf(name, n)
	o.err = err
	return b
}

func (o *ops) slice(b kernels.Buffer, from, n int) kernels.Buffer {
	if o.err != nil {
		return nil
	}
	s, err := o.e.be.Slice(b, from, n)
	o.err = err
	return s
}

func (o *ops) do(what string, err error) {
	if o.err == nil && err != nil {
		o.err = fmt.Errorf("model engine: %s: %w", what, err)
	}
}

// check downloads b and fails when debug_finite is on and a value is not
// finite.
func (o *ops) check(name string, b kernels.Buffer) {
	if o.err != nil || !o.e.net.debugFinite {
		return
	}
	h := make([]float32, b.Len())
	if err := o.e.be.Download(h, b); err != nil {
		o.err = err
		return
	}
	o.err = o.e.net.check(name, h)
}

func (e *Engine) encShape(i, B, T int) kernels.ConvShape {
	cl := e.net.enc[i]
	return kernels.ConvShape{Batch: B, Cin: cl.cin, Lin: T, Cout: cl.cout, K: cl.k, Lout: T, Stride: 1, Dil: cl.dil, Pad: cl.dil * (cl.k - 1) / 2}
}

func (e *Engine) downShape(B, T int) kernels.ConvShape {
	c := &e.net.cfg
	return kernels.ConvShape{Batch: B, Cin: e.net.encOut(), Lin: T, Cout: c.DModel, K: c.Downsample, Lout: T / c.Downsample,
		Stride: c.Downsample, Dil: 1}
}

// scratch returns the first n values of the buffer called name, which
// holds max values (scratch shared by layers of different sizes).
func (o *ops) scratch(name string, n, max int) kernels.Buffer {
	b := o.buf(name, max)
	if o.err != nil || n == max {
		return b
	}
	return o.slice(b, 0, n)
}

// encMax is the largest encoder activation (batch × channels × length).
func (e *Engine) encMax(B, T int) int {
	m := 0
	for _, cl := range e.net.enc {
		m = max(m, cl.cout, cl.cin)
	}
	return B * m * T
}

// ones returns a buffer of n ones.
func (o *ops) ones(n int) kernels.Buffer {
	b := o.buf(fmt.Sprintf("ones.%d", n), n)
	if o.err == nil {
		o.do("ones", o.e.be.Affine(0, nil, 1, b))
	}
	return b
}

// Forward implements Net.
func (e *Engine) Forward(x []float32, batch, length int, train bool, seed uint64) ([]float32, error) {
	n, c := e.net, &e.net.cfg
	if batch < 1 {
		return nil, fmt.Errorf("model: batch %d: want >= 1", batch)
	}
	if err := c.CheckInput(n.channels, length); err != nil {
		return nil, err
	}
	if len(x) != batch*n.channels*length {
		return nil, fmt.Errorf("model: input has %d values, want batch %d × channels %d × length %d = %d", len(x), batch, n.channels, length, batch*n.channels*length)
	}
	if err := n.check("input", x); err != nil {
		return nil, err
	}
	e.done, e.ran = false, true
	be := e.be
	B, T, S := batch, length, c.Downsample
	L := T / S
	e.b, e.t, e.l, e.train = B, T, L, train
	E, F, D := c.Electrodes, c.NodeDim, c.DModel
	EF, rows := E*F, B*L
	o := &ops{e: e}
	for _, p := range n.params {
		o.do("upload "+p.Name, be.Upload(e.w[p], p.W))
	}
	in := o.buf("x", len(x))
	if o.err == nil {
		o.do("upload input", be.Upload(in, x))
	}
	// temporal encoder: only each layer's output (ReLU, then dropout) is
	// kept; the pre-activation and the mask live in scratch shared by the
	// layers (the backward regenerates the mask and takes the ReLU's
	// derivative from the output: out > 0 exactly where pre > 0 and kept).
	e.seed = seed
	for i, cl := range n.enc {
		s := e.encShape(i, B, T)
		ck := cl.cin * cl.k
		w, nrm := o.buf(fmt.Sprintf("enc.%d.w", i), cl.cout*ck), o.buf(fmt.Sprintf("enc.%d.norm", i), cl.cout)
		pre, out := o.scratch("enc.pre", B*cl.cout*T, e.encMax(B, T)), o.buf(fmt.Sprintf("enc.%d.out", i), B*cl.cout*T)
		if o.err != nil {
			break
		}
		o.do("weight norm", be.WeightNormFwd(e.w[cl.v], e.w[cl.g], w, nrm, cl.cout, ck))
		o.do("encoder conv", be.ConvFwd(s, in, w, e.w[cl.bias], pre))
		o.do("relu", be.Unary(kernels.ReLU, pre, out))
		if train && cl.dropout > 0 {
			mask := o.scratch("enc.mask", B*cl.cout*T, e.encMax(B, T))
			if o.err != nil {
				break
			}
			o.do("dropout mask", be.DropoutMask(mask, seed, cl.index, cl.dropout))
			o.do("dropout", be.Mul(out, mask, out))
		}
		in = out
		o.check(fmt.Sprintf("enc.%d", i), in)
	}
	// downsample (channel-first conv with stride S) → (B, L, D).
	dy, h := o.buf("down.y", B*D*L), o.buf("h", rows*D)
	if o.err == nil {
		o.do("downsample", be.ConvFwd(e.downShape(B, T), in, e.w[n.down], e.w[n.downB], dy))
		o.do("transpose", be.Transpose(dy, h, B, D, L, 1))
		o.check("down", h)
	}
	// electrode split (B, L, E, F) and node layout (B, E, L, F).
	u, nodeIn := o.buf("u", rows*EF), o.buf("node.in", B*E*L*F)
	if o.err == nil {
		o.do("split", be.LinearFwd(h, e.w[n.split], e.w[n.splitB], u, rows, D, EF))
		o.do("transpose", be.Transpose(u, nodeIn, B, L, E, F))
		o.check("split", u)
	}
	cur := nodeIn
	for i, l := range e.node {
		out := o.buf(fmt.Sprintf("node.%d.out", i), B*E*L*F)
		if o.err != nil {
			break
		}
		o.do(fmt.Sprintf("node.%d", i), l.Forward(cur, out, B*E, L))
		o.check(fmt.Sprintf("node.%d", i), out)
		cur = out
	}
	g0 := o.buf("g.0", rows*EF)
	if o.err == nil {
		o.do("transpose", be.Transpose(cur, g0, B, E, L, F))
	}
	gl := g0
	if c.GraphLayers > 0 {
		gl = e.graphForward(o, u, g0, B, L)
	}
	// fusion → ReLU → head → upsample.
	fin := n.fusionIn()
	fpre, fh, z := o.buf("fuse.pre", rows*D), o.buf("fuse.h", rows*D), o.buf("z", rows)
	logits := o.buf("logits", B*T)
	onesR, onesS := o.ones(rows), o.ones(S)
	if o.err == nil {
		fw := e.w[n.fuse]
		o.do("fusion", be.Gemm(false, true, rows, D, EF, 1, g0, EF, 0, fw, fin, 0, 0, fpre, D, 0, 1))
		if c.GraphLayers > 0 {
			wb := o.slice(fw, EF, D*fin-EF)
			if o.err == nil {
				o.do("fusion", be.Gemm(false, true, rows, D, EF, 1, gl, EF, 0, wb, fin, 0, 1, fpre, D, 0, 1))
			}
		}
		o.do("fusion bias", be.Gemm(false, false, rows, D, 1, 1, onesR, 1, 0, e.w[n.fuseB], D, 0, 1, fpre, D, 0, 1))
		o.do("relu", be.Unary(kernels.ReLU, fpre, fh))
		o.check("fusion", fh)
		o.do("head", be.LinearFwd(fh, e.w[n.head], e.w[n.headB], z, rows, D, 1))
		o.do("upsample", be.Gemm(false, false, rows, S, 1, 1, z, 1, 0, onesS, S, 0, 0, logits, S, 0, 1))
	}
	if o.err != nil {
		return nil, o.err
	}
	e.logits = grow(e.logits, B*T)
	if err := be.Download(e.logits, logits); err != nil {
		return nil, fmt.Errorf("model engine: download logits: %w", err)
	}
	if err := n.check("head", e.logits); err != nil {
		return nil, err
	}
	e.done = true
	return e.logits, nil
}

// graphForward runs the edge stream (from the split output u, (B, L, E, F))
// and the graph layers on g0; it returns the last graph layer's output.
func (e *Engine) graphForward(o *ops, u, g0 kernels.Buffer, B, L int) kernels.Buffer {
	n, c, be := e.net, &e.net.cfg, e.be
	E, F, P, ED := c.Electrodes, c.NodeDim, c.Pairs(), c.EdgeDim
	G := B * L
	gs := kernels.GraphShape{G: G, N: E, F: F}
	cosS, cosN := o.buf("cos.S", G*E*E), o.buf("cos.norm", G*E)
	cp, cosv := o.buf("cos.pairs", G*P), o.buf("cos", B*P*L)
	e0 := o.buf("edge.in", B*P*L*ED)
	if o.err != nil {
		return nil
	}
	o.do("cosine", be.CosineFwd(gs, u, cosS, cosN, 1e-6))
	o.do("triu gather", be.TriuGather(G, E, cosS, cp, false))
	o.do("transpose", be.Transpose(cp, cosv, B, L, P, 1))
	o.check("edge.cos", cosv)
	o.do("edge lift", be.LinearFwd(cosv, e.w[n.liftW], e.w[n.liftB], e0, B*P*L, 1, ED))
	cur := e0
	for i, l := range e.edge {
		out := o.buf(fmt.Sprintf("edge.%d.out", i), B*P*L*ED)
		if o.err != nil {
			return nil
		}
		o.do(fmt.Sprintf("edge.%d", i), l.Forward(cur, out, B*P, L))
		o.check(fmt.Sprintf("edge.%d", i), out)
		cur = out
	}
	ewRaw, ew, ewT := o.buf("ew.raw", B*P*L), o.buf("ew", B*P*L), o.buf("ew.t", G*P)
	wm, A, keepM := o.buf("graph.w", G*E*E), o.buf("graph.a", G*E*E), o.buf("graph.keep", G*E*E)
	if o.err != nil {
		return nil
	}
	o.do("edge out", be.LinearFwd(cur, e.w[n.edgeOut], e.w[n.edgeB], ewRaw, B*P*L, ED, 1))
	o.do("sigmoid", be.Unary(kernels.Sigmoid, ewRaw, ew))
	o.check("edge.out", ew)
	o.do("transpose", be.Transpose(ew, ewT, B, P, L, 1))
	o.do("triu scatter", be.TriuScatter(G, E, ewT, wm, true))
	o.do("top-k", be.TopKSym(gs, wm, A, keepM, c.TopK, false))
	cfg := kernels.SSG{K: c.SSGK, Alpha: float32(c.SSGAlpha), SelfLoops: true}
	gin := g0
	for i, l := range n.ssg {
		s, res := o.buf(fmt.Sprintf("ssg.%d.s", i), G*E*F), o.buf(fmt.Sprintf("ssg.%d.res", i), G*E*F)
		mean, rstd := o.buf(fmt.Sprintf("ssg.%d.mean", i), G*E), o.buf(fmt.Sprintf("ssg.%d.rstd", i), G*E)
		out := o.buf(fmt.Sprintf("g.%d", i+1), G*E*F)
		if o.err != nil {
			return nil
		}
		o.do("ssgconv", be.SSGConvFwd(gs, cfg, A, gin, s))
		o.do("graph linear", be.LinearFwd(s, e.w[l.lin], e.w[l.linB], res, G*E, F, F))
		o.do("residual", be.Axpy(1, gin, res))
		o.do("layernorm", be.LayerNormFwd(res, e.w[l.lnG], e.w[l.lnB], out, mean, rstd, G*E, F, 1e-5))
		o.check(fmt.Sprintf("graph.%d", i), out)
		gin = out
	}
	return gin
}

// Backward implements Net.
func (e *Engine) Backward(dlogits []float32) error {
	if !e.done {
		return errors.New("model: Backward before Forward")
	}
	n, c, be := e.net, &e.net.cfg, e.be
	B, T, L := e.b, e.t, e.l
	S := c.Downsample
	if len(dlogits) != B*T {
		return fmt.Errorf("model: dlogits has %d values, want batch %d × length %d", len(dlogits), B, T)
	}
	E, F, D := c.Electrodes, c.NodeDim, c.DModel
	EF, rows, fin := E*F, B*L, n.fusionIn()
	o := &ops{e: e}
	g := func(p *Param) kernels.Buffer { return e.g[p] }
	w := func(p *Param) kernels.Buffer { return e.w[p] }
	get := func(name string, size int) kernels.Buffer { return o.buf(name, size) }
	dl := get("dlogits", B*T)
	dz, dfh, dfpre := get("dz", rows), get("dfh", rows*D), get("dfpre", rows*D)
	dg0 := get("dg.0", rows*EF)
	onesS := o.ones(S)
	fpre, fh, g0 := get("fuse.pre", rows*D), get("fuse.h", rows*D), get("g.0", rows*EF)
	if o.err != nil {
		return o.err
	}
	o.do("upload dlogits", be.Upload(dl, dlogits))
	o.do("upsample backward", be.Gemm(false, false, rows, 1, S, 1, dl, S, 0, onesS, 1, 0, 0, dz, 1, 0, 1))
	o.do("head backward", be.LinearBwd(fh, w(n.head), dz, dfh, g(n.head), g(n.headB), rows, D, 1))
	o.do("relu backward", be.UnaryBwd(kernels.ReLU, fpre, dfh, dfpre))
	o.do("fusion backward", be.Gemm(true, false, D, EF, rows, 1, dfpre, D, 0, g0, EF, 0, 0, g(n.fuse), fin, 0, 1))
	o.do("fusion backward", be.SumCols(dfpre, g(n.fuseB), rows, D))
	o.do("fusion backward", be.Gemm(false, false, rows, EF, D, 1, dfpre, D, 0, w(n.fuse), fin, 0, 0, dg0, EF, 0, 1))
	var duCos kernels.Buffer
	if c.GraphLayers > 0 {
		duCos = e.graphBackward(o, dfpre, dg0, B, L)
	}
	// node stream.
	dn, dn2 := get("dnode.a", B*E*L*F), get("dnode.b", B*E*L*F)
	if o.err != nil {
		return o.err
	}
	o.do("transpose", be.Transpose(dg0, dn, B, L, E, F))
	for i := len(e.node) - 1; i >= 0; i-- {
		if e.acts != nil {
			in := get("node.in", B*E*L*F)
			if i > 0 {
				in = get(fmt.Sprintf("node.%d.out", i-1), B*E*L*F)
			}
			tmp := get("ckpt.node", B*E*L*F)
			if o.err != nil {
				return o.err
			}
			o.do(fmt.Sprintf("node.%d forward (checkpoint)", i), e.node[i].Forward(in, tmp, B*E, L))
		}
		o.do(fmt.Sprintf("node.%d backward", i), e.node[i].Backward(dn, dn2))
		dn, dn2 = dn2, dn
	}
	du, h, dh, dhT := get("du", rows*EF), get("h", rows*D), get("dh", rows*D), get("dh.t", B*D*L)
	if o.err != nil {
		return o.err
	}
	o.do("transpose", be.Transpose(dn, du, B, E, L, F))
	if duCos != nil {
		o.do("cosine gradient", be.Axpy(1, duCos, du))
	}
	o.do("split backward", be.LinearBwd(h, w(n.split), du, dh, g(n.split), g(n.splitB), rows, D, EF))
	o.do("transpose", be.Transpose(dh, dhT, B, L, D, 1))
	// downsample and encoder (gradients in two scratch buffers used in turn).
	encIn := func(i int) kernels.Buffer { // input of encoder layer i (output of i−1)
		if i == 0 {
			return get("x", B*n.channels*T)
		}
		return get(fmt.Sprintf("enc.%d.out", i-1), B*n.enc[i-1].cout*T)
	}
	mx := e.encMax(B, T)
	last := len(n.enc)
	var gout kernels.Buffer
	if last > 0 {
		gout = o.scratch("enc.g.0", B*n.enc[last-1].cout*T, mx)
	}
	xin := encIn(last)
	if o.err != nil {
		return o.err
	}
	o.do("downsample backward", be.ConvBwd(e.downShape(B, T), xin, w(n.down), dhT, gout, g(n.down), g(n.downB)))
	for i := last - 1; i >= 0; i-- {
		cl := n.enc[i]
		ck := cl.cin * cl.k
		if e.train && cl.dropout > 0 {
			mask := o.scratch("enc.mask", B*cl.cout*T, mx)
			if o.err != nil {
				return o.err
			}
			o.do("dropout mask", be.DropoutMask(mask, e.seed, cl.index, cl.dropout))
			o.do("dropout backward", be.Mul(gout, mask, gout))
		}
		out, gpre := get(fmt.Sprintf("enc.%d.out", i), B*cl.cout*T), o.scratch("enc.pre", B*cl.cout*T, mx)
		wn, nrm, gw := get(fmt.Sprintf("enc.%d.w", i), cl.cout*ck), get(fmt.Sprintf("enc.%d.norm", i), cl.cout), get(fmt.Sprintf("enc.%d.gw", i), cl.cout*ck)
		var din kernels.Buffer
		if i > 0 {
			din = o.scratch(fmt.Sprintf("enc.g.%d", (last-i)%2), B*cl.cin*T, mx)
		}
		xi := encIn(i)
		if o.err != nil {
			return o.err
		}
		o.do("relu backward", be.UnaryBwd(kernels.ReLU, out, gout, gpre))
		o.do("encoder conv backward", be.ConvBwd(e.encShape(i, B, T), xi, wn, gpre, din, gw, g(cl.bias)))
		o.do("weight norm backward", be.WeightNormBwd(w(cl.v), w(cl.g), nrm, gw, g(cl.v), g(cl.g), cl.cout, ck))
		gout = din
	}
	if o.err != nil {
		return o.err
	}
	// gradients: backend → Param.G (accumulated).
	for _, p := range n.params {
		e.host = grow(e.host, len(p.G))
		if err := be.Download(e.host, e.g[p]); err != nil {
			return fmt.Errorf("model engine: download gradient of %s: %w", p.Name, err)
		}
		for i, v := range e.host {
			p.G[i] += v
		}
	}
	return nil
}

// graphBackward runs the graph layers and the edge stream backward: it
// adds the graph path's gradient to dg0 and returns the gradient of the
// split output u through the cosine similarities.
func (e *Engine) graphBackward(o *ops, dfpre, dg0 kernels.Buffer, B, L int) kernels.Buffer {
	n, c, be := e.net, &e.net.cfg, e.be
	E, F, P, ED, D := c.Electrodes, c.NodeDim, c.Pairs(), c.EdgeDim, c.DModel
	EF, G, fin := E*F, B*L, n.fusionIn()
	rows := G
	gs := kernels.GraphShape{G: G, N: E, F: F}
	cfg := kernels.SSG{K: c.SSGK, Alpha: float32(c.SSGAlpha), SelfLoops: true}
	get := func(name string, size int) kernels.Buffer { return o.buf(name, size) }
	dga, dgb := get("dg.a", G*EF), get("dg.b", G*EF)
	gAtot, gAi, dres, ds := get("graph.gA", G*E*E), get("ssg.gA", G*E*E), get("ssg.dres", G*EF), get("ssg.ds", G*EF)
	A, keepM := get("graph.a", G*E*E), get("graph.keep", G*E*E)
	glast := get(fmt.Sprintf("g.%d", len(n.ssg)), G*EF)
	if o.err != nil {
		return nil
	}
	fw, fg := e.w[n.fuse], e.g[n.fuse]
	wb, gwb := o.slice(fw, EF, D*fin-EF), o.slice(fg, EF, D*fin-EF)
	if o.err != nil {
		return nil
	}
	o.do("fusion backward", be.Gemm(true, false, D, EF, rows, 1, dfpre, D, 0, glast, EF, 0, 0, gwb, fin, 0, 1))
	o.do("fusion backward", be.Gemm(false, false, rows, EF, D, 1, dfpre, D, 0, wb, fin, 0, 0, dga, EF, 0, 1))
	o.do("zero", be.Zero(gAtot))
	for i := len(n.ssg) - 1; i >= 0; i-- {
		l := n.ssg[i]
		gin := get(fmt.Sprintf("g.%d", i), G*EF)
		s, res := get(fmt.Sprintf("ssg.%d.s", i), G*EF), get(fmt.Sprintf("ssg.%d.res", i), G*EF)
		mean, rstd := get(fmt.Sprintf("ssg.%d.mean", i), G*E), get(fmt.Sprintf("ssg.%d.rstd", i), G*E)
		if o.err != nil {
			return nil
		}
		o.do("layernorm backward", be.LayerNormBwd(res, e.w[l.lnG], dga, mean, rstd, dres, e.g[l.lnG], e.g[l.lnB], G*E, F))
		o.do("graph linear backward", be.LinearBwd(s, e.w[l.lin], dres, ds, e.g[l.lin], e.g[l.linB], G*E, F, F))
		o.do("ssgconv backward", be.SSGConvBwd(gs, cfg, A, gin, ds, dgb, gAi))
		o.do("residual backward", be.Axpy(1, dres, dgb))
		o.do("adjacency gradient", be.Axpy(1, gAi, gAtot))
		dga, dgb = dgb, dga
	}
	o.do("graph gradient", be.Axpy(1, dga, dg0))
	// adjacency → edge weights → edge stream → cosine.
	gW, gewT, gew, gewRaw := get("graph.gw", G*E*E), get("gew.t", G*P), get("gew", B*P*L), get("gew.raw", B*P*L)
	ewRaw := get("ew.raw", B*P*L)
	de, de2 := get("de.a", B*P*L*ED), get("de.b", B*P*L*ED)
	if o.err != nil {
		return nil
	}
	o.do("top-k backward", be.Mul(gAtot, keepM, gW))
	o.do("triu gather", be.TriuGather(G, E, gW, gewT, true))
	o.do("transpose", be.Transpose(gewT, gew, B, L, P, 1))
	o.do("sigmoid backward", be.UnaryBwd(kernels.Sigmoid, ewRaw, gew, gewRaw))
	elast := get("edge.in", B*P*L*ED)
	if k := len(e.edge); k > 0 {
		elast = get(fmt.Sprintf("edge.%d.out", k-1), B*P*L*ED)
	}
	if o.err != nil {
		return nil
	}
	o.do("edge out backward", be.LinearBwd(elast, e.w[n.edgeOut], gewRaw, de, e.g[n.edgeOut], e.g[n.edgeB], B*P*L, ED, 1))
	for i := len(e.edge) - 1; i >= 0; i-- {
		if e.acts != nil {
			in := get("edge.in", B*P*L*ED)
			if i > 0 {
				in = get(fmt.Sprintf("edge.%d.out", i-1), B*P*L*ED)
			}
			tmp := get("ckpt.edge", B*P*L*ED)
			if o.err != nil {
				return nil
			}
			o.do(fmt.Sprintf("edge.%d forward (checkpoint)", i), e.edge[i].Forward(in, tmp, B*P, L))
		}
		o.do(fmt.Sprintf("edge.%d backward", i), e.edge[i].Backward(de, de2))
		de, de2 = de2, de
	}
	cosv, dcos, dcp := get("cos", B*P*L), get("dcos", B*P*L), get("dcos.pairs", G*P)
	gS, u, cosN, duCos := get("cos.gS", G*E*E), get("u", G*EF), get("cos.norm", G*E), get("du.cos", G*EF)
	if o.err != nil {
		return nil
	}
	o.do("edge lift backward", be.LinearBwd(cosv, e.w[n.liftW], de, dcos, e.g[n.liftW], e.g[n.liftB], B*P*L, 1, ED))
	o.do("transpose", be.Transpose(dcos, dcp, B, P, L, 1))
	o.do("triu scatter", be.TriuScatter(G, E, dcp, gS, false))
	o.do("cosine backward", be.CosineBwd(gs, u, cosN, gS, duCos, 1e-6))
	return duCos
}
