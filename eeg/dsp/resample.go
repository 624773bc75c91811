package dsp

import (
	"fmt"
	"math"
)

// Pad says what a Resampler assumes lies before the first and after the last
// sample (scipy.signal.resample_poly's padtype).
type Pad int

// The padding modes.
const (
	// PadEdge repeats the first and last samples (padtype="edge"). It avoids
	// the artificial step to zero at both ends that PadZero creates when the
	// signal has an offset, which a following high-pass filter would turn
	// into a transient.
	PadEdge Pad = iota
	// PadZero assumes zeros (padtype="constant", scipy's default).
	PadZero
)

// String returns scipy's padtype name.
func (p Pad) String() string {
	switch p {
	case PadEdge:
		return "edge"
	case PadZero:
		return "constant"
	}
	return fmt.Sprintf("Pad(%d)", int(p))
}

// ParsePad parses scipy's padtype names "edge" and "constant" ("zero" is
// accepted for the latter).
func ParsePad(s string) (Pad, error) {
	switch s {
	case "edge":
		return PadEdge, nil
	case "constant", "zero":
		return PadZero, nil
	}
	return 0, fmt.Errorf("unknown resampler padding %q (want \"edge\" or \"constant\")", s)
}

// KaiserBeta is the Kaiser window parameter of the anti-aliasing filter,
// scipy.signal.resample_poly's default window ("kaiser", 5.0).
const KaiserBeta = 5.0

// DefaultMaxFactor bounds up and down of the rational ratio chosen by Ratio:
// the filter has 20*max(up, down)+1 taps.
const DefaultMaxFactor = 1024

// Ratio chooses integers up and down (coprime, each in 1..maxFactor) with
// up/down as close as possible to fout/fin, smallest down first on ties.
// relErr is the relative rate error |fin*up/down - fout| / fout: zero for the
// usual EEG rates (250, 400, 100, 512, 200, 500, 1000 Hz to 256 Hz are all
// exact with maxFactor >= 128), about 4.6e-6 for the Bonn set's 173.61 Hz
// (87/59: output at 255.99881 Hz, a drift of 17 ms per hour of signal).
func Ratio(fin, fout float64, maxFactor int) (up, down int, relErr float64, err error) {
	if !(fin > 0) || !(fout > 0) || math.IsInf(fin, 0) || math.IsInf(fout, 0) {
		return 0, 0, 0, fmt.Errorf("resample: rates %v Hz -> %v Hz must be positive and finite", fin, fout)
	}
	if maxFactor < 1 {
		return 0, 0, 0, fmt.Errorf("resample: max factor %d must be at least 1", maxFactor)
	}
	r := fout / fin
	best := math.Inf(1)
	for q := 1; q <= maxFactor; q++ {
		p := math.Round(r * float64(q))
		if p < 1 || p > float64(maxFactor) {
			continue
		}
		e := math.Abs(p/float64(q)-r) / r
		if e < best*(1-1e-12) {
			best, up, down = e, int(p), q
			if e < 1e-15 {
				break
			}
		}
	}
	if up == 0 {
		return 0, 0, 0, fmt.Errorf("resample: no ratio with factors up to %d for %v Hz -> %v Hz", maxFactor, fin, fout)
	}
	g := gcd(up, down)
	up, down = up/g, down/g
	if best < 1e-15 {
		best = 0
	}
	return up, down, best, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Firwin returns the low-pass FIR filter scipy.signal.firwin(numtaps, cutoff,
// window=("kaiser", beta)) designs: a windowed sinc with cutoff relative to
// the Nyquist frequency (0 < cutoff < 1), scaled to unit gain at DC.
func Firwin(numtaps int, cutoff, beta float64) ([]float64, error) {
	if numtaps < 1 {
		return nil, fmt.Errorf("firwin: %d taps", numtaps)
	}
	if !(cutoff > 0 && cutoff < 1) {
		return nil, fmt.Errorf("firwin: cutoff %v must be in (0, 1)", cutoff)
	}
	h := make([]float64, numtaps)
	alpha := 0.5 * float64(numtaps-1)
	i0b := besselI0(beta)
	sum := 0.0
	for i := range h {
		m := float64(i) - alpha
		v := cutoff * sinc(cutoff*m)
		// symmetric Kaiser window
		w := 1.0
		if numtaps > 1 {
			t := 2*float64(i)/float64(numtaps-1) - 1
			w = besselI0(beta*math.Sqrt(math.Max(0, 1-t*t))) / i0b
		}
		h[i] = v * w
		sum += h[i]
	}
	for i := range h {
		h[i] /= sum
	}
	return h, nil
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	y := math.Pi * x
	return math.Sin(y) / y
}

// besselI0 is the modified Bessel function of the first kind of order 0, by
// its power series (converges quickly for the arguments of a Kaiser window).
func besselI0(x float64) float64 {
	q := x * x / 4
	sum, term := 1.0, 1.0
	for k := 1; k < 500; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// Polyphase is the anti-aliasing filter bank of scipy.signal.resample_poly
// for one ratio up/down: a Kaiser-windowed (beta 5) sinc low-pass of
// 20*max(up, down)+1 taps with cutoff 1/max(up, down) of the Nyquist rate,
// split into its up phases. It is immutable and safe to share between the
// Resamplers of many channels.
type Polyphase struct {
	up, down   int
	preRemove  int64
	phases     [][]float64 // phases[phi][j] = h[phi + (J-1-j)*up]: reversed for a forward dot product
	maxTaps    int
	halfLen    int
	filterTaps int
	// per output sample, the newest input index advances by stepN and the
	// phase by stepPhi (modulo up)
	stepN   int64
	stepPhi int
}

// NewPolyphase designs the filter bank for resampling by up/down (reduced by
// their gcd).
func NewPolyphase(up, down int) (*Polyphase, error) {
	if up < 1 || down < 1 {
		return nil, fmt.Errorf("resample: up %d and down %d must be at least 1", up, down)
	}
	if max(up, down) > 1<<16 {
		return nil, fmt.Errorf("resample: factors %d/%d too large (the filter would have %d taps)", up, down, 20*max(up, down)+1)
	}
	g := gcd(up, down)
	up, down = up/g, down/g
	p := &Polyphase{up: up, down: down, stepN: int64(down / up), stepPhi: down % up}
	if up == 1 && down == 1 {
		return p, nil
	}
	maxRate := max(up, down)
	halfLen := 10 * maxRate
	h, err := Firwin(2*halfLen+1, 1/float64(maxRate), KaiserBeta)
	if err != nil {
		return nil, err
	}
	for i := range h {
		h[i] *= float64(up)
	}
	// Zero-pad in front so that output samples fall on the filter's centre.
	preP := down - halfLen%down
	p.preRemove = int64((halfLen + preP) / down)
	full := make([]float64, preP+len(h))
	copy(full[preP:], h)
	p.phases = make([][]float64, up)
	for phi := 0; phi < up; phi++ {
		var taps []float64
		for j := phi; j < len(full); j += up {
			taps = append(taps, full[j])
		}
		for a, b := 0, len(taps)-1; a < b; a, b = a+1, b-1 {
			taps[a], taps[b] = taps[b], taps[a]
		}
		p.phases[phi] = taps
		p.maxTaps = max(p.maxTaps, len(taps))
	}
	p.halfLen = halfLen
	p.filterTaps = len(h)
	return p, nil
}

// Up and Down return the reduced ratio.
func (p *Polyphase) Up() int   { return p.up }
func (p *Polyphase) Down() int { return p.down }

// Taps returns the length of the prototype filter (20*max(up, down)+1; 0 for
// the identity).
func (p *Polyphase) Taps() int { return p.filterTaps }

// OutputLen is the number of output samples for n input samples:
// ceil(n*up/down), as resample_poly.
func (p *Polyphase) OutputLen(n int64) int64 {
	return (n*int64(p.up) + int64(p.down) - 1) / int64(p.down)
}

// nmax is the newest input index that output m depends on, and its phase.
func (p *Polyphase) nmax(m int64) (n int64, phi int) {
	t := (m + p.preRemove) * int64(p.down)
	n = t / int64(p.up)
	return n, int(t - n*int64(p.up))
}

// NewResampler returns a streaming resampler using this filter bank.
func (p *Polyphase) NewResampler(pad Pad) *Resampler {
	r := &Resampler{p: p, pad: pad}
	r.Reset()
	return r
}

// Resampler streams scipy.signal.resample_poly(x, up, down,
// window=("kaiser", 5.0), padtype=...) exactly: feed the signal in chunks of
// any size to Process, then call Flush; the concatenated output is the same
// as resampling the whole signal at once (to rounding of the summation
// order). Memory is bounded by the filter length plus the chunk size. Not
// safe for concurrent use.
type Resampler struct {
	p       *Polyphase
	pad     Pad
	buf     []float64 // input samples with indices [bufStart, bufStart+len(buf))
	start   int64
	n       int64 // input samples received
	m       int64 // outputs produced
	started bool
	// newest input index and filter phase of output m, advanced without
	// division
	curN   int64
	curPhi int
}

// Reset forgets the signal seen so far.
func (r *Resampler) Reset() {
	r.buf = r.buf[:0]
	r.start, r.n, r.m, r.started = 0, 0, 0, false
	r.curN, r.curPhi = r.p.nmax(0)
}

// advance moves to the next output sample.
func (r *Resampler) advance() {
	p := r.p
	r.m++
	r.curN += p.stepN
	r.curPhi += p.stepPhi
	if r.curPhi >= p.up {
		r.curPhi -= p.up
		r.curN++
	}
}

func (r *Resampler) padValue(edge float64) float64 {
	if r.pad == PadEdge {
		return edge
	}
	return 0
}

// Process takes the next samples and appends to dst every output sample that
// they complete; it returns the extended dst. It does not allocate once its
// buffer has grown to the chunk size plus the filter length.
func (r *Resampler) Process(dst, src []float64) []float64 {
	if len(src) == 0 {
		return dst
	}
	p := r.p
	if p.up == 1 && p.down == 1 {
		r.n += int64(len(src))
		return append(dst, src...)
	}
	if !r.started {
		// Virtual samples before the first one.
		v := r.padValue(src[0])
		r.start = -int64(p.maxTaps)
		for i := 0; i < p.maxTaps; i++ {
			r.buf = append(r.buf, v)
		}
		r.started = true
	}
	r.buf = append(r.buf, src...)
	r.n += int64(len(src))
	dst = r.produce(dst, r.n-1)
	r.compact()
	return dst
}

// produce appends outputs whose newest input index is at most last.
func (r *Resampler) produce(dst []float64, last int64) []float64 {
	p := r.p
	for r.curN <= last {
		taps := p.phases[r.curPhi]
		off := int(r.curN - int64(len(taps)) + 1 - r.start)
		dst = append(dst, dot(taps, r.buf[off:off+len(taps)]))
		r.advance()
	}
	return dst
}

// compact drops input samples no future output needs.
func (r *Resampler) compact() {
	keep := r.curN - int64(r.p.maxTaps) + 1 // oldest index still needed
	drop := int(keep - r.start)
	if drop > 0 && drop >= len(r.buf)/2 {
		k := copy(r.buf, r.buf[drop:])
		r.buf = r.buf[:k]
		r.start = keep
	}
}

// Flush ends the signal and appends the remaining outputs (computed with the
// padding after the last sample) to dst. The resampler is then Reset.
func (r *Resampler) Flush(dst []float64) []float64 {
	defer r.Reset()
	p := r.p
	if r.n == 0 || (p.up == 1 && p.down == 1) {
		return dst
	}
	total := p.OutputLen(r.n)
	if total == 0 {
		return dst
	}
	lastNeeded, _ := p.nmax(total - 1)
	v := r.padValue(r.buf[len(r.buf)-1])
	for i := r.n; i <= lastNeeded; i++ {
		r.buf = append(r.buf, v)
	}
	for r.m < total {
		taps := p.phases[r.curPhi]
		off := int(r.curN - int64(len(taps)) + 1 - r.start)
		dst = append(dst, dot(taps, r.buf[off:off+len(taps)]))
		r.advance()
	}
	return dst
}

// dot is the inner product of two equally long slices, with four
// accumulators.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// ResamplePoly resamples the whole signal x by up/down
// (scipy.signal.resample_poly with window ("kaiser", 5.0)).
func ResamplePoly(x []float64, up, down int, pad Pad) ([]float64, error) {
	p, err := NewPolyphase(up, down)
	if err != nil {
		return nil, err
	}
	r := p.NewResampler(pad)
	out := make([]float64, 0, p.OutputLen(int64(len(x))))
	out = r.Process(out, x)
	return r.Flush(out), nil
}
