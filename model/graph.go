package model

import (
	"math"
)

// edgeCos is the edge stream's input: the cosine similarity of every
// electrode pair at every step.
type edgeCos struct {
	e, f, p    int
	pi, pj     []int
	b, l       int
	unit, norm []float32 // (b, l, e, f) unit vectors, (b, l, e) norms
}

func newEdgeCos(e, f int) *edgeCos {
	c := &edgeCos{e: e, f: f, p: e * (e - 1) / 2}
	for i := 0; i < e; i++ {
		for j := i + 1; j < e; j++ {
			c.pi = append(c.pi, i)
			c.pj = append(c.pj, j)
		}
	}
	return c
}

// forward reads node features x in node layout (b, e, l, f) and writes
// out (b, p, l).
func (c *edgeCos) forward(out, x []float32, b, l int) {
	c.b, c.l = b, l
	e, f := c.e, c.f
	c.unit = grow(c.unit, b*l*e*f)
	c.norm = grow(c.norm, b*l*e)
	parFor(b*l, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			bb, t := bt/l, bt%l
			for i := 0; i < e; i++ {
				v := x[((bb*e+i)*l+t)*f : ((bb*e+i)*l+t+1)*f]
				var ss float64
				for _, a := range v {
					ss += float64(a * a)
				}
				n := float32(math.Sqrt(ss + 1e-6))
				c.norm[bt*e+i] = n
				u := c.unit[(bt*e+i)*f : (bt*e+i+1)*f]
				for k, a := range v {
					u[k] = a / n
				}
			}
			for p := range c.pi {
				ui := c.unit[(bt*e+c.pi[p])*f : (bt*e+c.pi[p]+1)*f]
				uj := c.unit[(bt*e+c.pj[p])*f : (bt*e+c.pj[p]+1)*f]
				var s float32
				for k := range ui {
					s += ui[k] * uj[k]
				}
				out[(bb*c.p+p)*l+t] = s
			}
		}
	})
}

// backward adds to dx (node layout) the gradient of dout (b, p, l).
func (c *edgeCos) backward(dx, dout []float32) {
	b, l, e, f := c.b, c.l, c.e, c.f
	parFor(b, func(lo, hi int) {
		du := make([]float32, e*f)
		for bb := lo; bb < hi; bb++ {
			for t := 0; t < l; t++ {
				bt := bb*l + t
				clear(du)
				for p := range c.pi {
					g := dout[(bb*c.p+p)*l+t]
					i, j := c.pi[p], c.pj[p]
					ui := c.unit[(bt*e+i)*f : (bt*e+i+1)*f]
					uj := c.unit[(bt*e+j)*f : (bt*e+j+1)*f]
					for k := 0; k < f; k++ {
						du[i*f+k] += g * uj[k]
						du[j*f+k] += g * ui[k]
					}
				}
				for i := 0; i < e; i++ {
					u := c.unit[(bt*e+i)*f : (bt*e+i+1)*f]
					n := c.norm[bt*e+i]
					var dot float32
					for k := 0; k < f; k++ {
						dot += u[k] * du[i*f+k]
					}
					// u = v/n, n = √(|v|²+ε): dv = du/n − v(v·du)/n³ = (du − u(u·du))/n.
					o := dx[((bb*e+i)*l+t)*f : ((bb*e+i)*l+t+1)*f]
					for k := 0; k < f; k++ {
						o[k] += (du[i*f+k] - u[k]*dot) / n
					}
				}
			}
		}
	})
}

// dynGraph builds, per step, the normalised adjacency of the top-k
// symmetrised graph with self-loops: Â = D^−½ (M∘W + I) D^−½.
type dynGraph struct {
	e, p, k int
	pi, pj  []int
	b, l    int
	mask    []bool    // (b·l, e, e)
	ahat    []float32 // (b·l, e, e)
	deg     []float32 // (b·l, e)
	dAhat   []float32 // (b·l, e, e), accumulated by the SSG layers
	// frozen keeps the last top-k selection (tests: finite differences
	// and the oracle need a fixed, piecewise-constant selection).
	frozen bool
}

// build reads the edge weights w (b, p, l).
func (g *dynGraph) build(w []float32, b, l int) {
	e := g.e
	keepMask := g.frozen && g.b == b && g.l == l && len(g.mask) == b*l*e*e
	g.b, g.l = b, l
	g.mask = growBool(g.mask, b*l*e*e)
	g.ahat = grow(g.ahat, b*l*e*e)
	g.deg = grow(g.deg, b*l*e)
	g.dAhat = grow(g.dAhat, b*l*e*e)
	clear(g.dAhat)
	parFor(b*l, func(lo, hi int) {
		wm := make([]float32, e*e)
		idx := make([]int, 0, e)
		for bt := lo; bt < hi; bt++ {
			bb, t := bt/l, bt%l
			clear(wm)
			for p := range g.pi {
				v := w[(bb*g.p+p)*l+t]
				wm[g.pi[p]*e+g.pj[p]] = v
				wm[g.pj[p]*e+g.pi[p]] = v
			}
			m := g.mask[bt*e*e : (bt+1)*e*e]
			if !keepMask {
				g.selectTopK(m, wm, idx)
			}
			a := g.ahat[bt*e*e : (bt+1)*e*e]
			d := g.deg[bt*e : (bt+1)*e]
			for i := 0; i < e; i++ {
				s := float32(1)
				for j := 0; j < e; j++ {
					if m[i*e+j] {
						s += wm[i*e+j]
					}
				}
				d[i] = s
			}
			for i := 0; i < e; i++ {
				for j := 0; j < e; j++ {
					v := float32(0)
					if i == j {
						v = 1
					} else if m[i*e+j] {
						v = wm[i*e+j]
					}
					a[i*e+j] = v / float32(math.Sqrt(float64(d[i])*float64(d[j])))
				}
			}
		}
	})
}

// backward turns the accumulated dÂ into the gradient of the edge weights
// dw (b, p, l), overwriting it.
func (g *dynGraph) backward(dw []float32) {
	b, l, e := g.b, g.l, g.e
	parFor(b*l, func(lo, hi int) {
		da := make([]float32, e*e)
		dd := make([]float32, e)
		for bt := lo; bt < hi; bt++ {
			bb, t := bt/l, bt%l
			ah := g.ahat[bt*e*e : (bt+1)*e*e]
			dah := g.dAhat[bt*e*e : (bt+1)*e*e]
			d := g.deg[bt*e : (bt+1)*e]
			m := g.mask[bt*e*e : (bt+1)*e*e]
			// Â_ij = A_ij s_i s_j with s = d^−½: dA_ij = dÂ_ij s_i s_j and
			// ds_i = Σ_j (dÂ_ij + dÂ_ji) Â_ij / s_i; dd_i = ds_i · (−½ d_i^−3/2).
			for i := 0; i < e; i++ {
				var ds float32
				si := 1 / float32(math.Sqrt(float64(d[i])))
				for j := 0; j < e; j++ {
					sj := 1 / float32(math.Sqrt(float64(d[j])))
					da[i*e+j] = dah[i*e+j] * si * sj
					ds += (dah[i*e+j] + dah[j*e+i]) * ah[i*e+j] / si
				}
				dd[i] = ds * -0.5 * si * si * si
			}
			for p := range g.pi {
				i, j := g.pi[p], g.pj[p]
				var v float32
				if m[i*e+j] {
					v = da[i*e+j] + dd[i] + da[j*e+i] + dd[j]
				}
				dw[(bb*g.p+p)*l+t] = v
			}
		}
	})
}

func growBool(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	return b[:n]
}

// ssgLayer is H' = LN(H + Lin(α H + (1−α)/K Σ_{k=1..K} Â^k H)).
type ssgLayer struct {
	lin, linB, lnG, lnB *Param
	alpha               float32
	K, e, f             int
	g                   *dynGraph
	in                  []float32
	z                   []float32 // (b·l, K+1, e, f)
	s, res, mean, rstd  []float32
	ds, dres            []float32
	sb                  slotBufs
}

func newSSG(ps *paramSet, prefix string, g *dynGraph, f, K int, alpha float64) *ssgLayer {
	bound := 1 / math.Sqrt(float64(f))
	return &ssgLayer{
		lin:   ps.uniform(prefix+".lin.weight", []int{f, f}, bound, true),
		linB:  ps.uniform(prefix+".lin.bias", []int{f}, bound, false),
		lnG:   ps.fill(prefix+".norm.weight", []int{f}, 1, false),
		lnB:   ps.fill(prefix+".norm.bias", []int{f}, 0, false),
		alpha: float32(alpha), K: K, e: g.e, f: f, g: g,
	}
}

// forward maps in (b·l, e, f) to out (same layout).
func (s *ssgLayer) forward(out, in []float32) {
	bl := s.g.b * s.g.l
	e, f, K := s.e, s.f, s.K
	s.in = in
	s.z = grow(s.z, bl*(K+1)*e*f)
	s.s = grow(s.s, bl*e*f)
	s.res = grow(s.res, bl*e*f)
	s.mean = grow(s.mean, bl*e)
	s.rstd = grow(s.rstd, bl*e)
	ef := e * f
	parFor(bl, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			z := s.z[bt*(K+1)*ef : (bt+1)*(K+1)*ef]
			copy(z[:ef], in[bt*ef:(bt+1)*ef])
			ah := s.g.ahat[bt*e*e : (bt+1)*e*e]
			for k := 1; k <= K; k++ {
				gemm(false, false, e, f, e, 1, ah, e, z[(k-1)*ef:], f, 0, z[k*ef:], f)
			}
			so := s.s[bt*ef : (bt+1)*ef]
			c := (1 - s.alpha) / float32(K)
			for i := 0; i < ef; i++ {
				var acc float32
				for k := 1; k <= K; k++ {
					acc += z[k*ef+i]
				}
				so[i] = s.alpha*z[i] + c*acc
			}
		}
	})
	linearFwd(s.res, s.s, s.lin.W, s.linB.W, bl*e, f, f)
	for i := range s.res {
		s.res[i] += in[i]
	}
	layerNormFwd(out, s.res, s.lnG.W, s.lnB.W, s.mean, s.rstd, bl*e, f)
}

// backward sets din and accumulates dÂ into the graph.
func (s *ssgLayer) backward(din, dout []float32) {
	bl := s.g.b * s.g.l
	e, f, K := s.e, s.f, s.K
	ef := e * f
	s.dres = grow(s.dres, bl*ef)
	s.ds = grow(s.ds, bl*ef)
	layerNormBwd(s.dres, dout, s.res, s.lnG.W, s.mean, s.rstd, s.lnG.G, s.lnB.G, bl*e, f, false, &s.sb)
	linearBwd(s.ds, s.dres, s.s, s.lin.W, s.lin.G, s.linB.G, bl*e, f, f, false)
	parFor(bl, func(lo, hi int) {
		dz := make([]float32, ef)
		tmp := make([]float32, ef)
		for bt := lo; bt < hi; bt++ {
			z := s.z[bt*(K+1)*ef : (bt+1)*(K+1)*ef]
			ah := s.g.ahat[bt*e*e : (bt+1)*e*e]
			dah := s.g.dAhat[bt*e*e : (bt+1)*e*e]
			ds := s.ds[bt*ef : (bt+1)*ef]
			c := (1 - s.alpha) / float32(K)
			for i := range dz {
				dz[i] = c * ds[i]
			}
			for k := K; k >= 1; k-- {
				// Z_k = Â Z_{k−1}: dÂ += dZ_k Z_{k−1}ᵀ, dZ_{k−1} = Âᵀ dZ_k.
				gemm(false, true, e, e, f, 1, dz, f, z[(k-1)*ef:], f, 1, dah, e)
				gemm(true, false, e, f, e, 1, ah, e, dz, f, 0, tmp, f)
				if k > 1 {
					for i := range tmp {
						tmp[i] += c * ds[i]
					}
				}
				dz, tmp = tmp, dz
			}
			o := din[bt*ef : (bt+1)*ef]
			r := s.dres[bt*ef : (bt+1)*ef]
			for i := range o {
				o[i] = dz[i] + s.alpha*ds[i] + r[i]
			}
		}
	})
}

// selectTopK sets m (e×e) to the symmetrised top-k selection of the weight
// matrix wm: m_ij when j is among i's k largest neighbours or i among j's
// (ties: the lower index first).
func (g *dynGraph) selectTopK(m []bool, wm []float32, idx []int) {
	e := g.e
	clear(m)
	for i := 0; i < e; i++ {
		idx = idx[:0]
		for j := 0; j < e; j++ {
			if j == i {
				continue
			}
			pos := len(idx)
			for pos > 0 && wm[i*e+idx[pos-1]] < wm[i*e+j] {
				pos--
			}
			if pos < g.k {
				idx = append(idx, 0)
				copy(idx[pos+1:], idx[pos:])
				idx[pos] = j
				if len(idx) > g.k {
					idx = idx[:g.k]
				}
			}
		}
		for _, j := range idx {
			m[i*e+j] = true
			m[j*e+i] = true
		}
	}
}
