package model

import (
	"math"
)

// lapPE is the optional Laplacian positional encoding of the graph stream:
// per step, the dim eigenvectors of L = I − Â with the smallest eigenvalues
// after the trivial one (Â the step's normalised adjacency with self-loops),
// each signed so that its largest-magnitude entry is positive, projected to
// node_dim and added to the graph stream's input. The eigenvectors are a
// function of the (piecewise constant) top-k structure and of the edge
// weights; like the usual Laplacian PE they are treated as an input: no
// gradient flows through the eigendecomposition.
type lapPE struct {
	w, b   *Param
	e, dim int
	pe     []float32 // (b·l, e, dim)
	sb     slotBufs
}

func newLapPE(ps *paramSet, e, dim, f int) *lapPE {
	bound := 1 / math.Sqrt(float64(dim))
	return &lapPE{
		w: ps.uniform("lappe.weight", []int{f, dim}, bound, true),
		b: ps.uniform("lappe.bias", []int{f}, bound, false),
		e: e, dim: dim,
	}
}

// forward writes out = in + PE·Wᵀ + b for every step of g.
func (p *lapPE) forward(out, in []float32, g *dynGraph, f int) {
	bl := g.b * g.l
	e, k := p.e, p.dim
	p.pe = grow(p.pe, bl*e*k)
	parFor(bl, func(lo, hi int) {
		a := make([]float64, e*e)
		v := make([]float64, e*e)
		for bt := lo; bt < hi; bt++ {
			ah := g.ahat[bt*e*e : (bt+1)*e*e]
			for i := range a {
				a[i] = -float64(ah[i])
			}
			for i := 0; i < e; i++ {
				a[i*e+i] += 1
			}
			order := jacobiEigen(a, v, e)
			pe := p.pe[bt*e*k : (bt+1)*e*k]
			for c := 0; c < k; c++ {
				col := order[c+1]
				best, sign := 0.0, 1.0
				for i := 0; i < e; i++ {
					if x := v[i*e+col]; math.Abs(x) > best+1e-12 {
						best, sign = math.Abs(x), math.Copysign(1, x)
					}
				}
				for i := 0; i < e; i++ {
					pe[i*k+c] = float32(sign * v[i*e+col])
				}
			}
		}
	})
	copy(out, in[:bl*e*f])
	// out += PE·Wᵀ + b over rows (b·l·e).
	gemm(false, true, bl*e, f, k, 1, p.pe, k, p.w.W, k, 1, out, f)
	parFor(bl*e, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o := out[r*f : (r+1)*f]
			for i := range o {
				o[i] += p.b.W[i]
			}
		}
	})
}

// backward accumulates the projection's gradients from dout (the gradient
// of the graph stream's input); the gradient with respect to in is dout
// itself.
func (p *lapPE) backward(dout []float32, rows, f int) {
	gemm(true, false, f, p.dim, rows, 1, dout, f, p.pe, p.dim, 1, p.w.G, p.dim)
	colSum(p.b.G, dout, rows, f)
}

// jacobiEigen diagonalises the symmetric n×n matrix a (destroyed) with
// cyclic Jacobi rotations, leaving the eigenvectors in the columns of v, and
// returns the column indices in increasing order of eigenvalue (ties by
// index).
func jacobiEigen(a, v []float64, n int) []int {
	for i := range v {
		v[i] = 0
	}
	for i := 0; i < n; i++ {
		v[i*n+i] = 1
	}
	for sweep := 0; sweep < 50; sweep++ {
		var off float64
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				off += a[i*n+j] * a[i*n+j]
			}
		}
		if off < 1e-22 {
			break
		}
		for p := 0; p < n; p++ {
			for q := p + 1; q < n; q++ {
				apq := a[p*n+q]
				if math.Abs(apq) < 1e-300 {
					continue
				}
				theta := (a[q*n+q] - a[p*n+p]) / (2 * apq)
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := 0; k < n; k++ {
					akp, akq := a[k*n+p], a[k*n+q]
					a[k*n+p] = c*akp - s*akq
					a[k*n+q] = s*akp + c*akq
				}
				for k := 0; k < n; k++ {
					apk, aqk := a[p*n+k], a[q*n+k]
					a[p*n+k] = c*apk - s*aqk
					a[q*n+k] = s*apk + c*aqk
				}
				for k := 0; k < n; k++ {
					vkp, vkq := v[k*n+p], v[k*n+q]
					v[k*n+p] = c*vkp - s*vkq
					v[k*n+q] = s*vkp + c*vkq
				}
			}
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	// insertion sort by eigenvalue (n is small).
	for i := 1; i < n; i++ {
		for j := i; j > 0 && a[order[j]*n+order[j]] < a[order[j-1]*n+order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	return order
}
