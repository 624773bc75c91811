package dsp

import (
	"fmt"
	"math"
	"math/cmplx"
	"sort"
)

// Section is one second-order section in scipy's layout:
// b0, b1, b2, a0, a1, a2 with a0 = 1. Its transfer function is
// (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2).
type Section [6]float64

// SOS is a cascade of second-order sections, applied first to last.
type SOS []Section

// BandType selects what a Butterworth filter passes.
type BandType int

// The Butterworth band types.
const (
	Lowpass BandType = iota
	Highpass
	Bandpass
)

// String returns scipy's name of the band type.
func (b BandType) String() string {
	switch b {
	case Lowpass:
		return "lowpass"
	case Highpass:
		return "highpass"
	case Bandpass:
		return "bandpass"
	}
	return fmt.Sprintf("BandType(%d)", int(b))
}

// Butter designs a digital Butterworth filter of the given order as
// second-order sections, like scipy.signal.butter(order, Wn, btype, fs=fs,
// output="sos"): the analog prototype is frequency-transformed with
// pre-warped edges, mapped by the bilinear transform and split into sections
// with scipy's "nearest" pole-zero pairing, so the sections (not only the
// response) match scipy's. For Lowpass only high is used, for Highpass only
// low. Edges must satisfy 0 < low < high < fs/2.
func Butter(order int, band BandType, low, high, fs float64) (SOS, error) {
	if order < 1 || order > 24 {
		return nil, fmt.Errorf("butterworth: order %d out of range 1..24", order)
	}
	if !(fs > 0) || math.IsInf(fs, 0) {
		return nil, fmt.Errorf("butterworth: sample rate %v Hz must be positive and finite", fs)
	}
	nyq := fs / 2
	check := func(name string, f float64) error {
		if !(f > 0 && f < nyq) {
			return fmt.Errorf("butterworth: %s edge %v Hz must be in (0, %v) (fs = %v Hz)", name, f, nyq, fs)
		}
		return nil
	}
	// Digital design on scipy's normalised scale (fs = 2 half-cycles/sample).
	const fsN = 2.0
	warp := func(f float64) float64 { return 2 * fsN * math.Tan(math.Pi*(2*f/fs)/fsN) }

	z, p, k := buttap(order)
	switch band {
	case Lowpass:
		if err := check("high", high); err != nil {
			return nil, err
		}
		z, p, k = lp2lp(z, p, k, warp(high))
	case Highpass:
		if err := check("low", low); err != nil {
			return nil, err
		}
		z, p, k = lp2hp(z, p, k, warp(low))
	case Bandpass:
		if err := check("low", low); err != nil {
			return nil, err
		}
		if err := check("high", high); err != nil {
			return nil, err
		}
		if !(low < high) {
			return nil, fmt.Errorf("butterworth: low edge %v Hz must be below high edge %v Hz", low, high)
		}
		wl, wh := warp(low), warp(high)
		z, p, k = lp2bp(z, p, k, math.Sqrt(wl*wh), wh-wl)
	default:
		return nil, fmt.Errorf("butterworth: unknown band type %v", band)
	}
	z, p, k = bilinear(z, p, k, fsN)
	return zpk2sos(z, p, k)
}

// Notch designs scipy.signal.iirnotch(f0, q, fs): a second-order IIR notch
// at f0 Hz whose -3 dB bandwidth is f0/q. It is returned as one section.
func Notch(f0, q, fs float64) (SOS, error) {
	if !(fs > 0) || math.IsInf(fs, 0) {
		return nil, fmt.Errorf("notch: sample rate %v Hz must be positive and finite", fs)
	}
	if !(f0 > 0 && f0 < fs/2) {
		return nil, fmt.Errorf("notch: frequency %v Hz must be in (0, %v) (fs = %v Hz)", f0, fs/2, fs)
	}
	if !(q > 0) || math.IsInf(q, 0) {
		return nil, fmt.Errorf("notch: quality factor %v must be positive and finite", q)
	}
	w0 := 2 * f0 / fs
	bw := w0 / q * math.Pi
	w0 *= math.Pi
	gb := 1 / math.Sqrt(2)
	beta := (math.Sqrt(1.0-gb*gb) / gb) * math.Tan(bw/2.0)
	gain := 1.0 / (1.0 + beta)
	c := math.Cos(w0)
	return SOS{{gain, -2.0 * c * gain, gain, 1, -2.0 * gain * c, 2.0*gain - 1.0}}, nil
}

// MaxPoleRadius returns the largest pole radius of the cascade: how slowly
// its impulse response decays (r^n after n samples). It is below 1 for a
// stable filter.
func (s SOS) MaxPoleRadius() float64 {
	r := 0.0
	for _, sec := range s {
		a1, a2 := sec[4]/sec[3], sec[5]/sec[3]
		// roots of z^2 + a1 z + a2
		d := complex(a1*a1-4*a2, 0)
		sq := cmplx.Sqrt(d)
		for _, root := range []complex128{(complex(-a1, 0) + sq) / 2, (complex(-a1, 0) - sq) / 2} {
			r = math.Max(r, cmplx.Abs(root))
		}
	}
	return r
}

// Validate checks that every section is normalised (a0 = 1), finite, and
// that the cascade is stable.
func (s SOS) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("sos: no sections")
	}
	for i, sec := range s {
		for j, v := range sec {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("sos: section %d coefficient %d is %v", i, j, v)
			}
		}
		if sec[3] != 1 {
			return fmt.Errorf("sos: section %d has a0 = %v, want 1", i, sec[3])
		}
	}
	if r := s.MaxPoleRadius(); r >= 1 {
		return fmt.Errorf("sos: unstable (pole radius %v)", r)
	}
	return nil
}

// buttap is scipy's analog Butterworth prototype: no zeros, poles on the
// unit circle in the left half plane, gain 1.
func buttap(n int) (z, p []complex128, k float64) {
	p = make([]complex128, 0, n)
	for m := -n + 1; m < n; m += 2 {
		if m == 0 {
			p = append(p, -1) // exactly real, like scipy
			continue
		}
		p = append(p, -cmplx.Exp(complex(0, math.Pi*float64(m)/float64(2*n))))
	}
	return nil, p, 1
}

func lp2lp(z, p []complex128, k, wo float64) ([]complex128, []complex128, float64) {
	degree := len(p) - len(z)
	zl := make([]complex128, len(z))
	for i, v := range z {
		zl[i] = v * complex(wo, 0)
	}
	pl := make([]complex128, len(p))
	for i, v := range p {
		pl[i] = v * complex(wo, 0)
	}
	return zl, pl, k * math.Pow(wo, float64(degree))
}

func lp2hp(z, p []complex128, k, wo float64) ([]complex128, []complex128, float64) {
	degree := len(p) - len(z)
	zh := make([]complex128, 0, len(z)+degree)
	num, den := complex(1, 0), complex(1, 0)
	for _, v := range z {
		zh = append(zh, complex(wo, 0)/v)
		num *= -v
	}
	ph := make([]complex128, len(p))
	for i, v := range p {
		ph[i] = complex(wo, 0) / v
		den *= -v
	}
	for i := 0; i < degree; i++ {
		zh = append(zh, 0)
	}
	return zh, ph, k * real(num/den)
}

func lp2bp(z, p []complex128, k, wo, bw float64) ([]complex128, []complex128, float64) {
	degree := len(p) - len(z)
	shift := func(in []complex128) []complex128 {
		out := make([]complex128, 2*len(in))
		for i, v := range in {
			v *= complex(bw/2, 0)
			s := cmplx.Sqrt(v*v - complex(wo*wo, 0))
			out[i] = v + s
			out[len(in)+i] = v - s
		}
		return out
	}
	zb := shift(z)
	for i := 0; i < degree; i++ {
		zb = append(zb, 0)
	}
	return zb, shift(p), k * math.Pow(bw, float64(degree))
}

func bilinear(z, p []complex128, k, fs float64) ([]complex128, []complex128, float64) {
	degree := len(p) - len(z)
	fs2 := complex(2*fs, 0)
	zz := make([]complex128, 0, len(z)+degree)
	num, den := complex(1, 0), complex(1, 0)
	for _, v := range z {
		zz = append(zz, (fs2+v)/(fs2-v))
		num *= fs2 - v
	}
	pz := make([]complex128, len(p))
	for i, v := range p {
		pz[i] = (fs2 + v) / (fs2 - v)
		den *= fs2 - v
	}
	for i := 0; i < degree; i++ {
		zz = append(zz, -1)
	}
	return zz, pz, k * real(num/den)
}

// cplxreal splits z into one member (positive imaginary part) of each
// complex-conjugate pair and the real values, sorted as scipy's _cplxreal
// does, and returns them concatenated (pairs first).
func cplxreal(z []complex128) ([]complex128, error) {
	const tol = 100 * 2.220446049250313e-16
	s := append([]complex128(nil), z...)
	sort.SliceStable(s, func(i, j int) bool {
		if real(s[i]) != real(s[j]) {
			return real(s[i]) < real(s[j])
		}
		return math.Abs(imag(s[i])) < math.Abs(imag(s[j]))
	})
	var zr []complex128
	var zp, zn []complex128
	for _, v := range s {
		switch {
		case math.Abs(imag(v)) <= tol*cmplx.Abs(v):
			zr = append(zr, complex(real(v), 0))
		case imag(v) > 0:
			zp = append(zp, v)
		default:
			zn = append(zn, v)
		}
	}
	if len(zp) != len(zn) {
		return nil, fmt.Errorf("complex value without a conjugate")
	}
	// Within runs of equal real part, order by |imag|.
	for start := 0; start < len(zp); {
		stop := start + 1
		for stop < len(zp) && real(zp[stop])-real(zp[stop-1]) <= tol*cmplx.Abs(zp[stop-1]) {
			stop++
		}
		for _, run := range [][]complex128{zp[start:stop], zn[start:stop]} {
			sort.SliceStable(run, func(i, j int) bool { return math.Abs(imag(run[i])) < math.Abs(imag(run[j])) })
		}
		start = stop
	}
	out := make([]complex128, 0, len(zp)+len(zr))
	for i := range zp {
		if cmplx.Abs(zp[i]-cmplx.Conj(zn[i])) > tol*cmplx.Abs(zn[i]) {
			return nil, fmt.Errorf("complex value without a conjugate")
		}
		out = append(out, (zp[i]+cmplx.Conj(zn[i]))/2)
	}
	return append(out, zr...), nil
}

func isReal(v complex128) bool { return imag(v) == 0 }

// idxWorst is the index of the pole closest to the unit circle (first one on
// ties, like numpy's argmin).
func idxWorst(p []complex128) int {
	best, bi := math.Inf(1), -1
	for i, v := range p {
		if d := math.Abs(1 - cmplx.Abs(v)); d < best {
			best, bi = d, i
		}
	}
	return bi
}

// nearestIdx is scipy's _nearest_real_complex_idx: the element of fro
// nearest to "to" among all ("any"), the real ones or the complex ones.
func nearestIdx(fro []complex128, to complex128, which string) int {
	order := make([]int, len(fro))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return cmplx.Abs(fro[order[a]]-to) < cmplx.Abs(fro[order[b]]-to)
	})
	for _, i := range order {
		switch which {
		case "any":
			return i
		case "real":
			if isReal(fro[i]) {
				return i
			}
		case "complex":
			if !isReal(fro[i]) {
				return i
			}
		}
	}
	return -1
}

func remove(s []complex128, i int) []complex128 {
	return append(s[:i:i], s[i+1:]...)
}

// singleSection builds a section from up to two zeros and two poles (gain 1).
func singleSection(z, p []complex128) (Section, error) {
	var sec Section
	b := poly(z)
	a := poly(p)
	if len(b) > 3 || len(a) > 3 {
		return sec, fmt.Errorf("more than two roots in a section")
	}
	copy(sec[3-len(b):3], b)
	copy(sec[6-len(a):6], a)
	return sec, nil
}

// poly returns the real coefficients of prod (x - r) (highest power first);
// roots come in conjugate pairs or are real.
func poly(roots []complex128) []float64 {
	c := []complex128{1}
	for _, r := range roots {
		next := make([]complex128, len(c)+1)
		for i, v := range c {
			next[i] += v
			next[i+1] -= v * r
		}
		c = next
	}
	out := make([]float64, len(c))
	for i, v := range c {
		out[i] = real(v)
	}
	return out
}

// zpk2sos is scipy.signal.zpk2sos with pairing "nearest" for a digital
// filter.
func zpk2sos(z, p []complex128, k float64) (SOS, error) {
	if len(z) == 0 && len(p) == 0 {
		return SOS{{k, 0, 0, 1, 0, 0}}, nil
	}
	z = append([]complex128(nil), z...)
	p = append([]complex128(nil), p...)
	for len(p) < len(z) {
		p = append(p, 0)
	}
	for len(z) < len(p) {
		z = append(z, 0)
	}
	nSections := (len(p) + 1) / 2
	if len(p)%2 == 1 {
		p = append(p, 0)
		z = append(z, 0)
	}
	var err error
	if z, err = cplxreal(z); err != nil {
		return nil, fmt.Errorf("zpk2sos: zeros: %w", err)
	}
	if p, err = cplxreal(p); err != nil {
		return nil, fmt.Errorf("zpk2sos: poles: %w", err)
	}
	countReal := func(s []complex128) int {
		n := 0
		for _, v := range s {
			if isReal(v) {
				n++
			}
		}
		return n
	}
	sos := make(SOS, nSections)
	for si := nSections - 1; si >= 0; si-- {
		i1 := idxWorst(p)
		p1 := p[i1]
		p = remove(p, i1)
		var sec Section
		switch {
		case isReal(p1) && countReal(p) == 0:
			// last remaining real pole
			iz := nearestIdx(z, p1, "real")
			if iz < 0 {
				return nil, fmt.Errorf("zpk2sos: no real zero left to pair with real pole %v", p1)
			}
			z1 := z[iz]
			z = remove(z, iz)
			sec, err = singleSection([]complex128{z1, 0}, []complex128{p1, 0})
		case len(p)+1 == len(z) && !isReal(p1) && countReal(p) == 1 && countReal(z) == 1:
			// must pair with a complex zero
			iz := nearestIdx(z, p1, "complex")
			if iz < 0 {
				return nil, fmt.Errorf("zpk2sos: no complex zero left to pair with pole %v", p1)
			}
			z1 := z[iz]
			z = remove(z, iz)
			sec, err = singleSection([]complex128{z1, cmplx.Conj(z1)}, []complex128{p1, cmplx.Conj(p1)})
		default:
			var p2 complex128
			if isReal(p1) {
				var realIdx []int
				var reals []complex128
				for i, v := range p {
					if isReal(v) {
						realIdx = append(realIdx, i)
						reals = append(reals, v)
					}
				}
				i2 := realIdx[idxWorst(reals)]
				p2 = p[i2]
				p = remove(p, i2)
			} else {
				p2 = cmplx.Conj(p1)
			}
			if len(z) > 0 {
				iz := nearestIdx(z, p1, "any")
				z1 := z[iz]
				z = remove(z, iz)
				if !isReal(z1) {
					sec, err = singleSection([]complex128{z1, cmplx.Conj(z1)}, []complex128{p1, p2})
				} else if len(z) > 0 {
					iz2 := nearestIdx(z, p1, "real")
					if iz2 < 0 {
						return nil, fmt.Errorf("zpk2sos: no real zero left to pair")
					}
					z2 := z[iz2]
					z = remove(z, iz2)
					sec, err = singleSection([]complex128{z1, z2}, []complex128{p1, p2})
				} else {
					sec, err = singleSection([]complex128{z1}, []complex128{p1, p2})
				}
			} else {
				sec, err = singleSection(nil, []complex128{p1, p2})
			}
		}
		if err != nil {
			return nil, fmt.Errorf("zpk2sos: %w", err)
		}
		sos[si] = sec
	}
	if len(p) != 0 || len(z) != 0 {
		return nil, fmt.Errorf("zpk2sos: %d poles and %d zeros left unpaired", len(p), len(z))
	}
	for j := 0; j < 3; j++ {
		sos[0][j] *= k
	}
	return sos, nil
}
