package kernels

import "math"

type convArgs struct {
	s                         ConvShape
	x, w, bias, y, gy, gx, gw []float32
	gb                        []float32
}

// tRange returns the output times t in [lo, hi) whose input index
// t·stride + off lies in [0, lin).
func tRange(lout, lin, stride, off int) (lo, hi int) {
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = lout
	if m := lin - off; m <= 0 {
		hi = 0
	} else if h := (m + stride - 1) / stride; h < hi {
		hi = h
	}
	lo = min(lo, lout)
	return lo, max(lo, hi)
}

// ConvFwd implements Conv.
func (c *CPU) ConvFwd(s ConvShape, x, w, bias, y Buffer) error {
	if err := s.Check(); err != nil {
		return err
	}
	var a args
	k := &c.tasks.conv
	*k = convArgs{s: s, x: a.need("conv x", x, s.Batch*s.Cin*s.Lin), w: a.need("conv w", w, s.Cout*s.Cin*s.K),
		bias: a.opt("conv bias", bias, s.Cout), y: a.need("conv y", y, s.Batch*s.Cout*s.Lout)}
	if a.err != nil {
		*k = convArgs{}
		return a.err
	}
	c.do(s.Batch*s.Cout, convFwdItem)
	*k = convArgs{}
	return nil
}

func convFwdItem(c *CPU, _, item int) {
	k := &c.tasks.conv
	s := k.s
	b, o := item/s.Cout, item%s.Cout
	y := k.y[(b*s.Cout+o)*s.Lout : (b*s.Cout+o+1)*s.Lout]
	bv := float32(0)
	if k.bias != nil {
		bv = k.bias[o]
	}
	for t := range y {
		y[t] = bv
	}
	for ci := 0; ci < s.Cin; ci++ {
		x := k.x[(b*s.Cin+ci)*s.Lin : (b*s.Cin+ci+1)*s.Lin]
		ws := k.w[(o*s.Cin+ci)*s.K : (o*s.Cin+ci+1)*s.K]
		for kk, wv := range ws {
			off := kk*s.Dil - s.Pad
			lo, hi := tRange(s.Lout, s.Lin, s.Stride, off)
			if lo >= hi {
				continue
			}
			if s.Stride == 1 {
				xs := x[lo+off : hi+off]
				ys := y[lo:hi]
				for t, xv := range xs[:len(ys)] {
					ys[t] += wv * xv
				}
				continue
			}
			for t := lo; t < hi; t++ {
				y[t] += wv * x[t*s.Stride+off]
			}
		}
	}
}

// ConvBwd implements Conv.
func (c *CPU) ConvBwd(s ConvShape, x, w, gy, gx, gw, gbias Buffer) error {
	if err := s.Check(); err != nil {
		return err
	}
	var a args
	k := &c.tasks.conv
	*k = convArgs{s: s, x: a.need("conv x", x, s.Batch*s.Cin*s.Lin), w: a.need("conv w", w, s.Cout*s.Cin*s.K),
		gy: a.need("conv gy", gy, s.Batch*s.Cout*s.Lout), gx: a.opt("conv gx", gx, s.Batch*s.Cin*s.Lin),
		gw: a.opt("conv gw", gw, s.Cout*s.Cin*s.K), gb: a.opt("conv gbias", gbias, s.Cout)}
	if a.err != nil {
		*k = convArgs{}
		return a.err
	}
	if k.gx != nil {
		c.do(s.Batch*s.Cin, convBwdXItem)
	}
	if k.gw != nil || k.gb != nil {
		c.do(s.Cout, convBwdWItem)
	}
	*k = convArgs{}
	return nil
}

func convBwdXItem(c *CPU, _, item int) {
	k := &c.tasks.conv
	s := k.s
	b, ci := item/s.Cin, item%s.Cin
	gx := k.gx[(b*s.Cin+ci)*s.Lin : (b*s.Cin+ci+1)*s.Lin]
	clear(gx)
	for o := 0; o < s.Cout; o++ {
		gy := k.gy[(b*s.Cout+o)*s.Lout : (b*s.Cout+o+1)*s.Lout]
		ws := k.w[(o*s.Cin+ci)*s.K : (o*s.Cin+ci+1)*s.K]
		for kk, wv := range ws {
			off := kk*s.Dil - s.Pad
			lo, hi := tRange(s.Lout, s.Lin, s.Stride, off)
			for t := lo; t < hi; t++ {
				gx[t*s.Stride+off] += wv * gy[t]
			}
		}
	}
}

func convBwdWItem(c *CPU, _, o int) {
	k := &c.tasks.conv
	s := k.s
	var gb float64
	for ci := 0; ci < s.Cin; ci++ {
		for kk := 0; kk < s.K; kk++ {
			off := kk*s.Dil - s.Pad
			lo, hi := tRange(s.Lout, s.Lin, s.Stride, off)
			var acc float64
			for b := 0; b < s.Batch; b++ {
				gy := k.gy[(b*s.Cout+o)*s.Lout : (b*s.Cout+o+1)*s.Lout]
				x := k.x[(b*s.Cin+ci)*s.Lin : (b*s.Cin+ci+1)*s.Lin]
				var a32 float32
				for t := lo; t < hi; t++ {
					a32 += gy[t] * x[t*s.Stride+off]
				}
				acc += float64(a32)
			}
			if k.gw != nil {
				k.gw[(o*s.Cin+ci)*s.K+kk] = float32(acc)
			}
		}
	}
	if k.gb != nil {
		for b := 0; b < s.Batch; b++ {
			for _, v := range k.gy[(b*s.Cout+o)*s.Lout : (b*s.Cout+o+1)*s.Lout] {
				gb += float64(v)
			}
		}
		k.gb[o] = float32(gb)
	}
}

type dwArgs struct {
	s                                   DWShape
	x, w, bias, y, gy, gx, gw, gb, part []float32
	silu                                bool
}

// DWConvFwd implements Conv.
func (c *CPU) DWConvFwd(s DWShape, x, w, bias, y Buffer, silu bool) error {
	if err := s.Check(); err != nil {
		return err
	}
	n := s.Batch * s.L * s.C
	var a args
	k := &c.tasks.dw
	*k = dwArgs{s: s, x: a.need("dwconv x", x, n), w: a.need("dwconv w", w, s.C*s.W), bias: a.opt("dwconv bias", bias, s.C),
		y: a.need("dwconv y", y, n), silu: silu}
	if a.err != nil {
		*k = dwArgs{}
		return a.err
	}
	c.do(s.Batch*((s.L+63)/64), dwFwdItem)
	*k = dwArgs{}
	return nil
}

// pre computes the pre-activation of row (b, t) into dst (C values).
func (k *dwArgs) pre(dst []float32, b, t int) {
	s := k.s
	if k.bias != nil {
		copy(dst, k.bias)
	} else {
		clear(dst)
	}
	for kk := 0; kk < s.W; kk++ {
		ti := t - (s.W - 1) + kk
		if ti < 0 {
			continue
		}
		xr := k.x[(b*s.L+ti)*s.C : (b*s.L+ti+1)*s.C]
		for ch := range dst {
			dst[ch] += k.w[ch*s.W+kk] * xr[ch]
		}
	}
}

func dwFwdItem(c *CPU, _, item int) {
	k := &c.tasks.dw
	s := k.s
	nb := (s.L + 63) / 64
	b, tb := item/nb, item%nb
	for t := tb * 64; t < min(s.L, (tb+1)*64); t++ {
		y := k.y[(b*s.L+t)*s.C : (b*s.L+t+1)*s.C]
		k.pre(y, b, t)
		if k.silu {
			for ch, v := range y {
				y[ch] = silu(v)
			}
		}
	}
}

// DWConvBwd implements Conv.
func (c *CPU) DWConvBwd(s DWShape, x, w, bias, gy, gx, gw, gbias Buffer, silu bool) error {
	if err := s.Check(); err != nil {
		return err
	}
	n := s.Batch * s.L * s.C
	var a args
	k := &c.tasks.dw
	*k = dwArgs{s: s, x: a.need("dwconv x", x, n), w: a.need("dwconv w", w, s.C*s.W), bias: a.opt("dwconv bias", bias, s.C),
		gy: a.need("dwconv gy", gy, n), gx: a.need("dwconv gx", gx, n), gw: a.need("dwconv gw", gw, s.C*s.W),
		gb: a.opt("dwconv gbias", gbias, s.C), silu: silu}
	if a.err != nil {
		*k = dwArgs{}
		return a.err
	}
	ns := nSlots(s.Batch)
	sz := s.C*s.W + s.C
	k.part = c.growShared(ns * sz)
	c.do(ns, dwBwdItem)
	reduceSlot(k.part, ns, sz, 0, k.gw)
	reduceSlot(k.part, ns, sz, s.C*s.W, k.gb)
	*k = dwArgs{}
	return nil
}

// dwBwdItem handles the batches of one slot: gpre = gy·act'(pre) row by
// row into a window of W rows, then gx (overwritten) and the slot's
// partial gw, gbias.
func dwBwdItem(c *CPU, w, slot int) {
	k := &c.tasks.dw
	s := k.s
	sz := s.C*s.W + s.C
	p := k.part[slot*sz : (slot+1)*sz]
	gw, gb := p[:s.C*s.W], p[s.C*s.W:]
	gp := c.work(w, s.L*s.C)
	lo, hi := slotRange(slot, s.Batch)
	for b := lo; b < hi; b++ {
		for t := 0; t < s.L; t++ {
			g := gp[t*s.C : (t+1)*s.C]
			gy := k.gy[(b*s.L+t)*s.C : (b*s.L+t+1)*s.C]
			if k.silu {
				k.pre(g, b, t)
				for ch, v := range g {
					sg := sigmoid(v)
					g[ch] = gy[ch] * sg * (1 + v*(1-sg))
				}
			} else {
				copy(g, gy)
			}
			for ch, v := range g {
				gb[ch] += v
			}
			for kk := 0; kk < s.W; kk++ {
				ti := t - (s.W - 1) + kk
				if ti < 0 {
					continue
				}
				xr := k.x[(b*s.L+ti)*s.C : (b*s.L+ti+1)*s.C]
				for ch, v := range g {
					gw[ch*s.W+kk] += v * xr[ch]
				}
			}
		}
		for t := 0; t < s.L; t++ {
			gx := k.gx[(b*s.L+t)*s.C : (b*s.L+t+1)*s.C]
			clear(gx)
			for kk := 0; kk < s.W; kk++ {
				to := t + (s.W - 1) - kk
				if to >= s.L {
					continue
				}
				g := gp[to*s.C : (to+1)*s.C]
				for ch, v := range g {
					gx[ch] += k.w[ch*s.W+kk] * v
				}
			}
		}
	}
}

type wnArgs struct {
	v, g, w, norm, gw, gv, gg []float32
	rows, cols                int
}

// WeightNormFwd implements Conv.
func (c *CPU) WeightNormFwd(v, g, w, norm Buffer, rows, cols int) error {
	if rows < 1 || cols < 1 {
		return errorf("weight norm: rows %d, cols %d", rows, cols)
	}
	var a args
	k := &c.tasks.wn
	*k = wnArgs{v: a.need("weight norm v", v, rows*cols), g: a.need("weight norm g", g, rows), w: a.need("weight norm w", w, rows*cols),
		norm: a.need("weight norm norm", norm, rows), rows: rows, cols: cols}
	if a.err != nil {
		*k = wnArgs{}
		return a.err
	}
	c.do(rows, func(c *CPU, _, r int) {
		k := &c.tasks.wn
		v := k.v[r*k.cols : (r+1)*k.cols]
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		n := math.Sqrt(ss)
		k.norm[r] = float32(n)
		sc := float32(float64(k.g[r]) / n)
		for i, x := range v {
			k.w[r*k.cols+i] = sc * x
		}
	})
	*k = wnArgs{}
	return nil
}

// WeightNormBwd implements Conv.
func (c *CPU) WeightNormBwd(v, g, norm, gw, gv, gg Buffer, rows, cols int) error {
	if rows < 1 || cols < 1 {
		return errorf("weight norm: rows %d, cols %d", rows, cols)
	}
	var a args
	k := &c.tasks.wn
	*k = wnArgs{v: a.need("weight norm v", v, rows*cols), g: a.need("weight norm g", g, rows), norm: a.need("weight norm norm", norm, rows),
		gw: a.need("weight norm gw", gw, rows*cols), gv: a.need("weight norm gv", gv, rows*cols), gg: a.need("weight norm gg", gg, rows),
		rows: rows, cols: cols}
	if a.err != nil {
		*k = wnArgs{}
		return a.err
	}
	c.do(rows, func(c *CPU, _, r int) {
		k := &c.tasks.wn
		v := k.v[r*k.cols : (r+1)*k.cols]
		gw := k.gw[r*k.cols : (r+1)*k.cols]
		n := float64(k.norm[r])
		var d float64
		for i, x := range v {
			d += float64(gw[i]) * float64(x)
		}
		k.gg[r] = float32(d / n)
		sc := float64(k.g[r]) / n
		q := d / (n * n)
		for i, x := range v {
			k.gv[r*k.cols+i] = float32(sc * (float64(gw[i]) - q*float64(x)))
		}
	})
	*k = wnArgs{}
	return nil
}
