package model

import (
	"math"
)

// convLayer is one temporal encoder layer: a dilated conv1d with same
// padding and weight norm (w = g·v/‖v‖ per output channel), ReLU, dropout.
type convLayer struct {
	v, g, bias        *Param
	cin, cout, k, dil int
	index             int
	dropout           float64
	w, norms          []float32 // effective weight (cout, cin·k), ‖v‖ per output
	act, out          []float32 // (b, cout, t): after ReLU, after dropout
	cols              [][]float32
	dwBufs, dpre      slotBufs
	b, t              int
	train             bool
	seed              uint64
}

func newConv(ps *paramSet, prefix string, cin, cout, k, dil, index int) *convLayer {
	c := &convLayer{cin: cin, cout: cout, k: k, dil: dil, index: index}
	c.v = ps.normal(prefix+".weight_v", []int{cout, cin, k}, heStd(cin*k), true)
	// g starts at ‖v‖ (torch's weight_norm), so w = v at initialisation.
	c.g = ps.add(prefix+".weight_g", []int{cout}, false)
	for o := 0; o < cout; o++ {
		c.g.W[o] = float32(l2(c.v.W[o*cin*k : (o+1)*cin*k]))
	}
	c.bias = ps.fill(prefix+".bias", []int{cout}, 0, false)
	return c
}

func l2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// im2col writes cols (cin·k, t) of one batch item x (cin, t).
func (c *convLayer) im2col(cols, x []float32, t int) {
	half := c.k / 2
	for ci := 0; ci < c.cin; ci++ {
		for kk := 0; kk < c.k; kk++ {
			off := (kk - half) * c.dil
			row := cols[(ci*c.k+kk)*t : (ci*c.k+kk+1)*t]
			src := x[ci*t : (ci+1)*t]
			for i := range row {
				j := i + off
				if j >= 0 && j < t {
					row[i] = src[j]
				} else {
					row[i] = 0
				}
			}
		}
	}
}

// forward maps x (b, cin, t) to the layer output (b, cout, t).
func (c *convLayer) forward(x []float32, b, t int, train bool, seed uint64) []float32 {
	c.b, c.t, c.train, c.seed = b, t, train, seed
	ck := c.cin * c.k
	c.w = grow(c.w, c.cout*ck)
	c.norms = grow(c.norms, c.cout)
	for o := 0; o < c.cout; o++ {
		vn := l2(c.v.W[o*ck : (o+1)*ck])
		c.norms[o] = float32(vn)
		s := float32(float64(c.g.W[o]) / vn)
		for i, v := range c.v.W[o*ck : (o+1)*ck] {
			c.w[o*ck+i] = s * v
		}
	}
	c.act = grow(c.act, b*c.cout*t)
	drop := train && c.dropout > 0
	if drop {
		c.out = grow(c.out, b*c.cout*t)
	} else {
		c.out = c.act
	}
	for len(c.cols) < nSlots(b) {
		c.cols = append(c.cols, nil)
	}
	scale := float32(1 / (1 - c.dropout))
	slotFor(b, func(slot, bi int) {
		cols := grow(c.cols[slot], ck*t)
		c.cols[slot] = cols
		c.im2col(cols, x[bi*c.cin*t:(bi+1)*c.cin*t], t)
		o := c.act[bi*c.cout*t : (bi+1)*c.cout*t]
		for oc := 0; oc < c.cout; oc++ {
			row := o[oc*t : (oc+1)*t]
			for i := range row {
				row[i] = c.bias.W[oc]
			}
		}
		gemm(false, false, c.cout, t, ck, 1, c.w, ck, cols, t, 1, o, t)
		for i, v := range o {
			if v < 0 {
				o[i] = 0
			}
		}
		if drop {
			d := c.out[bi*c.cout*t : (bi+1)*c.cout*t]
			base := bi * c.cout * t
			for i, v := range o {
				if keep(seed, c.index, base+i, c.dropout) {
					d[i] = v * scale
				} else {
					d[i] = 0
				}
			}
		}
	})
	return c.out
}

// backward turns dout (b, cout, t) into din (b, cin, t; skipped when nil)
// given the layer input x, and accumulates dv, dg, dbias. dout is
// overwritten.
func (c *convLayer) backward(din, dout, x []float32, b, t int) {
	ck := c.cin * c.k
	drop := c.train && c.dropout > 0
	scale := float32(1 / (1 - c.dropout))
	bufs := c.dwBufs.get(b, c.cout*ck+c.cout)
	slotFor(b, func(slot, bi int) {
		acc := bufs[slot]
		d := dout[bi*c.cout*t : (bi+1)*c.cout*t]
		a := c.act[bi*c.cout*t : (bi+1)*c.cout*t]
		base := bi * c.cout * t
		for i := range d {
			if a[i] <= 0 || (drop && !keep(c.seed, c.index, base+i, c.dropout)) {
				d[i] = 0
			} else if drop {
				d[i] *= scale
			}
		}
		for oc := 0; oc < c.cout; oc++ {
			var s float32
			for _, v := range d[oc*t : (oc+1)*t] {
				s += v
			}
			acc[c.cout*ck+oc] += s
		}
		cols := c.cols[slot]
		c.im2col(cols, x[bi*c.cin*t:(bi+1)*c.cin*t], t)
		gemm(false, true, c.cout, ck, t, 1, d, t, cols, t, 1, acc, ck)
		if din == nil {
			return
		}
		// dcols = wᵀ·d, then col2im.
		gemm(true, false, ck, t, c.cout, 1, c.w, ck, d, t, 0, cols, t)
		dx := din[bi*c.cin*t : (bi+1)*c.cin*t]
		clear(dx)
		half := c.k / 2
		for ci := 0; ci < c.cin; ci++ {
			dst := dx[ci*t : (ci+1)*t]
			for kk := 0; kk < c.k; kk++ {
				off := (kk - half) * c.dil
				row := cols[(ci*c.k+kk)*t : (ci*c.k+kk+1)*t]
				lo, hi := max(0, -off), min(t, t-off)
				for i := lo; i < hi; i++ {
					dst[i+off] += row[i]
				}
			}
		}
	})
	// reduce dw and map it through the weight norm.
	dw := make([]float32, c.cout*ck)
	for _, bb := range bufs {
		add(dw, bb[:c.cout*ck])
		add(c.bias.G, bb[c.cout*ck:])
	}
	for o := 0; o < c.cout; o++ {
		v := c.v.W[o*ck : (o+1)*ck]
		dwo := dw[o*ck : (o+1)*ck]
		n := float64(c.norms[o])
		var dot float64
		for i := range v {
			dot += float64(dwo[i]) * float64(v[i])
		}
		c.g.G[o] += float32(dot / n)
		gn := float64(c.g.W[o]) / n
		k2 := gn * dot / (n * n)
		for i := range v {
			c.v.G[o*ck+i] += float32(gn*float64(dwo[i]) - k2*float64(v[i]))
		}
	}
}
