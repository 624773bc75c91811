package ref

import (
	"math"
	"sort"
)

// Linear returns y (rows, out) = x (rows, in)·Wᵀ + bias (bias may be nil).
func Linear(x, W, bias []float64, rows, in, out int) []float64 {
	y := make([]float64, rows*out)
	for r := 0; r < rows; r++ {
		for o := 0; o < out; o++ {
			s := 0.0
			if bias != nil {
				s = bias[o]
			}
			for i := 0; i < in; i++ {
				s += x[r*in+i] * W[o*in+i]
			}
			y[r*out+o] = s
		}
	}
	return y
}

// Conv is the dense conv1d of kernels.Conv.ConvFwd (channel-first).
func Conv(x, w, bias []float64, batch, cin, lin, cout, k, lout, stride, dil, pad int) []float64 {
	y := make([]float64, batch*cout*lout)
	for b := 0; b < batch; b++ {
		for o := 0; o < cout; o++ {
			for t := 0; t < lout; t++ {
				s := 0.0
				if bias != nil {
					s = bias[o]
				}
				for c := 0; c < cin; c++ {
					for kk := 0; kk < k; kk++ {
						i := t*stride + kk*dil - pad
						if i >= 0 && i < lin {
							s += w[(o*cin+c)*k+kk] * x[(b*cin+c)*lin+i]
						}
					}
				}
				y[(b*cout+o)*lout+t] = s
			}
		}
	}
	return y
}

// SiLU is x·sigmoid(x).
func SiLU(x float64) float64 { return x / (1 + math.Exp(-x)) }

// Softplus is torch's softplus (identity above 20).
func Softplus(x float64) float64 {
	if x > 20 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// Sigmoid is 1/(1+e⁻ˣ).
func Sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// DWConv is Mamba's depthwise causal conv (channel-last), with SiLU when
// silu.
func DWConv(x, w, bias []float64, batch, L, C, W int, silu bool) []float64 {
	y := make([]float64, batch*L*C)
	for b := 0; b < batch; b++ {
		for t := 0; t < L; t++ {
			for c := 0; c < C; c++ {
				s := 0.0
				if bias != nil {
					s = bias[c]
				}
				for k := 0; k < W; k++ {
					if ti := t - (W - 1) + k; ti >= 0 {
						s += w[c*W+k] * x[(b*L+ti)*C+c]
					}
				}
				if silu {
					s = SiLU(s)
				}
				y[(b*L+t)*C+c] = s
			}
		}
	}
	return y
}

// WeightNorm returns w[o,:] = g[o]·v[o,:]/‖v[o,:]‖.
func WeightNorm(v, g []float64, rows, cols int) []float64 {
	w := make([]float64, rows*cols)
	for r := 0; r < rows; r++ {
		n := 0.0
		for _, x := range v[r*cols : (r+1)*cols] {
			n += x * x
		}
		n = math.Sqrt(n)
		for i, x := range v[r*cols : (r+1)*cols] {
			w[r*cols+i] = g[r] * x / n
		}
	}
	return w
}

// LayerNorm normalises rows of D (w, b may be nil).
func LayerNorm(x, w, b []float64, rows, D int, eps float64) []float64 {
	y := make([]float64, rows*D)
	for r := 0; r < rows; r++ {
		row := x[r*D : (r+1)*D]
		m := 0.0
		for _, v := range row {
			m += v
		}
		m /= float64(D)
		va := 0.0
		for _, v := range row {
			va += (v - m) * (v - m)
		}
		rs := 1 / math.Sqrt(va/float64(D)+eps)
		for i, v := range row {
			o := (v - m) * rs
			if w != nil {
				o *= w[i]
			}
			if b != nil {
				o += b[i]
			}
			y[r*D+i] = o
		}
	}
	return y
}

// RMSNormGated is w·v/sqrt(mean(v²)+eps), v = y·SiLU(z), per group of gs
// channels (z, w may be nil).
func RMSNormGated(y, z, w []float64, rows, D, gs int, eps float64) []float64 {
	out := make([]float64, rows*D)
	for r := 0; r < rows; r++ {
		for g := 0; g < D/gs; g++ {
			off := r*D + g*gs
			ss := 0.0
			for i := 0; i < gs; i++ {
				v := y[off+i]
				if z != nil {
					v *= SiLU(z[off+i])
				}
				out[off+i] = v
				ss += v * v
			}
			rs := 1 / math.Sqrt(ss/float64(gs)+eps)
			for i := 0; i < gs; i++ {
				out[off+i] *= rs
				if w != nil {
					out[off+i] *= w[g*gs+i]
				}
			}
		}
	}
	return out
}

// BCEFocal returns the per-element losses of kernels.BCEFocal (weight may
// be nil).
func BCEFocal(posWeight, alpha, gamma float64, x, y, weight []float64) []float64 {
	l := make([]float64, len(x))
	for i := range x {
		p := Sigmoid(x[i])
		bce := posWeight*y[i]*Softplus(-x[i]) + (1-y[i])*Softplus(x[i])
		if x[i] < -20 { // Softplus(-x) for large -x: identity, exact enough
			bce = posWeight*y[i]*(-x[i]) + (1-y[i])*Softplus(x[i])
		}
		pt := y[i]*p + (1-y[i])*(1-p)
		at := 1.0
		if alpha >= 0 {
			at = alpha*y[i] + (1-alpha)*(1-y[i])
		}
		wv := 1.0
		if weight != nil {
			wv = weight[i]
		}
		l[i] = wv * at * math.Pow(1-pt, gamma) * bce
	}
	return l
}

// Cosine returns S (G, N, N) for X (G, N, F), norms sqrt(|x|²+eps).
func Cosine(X []float64, G, N, F int, eps float64) []float64 {
	S := make([]float64, G*N*N)
	for g := 0; g < G; g++ {
		nrm := make([]float64, N)
		for i := 0; i < N; i++ {
			s := 0.0
			for f := 0; f < F; f++ {
				v := X[(g*N+i)*F+f]
				s += v * v
			}
			nrm[i] = math.Sqrt(s + eps)
		}
		for i := 0; i < N; i++ {
			for j := 0; j < N; j++ {
				d := 0.0
				for f := 0; f < F; f++ {
					d += X[(g*N+i)*F+f] * X[(g*N+j)*F+f]
				}
				S[(g*N+i)*N+j] = d / (nrm[i] * nrm[j])
			}
		}
	}
	return S
}

// TopKKeep returns the 0/1 mask of kernels.Graph.TopKSym by sorting each
// row (stable: ties keep the lower index).
func TopKKeep(S []float64, G, N, k int, self bool) []float64 {
	keep := make([]float64, G*N*N)
	for g := 0; g < G; g++ {
		for i := 0; i < N; i++ {
			var idx []int
			for j := 0; j < N; j++ {
				if j != i || self {
					idx = append(idx, j)
				}
			}
			row := S[(g*N+i)*N : (g*N+i+1)*N]
			sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
			for _, j := range idx[:k] {
				keep[(g*N+i)*N+j] = 1
				keep[(g*N+j)*N+i] = 1
			}
		}
	}
	return keep
}

// SSGConv is α·X + (1−α)/K·Σ_k Âᵏ·X with Â = D^−½(A+I)D^−½ (I with self).
func SSGConv(A, X []float64, G, N, F, K int, alpha float64, self bool) []float64 {
	out := make([]float64, G*N*F)
	for g := 0; g < G; g++ {
		at := make([]float64, N*N)
		r := make([]float64, N)
		for i := 0; i < N; i++ {
			d := 0.0
			for j := 0; j < N; j++ {
				v := A[(g*N+i)*N+j]
				if self && i == j {
					v++
				}
				at[i*N+j] = v
				d += v
			}
			if d > 0 {
				r[i] = 1 / math.Sqrt(d)
			}
		}
		h := append([]float64(nil), X[g*N*F:(g+1)*N*F]...)
		for i := range h {
			out[g*N*F+i] = alpha * h[i]
		}
		for k := 0; k < K; k++ {
			hn := make([]float64, N*F)
			for i := 0; i < N; i++ {
				for j := 0; j < N; j++ {
					a := r[i] * at[i*N+j] * r[j]
					for f := 0; f < F; f++ {
						hn[i*F+f] += a * h[j*F+f]
					}
				}
			}
			h = hn
			for i := range h {
				out[g*N*F+i] += (1 - alpha) / float64(K) * h[i]
			}
		}
	}
	return out
}

// Transpose swaps the middle axes of x (A, M, N, D) into (A, N, M, D).
func Transpose(x []float64, A, M, N, D int) []float64 {
	y := make([]float64, len(x))
	for a := 0; a < A; a++ {
		for m := 0; m < M; m++ {
			for n := 0; n < N; n++ {
				for d := 0; d < D; d++ {
					y[((a*N+n)*M+m)*D+d] = x[((a*M+m)*N+n)*D+d]
				}
			}
		}
	}
	return y
}

// TriuGather returns out (G, N(N−1)/2): S[g,i,j] for i < j in row-major
// order, plus S[g,j,i] with sym.
func TriuGather(S []float64, G, N int, sym bool) []float64 {
	var out []float64
	for g := 0; g < G; g++ {
		for i := 0; i < N; i++ {
			for j := i + 1; j < N; j++ {
				v := S[(g*N+i)*N+j]
				if sym {
					v += S[(g*N+j)*N+i]
				}
				out = append(out, v)
			}
		}
	}
	return out
}

// TriuScatter returns S (G, N, N) holding in's pairs in the strict upper
// triangle (and mirrored with sym), zero elsewhere.
func TriuScatter(in []float64, G, N int, sym bool) []float64 {
	S := make([]float64, G*N*N)
	p := 0
	for g := 0; g < G; g++ {
		for i := 0; i < N; i++ {
			for j := i + 1; j < N; j++ {
				S[(g*N+i)*N+j] = in[p]
				if sym {
					S[(g*N+j)*N+i] = in[p]
				}
				p++
			}
		}
	}
	return S
}

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// DropoutMask returns n inverted-dropout factors: 1/(1−p) where element i
// of stream is kept (splitmix64 hash of seed, stream<<40 ^ i, 53 high bits
// as a fraction of 2^53 >= p), else 0.
func DropoutMask(n int, seed uint64, stream int, p float64) []float64 {
	m := make([]float64, n)
	for i := range m {
		h := mix64(seed ^ mix64(uint64(stream)<<40^uint64(i)))
		if float64(h>>11)/(1<<53) >= p {
			m[i] = float64(float32(1 / (1 - p)))
		}
	}
	return m
}
