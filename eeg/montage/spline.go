package montage

import (
	"fmt"
	"math"
)

// Spherical-spline interpolation (Perrin et al., Electroenceph. clin.
// Neurophysiol. 72:184-187, 1989) as MNE-Python's interpolate_bads does it
// for EEG: electrode positions relative to a head-sphere origin are projected
// onto the unit sphere; the spline kernel is g(cos) = sum over n = 1..50 of
// (2n+1) / (n^4 (n+1)^4 4 pi) P_n(cos); the weights solve the system
// [G + alpha I, 1; 1', 0] with alpha = 1e-5.
const (
	splineStiffness = 4
	splineTerms     = 50
	splineAlpha     = 1e-5
)

var splineFactors = func() [splineTerms + 1]float64 {
	var f [splineTerms + 1]float64
	for n := 1; n <= splineTerms; n++ {
		nf := float64(n)
		f[n] = (2*nf + 1) / (math.Pow(nf, splineStiffness) * math.Pow(nf+1, splineStiffness) * 4 * math.Pi)
	}
	return f
}()

// splineG evaluates the kernel by the Legendre recurrence.
func splineG(x float64) float64 {
	p0, p1 := 1.0, x
	sum := splineFactors[1] * p1
	for n := 1; n < splineTerms; n++ {
		nf := float64(n)
		p0, p1 = p1, ((2*nf+1)*x*p1-nf*p0)/(nf+1)
		sum += splineFactors[n+1] * p1
	}
	return sum
}

func unitFromOrigin(name string) ([3]float64, error) {
	p, ok := positions[name]
	if !ok {
		return [3]float64{}, fmt.Errorf("no position for electrode %s", name)
	}
	var v [3]float64
	norm := 0.0
	for i := range v {
		v[i] = p[i] - sphereOrigin[i]
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] /= norm
	}
	return v, nil
}

// interpolationMatrix returns W (len(to) x len(from)): the signal at to[i]
// is sum_j W[i][j] * signal at from[j]. It matches MNE's
// _make_interpolation_matrix for the same positions and origin.
func interpolationMatrix(from, to []string) ([][]float64, error) {
	n := len(from)
	pf := make([][3]float64, n)
	for i, name := range from {
		v, err := unitFromOrigin(name)
		if err != nil {
			return nil, err
		}
		pf[i] = v
	}
	cos := func(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
	// C = [G + alpha I, 1; 1', 0]
	c := make([][]float64, n+1)
	for i := range c {
		c[i] = make([]float64, n+1)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			c[i][j] = splineG(cos(pf[i], pf[j]))
		}
		c[i][i] += splineAlpha
		c[i][n], c[n][i] = 1, 1
	}
	cinv, err := invert(c)
	if err != nil {
		return nil, fmt.Errorf("spherical spline: %w", err)
	}
	w := make([][]float64, len(to))
	for t, name := range to {
		pt, err := unitFromOrigin(name)
		if err != nil {
			return nil, err
		}
		row := make([]float64, n+1) // [g(to, from_j)..., 1]
		for j := 0; j < n; j++ {
			row[j] = splineG(cos(pt, pf[j]))
		}
		row[n] = 1
		w[t] = make([]float64, n)
		for j := 0; j < n; j++ {
			s := 0.0
			for k := 0; k <= n; k++ {
				s += row[k] * cinv[k][j]
			}
			w[t][j] = s
		}
	}
	return w, nil
}

// invert returns the inverse of a square matrix by Gauss-Jordan elimination
// with partial pivoting.
func invert(a [][]float64) ([][]float64, error) {
	n := len(a)
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, 2*n)
		copy(m[i], a[i])
		m[i][n+i] = 1
	}
	for col := 0; col < n; col++ {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[piv][col]) {
				piv = r
			}
		}
		if m[piv][col] == 0 {
			return nil, fmt.Errorf("singular matrix")
		}
		m[col], m[piv] = m[piv], m[col]
		d := m[col][col]
		for k := range m[col] {
			m[col][k] /= d
		}
		for r := 0; r < n; r++ {
			if r == col || m[r][col] == 0 {
				continue
			}
			f := m[r][col]
			for k := range m[r] {
				m[r][k] -= f * m[col][k]
			}
		}
	}
	inv := make([][]float64, n)
	for i := range inv {
		inv[i] = m[i][n:]
	}
	return inv, nil
}
