package preprocess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/pipeml/pipe/eeg/dsp"
	"github.com/pipeml/pipe/eeg/edf"
)

// Source delivers a recording's raw samples in chunks.
type Source interface {
	// Next returns the next chunk: chunk[i] holds the next physical values
	// of input Inputs()[i]. It returns io.EOF (and no chunk) at the end. The
	// slices may be reused by the next call.
	Next() ([][]float64, error)
}

// OpenFunc opens a recording's samples from the start; Run calls it once
// per pass.
type OpenFunc func() (Source, error)

// Summary describes one preprocessed recording.
type Summary struct {
	// Channels are the output channel names, Rate the output rate.
	Channels []string
	Rate     float64
	// Samples is the number of output samples per channel.
	Samples int64
	// InputSamples is the number of raw samples read per input channel
	// (in Inputs() order).
	InputSamples []int64
	// Center and Scale are the per-channel normalisation: output =
	// clip((x - Center) / Scale), in microvolts. 0 and 1 when Normalize is
	// "none".
	Center, Scale []float64
	// Flat lists channels whose scale is below FlatScale microvolts (a
	// disconnected electrode, a zero-filled channel): their output is zero.
	Flat []string
	// Clipped counts, per channel, the samples limited to ±Clip.
	Clipped []int64
	// RateError is the largest relative error of the output rate.
	RateError float64
	// Notes are the Preprocessor's notes.
	Notes []string
}

// FlatScale is the scale (standard deviation or IQR/1.349 of the filtered
// signal, in microvolts) below which a channel is considered flat and output
// as zeros instead of amplified rounding noise. Real EEG is above 1 µV.
const FlatScale = 1e-3

// RunOptions tune how Run uses resources; they never change its output.
type RunOptions struct {
	// SpillDir, when not empty, makes a normalising Run read and filter the
	// recording once instead of twice: the filtered signal goes to an
	// unlinked temporary file in SpillDir during the statistics pass (8 bytes
	// per sample and channel: 140 MB per hour of 19 channels at 256 Hz) and
	// is read back for the output pass. The file disappears when Run returns
	// or the process dies.
	SpillDir string
}

// Run preprocesses a recording and hands the result to sink in consecutive
// blocks: block[k] holds the next float32 samples of output channel k (all
// the same length; the slices are reused after sink returns). With
// normalisation it makes two passes over the source (statistics, then
// output); with Normalize "none" one. Memory is bounded by the chunk size and
// the filters, not by the recording's length. ctx is checked between chunks.
func (p *Preprocessor) Run(ctx context.Context, open OpenFunc, sink func(block [][]float32) error) (*Summary, error) {
	return p.RunWith(ctx, open, sink, RunOptions{})
}

// RunWith is Run with options.
func (p *Preprocessor) RunWith(ctx context.Context, open OpenFunc, sink func(block [][]float32) error, opt RunOptions) (*Summary, error) {
	sum := &Summary{Channels: p.channels, Rate: p.cfg.Rate, RateError: p.rateErr, Notes: p.Notes()}
	nch := len(p.channels)
	sum.Center = make([]float64, nch)
	sum.Scale = make([]float64, nch)
	sum.Clipped = make([]int64, nch)
	for k := range sum.Scale {
		sum.Scale[k] = 1
	}
	var norm *normalizer
	var f32 [][]float32
	output := func(block [][]float64) error {
		if f32 == nil {
			f32 = make([][]float32, nch)
		}
		for k, x := range block {
			if cap(f32[k]) < len(x) {
				f32[k] = make([]float32, len(x), 2*len(x))
			}
			f32[k] = f32[k][:len(x)]
			sum.Clipped[k] += norm.apply(k, f32[k], x)
		}
		return sink(f32)
	}
	var s *Stream
	var err error
	if p.cfg.Normalize == NormNone {
		norm = newNormalizer(sum, p.cfg.Clip)
		s, err = p.pass(ctx, open, output)
	} else {
		st := newStats(p.cfg.Normalize, nch)
		var sp *spill
		emit := st.add
		if opt.SpillDir != "" {
			if sp, err = newSpill(opt.SpillDir); err != nil {
				return nil, err
			}
			defer sp.close()
			emit = func(block [][]float64) error {
				st.add(block)
				return sp.write(block)
			}
		}
		if s, err = p.pass(ctx, open, emit); err != nil {
			return nil, err
		}
		st.finish(sum)
		norm = newNormalizer(sum, p.cfg.Clip)
		if sp != nil {
			err = sp.replay(ctx, nch, output)
		} else {
			s, err = p.pass(ctx, open, output)
		}
	}
	if err != nil {
		return nil, err
	}
	sum.Samples = s.Samples()
	sum.InputSamples = s.InputSamples()
	return sum, nil
}

// pass streams the whole source through a new Stream.
func (p *Preprocessor) pass(ctx context.Context, open OpenFunc, emit func([][]float64) error) (*Stream, error) {
	src, err := open()
	if err != nil {
		return nil, err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	s, err := p.NewStream(emit)
	if err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := s.Write(chunk); err != nil {
			return nil, err
		}
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	return s, nil
}

// stats accumulates per-channel statistics for normalisation.
type stats struct {
	mode    string
	moments []dsp.Moments
	quant   []*dsp.Quantiles
}

func newStats(mode string, nch int) *stats {
	st := &stats{mode: mode}
	switch mode {
	case NormZScore:
		st.moments = make([]dsp.Moments, nch)
	case NormRobust:
		for k := 0; k < nch; k++ {
			st.quant = append(st.quant, dsp.NewQuantiles())
		}
	}
	return st
}

func (st *stats) add(block [][]float64) error {
	if len(block) == 0 || len(block[0]) == 0 {
		return nil
	}
	for k, x := range block {
		if st.moments != nil {
			st.moments[k].Add(x)
		} else {
			st.quant[k].Add(x)
		}
	}
	return nil
}

func (st *stats) finish(sum *Summary) {
	for k := range sum.Channels {
		var center, scale float64
		if st.moments != nil {
			center, scale = st.moments[k].Mean(), st.moments[k].Std()
		} else {
			q := st.quant[k]
			center = q.Quantile(0.5)
			scale = (q.Quantile(0.75) - q.Quantile(0.25)) / iqrToSigma
		}
		if math.IsNaN(scale) { // empty recording
			scale = 0
		}
		if scale < FlatScale {
			sum.Flat = append(sum.Flat, sum.Channels[k])
		}
		if math.IsNaN(center) {
			center = 0
		}
		sum.Center[k], sum.Scale[k] = center, scale
	}
}

// normalizer applies centre, scale and clipping.
type normalizer struct {
	center, inv []float64
	clip        float64
}

func newNormalizer(sum *Summary, clip float64) *normalizer {
	n := &normalizer{center: sum.Center, clip: clip}
	for _, s := range sum.Scale {
		inv := 0.0 // a flat channel comes out as zeros
		if s >= FlatScale {
			inv = 1 / s
		}
		n.inv = append(n.inv, inv)
	}
	return n
}

// apply writes the normalised, clipped x to dst and returns the number of
// clipped samples.
func (n *normalizer) apply(k int, dst []float32, x []float64) int64 {
	c, inv, lim := n.center[k], n.inv[k], n.clip
	var clipped int64
	for i, v := range x {
		z := (v - c) * inv
		if lim > 0 {
			if z > lim {
				z = lim
				clipped++
			} else if z < -lim {
				z = -lim
				clipped++
			}
		}
		dst[i] = float32(z)
	}
	return clipped
}

// ProcessAll preprocesses signals held in memory (signals[i] for input
// Inputs()[i], raw physical values) and returns the output channels. It is
// Run over a one-chunk source, for tests and small data.
func (p *Preprocessor) ProcessAll(ctx context.Context, signals [][]float64) ([][]float32, *Summary, error) {
	if len(signals) != len(p.plan.Inputs) {
		return nil, nil, fmt.Errorf("preprocess: %d signals, want %d (one per Inputs entry)", len(signals), len(p.plan.Inputs))
	}
	out := make([][]float32, len(p.channels))
	sum, err := p.Run(ctx, func() (Source, error) { return &sliceSource{data: signals}, nil }, func(block [][]float32) error {
		for k, x := range block {
			out[k] = append(out[k], x...)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, sum, nil
}

type sliceSource struct {
	data [][]float64
	done bool
}

func (s *sliceSource) Next() ([][]float64, error) {
	if s.done {
		return nil, io.EOF
	}
	s.done = true
	return s.data, nil
}

// EDFInputs describes the data signals of an EDF file (annotation signals
// are left out): the Input for each, and its signal index in the header.
func EDFInputs(h *edf.Header) (inputs []Input, sigs []int) {
	for _, i := range h.DataSignals() {
		s := h.Signals[i]
		inputs = append(inputs, Input{Label: s.Label, Rate: s.SampleRate, Unit: s.Unit})
		sigs = append(sigs, i)
	}
	return inputs, sigs
}

// EDFRecordsPerChunk is how many data records EDFSource reads at a time.
const EDFRecordsPerChunk = 64

// EDFSource returns an OpenFunc reading the inputs p needs from r, given the
// signal indices sigs returned by EDFInputs alongside the inputs p was built
// from. Each chunk holds EDFRecordsPerChunk data records.
func EDFSource(r *edf.Reader, sigs []int, p *Preprocessor) OpenFunc {
	return func() (Source, error) {
		s := &edfSource{r: r}
		for _, i := range p.Inputs() {
			if i >= len(sigs) {
				return nil, fmt.Errorf("%s: input %d has no signal (%d signals)", r.Name(), i, len(sigs))
			}
			s.sigs = append(s.sigs, sigs[i])
		}
		return s, nil
	}
}

type edfSource struct {
	r    *edf.Reader
	sigs []int
	next int64
	buf  [][]float64
}

func (s *edfSource) Next() ([][]float64, error) {
	h := s.r.Header()
	if s.next >= h.Records {
		return nil, io.EOF
	}
	n := min(int64(EDFRecordsPerChunk), h.Records-s.next)
	if s.buf == nil {
		s.buf = make([][]float64, len(s.sigs))
	}
	for i, sig := range s.sigs {
		want := int(n) * h.Signals[sig].SamplesPerRecord
		if cap(s.buf[i]) < want {
			s.buf[i] = make([]float64, want)
		}
		s.buf[i] = s.buf[i][:want]
	}
	if err := s.r.ReadRecords(s.next, n, s.sigs, s.buf); err != nil {
		return nil, err
	}
	s.next += n
	return s.buf, nil
}
