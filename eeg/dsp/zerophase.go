package dsp

import (
	"errors"
	"fmt"
	"math"
)

// DefaultZeroPhaseTolerance is the factor r^Lookahead (r the largest pole
// radius) that bounds how much the streamed backward pass of ZeroPhase can
// differ from the whole-signal one, relative to the signal's scale.
const DefaultZeroPhaseTolerance = 1e-20

// maxLookahead bounds the look-ahead (and so the memory) of ZeroPhase: 2^22
// samples is 4.5 hours at 256 Hz. Filters needing more (poles extremely
// close to the unit circle) must be applied causally.
const maxLookahead = 1 << 22

// ZeroPhase streams scipy.signal.sosfiltfilt(sos, x) (default odd padding)
// in bounded memory.
//
// The forward pass is streamed exactly. The backward pass cannot be streamed
// exactly, since every output depends on the whole future of the signal; it
// is computed block by block: the outputs of a block of Block samples are
// obtained by running the backward filter from Lookahead samples beyond the
// block's end, started in the steady state of the forward output there. The
// error of that start decays like r^Lookahead (r the largest pole radius),
// and Lookahead is chosen so that this is below DefaultZeroPhaseTolerance:
// the result equals the whole-signal one to float64 rounding (the tests check
// 1e-12 relative to the signal's scale). The last block is computed from
// the true end of the signal exactly as scipy does.
//
// Memory is O(Block + Lookahead) samples, independent of the signal length;
// output lags input by up to Block + Lookahead samples (all of it comes out
// at Flush). Not safe for concurrent use.
type ZeroPhase struct {
	fwd, bwd *SOSFilter
	pad      int
	look     int
	block    int

	head    []float64 // first pad+1 input samples, until the forward pass starts
	started bool
	tail    []float64 // ring of the last pad+1 input samples (for the end extension)
	tailN   int64     // total input samples seen
	ybuf    []float64 // forward outputs for input indices [ybase, ybase+len(ybuf))
	ybase   int64
	emitted int64 // outputs emitted so far (= next index to emit)
	scratch []float64
	padBuf  []float64
}

// NewZeroPhase returns a streaming zero-phase filter for sos with the
// default look-ahead for DefaultZeroPhaseTolerance.
func NewZeroPhase(sos SOS) (*ZeroPhase, error) {
	fwd, err := NewSOSFilter(sos)
	if err != nil {
		return nil, err
	}
	bwd, _ := NewSOSFilter(sos)
	r := sos.MaxPoleRadius()
	look := 64
	if r > 0 {
		l := math.Ceil(math.Log(DefaultZeroPhaseTolerance) / math.Log(r))
		if l > maxLookahead {
			return nil, fmt.Errorf("zero-phase filter: a pole at radius %v needs a look-ahead of %.0f samples (more than %d): use causal filtering", r, l, maxLookahead)
		}
		look = max(look, int(l))
	}
	z := &ZeroPhase{fwd: fwd, bwd: bwd, pad: DefaultPadLen(sos), look: look, block: max(look, 4096)}
	z.Reset()
	return z, nil
}

// Lookahead returns how many samples beyond a block the backward pass starts.
func (z *ZeroPhase) Lookahead() int { return z.look }

// Reset forgets the signal seen so far.
func (z *ZeroPhase) Reset() {
	z.fwd.Reset()
	z.bwd.Reset()
	z.head = z.head[:0]
	z.started = false
	if cap(z.tail) < z.pad+1 {
		z.tail = make([]float64, z.pad+1)
	}
	z.tail = z.tail[:z.pad+1]
	z.tailN = 0
	z.ybuf = z.ybuf[:0]
	z.ybase = 0
	z.emitted = 0
}

// Process takes the next samples of the signal and appends to dst the
// outputs that are now final; it returns the extended dst. It does not
// allocate once its buffers have grown.
func (z *ZeroPhase) Process(dst, src []float64) []float64 {
	for _, v := range src {
		z.tail[z.tailN%int64(len(z.tail))] = v
		z.tailN++
	}
	fromHead := false
	if !z.started {
		z.head = append(z.head, src...)
		if len(z.head) <= z.pad {
			return dst
		}
		z.start()
		src, fromHead = z.head, true
	}
	n0 := len(z.ybuf)
	z.ybuf = append(z.ybuf, src...)
	z.fwd.Process(z.ybuf[n0:], z.ybuf[n0:])
	if fromHead {
		z.head = z.head[:0]
	}
	return z.emitBlocks(dst)
}

// start runs the forward filter over the odd extension before the first
// sample; its outputs are never needed (the backward pass discards them).
func (z *ZeroPhase) start() {
	x := z.head
	if cap(z.padBuf) < z.pad {
		z.padBuf = make([]float64, z.pad)
	}
	ext := z.padBuf[:z.pad]
	for i := range ext {
		ext[i] = 2*x[0] - x[z.pad-i]
	}
	if z.pad > 0 {
		z.fwd.SetSteadyState(ext[0])
	} else {
		z.fwd.SetSteadyState(x[0])
	}
	z.fwd.Process(ext, ext)
	z.started = true
}

// emitBlocks emits every block whose look-ahead is available.
func (z *ZeroPhase) emitBlocks(dst []float64) []float64 {
	for {
		end := z.ybase + int64(len(z.ybuf)) // forward outputs known for [ybase, end)
		if z.emitted+int64(z.block+z.look) > end {
			break
		}
		lo := int(z.emitted - z.ybase)
		seg := z.ybuf[lo : lo+z.block+z.look]
		if cap(z.scratch) < len(seg) {
			z.scratch = make([]float64, len(seg))
		}
		out := z.scratch[:len(seg)]
		z.bwd.SetSteadyState(seg[len(seg)-1])
		z.bwd.processReverse(out, seg)
		dst = append(dst, out[:z.block]...)
		z.emitted += int64(z.block)
	}
	// Drop forward outputs that are no longer needed (after every emitted
	// block: the copy is at most Lookahead + Block samples).
	if drop := int(z.emitted - z.ybase); drop >= z.block {
		n := copy(z.ybuf, z.ybuf[drop:])
		z.ybuf = z.ybuf[:n]
		z.ybase = z.emitted
	}
	return dst
}

// ErrTooShort is returned (wrapped) by ZeroPhase.Flush and SOSFiltFilt-like
// operations when the signal is not longer than the filter's edge padding.
var ErrTooShort = errors.New("signal too short for zero-phase filtering")

// Flush ends the signal: it runs the forward filter over the odd extension
// after the last sample and the backward pass from the true end, and appends
// the remaining outputs to dst. The filter is then Reset. A signal not
// longer than the padding (DefaultPadLen) is an error wrapping ErrTooShort,
// as in scipy; an empty signal gives no output.
func (z *ZeroPhase) Flush(dst []float64) ([]float64, error) {
	defer z.Reset()
	if z.tailN == 0 {
		return dst, nil
	}
	if !z.started {
		return dst, fmt.Errorf("zero-phase filter: %w: %d samples, must be more than the padding of %d", ErrTooShort, z.tailN, z.pad)
	}
	// Odd extension after the end: 2*x[N-1] - x[N-2-i].
	ring := int64(len(z.tail))
	last := z.tail[(z.tailN-1)%ring]
	n0 := len(z.ybuf)
	for i := 0; i < z.pad; i++ {
		z.ybuf = append(z.ybuf, 2*last-z.tail[(z.tailN-2-int64(i))%ring])
	}
	z.fwd.Process(z.ybuf[n0:], z.ybuf[n0:])
	lo := int(z.emitted - z.ybase)
	seg := z.ybuf[lo:]
	if cap(z.scratch) < len(seg) {
		z.scratch = make([]float64, len(seg))
	}
	out := z.scratch[:len(seg)]
	z.bwd.SetSteadyState(seg[len(seg)-1])
	z.bwd.processReverse(out, seg)
	dst = append(dst, out[:len(seg)-z.pad]...)
	return dst, nil
}
