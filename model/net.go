package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/pipeml/pipe/kernels/cuda"
	"github.com/pipeml/pipe/kernels/device"
)

// V3 is the dual-stream detector. It implements Net (and the optional
// SetDebugFinite of train.FiniteDebugger). A V3 is not safe for concurrent
// use; its buffers are reused from one Forward to the next.
type V3 struct {
	cfg            Config
	channels       int
	params         []*Param
	debugFinite    bool
	enc            []*convLayer
	down, downB    *Param
	split, splitB  *Param
	node           []*biMamba
	cos            *edgeCos
	liftW, liftB   *Param
	edge           []*biMamba
	edgeOut, edgeB *Param
	graph          *dynGraph
	ssg            []*ssgLayer
	lappe          *lapPE
	gIn            []float32
	fuse, fuseB    *Param
	head, headB    *Param

	// state of the last Forward
	b, t, l, seed uint64
	train         bool
	x             []float32
	xr, h, u      []float32
	nodeAct       [][]float32 // node layout (b, e, l, f), one per layer + input
	cosOut        []float32
	edgeAct       [][]float32 // (b·p, l, edgeDim)
	ew, ewRaw     []float32   // (b, p, l)
	gAct          [][]float32 // (b·l, e, f)
	fin, fh, z    []float32
	logits        []float32
	// gradients
	dlogits, dz, dfh, dfin []float32
	dg, dg2, dnode, dnode2 []float32
	dedge, dedge2, dew     []float32
	dcos, du, dh, dxr      []float32
	dEnc, dEnc2            []float32
	sb                     slotBufs
}

var _ Net = (*V3)(nil)

// New builds a V3 for windows of channels × length samples (length is used
// only to check it is a multiple of the downsample), initialised from seed.
func New(c Config, channels int, length int, seed uint64) (*V3, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.CheckInput(channels, length); err != nil {
		return nil, err
	}
	if channels > maxSize {
		return nil, fmt.Errorf("model: %d input channels: want <= %d", channels, maxSize)
	}
	if est := paramEstimate(c, channels); est > 1<<31 {
		return nil, fmt.Errorf("model config: about %.3g parameters: too large (at most 2^31)", est)
	}
	ps := newParamSet(seed)
	n := &V3{cfg: c, channels: channels}
	in := channels
	for i, ch := range c.EncChannels {
		cl := newConv(ps, fmt.Sprintf("enc.%d", i), in, ch, c.EncKernel, c.EncDilations[i], i)
		cl.dropout = c.Dropout
		n.enc = append(n.enc, cl)
		in = ch
	}
	fan := in * c.Downsample
	n.down = ps.uniform("down.weight", []int{c.DModel, in, c.Downsample}, 1/math.Sqrt(float64(fan)), true)
	n.downB = ps.uniform("down.bias", []int{c.DModel}, 1/math.Sqrt(float64(fan)), false)
	ef := c.Electrodes * c.NodeDim
	n.split = ps.uniform("split.weight", []int{ef, c.DModel}, 1/math.Sqrt(float64(c.DModel)), true)
	n.splitB = ps.uniform("split.bias", []int{ef}, 1/math.Sqrt(float64(c.DModel)), false)
	for i := 0; i < c.NodeLayers; i++ {
		n.node = append(n.node, newBiMamba(ps, fmt.Sprintf("node.%d", i), c.nodeDims()))
	}
	if c.GraphLayers > 0 {
		n.cos = newEdgeCos(c.Electrodes, c.NodeDim)
		n.liftW = ps.uniform("edge.lift.weight", []int{c.EdgeDim, 1}, 1, true)
		n.liftB = ps.uniform("edge.lift.bias", []int{c.EdgeDim}, 1, false)
		for i := 0; i < c.EdgeLayers; i++ {
			n.edge = append(n.edge, newBiMamba(ps, fmt.Sprintf("edge.%d", i), c.edgeDims()))
		}
		n.edgeOut = ps.uniform("edge.out.weight", []int{1, c.EdgeDim}, 1/math.Sqrt(float64(c.EdgeDim)), true)
		n.edgeB = ps.fill("edge.out.bias", []int{1}, 0, false)
		n.graph = &dynGraph{e: c.Electrodes, p: c.Pairs(), k: c.TopK, pi: n.cos.pi, pj: n.cos.pj}
		for i := 0; i < c.GraphLayers; i++ {
			n.ssg = append(n.ssg, newSSG(ps, fmt.Sprintf("graph.%d", i), n.graph, c.NodeDim, c.SSGK, c.SSGAlpha))
		}
		if c.LapPE {
			n.lappe = newLapPE(ps, c.Electrodes, c.LapPEDim, c.NodeDim)
		}
	}
	fin := n.fusionIn()
	n.fuse = ps.normal("fusion.weight", []int{c.DModel, fin}, heStd(fin), true)
	n.fuseB = ps.fill("fusion.bias", []int{c.DModel}, 0, false)
	n.head = ps.uniform("head.weight", []int{1, c.DModel}, 1/math.Sqrt(float64(c.DModel)), true)
	n.headB = ps.fill("head.bias", []int{1}, 0, false)
	n.params = ps.list
	return n, nil
}

// paramEstimate bounds the parameter count from above, in float64 so that
// it cannot overflow, before anything is allocated.
func paramEstimate(c Config, channels int) float64 {
	in, t := float64(channels), 0.0
	for _, ch := range c.EncChannels {
		t += in*float64(ch)*float64(c.EncKernel) + 2*float64(ch)
		in = float64(ch)
	}
	d, ef := float64(c.DModel), float64(c.Electrodes)*float64(c.NodeDim)
	t += in*float64(c.Downsample)*d + d + d*ef + ef
	for _, m := range []struct {
		dm     mambaDims
		layers int
	}{{c.nodeDims(), c.NodeLayers}, {c.edgeDims(), c.EdgeLayers}} {
		di, dmod := float64(m.dm.dInner), float64(m.dm.dModel)
		cd := di + 2*float64(m.dm.dState)
		block := float64(m.dm.projDim())*dmod + cd*float64(m.dm.dConv+1) + 3*float64(m.dm.nHeads) + di + dmod*di
		t += float64(m.layers) * (2*block + 2*dmod*dmod + 3*dmod)
	}
	t += float64(c.GraphLayers)*(float64(c.NodeDim)*float64(c.NodeDim)+3*float64(c.NodeDim)) + 2*ef*d + 2*d + 3*float64(c.EdgeDim) + 2
	if c.LapPE {
		t += float64(c.NodeDim) * float64(c.LapPEDim+1)
	}
	return t
}

func (n *V3) fusionIn() int {
	ef := n.cfg.Electrodes * n.cfg.NodeDim
	if n.cfg.GraphLayers > 0 {
		return 2 * ef
	}
	return ef
}

// Config returns the configuration the network was built with.
func (n *V3) Config() Config { return n.cfg }

// Params implements Net.
func (n *V3) Params() []*Param { return n.params }

// NumParams is the number of trainable scalars.
func (n *V3) NumParams() int {
	t := 0
	for _, p := range n.params {
		t += len(p.W)
	}
	return t
}

// ZeroGrad implements Net.
func (n *V3) ZeroGrad() {
	for _, p := range n.params {
		clear(p.G)
	}
}

// SetDebugFinite turns on checking every layer's output for NaN and ±Inf:
// Forward then fails naming the first layer whose output is not finite.
func (n *V3) SetDebugFinite(on bool) { n.debugFinite = on }

func (n *V3) check(name string, v []float32) error {
	if !n.debugFinite {
		return nil
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("model: debug_finite: output of layer %s is not finite (element %d of %d is %v)", name, i, len(v), x)
		}
	}
	return nil
}

// Forward implements Net.
func (n *V3) Forward(x []float32, batch, length int, train bool, seed uint64) ([]float32, error) {
	c := &n.cfg
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
	n.b, n.t, n.train, n.seed = uint64(batch), uint64(length), train, seed
	B, T := batch, length
	S := c.Downsample
	L := T / S
	n.l = uint64(L)
	n.x = x
	// temporal encoder.
	cur := x
	for i, cl := range n.enc {
		cur = cl.forward(cur, B, T, train, seed)
		if err := n.check(fmt.Sprintf("enc.%d", i), cur); err != nil {
			return nil, err
		}
	}
	// downsample: rows (b, t') gather the window [t'S, (t'+1)S) of every channel.
	cin := n.encOut()
	n.xr = grow(n.xr, B*L*cin*S)
	parFor(B*L, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			b, t := bt/L, bt%L
			row := n.xr[bt*cin*S : (bt+1)*cin*S]
			for ch := 0; ch < cin; ch++ {
				copy(row[ch*S:(ch+1)*S], cur[(b*cin+ch)*T+t*S:(b*cin+ch)*T+(t+1)*S])
			}
		}
	})
	n.h = grow(n.h, B*L*c.DModel)
	linearFwd(n.h, n.xr, n.down.W, n.downB.W, B*L, cin*S, c.DModel)
	if err := n.check("down", n.h); err != nil {
		return nil, err
	}
	// electrode split, to node layout (b, e, l, f).
	E, F := c.Electrodes, c.NodeDim
	n.u = grow(n.u, B*L*E*F)
	linearFwd(n.u, n.h, n.split.W, n.splitB.W, B*L, c.DModel, E*F)
	if len(n.nodeAct) != len(n.node)+1 {
		n.nodeAct = make([][]float32, len(n.node)+1)
	}
	n.nodeAct[0] = grow(n.nodeAct[0], B*E*L*F)
	toNode(n.nodeAct[0], n.u, B, L, E, F)
	if err := n.check("split", n.nodeAct[0]); err != nil {
		return nil, err
	}
	for i, layer := range n.node {
		n.nodeAct[i+1] = grow(n.nodeAct[i+1], B*E*L*F)
		layer.forward(n.nodeAct[i+1], n.nodeAct[i], B*E, L)
		if err := n.check(fmt.Sprintf("node.%d", i), n.nodeAct[i+1]); err != nil {
			return nil, err
		}
	}
	nodeOut := n.nodeAct[len(n.node)]
	// graph input (b·l, e, f) = node stream output, transposed.
	if len(n.gAct) != len(n.ssg)+1 {
		n.gAct = make([][]float32, len(n.ssg)+1)
	}
	n.gAct[0] = grow(n.gAct[0], B*L*E*F)
	fromNode(n.gAct[0], nodeOut, B, L, E, F)
	if c.GraphLayers > 0 {
		if err := n.edgeForward(B, L); err != nil {
			return nil, err
		}
		n.graph.build(n.ew, B, L)
		for i, layer := range n.ssg {
			n.gAct[i+1] = grow(n.gAct[i+1], B*L*E*F)
			in := n.gAct[i]
			if i == 0 && n.lappe != nil {
				n.gIn = grow(n.gIn, B*L*E*F)
				n.lappe.forward(n.gIn, in, n.graph, F)
				if err := n.check("lappe", n.gIn); err != nil {
					return nil, err
				}
				in = n.gIn
			}
			layer.forward(n.gAct[i+1], in)
			if err := n.check(fmt.Sprintf("graph.%d", i), n.gAct[i+1]); err != nil {
				return nil, err
			}
		}
	}
	// fusion → head.
	fin := n.fusionIn()
	n.fin = grow(n.fin, B*L*fin)
	parFor(B*L, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			copy(n.fin[bt*fin:], n.gAct[0][bt*E*F:(bt+1)*E*F])
			if c.GraphLayers > 0 {
				copy(n.fin[bt*fin+E*F:], n.gAct[len(n.ssg)][bt*E*F:(bt+1)*E*F])
			}
		}
	})
	n.fh = grow(n.fh, B*L*c.DModel)
	linearFwd(n.fh, n.fin, n.fuse.W, n.fuseB.W, B*L, fin, c.DModel)
	for i, v := range n.fh {
		if v < 0 {
			n.fh[i] = 0
		}
	}
	if err := n.check("fusion", n.fh); err != nil {
		return nil, err
	}
	n.z = grow(n.z, B*L)
	linearFwd(n.z, n.fh, n.head.W, n.headB.W, B*L, c.DModel, 1)
	n.logits = grow(n.logits, B*T)
	for bt, v := range n.z {
		b, t := bt/L, bt%L
		o := n.logits[b*T+t*S : b*T+(t+1)*S]
		for i := range o {
			o[i] = v
		}
	}
	if err := n.check("head", n.logits); err != nil {
		return nil, err
	}
	return n.logits, nil
}

// edgeForward runs the edge stream from the electrode split's output to
// the edge weights n.ew (b, p, l).
func (n *V3) edgeForward(B, L int) error {
	c := &n.cfg
	P, D := c.Pairs(), c.EdgeDim
	n.cosOut = grow(n.cosOut, B*P*L)
	n.cos.forward(n.cosOut, n.nodeAct[0], B, L)
	if err := n.check("edge.cos", n.cosOut); err != nil {
		return err
	}
	if len(n.edgeAct) != len(n.edge)+1 {
		n.edgeAct = make([][]float32, len(n.edge)+1)
	}
	n.edgeAct[0] = grow(n.edgeAct[0], B*P*L*D)
	lw, lb := n.liftW.W, n.liftB.W
	e0 := n.edgeAct[0]
	parFor(B*P*L, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			v := n.cosOut[r]
			for k := 0; k < D; k++ {
				e0[r*D+k] = v*lw[k] + lb[k]
			}
		}
	})
	for i, layer := range n.edge {
		n.edgeAct[i+1] = grow(n.edgeAct[i+1], B*P*L*D)
		layer.forward(n.edgeAct[i+1], n.edgeAct[i], B*P, L)
		if err := n.check(fmt.Sprintf("edge.%d", i), n.edgeAct[i+1]); err != nil {
			return err
		}
	}
	n.ewRaw = grow(n.ewRaw, B*P*L)
	linearFwd(n.ewRaw, n.edgeAct[len(n.edge)], n.edgeOut.W, n.edgeB.W, B*P*L, D, 1)
	n.ew = grow(n.ew, B*P*L)
	for i, v := range n.ewRaw {
		n.ew[i] = sigmoid(v)
	}
	return n.check("edge.out", n.ew)
}

func (n *V3) encOut() int {
	if len(n.cfg.EncChannels) == 0 {
		return n.channels
	}
	return n.cfg.EncChannels[len(n.cfg.EncChannels)-1]
}

// toNode turns (b, l, e, f) rows into node layout (b, e, l, f).
func toNode(dst, src []float32, B, L, E, F int) {
	parFor(B*E, func(lo, hi int) {
		for be := lo; be < hi; be++ {
			b, e := be/E, be%E
			for t := 0; t < L; t++ {
				copy(dst[(be*L+t)*F:(be*L+t+1)*F], src[((b*L+t)*E+e)*F:((b*L+t)*E+e+1)*F])
			}
		}
	})
}

// fromNode is toNode's inverse.
func fromNode(dst, src []float32, B, L, E, F int) {
	parFor(B*E, func(lo, hi int) {
		for be := lo; be < hi; be++ {
			b, e := be/E, be%E
			for t := 0; t < L; t++ {
				copy(dst[((b*L+t)*E+e)*F:((b*L+t)*E+e+1)*F], src[(be*L+t)*F:(be*L+t+1)*F])
			}
		}
	})
}

// Backward implements Net.
func (n *V3) Backward(dlogits []float32) error {
	if n.logits == nil {
		return errors.New("model: Backward before Forward")
	}
	c := &n.cfg
	B, T, L := int(n.b), int(n.t), int(n.l)
	S := c.Downsample
	if len(dlogits) != B*T {
		return fmt.Errorf("model: dlogits has %d values, want batch %d × length %d", len(dlogits), B, T)
	}
	E, F := c.Electrodes, c.NodeDim
	// head and upsample: dz = Σ over the S samples of each step.
	n.dz = grow(n.dz, B*L)
	for bt := range n.dz {
		b, t := bt/L, bt%L
		var s float64
		for _, v := range dlogits[b*T+t*S : b*T+(t+1)*S] {
			s += float64(v)
		}
		n.dz[bt] = float32(s)
	}
	n.dfh = grow(n.dfh, B*L*c.DModel)
	linearBwd(n.dfh, n.dz, n.fh, n.head.W, n.head.G, n.headB.G, B*L, c.DModel, 1, false)
	for i, v := range n.fh {
		if v <= 0 {
			n.dfh[i] = 0
		}
	}
	fin := n.fusionIn()
	n.dfin = grow(n.dfin, B*L*fin)
	linearBwd(n.dfin, n.dfh, n.fin, n.fuse.W, n.fuse.G, n.fuseB.G, B*L, fin, c.DModel, false)
	// graph stream backward.
	n.dg = grow(n.dg, B*L*E*F)
	n.dg2 = grow(n.dg2, B*L*E*F)
	if c.GraphLayers > 0 {
		parFor(B*L, func(lo, hi int) {
			for bt := lo; bt < hi; bt++ {
				copy(n.dg[bt*E*F:(bt+1)*E*F], n.dfin[bt*fin+E*F:(bt+1)*fin])
			}
		})
		for i := len(n.ssg) - 1; i >= 0; i-- {
			n.ssg[i].backward(n.dg2, n.dg)
			n.dg, n.dg2 = n.dg2, n.dg
		}
		if n.lappe != nil {
			n.lappe.backward(n.dg, B*L*E, F)
		}
	} else {
		clear(n.dg)
	}
	// dg now holds the gradient of gAct[0]; add the fusion's direct part.
	parFor(B*L, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			d := n.dg[bt*E*F : (bt+1)*E*F]
			for i, v := range n.dfin[bt*fin : bt*fin+E*F] {
				d[i] += v
			}
		}
	})
	n.dnode = grow(n.dnode, B*E*L*F)
	n.dnode2 = grow(n.dnode2, B*E*L*F)
	toNode(n.dnode, n.dg, B, L, E, F)
	for i := len(n.node) - 1; i >= 0; i-- {
		n.node[i].backward(n.dnode2, n.dnode)
		n.dnode, n.dnode2 = n.dnode2, n.dnode
	}
	// dnode: gradient of the electrode split output (node layout).
	if c.GraphLayers > 0 {
		n.edgeBackward(B, L)
	}
	n.du = grow(n.du, B*L*E*F)
	fromNode(n.du, n.dnode, B, L, E, F)
	n.dh = grow(n.dh, B*L*c.DModel)
	linearBwd(n.dh, n.du, n.h, n.split.W, n.split.G, n.splitB.G, B*L, c.DModel, E*F, false)
	cin := n.encOut()
	n.dxr = grow(n.dxr, B*L*cin*S)
	linearBwd(n.dxr, n.dh, n.xr, n.down.W, n.down.G, n.downB.G, B*L, cin*S, c.DModel, false)
	if len(n.enc) == 0 {
		return nil
	}
	n.dEnc = grow(n.dEnc, B*cin*T)
	parFor(B*L, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			b, t := bt/L, bt%L
			row := n.dxr[bt*cin*S : (bt+1)*cin*S]
			for ch := 0; ch < cin; ch++ {
				copy(n.dEnc[(b*cin+ch)*T+t*S:(b*cin+ch)*T+(t+1)*S], row[ch*S:(ch+1)*S])
			}
		}
	})
	for i := len(n.enc) - 1; i >= 0; i-- {
		in := n.x
		if i > 0 {
			in = n.enc[i-1].out
		}
		cl := n.enc[i]
		var din []float32
		if i > 0 {
			n.dEnc2 = grow(n.dEnc2, B*cl.cin*T)
			din = n.dEnc2
		}
		cl.backward(din, n.dEnc, in, B, T)
		n.dEnc, n.dEnc2 = n.dEnc2, n.dEnc
	}
	return nil
}

// edgeBackward adds the edge stream's gradient to n.dnode.
func (n *V3) edgeBackward(B, L int) {
	c := &n.cfg
	P, D := c.Pairs(), c.EdgeDim
	n.dew = grow(n.dew, B*P*L)
	n.graph.backward(n.dew)
	for i, v := range n.ew {
		n.dew[i] *= v * (1 - v)
	}
	n.dedge = grow(n.dedge, B*P*L*D)
	n.dedge2 = grow(n.dedge2, B*P*L*D)
	linearBwd(n.dedge, n.dew, n.edgeAct[len(n.edge)], n.edgeOut.W, n.edgeOut.G, n.edgeB.G, B*P*L, D, 1, false)
	for i := len(n.edge) - 1; i >= 0; i-- {
		n.edge[i].backward(n.dedge2, n.dedge)
		n.dedge, n.dedge2 = n.dedge2, n.dedge
	}
	// lift: e0 = cos·w + b.
	n.dcos = grow(n.dcos, B*P*L)
	bufs := n.sb.get(B*P*L, 2*D)
	slotFor(B*P*L, func(slot, r int) {
		acc := bufs[slot]
		v := n.cosOut[r]
		var s float32
		for k := 0; k < D; k++ {
			g := n.dedge[r*D+k]
			acc[k] += g * v
			acc[D+k] += g
			s += g * n.liftW.W[k]
		}
		n.dcos[r] = s
	})
	for _, b := range bufs {
		add(n.liftW.G, b[:D])
		add(n.liftB.G, b[D:])
	}
	n.cos.backward(n.dnode, n.dcos)
}

// Builder builds V3 networks from a stage's `model` attribute (JSON). It
// satisfies stages/trainkinds.Builder.
type Builder struct{}

// Version enters the train and evaluate kinds' fingerprints: bump it when
// the network computes something else for the same configuration.
func (Builder) Version() string { return "v3-1" }

// Build decodes cfg (see Decode) and returns a network for windows of
// channels × length samples initialised from seed: the pure-Go V3 for
// device "cpu", and for "auto" unless a GPU is found; an Engine on the CUDA
// backend for "cuda" (an error in a binary built without -tags cuda) and
// for "auto" with a GPU, with activation checkpointing on. The Engine owns
// its backend (closed by Close).
func (Builder) Build(cfg json.RawMessage, channels, length int, seed uint64) (Net, error) {
	c, err := Decode(cfg)
	if err != nil {
		return nil, err
	}
	if c.Precision == "bf16" {
		return nil, errors.New("model: precision = \"bf16\" is not implemented (both engines run fp32): set precision = \"fp32\"")
	}
	if c.Device == "cuda" || (c.Device == "auto" && cuda.Built) {
		sel, err := device.Open(device.Options{Device: c.Device})
		if err != nil {
			return nil, fmt.Errorf("model: device = %q: %w", c.Device, err)
		}
		if sel.GPU {
			e, err := NewEngine(c, channels, length, seed, sel.Backend, true)
			if err != nil {
				sel.Backend.Close()
				return nil, err
			}
			if err := e.SetCheckpoint(true); err != nil { // GPU memory (docs/model.md)
				e.Close()
				return nil, err
			}
			return e, nil
		}
		if err := sel.Backend.Close(); err != nil {
			return nil, err
		}
	}
	return New(c, channels, length, seed)
}
