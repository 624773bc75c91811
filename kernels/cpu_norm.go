package kernels

import "math"

type lnArgs struct {
	x, w, b, y, mean, rstd, gy, gx, gw, gb, part []float32
	rows, D                                      int
	eps                                          float32
}

// LayerNormFwd implements Norm.
func (c *CPU) LayerNormFwd(x, w, b, y, mean, rstd Buffer, rows, D int, eps float32) error {
	if rows < 1 || D < 1 {
		return errorf("layernorm: rows %d, D %d", rows, D)
	}
	var a args
	l := &c.tasks.ln
	*l = lnArgs{x: a.need("layernorm x", x, rows*D), w: a.opt("layernorm w", w, D), b: a.opt("layernorm b", b, D),
		y: a.need("layernorm y", y, rows*D), mean: a.need("layernorm mean", mean, rows), rstd: a.need("layernorm rstd", rstd, rows),
		rows: rows, D: D, eps: eps}
	if a.err != nil {
		return a.err
	}
	c.do((rows+31)/32, lnFwdItem)
	*l = lnArgs{}
	return nil
}

func lnFwdItem(c *CPU, _, blk int) {
	l := &c.tasks.ln
	D := l.D
	for r := blk * 32; r < min(l.rows, (blk+1)*32); r++ {
		row := l.x[r*D : (r+1)*D]
		var m float64
		for _, v := range row {
			m += float64(v)
		}
		m /= float64(D)
		var va float64
		for _, v := range row {
			d := float64(v) - m
			va += d * d
		}
		rs := 1 / math.Sqrt(va/float64(D)+float64(l.eps))
		l.mean[r], l.rstd[r] = float32(m), float32(rs)
		mf, rf := float32(m), float32(rs)
		o := l.y[r*D : (r+1)*D]
		for i, v := range row {
			h := (v - mf) * rf
			if l.w != nil {
				h *= l.w[i]
			}
			if l.b != nil {
				h += l.b[i]
			}
			o[i] = h
		}
	}
}

// LayerNormBwd implements Norm.
func (c *CPU) LayerNormBwd(x, w, gy, mean, rstd, gx, gw, gb Buffer, rows, D int) error {
	if rows < 1 || D < 1 {
		return errorf("layernorm: rows %d, D %d", rows, D)
	}
	var a args
	l := &c.tasks.ln
	*l = lnArgs{x: a.need("layernorm x", x, rows*D), w: a.opt("layernorm w", w, D), gy: a.need("layernorm gy", gy, rows*D),
		mean: a.need("layernorm mean", mean, rows), rstd: a.need("layernorm rstd", rstd, rows), gx: a.need("layernorm gx", gx, rows*D),
		gw: a.opt("layernorm gw", gw, D), gb: a.opt("layernorm gb", gb, D), rows: rows, D: D}
	if a.err != nil {
		return a.err
	}
	ns := nSlots(rows)
	l.part = c.growShared(ns * 2 * D)
	c.do(ns, lnBwdItem)
	reduceSlot(l.part, ns, 2*D, 0, l.gw)
	reduceSlot(l.part, ns, 2*D, D, l.gb)
	*l = lnArgs{}
	return nil
}

// reduceSlot overwrites out with the sum, in slot order, of the ns
// partials part[s·stride+off : s·stride+off+len(out)] (out nil: nothing).
func reduceSlot(part []float32, ns, stride, off int, out []float32) {
	if out == nil {
		return
	}
	clear(out)
	for s := 0; s < ns; s++ {
		for i, v := range part[s*stride+off : s*stride+off+len(out)] {
			out[i] += v
		}
	}
}

func lnBwdItem(c *CPU, _, s int) {
	l := &c.tasks.ln
	D := l.D
	p := l.part[s*2*D : (s+1)*2*D]
	lo, hi := slotRange(s, l.rows)
	for r := lo; r < hi; r++ {
		row := l.x[r*D : (r+1)*D]
		g := l.gy[r*D : (r+1)*D]
		m, rs := l.mean[r], l.rstd[r]
		var s1, s2 float64
		for i, v := range row {
			xh := (v - m) * rs
			gi := g[i]
			p[i] += gi * xh
			p[D+i] += gi
			if l.w != nil {
				gi *= l.w[i]
			}
			s1 += float64(gi)
			s2 += float64(gi * xh)
		}
		m1, m2 := float32(s1/float64(D)), float32(s2/float64(D))
		o := l.gx[r*D : (r+1)*D]
		for i, v := range row {
			xh := (v - m) * rs
			gi := g[i]
			if l.w != nil {
				gi *= l.w[i]
			}
			o[i] = rs * (gi - m1 - xh*m2)
		}
	}
}

type rmsArgs struct {
	y, z, w, out, rstd, gout, gy, gz, gw, part []float32
	rows, D, gs                                int
	eps                                        float32
}

func checkRMS(rows, D, gs int) error {
	if rows < 1 || D < 1 || gs < 1 || D%gs != 0 {
		return errorf("gated rmsnorm: rows %d, D %d, group size %d (must divide D)", rows, D, gs)
	}
	return nil
}

// RMSNormGatedFwd implements Norm.
func (c *CPU) RMSNormGatedFwd(y, z, w, out, rstd Buffer, rows, D, gs int, eps float32) error {
	if err := checkRMS(rows, D, gs); err != nil {
		return err
	}
	var a args
	l := &c.tasks.rms
	*l = rmsArgs{y: a.need("rmsnorm y", y, rows*D), z: a.opt("rmsnorm z", z, rows*D), w: a.opt("rmsnorm w", w, D),
		out: a.need("rmsnorm out", out, rows*D), rstd: a.need("rmsnorm rstd", rstd, rows*(D/gs)), rows: rows, D: D, gs: gs, eps: eps}
	if a.err != nil {
		return a.err
	}
	c.do((rows+31)/32, rmsFwdItem)
	*l = rmsArgs{}
	return nil
}

func silu(z float32) float32 { return z / (1 + expf(-z)) }

func rmsFwdItem(c *CPU, _, blk int) {
	l := &c.tasks.rms
	for r := blk * 32; r < min(l.rows, (blk+1)*32); r++ {
		for sg := 0; sg < l.D/l.gs; sg++ {
			off := r*l.D + sg*l.gs
			var ss float64
			for i := 0; i < l.gs; i++ {
				v := l.y[off+i]
				if l.z != nil {
					v *= silu(l.z[off+i])
				}
				l.out[off+i] = v
				ss += float64(v) * float64(v)
			}
			rs := float32(1 / math.Sqrt(ss/float64(l.gs)+float64(l.eps)))
			l.rstd[r*(l.D/l.gs)+sg] = rs
			for i := 0; i < l.gs; i++ {
				v := l.out[off+i] * rs
				if l.w != nil {
					v *= l.w[sg*l.gs+i]
				}
				l.out[off+i] = v
			}
		}
	}
}

// RMSNormGatedBwd implements Norm.
func (c *CPU) RMSNormGatedBwd(y, z, w, gout, rstd, gy, gz, gw Buffer, rows, D, gs int) error {
	if err := checkRMS(rows, D, gs); err != nil {
		return err
	}
	var a args
	l := &c.tasks.rms
	*l = rmsArgs{y: a.need("rmsnorm y", y, rows*D), z: a.opt("rmsnorm z", z, rows*D), w: a.opt("rmsnorm w", w, D),
		gout: a.need("rmsnorm gout", gout, rows*D), rstd: a.need("rmsnorm rstd", rstd, rows*(D/gs)),
		gy: a.need("rmsnorm gy", gy, rows*D), gz: a.opt("rmsnorm gz", gz, rows*D), gw: a.opt("rmsnorm gw", gw, D), rows: rows, D: D, gs: gs}
	if a.err != nil {
		return a.err
	}
	if (l.z == nil) != (l.gz == nil) {
		*l = rmsArgs{}
		return errorf("gated rmsnorm: z and gz must both be given or both absent")
	}
	ns := nSlots(rows)
	l.part = c.growShared(ns * D)
	c.do(ns, rmsBwdItem)
	reduceSlot(l.part, ns, D, 0, l.gw)
	*l = rmsArgs{}
	return nil
}

func rmsBwdItem(c *CPU, _, s int) {
	l := &c.tasks.rms
	p := l.part[s*l.D : (s+1)*l.D]
	lo, hi := slotRange(s, l.rows)
	for r := lo; r < hi; r++ {
		for sg := 0; sg < l.D/l.gs; sg++ {
			off := r*l.D + sg*l.gs
			rs := l.rstd[r*(l.D/l.gs)+sg]
			// v = y·silu(z); out = w·v·rs; gv = w·g·rs − v·rs³/gs·Σ w·g·v.
			var dotv float64
			for i := 0; i < l.gs; i++ {
				v := l.y[off+i]
				if l.z != nil {
					v *= silu(l.z[off+i])
				}
				gw := l.gout[off+i]
				p[sg*l.gs+i] += gw * v * rs
				if l.w != nil {
					gw *= l.w[sg*l.gs+i]
				}
				dotv += float64(gw * v)
			}
			k := float32(dotv) * rs * rs * rs / float32(l.gs)
			for i := 0; i < l.gs; i++ {
				zv := float32(0)
				sz := float32(1)
				if l.z != nil {
					zv = l.z[off+i]
					sz = silu(zv)
				}
				v := l.y[off+i] * sz
				gw := l.gout[off+i]
				if l.w != nil {
					gw *= l.w[sg*l.gs+i]
				}
				gv := gw*rs - v*k
				l.gy[off+i] = gv * sz
				if l.z != nil {
					sg := 1 / (1 + expf(-zv))
					l.gz[off+i] = gv * l.y[off+i] * sg * (1 + zv*(1-sg))
				}
			}
		}
	}
}
