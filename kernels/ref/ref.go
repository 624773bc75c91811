// Package ref holds naive float64 references of the kernels: straight
// loops, written for clarity, used by tests and by the test_kernels stage
// to check every backend. Layouts are those of package kernels.
package ref

import "math"

// Scan is the SSD scan of kernels.Scan in float64: it returns y and the
// final state (Batch, H, P, N). Dims: x (Batch, L, H, P), dt (Batch, L, H),
// A, D (H; D may be nil), B, C (Batch, L, G, N).
func Scan(batch, L, H, P, G, N int, x, dt, A, B, C, D []float64, rev bool) (y, final []float64) {
	y = make([]float64, batch*L*H*P)
	final = make([]float64, batch*H*P*N)
	for b := 0; b < batch; b++ {
		for h := 0; h < H; h++ {
			g := h / (H / G)
			st := make([]float64, P*N)
			for i := 0; i < L; i++ {
				t := i
				if rev {
					t = L - 1 - i
				}
				bt := b*L + t
				d := dt[bt*H+h]
				a := math.Exp(d * A[h])
				for p := 0; p < P; p++ {
					xv := x[(bt*H+h)*P+p]
					var acc float64
					for n := 0; n < N; n++ {
						st[p*N+n] = a*st[p*N+n] + d*xv*B[(bt*G+g)*N+n]
						acc += st[p*N+n] * C[(bt*G+g)*N+n]
					}
					if D != nil {
						acc += D[h] * xv
					}
					y[(bt*H+h)*P+p] = acc
				}
			}
			copy(final[(b*H+h)*P*N:], st)
		}
	}
	return y, final
}

// ScanGrads are the gradients of Σ y·gy returned by ScanBwd.
type ScanGrads struct{ X, DT, A, B, C, D []float64 }

// ScanBwd is the backward of Scan by reverse-mode over stored states.
func ScanBwd(batch, L, H, P, G, N int, x, dt, A, B, C, D, gy []float64, rev bool) ScanGrads {
	g := ScanGrads{X: make([]float64, len(x)), DT: make([]float64, len(dt)), A: make([]float64, H),
		B: make([]float64, len(B)), C: make([]float64, len(C)), D: make([]float64, H)}
	for b := 0; b < batch; b++ {
		for h := 0; h < H; h++ {
			gr := h / (H / G)
			states := make([][]float64, L+1)
			states[0] = make([]float64, P*N)
			for i := 0; i < L; i++ {
				t := i
				if rev {
					t = L - 1 - i
				}
				bt := b*L + t
				d := dt[bt*H+h]
				a := math.Exp(d * A[h])
				st := make([]float64, P*N)
				for p := 0; p < P; p++ {
					for n := 0; n < N; n++ {
						st[p*N+n] = a*states[i][p*N+n] + d*x[(bt*H+h)*P+p]*B[(bt*G+gr)*N+n]
					}
				}
				states[i+1] = st
			}
			gh := make([]float64, P*N)
			for i := L - 1; i >= 0; i-- {
				t := i
				if rev {
					t = L - 1 - i
				}
				bt := b*L + t
				d := dt[bt*H+h]
				a := math.Exp(d * A[h])
				for p := 0; p < P; p++ {
					gyv := gy[(bt*H+h)*P+p]
					xv := x[(bt*H+h)*P+p]
					if D != nil {
						g.D[h] += gyv * xv
						g.X[(bt*H+h)*P+p] += D[h] * gyv
					}
					for n := 0; n < N; n++ {
						gh[p*N+n] += gyv * C[(bt*G+gr)*N+n]
						g.C[(bt*G+gr)*N+n] += states[i+1][p*N+n] * gyv
					}
				}
				for p := 0; p < P; p++ {
					xv := x[(bt*H+h)*P+p]
					for n := 0; n < N; n++ {
						v := gh[p*N+n]
						bn := B[(bt*G+gr)*N+n]
						g.X[(bt*H+h)*P+p] += d * v * bn
						g.B[(bt*G+gr)*N+n] += d * v * xv
						g.DT[bt*H+h] += v * (xv*bn + A[h]*a*states[i][p*N+n])
						g.A[h] += v * d * a * states[i][p*N+n]
					}
				}
				for j := range gh {
					gh[j] *= a
				}
			}
		}
	}
	return g
}
