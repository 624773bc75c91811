// gorgonia's own CUDA engine (compiled by -tags cuda) needs cuDNN, which
// Debian does not ship: the oracle runs in the default build only, so that
// `go vet -tags cuda ./...` (CI) can compile this package's tests.

//go:build !cuda

package model

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The oracle: the whole V3 forward pass of a small configuration written
// again as a gorgonia expression graph in float64 (matrix ops, the scan
// unrolled over time), differentiated by gorgonia's symbolic autodiff. The
// top-k selection is the only input taken from the model under test (it is
// piecewise constant: its derivative is zero wherever it is defined); every
// other value is recomputed independently from the parameters and input.
type oracle struct {
	t      *testing.T
	g      *G.ExprGraph
	n      *V3
	leaves []leafMap
	cover  map[*Param][]int
	memo   map[string]*G.Node
}

// once returns the leaf made by mk for key, making it on first use: every
// use of a parameter shares one leaf.
func (o *oracle) once(key string, mk func() *G.Node) *G.Node {
	if n, ok := o.memo[key]; ok {
		return n
	}
	n := mk()
	o.memo[key] = n
	return n
}

// leafMap ties a gorgonia leaf to the parameter elements it holds.
type leafMap struct {
	node *G.Node
	p    *Param
	idx  []int
}

func (o *oracle) must(n *G.Node, err error) *G.Node {
	o.t.Helper()
	if err != nil {
		o.t.Fatal(err)
	}
	return n
}

// leaf makes a matrix (rows×cols) or vector (cols = 0) leaf whose element
// k is p.W[idx[k]].
func (o *oracle) leaf(p *Param, rows, cols int, idx []int) *G.Node {
	vals := make([]float64, len(idx))
	for k, i := range idx {
		vals[k] = float64(p.W[i])
		o.cover[p][i]++
	}
	var n *G.Node
	name := fmt.Sprintf("%s#%d", p.Name, len(o.leaves))
	if cols == 0 {
		n = G.NewVector(o.g, tensor.Float64, G.WithShape(rows), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(rows), tensor.WithBacking(vals))))
	} else {
		n = G.NewMatrix(o.g, tensor.Float64, G.WithShape(rows, cols), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(vals))))
	}
	o.leaves = append(o.leaves, leafMap{n, p, idx})
	return n
}

// mat is a leaf holding p as a rows×cols matrix, element (r,c) = W[f(r,c)].
func (o *oracle) mat(p *Param, rows, cols int, f func(r, c int) int) *G.Node {
	idx := make([]int, 0, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			idx = append(idx, f(r, c))
		}
	}
	return o.leaf(p, rows, cols, idx)
}

func (o *oracle) vec(p *Param, n int, f func(i int) int) *G.Node {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = f(i)
	}
	return o.leaf(p, n, 0, idx)
}

// transposed is the leaf Wᵀ of a (out × in) row-major weight.
func (o *oracle) transposed(p *Param) *G.Node {
	return o.once("T"+p.Name, func() *G.Node {
		out, in := p.Shape[0], len(p.W)/p.Shape[0]
		return o.mat(p, in, out, func(r, c int) int { return c*in + r })
	})
}

func (o *oracle) whole(p *Param) *G.Node {
	return o.once("W"+p.Name, func() *G.Node { return o.vec(p, len(p.W), func(i int) int { return i }) })
}

func (o *oracle) constMat(rows, cols int, f func(r, c int) float64) *G.Node {
	v := make([]float64, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			v[r*cols+c] = f(r, c)
		}
	}
	return G.NewConstant(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(v)))
}

func (o *oracle) ones(n int) *G.Node {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return G.NewConstant(tensor.New(tensor.WithShape(n), tensor.WithBacking(v)))
}

func (o *oracle) scalar(v float64) *G.Node { return G.NewConstant(v) }

func (o *oracle) add(a, b *G.Node) *G.Node { return o.must(G.Add(a, b)) }
func (o *oracle) sub(a, b *G.Node) *G.Node { return o.must(G.Sub(a, b)) }
func (o *oracle) had(a, b *G.Node) *G.Node { return o.must(G.HadamardProd(a, b)) }
func (o *oracle) mm(a, b *G.Node) *G.Node  { return o.must(G.Mul(a, b)) }

// outer is the outer product of vectors a and b (gorgonia's OuterProd has
// a wrong derivative for vectors of different lengths, so it is built from
// broadcasts).
func (o *oracle) outer(a, b *G.Node) *G.Node {
	return o.had(o.colBcast(a, b.Shape()[0]), o.rowBcast(b, a.Shape()[0]))
}
func (o *oracle) sigmoid(a *G.Node) *G.Node { return o.must(G.Sigmoid(a)) }
func (o *oracle) silu(a *G.Node) *G.Node    { return o.had(a, o.sigmoid(a)) }
func (o *oracle) softplus(a *G.Node) *G.Node {
	return o.must(G.Log1p(o.must(G.Exp(a))))
}

// cols slices columns [a, b) of a matrix.
func (o *oracle) cols(m *G.Node, a, b int) *G.Node {
	return o.must(G.Slice(m, nil, G.S(a, b)))
}

// row returns row r of a matrix as a vector.
func (o *oracle) row(m *G.Node, r int) *G.Node { return o.must(G.Slice(m, G.S(r))) }

// stackRows stacks vectors of length n into a matrix.
func (o *oracle) stackRows(vs []*G.Node, n int) *G.Node {
	rs := make([]*G.Node, len(vs))
	for i, v := range vs {
		rs[i] = o.must(G.Reshape(v, tensor.Shape{1, n}))
	}
	if len(rs) == 1 {
		return rs[0]
	}
	return o.must(G.Concat(0, rs...))
}

// rowBcast repeats vector v over rows rows.
func (o *oracle) rowBcast(v *G.Node, rows int) *G.Node {
	r := o.must(G.Reshape(v, tensor.Shape{1, v.Shape()[0]}))
	if rows == 1 {
		return r
	}
	rs := make([]*G.Node, rows)
	for i := range rs {
		rs[i] = r
	}
	return o.must(G.Concat(0, rs...))
}

// colBcast repeats vector v over n columns.
func (o *oracle) colBcast(v *G.Node, n int) *G.Node {
	c := o.must(G.Reshape(v, tensor.Shape{v.Shape()[0], 1}))
	if n == 1 {
		return c
	}
	cs := make([]*G.Node, n)
	for i := range cs {
		cs[i] = c
	}
	return o.must(G.Concat(1, cs...))
}

// linear is x (rows × in) · Wᵀ + b.
func (o *oracle) linear(x *G.Node, rows int, w, b *Param) *G.Node {
	y := o.mm(x, o.transposed(w))
	if b != nil {
		y = o.add(y, o.rowBcast(o.whole(b), rows))
	}
	return y
}

// layerNorm normalises each row of x (rows × d).
func (o *oracle) layerNorm(x *G.Node, rows, d int, gamma, beta *Param) *G.Node {
	inv := o.scalar(1 / float64(d))
	mean := o.mm(o.mm(x, o.ones(d)), inv)
	c := o.sub(x, o.colBcast(mean, d))
	v := o.mm(o.mm(o.must(G.Square(c)), o.ones(d)), inv)
	rstd := o.must(G.Inverse(o.must(G.Sqrt(o.add(v, o.scalar(1e-5))))))
	xh := o.had(c, o.colBcast(rstd, d))
	return o.add(o.had(xh, o.rowBcast(o.whole(gamma), rows)), o.rowBcast(o.whole(beta), rows))
}

// reverse is the anti-identity (l × l).
func (o *oracle) reverse(l int) *G.Node {
	return o.constMat(l, l, func(r, c int) float64 {
		if r+c == l-1 {
			return 1
		}
		return 0
	})
}

// shift is the (l × l) matrix taking x to x[t−s] (zero before the start).
func (o *oracle) shift(l, s int) *G.Node {
	return o.constMat(l, l, func(r, c int) float64 {
		if c == r-s {
			return 1
		}
		return 0
	})
}

// mamba is one Mamba-2 block on u (l × dModel).
func (o *oracle) mamba(m *mamba2, u *G.Node, l int) *G.Node {
	d := m.dm
	di, S, H, P, K, cd := d.dInner, d.dState, d.nHeads, d.headDim, d.dConv, d.convDim()
	zx := o.mm(u, o.transposed(m.inProj))
	z := o.cols(zx, 0, di)
	xbc := o.cols(zx, di, di+cd)
	dtr := o.cols(zx, di+cd, di+cd+H)
	pre := o.rowBcast(o.whole(m.convB), l)
	for k := 0; k < K; k++ {
		wk := o.once(fmt.Sprintf("k%d%s", k, m.convW.Name), func() *G.Node { return o.vec(m.convW, cd, func(c int) int { return c*K + k }) })
		pre = o.add(pre, o.had(o.mm(o.shift(l, K-1-k), xbc), o.rowBcast(wk, l)))
	}
	xbc = o.silu(pre)
	dt := o.softplus(o.add(dtr, o.rowBcast(o.whole(m.dtBias), l)))
	A := o.must(G.Neg(o.must(G.Exp(o.whole(m.aLog)))))
	Dv := o.whole(m.dSkip)
	states := make([]*G.Node, H)
	rows := make([]*G.Node, l)
	for t := 0; t < l; t++ {
		xr := o.row(xbc, t)
		B := o.must(G.Slice(xr, G.S(di, di+S)))
		C := o.must(G.Slice(xr, G.S(di+S, di+2*S)))
		var heads []*G.Node
		for h := 0; h < H; h++ {
			dth := o.must(G.Slice(dt, G.S(t), G.S(h)))
			a := o.must(G.Exp(o.had(dth, o.must(G.Slice(A, G.S(h))))))
			xh := o.must(G.Slice(xr, G.S(h*P, (h+1)*P)))
			inc := o.mm(o.outer(xh, B), dth)
			if states[h] == nil {
				states[h] = inc
			} else {
				states[h] = o.add(o.mm(states[h], a), inc)
			}
			y := o.add(o.mm(states[h], C), o.mm(xh, o.must(G.Slice(Dv, G.S(h)))))
			heads = append(heads, y)
		}
		if len(heads) == 1 {
			rows[t] = heads[0]
		} else {
			rows[t] = o.must(G.Concat(0, heads...))
		}
	}
	y := o.stackRows(rows, di)
	g := o.had(y, o.silu(z))
	ms := o.mm(o.mm(o.must(G.Square(g)), o.ones(di)), o.scalar(1/float64(di)))
	r := o.must(G.Inverse(o.must(G.Sqrt(o.add(ms, o.scalar(1e-5))))))
	yn := o.had(o.had(g, o.colBcast(r, di)), o.rowBcast(o.whole(m.normW), l))
	return o.mm(yn, o.transposed(m.outProj))
}

func (o *oracle) biMamba(b *biMamba, u *G.Node, l int) *G.Node {
	J := o.reverse(l)
	yf := o.mamba(b.fwd, u, l)
	yb := o.mm(J, o.mamba(b.bwd, o.mm(J, u), l))
	cat := o.must(G.Concat(1, yf, yb))
	res := o.add(u, o.linear(cat, l, b.proj, b.projB))
	return o.layerNorm(res, l, b.dModel, b.lnG, b.lnB)
}

// build returns the loss Σ logits·r of x (batch × channels × length).
func (o *oracle) build(x []float32, batch, length int, r []float32) *G.Node {
	n := o.n
	c := n.cfg
	T, S := length, c.Downsample
	L := T / S
	E, F, Pn := c.Electrodes, c.NodeDim, c.Pairs()
	var loss *G.Node
	for b := 0; b < batch; b++ {
		// encoder: channel-major (C × T).
		xb := o.constMat(n.channels, T, func(r, t int) float64 { return float64(x[(b*n.channels+r)*T+t]) })
		cur := xb
		for _, cl := range n.enc {
			ck := cl.cin * cl.k
			// weight norm: w_k = v_k · g/‖v‖ per output row.
			var vk []*G.Node
			for k := 0; k < cl.k; k++ {
				vk = append(vk, o.once(fmt.Sprintf("k%d%s", k, cl.v.Name), func() *G.Node {
					return o.mat(cl.v, cl.cout, cl.cin, func(r, ci int) int { return r*ck + ci*cl.k + k })
				}))
			}
			var n2 *G.Node
			for _, v := range vk {
				s := o.mm(o.must(G.Square(v)), o.ones(cl.cin))
				if n2 == nil {
					n2 = s
				} else {
					n2 = o.add(n2, s)
				}
			}
			scale := o.had(o.whole(cl.g), o.must(G.Inverse(o.must(G.Sqrt(n2)))))
			out := o.colBcast(o.whole(cl.bias), T)
			half := cl.k / 2
			for k, v := range vk {
				off := (k - half) * cl.dil
				// (x · Sh)[c, t] = x[c, t+off].
				sh := o.constMat(T, T, func(r, cc int) float64 {
					if r == cc+off {
						return 1
					}
					return 0
				})
				w := o.had(v, o.colBcast(scale, cl.cin))
				out = o.add(out, o.mm(o.mm(w, cur), sh))
			}
			cur = o.must(G.Rectify(out))
		}
		// downsample: h (L × D) = Σ_c reshape(enc[c]) (L × S) · W_cᵀ.
		cin := n.encOut()
		h := o.rowBcast(o.whole(n.downB), L)
		for ch := 0; ch < cin; ch++ {
			xr := o.must(G.Reshape(o.row(cur, ch), tensor.Shape{L, S}))
			wc := o.once(fmt.Sprintf("c%d", ch), func() *G.Node {
				return o.mat(n.down, S, c.DModel, func(s, d int) int { return d*cin*S + ch*S + s })
			})
			h = o.add(h, o.mm(xr, wc))
		}
		u := o.linear(h, L, n.split, n.splitB)
		seqs := make([]*G.Node, E)
		for e := 0; e < E; e++ {
			seqs[e] = o.cols(u, e*F, (e+1)*F)
		}
		split := append([]*G.Node(nil), seqs...)
		for _, layer := range n.node {
			for e := range seqs {
				seqs[e] = o.biMamba(layer, seqs[e], L)
			}
		}
		// graph input per step: H_t (E × F).
		Ht := make([]*G.Node, L)
		for t := 0; t < L; t++ {
			var rs []*G.Node
			for e := 0; e < E; e++ {
				rs = append(rs, o.row(seqs[e], t))
			}
			Ht[t] = o.stackRows(rs, F)
		}
		Gt := append([]*G.Node(nil), Ht...)
		if c.GraphLayers > 0 {
			// edge stream: cosine of every pair per step.
			units := make([][]*G.Node, L)
			for t := 0; t < L; t++ {
				for e := 0; e < E; e++ {
					v := o.row(split[e], t)
					nrm := o.must(G.Sqrt(o.add(o.mm(v, v), o.scalar(1e-6))))
					units[t] = append(units[t], o.mm(v, o.must(G.Inverse(nrm))))
				}
			}
			w := make([]*G.Node, Pn) // per pair: edge weights (L)
			liftW := o.whole(n.liftW)
			for p := 0; p < Pn; p++ {
				var cs []*G.Node
				for t := 0; t < L; t++ {
					cs = append(cs, o.mm(units[t][n.cos.pi[p]], units[t][n.cos.pj[p]]))
				}
				cosv := o.must(G.Concat(0, reshape1(o, cs)...))
				seq := o.add(o.outer(cosv, liftW), o.rowBcast(o.whole(n.liftB), L))
				for _, layer := range n.edge {
					seq = o.biMamba(layer, seq, L)
				}
				raw := o.add(o.mm(seq, o.whole(n.edgeOut)), o.mm(o.ones(L), o.must(G.Slice(o.whole(n.edgeB), G.S(0)))))
				w[p] = o.sigmoid(raw)
			}
			for t := 0; t < L; t++ {
				mask := n.graph.mask[(b*L+t)*E*E : (b*L+t+1)*E*E]
				A := o.constMat(E, E, func(r, cc int) float64 {
					if r == cc {
						return 1
					}
					return 0
				})
				for p := 0; p < Pn; p++ {
					i, j := n.cos.pi[p], n.cos.pj[p]
					if !mask[i*E+j] {
						continue
					}
					ind := o.constMat(E, E, func(r, cc int) float64 {
						if (r == i && cc == j) || (r == j && cc == i) {
							return 1
						}
						return 0
					})
					A = o.add(A, o.mm(ind, o.must(G.Slice(w[p], G.S(t)))))
				}
				deg := o.mm(A, o.ones(E))
				s := o.must(G.Inverse(o.must(G.Sqrt(deg))))
				Ahat := o.had(A, o.outer(s, s))
				for _, layer := range n.ssg {
					Hin := Gt[t]
					Z := Hin
					var sum *G.Node
					for k := 1; k <= layer.K; k++ {
						Z = o.mm(Ahat, Z)
						if sum == nil {
							sum = Z
						} else {
							sum = o.add(sum, Z)
						}
					}
					Sx := o.add(o.mm(Hin, o.scalar(float64(layer.alpha))), o.mm(sum, o.scalar(float64((1-layer.alpha)/float32(layer.K)))))
					res := o.add(Hin, o.linear(Sx, E, layer.lin, layer.linB))
					Gt[t] = o.layerNorm(res, E, F, layer.lnG, layer.lnB)
				}
			}
		}
		// fusion and head per step.
		for t := 0; t < L; t++ {
			fin := o.must(G.Reshape(Ht[t], tensor.Shape{E * F}))
			if c.GraphLayers > 0 {
				fin = o.must(G.Concat(0, fin, o.must(G.Reshape(Gt[t], tensor.Shape{E * F}))))
			}
			fh := o.must(G.Rectify(o.add(o.mm(o.once("fuse", func() *G.Node {
				return o.mat(n.fuse, c.DModel, n.fusionIn(), func(r, cc int) int { return r*n.fusionIn() + cc })
			}), fin), o.whole(n.fuseB))))
			z := o.add(o.mm(fh, o.whole(n.head)), o.must(G.Slice(o.whole(n.headB), G.S(0))))
			var rs float64
			for s := 0; s < S; s++ {
				rs += float64(r[b*T+t*S+s])
			}
			term := o.mm(z, o.scalar(rs))
			if loss == nil {
				loss = term
			} else {
				loss = o.add(loss, term)
			}
		}
	}
	return loss
}

func reshape1(o *oracle, s []*G.Node) []*G.Node {
	out := make([]*G.Node, len(s))
	for i, v := range s {
		out[i] = o.must(G.Reshape(v, tensor.Shape{1}))
	}
	return out
}

// oracleConfig is small enough for an unrolled float64 graph and exercises
// every component: two encoder layers, node and edge Mamba-2 layers with
// several heads, top-k graph with two SSGConv layers.
func oracleConfig() Config {
	c := tiny()
	c.Electrodes = 3
	c.TopK = 1
	c.NodeHeadDim = 4 // 2 heads
	c.EdgeDim = 2
	c.EdgeDState = 2
	c.EdgeHeadDim = 2 // 2 heads
	return c
}

// TestGorgoniaOracle compares every parameter's gradient with gorgonia's
// symbolic autodiff of the same computation in float64 (acceptance 1).
func TestGorgoniaOracle(t *testing.T) { runOracle(t, oracleConfig()) }

func runOracle(t *testing.T, cfg Config) {
	const batch, ch = 1, 2
	length := 2 * cfg.Downsample
	n, err := New(cfg, ch, length, 9)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(batch*ch*length, 21)
	r := randInput(batch*length, 22)
	if _, err := n.Forward(x, batch, length, false, 0); err != nil {
		t.Fatal(err)
	}
	n.ZeroGrad()
	if err := n.Backward(r); err != nil {
		t.Fatal(err)
	}
	o := &oracle{t: t, g: G.NewGraph(), n: n, cover: map[*Param][]int{}, memo: map[string]*G.Node{}}
	for _, p := range n.Params() {
		o.cover[p] = make([]int, len(p.W))
	}
	loss := o.build(x, batch, length, r)
	wrt := make([]*G.Node, len(o.leaves))
	for i, l := range o.leaves {
		wrt[i] = l.node
	}
	if _, err := G.Grad(loss, wrt...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(o.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// the model's float32 loss against the oracle's float64 one.
	y, _ := n.Forward(x, batch, length, false, 0)
	var want float64
	for i, v := range y {
		want += float64(v) * float64(r[i])
	}
	got := loss.Value().Data().(float64)
	if math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(got)) {
		t.Fatalf("loss: oracle %v, model %v", got, want)
	}
	// gather the oracle's gradient per parameter element.
	og := map[*Param][]float64{}
	for _, p := range n.Params() {
		og[p] = make([]float64, len(p.W))
		for i, k := range o.cover[p] {
			if k == 0 {
				t.Errorf("%s[%d] is not in the oracle graph", p.Name, i)
			}
		}
	}
	for _, l := range o.leaves {
		gv, err := l.node.Grad()
		if err != nil {
			t.Fatalf("%s: %v", l.node.Name(), err)
		}
		for k, v := range gv.Data().([]float64) {
			og[l.p][l.idx[k]] += v
		}
	}
	worst := 0.0
	for _, p := range n.Params() {
		var scale float64
		for _, v := range og[p] {
			scale = math.Max(scale, math.Abs(v))
		}
		for i, v := range og[p] {
			d := math.Abs(float64(p.G[i]) - v)
			rel := d / math.Max(scale, 1e-3)
			worst = math.Max(worst, rel)
			if rel > 2e-3 {
				t.Errorf("%s[%d]: model %.7g, oracle %.7g", p.Name, i, p.G[i], v)
				break
			}
		}
	}
	t.Logf("%d parameter tensors, %d leaves; worst error relative to each tensor's largest gradient: %.2g", len(n.Params()), len(o.leaves), worst)
}
