package model

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/pipeml/pipe/kernels"
)

// gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// op(A) m×k, op(B) k×n, C m×n.
func gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	gonum.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// linearFwd computes out (rows×outDim) = in (rows×inDim) · Wᵀ + bias.
func linearFwd(out, in, w, bias []float32, rows, inDim, outDim int) {
	if bias != nil {
		parFor(rows, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				copy(out[r*outDim:(r+1)*outDim], bias)
			}
		})
		gemm(false, true, rows, outDim, inDim, 1, in, inDim, w, inDim, 1, out, outDim)
		return
	}
	gemm(false, true, rows, outDim, inDim, 1, in, inDim, w, inDim, 0, out, outDim)
}

// linearBwd accumulates dW += doutᵀ·in, dbias += Σ dout and, when din is
// not nil, sets din = dout·W (or adds to it when addIn).
func linearBwd(din, dout, in, w, dw, dbias []float32, rows, inDim, outDim int, addIn bool) {
	gemm(true, false, outDim, inDim, rows, 1, dout, outDim, in, inDim, 1, dw, inDim)
	if dbias != nil {
		colSum(dbias, dout, rows, outDim)
	}
	if din != nil {
		beta := float32(0)
		if addIn {
			beta = 1
		}
		gemm(false, false, rows, inDim, outDim, 1, dout, outDim, w, inDim, beta, din, inDim)
	}
}

// colSum adds the column sums of m (rows×cols) to dst, in float64, in a
// fixed order.
func colSum(dst, m []float32, rows, cols int) {
	parFor(cols, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var s float64
			for r := 0; r < rows; r++ {
				s += float64(m[r*cols+c])
			}
			dst[c] += float32(s)
		}
	})
}

// workers is the number of goroutines parallel loops use.
func workers() int { return runtime.GOMAXPROCS(0) }

// parFor splits [0,n) into contiguous ranges run on parallel goroutines.
func parFor(n int, f func(lo, hi int)) {
	w := workers()
	if w > n {
		w = n
	}
	if w <= 1 || n < 2 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		wg.Add(1)
		go func() { defer wg.Done(); f(lo, hi) }()
	}
	wg.Wait()
}

// nSlots is the fixed number of gradient accumulation slots of a
// reduction over n items: the result does not depend on the number of
// cores (bit-identical runs on any machine).
func nSlots(n int) int { return min(n, 8) }

// slotFor runs f(slot, i) for every i in [0,n): item i belongs to slot
// i % nSlots(n), each slot's items run in order on one goroutine, and at
// most workers() slots run at once.
func slotFor(n int, f func(slot, i int)) {
	s := nSlots(n)
	sem := make(chan struct{}, workers())
	var wg sync.WaitGroup
	for k := 0; k < s; k++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for i := k; i < n; i += s {
				f(k, i)
			}
		}()
	}
	wg.Wait()
}

// slotBufs holds per-slot gradient accumulators, reduced in slot order.
type slotBufs struct{ b [][]float32 }

// get returns nSlots(n) zeroed buffers of the given size.
func (s *slotBufs) get(n, size int) [][]float32 {
	k := nSlots(n)
	for len(s.b) < k {
		s.b = append(s.b, nil)
	}
	for i := 0; i < k; i++ {
		s.b[i] = grow(s.b[i], size)
		clear(s.b[i])
	}
	return s.b[:k]
}

// addTo adds the slots (in order) to dst.
func (s *slotBufs) addTo(dst []float32, bufs [][]float32) {
	for _, b := range bufs {
		for i, v := range b[:len(dst)] {
			dst[i] += v
		}
	}
}

// grow returns b with length n, reallocating only when it is too small.
func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func sigmoid(x float32) float32 { return 1 / (1 + expf(-x)) }

func softplus(x float32) float32 {
	if x > 20 {
		return x
	}
	return float32(math.Log1p(float64(expf(x))))
}

func exp32(x float32) float32 { return expf(x) }

// layerNormFwd normalises each row of x (rows×d) to out with gamma/beta,
// storing the mean and 1/σ per row for the backward pass.
func layerNormFwd(out, x, gamma, beta, mean, rstd []float32, rows, d int) {
	parFor(rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x[r*d : (r+1)*d]
			var m float64
			for _, v := range row {
				m += float64(v)
			}
			m /= float64(d)
			var va float64
			for _, v := range row {
				dv := float64(v) - m
				va += dv * dv
			}
			va /= float64(d)
			rs := 1 / math.Sqrt(va+1e-5)
			mean[r], rstd[r] = float32(m), float32(rs)
			o := out[r*d : (r+1)*d]
			for i, v := range row {
				o[i] = float32((float64(v)-m)*rs)*gamma[i] + beta[i]
			}
		}
	})
}

// layerNormBwd sets dx (or adds to it when add) from dout and accumulates
// dgamma, dbeta.
func layerNormBwd(dx, dout, x, gamma, mean, rstd, dgamma, dbeta []float32, rows, d int, add bool, sb *slotBufs) {
	bufs := sb.get(rows, 2*d)
	slotFor(rows, func(slot, r int) {
		acc := bufs[slot]
		row := x[r*d : (r+1)*d]
		do := dout[r*d : (r+1)*d]
		m, rs := mean[r], rstd[r]
		var s1, s2 float64
		for i, v := range row {
			xh := (v - m) * rs
			g := do[i] * gamma[i]
			acc[i] += do[i] * xh
			acc[d+i] += do[i]
			s1 += float64(g)
			s2 += float64(g * xh)
		}
		s1 /= float64(d)
		s2 /= float64(d)
		o := dx[r*d : (r+1)*d]
		for i, v := range row {
			xh := (v - m) * rs
			g := do[i] * gamma[i]
			v := rs * (g - float32(s1) - xh*float32(s2))
			if add {
				o[i] += v
			} else {
				o[i] = v
			}
		}
	})
	for _, b := range bufs {
		for i := 0; i < d; i++ {
			dgamma[i] += b[i]
			dbeta[i] += b[d+i]
		}
	}
}

// keep reports whether dropout keeps element i of a layer: a hash of
// (seed, layer, element), so that masks do not depend on scheduling; the
// same function as the Backend's DropoutMask.
func keep(seed uint64, layer, i int, p float64) bool { return kernels.DropoutKeep(seed, layer, i, p) }

// expf is a float32 exp (Cephes' expf: range reduction by ln 2 and a
// degree-6 polynomial, within 2 ulp), several times faster than math.Exp.
// It returns +Inf above 88.72, 0 below −87.33 (results below the smallest
// normal float32 flush to zero) and NaN for NaN.
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
