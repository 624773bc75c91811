package kernels

import "math"

// elemBlock is the number of elements one work item of an elementwise op
// handles.
const elemBlock = 8192

type elArgs struct {
	x, y, z, gy, gx, bias, w, loss, grad, part []float32
	n, C                                       int
	act                                        Activation
	a, b                                       float32
	cfg                                        BCEFocal
	seed, stream, thresh                       uint64
}

func (c *CPU) elems(n int, f func(c *CPU, w, i int)) {
	c.do((n+elemBlock-1)/elemBlock, f)
	c.tasks.el = elArgs{}
}

func blk(i, n int) (int, int) { return i * elemBlock, min(n, (i+1)*elemBlock) }

func sigmoid(x float32) float32 { return 1 / (1 + expf(-x)) }

func softplus(x float32) float32 {
	if x > 20 {
		return x
	}
	return float32(math.Log1p(float64(expf(x))))
}

func actFwd(act Activation, v float32) float32 {
	switch act {
	case SiLU:
		return v * sigmoid(v)
	case Softplus:
		return softplus(v)
	case Sigmoid:
		return sigmoid(v)
	default:
		return max(v, 0)
	}
}

func actBwd(act Activation, v float32) float32 {
	switch act {
	case SiLU:
		s := sigmoid(v)
		return s * (1 + v*(1-s))
	case Softplus:
		if v > 20 {
			return 1
		}
		return sigmoid(v)
	case Sigmoid:
		s := sigmoid(v)
		return s * (1 - s)
	default:
		if v > 0 {
			return 1
		}
		return 0
	}
}

func checkAct(act Activation) error {
	if act < SiLU || act > ReLU {
		return errorf("unknown %v", act)
	}
	return nil
}

// Unary implements Elementwise.
func (c *CPU) Unary(act Activation, x, y Buffer) error {
	var a args
	a.check(checkAct(act))
	e := &c.tasks.el
	e.x = a.need("unary x", x, -1)
	e.y = a.need("unary y", y, len(e.x))
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.act, e.n = act, len(e.x)
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			e.y[j] = actFwd(e.act, e.x[j])
		}
	})
	return nil
}

// UnaryBwd implements Elementwise.
func (c *CPU) UnaryBwd(act Activation, x, gy, gx Buffer) error {
	var a args
	a.check(checkAct(act))
	e := &c.tasks.el
	e.x = a.need("unary x", x, -1)
	e.gy = a.need("unary gy", gy, len(e.x))
	e.gx = a.need("unary gx", gx, len(e.x))
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.act, e.n = act, len(e.x)
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			e.gx[j] = e.gy[j] * actBwd(e.act, e.x[j])
		}
	})
	return nil
}

// BiasSoftplusFwd implements Elementwise.
func (c *CPU) BiasSoftplusFwd(x, bias, y Buffer, C int) error {
	var a args
	e := &c.tasks.el
	e.x = a.need("bias softplus x", x, -1)
	if C < 1 || len(e.x)%C != 0 {
		a.check(errorf("bias softplus: %d values are not rows of %d channels", len(e.x), C))
	}
	e.bias = a.opt("bias softplus bias", bias, C)
	e.y = a.need("bias softplus y", y, len(e.x))
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.n, e.C = len(e.x), C
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			v := e.x[j]
			if e.bias != nil {
				v += e.bias[j%e.C]
			}
			e.y[j] = softplus(v)
		}
	})
	return nil
}

// BiasSoftplusBwd implements Elementwise.
func (c *CPU) BiasSoftplusBwd(x, bias, gy, gx, gbias Buffer, C int) error {
	var a args
	e := &c.tasks.el
	e.x = a.need("bias softplus x", x, -1)
	if C < 1 || len(e.x)%C != 0 {
		a.check(errorf("bias softplus: %d values are not rows of %d channels", len(e.x), C))
	}
	e.bias = a.opt("bias softplus bias", bias, C)
	e.gy = a.need("bias softplus gy", gy, len(e.x))
	e.gx = a.need("bias softplus gx", gx, len(e.x))
	gb := a.opt("bias softplus gbias", gbias, C)
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.n, e.C = len(e.x), C
	n := e.n
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			v := e.x[j]
			if e.bias != nil {
				v += e.bias[j%e.C]
			}
			e.gx[j] = e.gy[j] * actBwd(Softplus, v)
		}
	})
	if gb != nil {
		return c.SumCols(gx, gbias, n/C, C)
	}
	return nil
}

// BCEFocalFwd implements Elementwise.
func (c *CPU) BCEFocalFwd(cfg BCEFocal, x, y, weight, loss, grad, sum Buffer, gscale float32) error {
	var a args
	e := &c.tasks.el
	e.x = a.need("bce x", x, -1)
	e.y = a.need("bce y", y, len(e.x))
	e.w = a.opt("bce weight", weight, len(e.x))
	e.loss = a.opt("bce loss", loss, len(e.x))
	e.grad = a.opt("bce grad", grad, len(e.x))
	sm := a.opt("bce sum", sum, 1)
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.n, e.cfg, e.a = len(e.x), cfg, gscale
	nb := (e.n + elemBlock - 1) / elemBlock
	e.part = c.growShared(2 * nb)
	part := e.part
	c.elems(e.n, bceItem)
	if sm != nil {
		var s float64
		for i := 0; i < nb; i++ {
			s += float64(part[2*i]) + float64(part[2*i+1])
		}
		sm[0] = float32(s)
	}
	return nil
}

func log1pexp(x float64) float64 {
	if x > 20 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

func bceItem(c *CPU, _, i int) {
	e := &c.tasks.el
	lo, hi := blk(i, e.n)
	pw, alpha, gamma := float64(e.cfg.PosWeight), float64(e.cfg.Alpha), float64(e.cfg.Gamma)
	var s float64
	for j := lo; j < hi; j++ {
		xv, yv := float64(e.x[j]), float64(e.y[j])
		p := 1 / (1 + math.Exp(-xv))
		bce := pw*yv*log1pexp(-xv) + (1-yv)*log1pexp(xv)
		dbce := p*(pw*yv+1-yv) - pw*yv
		pt := yv*p + (1-yv)*(1-p)
		at := 1.0
		if alpha >= 0 {
			at = alpha*yv + (1-alpha)*(1-yv)
		}
		q := 1 - pt
		mod, dmod := 1.0, 0.0
		if gamma != 0 {
			mod = math.Pow(q, gamma)
			if q > 0 {
				dmod = -gamma * math.Pow(q, gamma-1) * (2*yv - 1) * p * (1 - p)
			}
		}
		wv := 1.0
		if e.w != nil {
			wv = float64(e.w[j])
		}
		l := wv * at * mod * bce
		if e.loss != nil {
			e.loss[j] = float32(l)
		}
		if e.grad != nil {
			e.grad[j] = float32(float64(e.a) * wv * at * (mod*dbce + dmod*bce))
		}
		s += l
	}
	e.part[2*i] = float32(s)
	e.part[2*i+1] = float32(s - float64(float32(s)))
}

// SumAll implements Elementwise.
func (c *CPU) SumAll(x, out Buffer) error {
	var a args
	xs := a.need("sum x", x, -1)
	o := a.need("sum out", out, 1)
	if a.err != nil {
		return a.err
	}
	var s float64
	for _, v := range xs {
		s += float64(v)
	}
	o[0] = float32(s)
	return nil
}

// Axpy implements Elementwise.
func (c *CPU) Axpy(alpha float32, x, y Buffer) error {
	var a args
	e := &c.tasks.el
	e.x = a.need("axpy x", x, -1)
	e.y = a.need("axpy y", y, len(e.x))
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.n, e.a = len(e.x), alpha
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			e.y[j] += e.a * e.x[j]
		}
	})
	return nil
}

// Mul implements Elementwise.
func (c *CPU) Mul(x, y, out Buffer) error {
	var a args
	e := &c.tasks.el
	e.x = a.need("mul a", x, -1)
	e.y = a.need("mul b", y, len(e.x))
	e.z = a.need("mul out", out, len(e.x))
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.n = len(e.x)
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			e.z[j] = e.x[j] * e.y[j]
		}
	})
	return nil
}

// Affine implements Elementwise.
func (c *CPU) Affine(alpha float32, x Buffer, cst float32, y Buffer) error {
	var a args
	e := &c.tasks.el
	e.y = a.need("affine y", y, -1)
	e.x = a.opt("affine x", x, len(e.y))
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.n, e.a, e.b = len(e.y), alpha, cst
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			if e.x == nil {
				e.y[j] = e.b
			} else {
				e.y[j] = e.a*e.x[j] + e.b
			}
		}
	})
	return nil
}

// ClampFwd implements Elementwise.
func (c *CPU) ClampFwd(x, y Buffer, lo, hi float32) error {
	var a args
	e := &c.tasks.el
	e.x = a.need("clamp x", x, -1)
	e.y = a.need("clamp y", y, len(e.x))
	if a.err == nil && !(lo <= hi) {
		a.err = errorf("clamp: lo %g > hi %g", lo, hi)
	}
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.n, e.a, e.b = len(e.x), lo, hi
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			v := e.x[j]
			switch {
			case v != v:
				v = 0
			case v > math.MaxFloat32:
				v = math.MaxFloat32
			case v < -math.MaxFloat32:
				v = -math.MaxFloat32
			}
			e.y[j] = min(max(v, e.a), e.b)
		}
	})
	return nil
}

// ClampBwd implements Elementwise.
func (c *CPU) ClampBwd(x, gy, gx Buffer, lo, hi float32) error {
	var a args
	e := &c.tasks.el
	e.x = a.need("clamp x", x, -1)
	e.gy = a.need("clamp gy", gy, len(e.x))
	e.gx = a.need("clamp gx", gx, len(e.x))
	if a.err != nil {
		c.tasks.el = elArgs{}
		return a.err
	}
	e.n, e.a, e.b = len(e.x), lo, hi
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			v := e.x[j]
			if v >= e.a && v <= e.b && !math.IsInf(float64(v), 0) {
				e.gx[j] = e.gy[j]
			} else {
				e.gx[j] = 0
			}
		}
	})
	return nil
}

// FlipTime implements Elementwise.
func (c *CPU) FlipTime(x, y Buffer, batch, L, C int) error {
	var a args
	if batch < 1 || L < 1 || C < 1 {
		return errorf("flip: batch %d, L %d, C %d", batch, L, C)
	}
	xs := a.need("flip x", x, batch*L*C)
	ys := a.need("flip y", y, batch*L*C)
	if a.err != nil {
		return a.err
	}
	if &xs[0] == &ys[0] {
		return errorf("flip: x and y must differ")
	}
	for b := 0; b < batch; b++ {
		for t := 0; t < L; t++ {
			copy(ys[(b*L+t)*C:(b*L+t+1)*C], xs[(b*L+L-1-t)*C:(b*L+L-t)*C])
		}
	}
	return nil
}

// expf is a float32 exp (Cephes' expf: range reduction by ln 2 and a
// degree-6 polynomial, within 2 ulp), several times faster than math.Exp.
// It returns +Inf above 88.72, 0 below −87.33 and NaN for NaN.
func expf(x float32) float32 {
	if !(x > -87.33654) {
		if x != x {
			return x
		}
		return 0
	}
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	fx := x * 1.44269504088896341
	var k int32
	if fx >= 0 {
		k = int32(fx + 0.5)
	} else {
		k = int32(fx - 0.5)
	}
	kf := float32(k)
	r := x - kf*0.693359375 - kf*-2.12194440e-4
	z := r * r
	y := (((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r+5.0000001201e-1)*z + r + 1
	if k > 127 {
		return y * math.Float32frombits(uint32(k-1+127)<<23) * 2
	}
	return y * math.Float32frombits(uint32(k+127)<<23)
}
