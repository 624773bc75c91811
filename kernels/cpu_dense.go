package kernels

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// smallDim is the largest inner or output size that LinearFwd/Bwd handle
// with direct loops (gonum's Sgemm has a per-row overhead that dominates
// for the edge stream's 4-wide layers).
const smallDim = 16

type linArgs struct {
	x, W, bias, y, gy, gx, gW, gb, part []float32
	rows, in, out                       int
}

// Gemm implements Dense.
func (c *CPU) Gemm(transA, transB bool, m, n, k int, alpha float32, A Buffer, lda, sA int,
	B Buffer, ldb, sB int, beta float32, C Buffer, ldc, sC int, batch int) error {
	if m < 1 || n < 1 || k < 1 || batch < 1 {
		return errorf("gemm %dx%dx%d batch %d: sizes must be >= 1", m, n, k, batch)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	var bufs [3][]float32
	for i, a := range []struct {
		name                 string
		b                    Buffer
		rows, cols, ld, strd int
	}{{"A", A, ar, ac, lda, sA}, {"B", B, br, bc, ldb, sB}, {"C", C, m, n, ldc, sC}} {
		h, err := host("gemm "+a.name, a.b, -1, true)
		if err != nil {
			return err
		}
		if a.ld < a.cols {
			return errorf("gemm: leading dimension of %s %d < %d columns", a.name, a.ld, a.cols)
		}
		last := (batch-1)*a.strd + (a.rows-1)*a.ld + a.cols
		if a.strd < 0 || last > len(h) {
			return errorf("gemm: %s needs %d values, buffer has %d", a.name, last, len(h))
		}
		bufs[i] = h
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	for z := 0; z < batch; z++ {
		gonum.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, bufs[0][z*sA:], lda, bufs[1][z*sB:], ldb, beta, bufs[2][z*sC:], ldc)
	}
	return nil
}

// LinearFwd implements Dense.
func (c *CPU) LinearFwd(x, W, bias, y Buffer, rows, in, out int) error {
	if err := fits("linear", rows, max(in, out)); err != nil || rows < 1 || in < 1 || out < 1 {
		return errorf("linear: rows %d, in %d, out %d: sizes must be >= 1 (%v)", rows, in, out, err)
	}
	var a args
	l := &c.tasks.lin
	*l = linArgs{x: a.need("linear x", x, rows*in), W: a.need("linear W", W, out*in), bias: a.opt("linear bias", bias, out),
		y: a.need("linear y", y, rows*out), rows: rows, in: in, out: out}
	if a.err != nil {
		return a.err
	}
	defer func() { *l = linArgs{} }()
	if in <= smallDim || out <= smallDim {
		c.do((rows+63)/64, linFwdSmall)
		return nil
	}
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.Trans, rows, out, in, 1, l.x, in, l.W, in, 0, l.y, out)
	if l.bias != nil {
		c.do((rows+255)/256, linBias)
	}
	return nil
}

func linFwdSmall(c *CPU, _, blk int) {
	l := &c.tasks.lin
	for r := blk * 64; r < min(l.rows, (blk+1)*64); r++ {
		xr := l.x[r*l.in : (r+1)*l.in]
		yr := l.y[r*l.out : (r+1)*l.out]
		for o := range yr {
			wr := l.W[o*l.in : (o+1)*l.in]
			var s float32
			if l.bias != nil {
				s = l.bias[o]
			}
			for i, xv := range xr {
				s += xv * wr[i]
			}
			yr[o] = s
		}
	}
}

func linBias(c *CPU, _, blk int) {
	l := &c.tasks.lin
	for r := blk * 256; r < min(l.rows, (blk+1)*256); r++ {
		yr := l.y[r*l.out : (r+1)*l.out]
		for o, b := range l.bias[:len(yr)] {
			yr[o] += b
		}
	}
}

// LinearBwd implements Dense.
func (c *CPU) LinearBwd(x, W, gy, gx, gW, gbias Buffer, rows, in, out int) error {
	if err := fits("linear", rows, max(in, out)); err != nil || rows < 1 || in < 1 || out < 1 {
		return errorf("linear: rows %d, in %d, out %d: sizes must be >= 1 (%v)", rows, in, out, err)
	}
	var a args
	l := &c.tasks.lin
	*l = linArgs{x: a.need("linear x", x, rows*in), W: a.need("linear W", W, out*in), gy: a.need("linear gy", gy, rows*out),
		gx: a.opt("linear gx", gx, rows*in), gW: a.opt("linear gW", gW, out*in), gb: a.opt("linear gbias", gbias, out),
		rows: rows, in: in, out: out}
	if a.err != nil {
		return a.err
	}
	defer func() { *l = linArgs{} }()
	small := in <= smallDim || out <= smallDim
	if l.gx != nil {
		if small {
			c.do((rows+63)/64, linBwdXSmall)
		} else {
			gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, rows, in, out, 1, l.gy, out, l.W, in, 0, l.gx, in)
		}
	}
	if l.gW != nil || l.gb != nil {
		if small || l.gW == nil {
			ns := nSlots(rows)
			l.part = c.growShared(ns * (out*in + out))
			c.do(ns, linBwdWSmall)
			if l.gW != nil {
				clear(l.gW)
			}
			if l.gb != nil {
				clear(l.gb)
			}
			for s := 0; s < ns; s++ {
				p := l.part[s*(out*in+out) : (s+1)*(out*in+out)]
				if l.gW != nil {
					for i, v := range p[:out*in] {
						l.gW[i] += v
					}
				}
				if l.gb != nil {
					for i, v := range p[out*in:] {
						l.gb[i] += v
					}
				}
			}
		} else {
			gonum.Implementation{}.Sgemm(blas.Trans, blas.NoTrans, out, in, rows, 1, l.gy, out, l.x, in, 0, l.gW, in)
			if l.gb != nil {
				return c.SumCols(gy, gbias, rows, out)
			}
		}
	}
	return nil
}

func linBwdXSmall(c *CPU, _, blk int) {
	l := &c.tasks.lin
	for r := blk * 64; r < min(l.rows, (blk+1)*64); r++ {
		gxr := l.gx[r*l.in : (r+1)*l.in]
		gyr := l.gy[r*l.out : (r+1)*l.out]
		clear(gxr)
		for o, g := range gyr {
			wr := l.W[o*l.in : (o+1)*l.in]
			for i := range gxr {
				gxr[i] += g * wr[i]
			}
		}
	}
}

func linBwdWSmall(c *CPU, _, s int) {
	l := &c.tasks.lin
	sz := l.out*l.in + l.out
	p := l.part[s*sz : (s+1)*sz]
	gw, gb := p[:l.out*l.in], p[l.out*l.in:]
	lo, hi := slotRange(s, l.rows)
	for r := lo; r < hi; r++ {
		xr := l.x[r*l.in : (r+1)*l.in]
		gyr := l.gy[r*l.out : (r+1)*l.out]
		for o, g := range gyr {
			gb[o] += g
			if l.gW != nil {
				row := gw[o*l.in : (o+1)*l.in]
				for i, xv := range xr[:len(row)] {
					row[i] += g * xv
				}
			}
		}
	}
}

// SumCols implements Dense.
func (c *CPU) SumCols(g, out Buffer, rows, cols int) error {
	if rows < 1 || cols < 1 {
		return errorf("sum cols: rows %d, cols %d", rows, cols)
	}
	var a args
	l := &c.tasks.lin
	*l = linArgs{gy: a.need("sum cols g", g, rows*cols), gb: a.need("sum cols out", out, cols), rows: rows, out: cols}
	if a.err != nil {
		return a.err
	}
	c.do((cols+15)/16, sumColsItem)
	*l = linArgs{}
	return nil
}

func sumColsItem(c *CPU, _, blk int) {
	l := &c.tasks.lin
	lo, hi := blk*16, min(l.out, (blk+1)*16)
	var acc [16]float64
	for r := 0; r < l.rows; r++ {
		row := l.gy[r*l.out+lo : r*l.out+hi]
		for j, v := range row {
			acc[j] += float64(v)
		}
	}
	for j := lo; j < hi; j++ {
		l.gb[j] = float32(acc[j-lo])
	}
}
