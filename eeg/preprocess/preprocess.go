package preprocess

import (
	"fmt"
	"math"

	"github.com/pipeml/pipe/eeg/dsp"
	"github.com/pipeml/pipe/eeg/montage"
)

// Input describes one channel of a recording.
type Input struct {
	// Label is the channel label as written in the file ("EEG FP1-REF").
	Label string
	// Rate is the channel's sample rate in Hz.
	Rate float64
	// Unit is its physical dimension ("uV", "mV", ...; empty is taken as
	// microvolts).
	Unit string
}

// Preprocessor holds the plan for one recording: which inputs are read, how
// they are resampled, combined and filtered. It is immutable and safe for
// concurrent use; each pass over the data uses its own Stream.
type Preprocessor struct {
	cfg      Config
	inputs   []Input
	plan     *montage.Plan
	scale    []float64        // per used input: factor to microvolts
	poly     []*dsp.Polyphase // per used input
	pad      dsp.Pad
	band     dsp.SOS // nil: no band filter
	notch    dsp.SOS // nil: no notch
	rateErr  float64
	notes    []string
	channels []string
}

// New plans the preprocessing of a recording with the given channels. It
// fails when the configuration is invalid, when the montage cannot be built
// from the labels (a *montage.MissingError, wrapping montage.ErrSkip when
// the policy is "skip"), when a needed channel's unit is not a voltage or
// its rate cannot be converted within MaxRateError.
func New(cfg Config, inputs []Input) (*Preprocessor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	labels := make([]string, len(inputs))
	for i, in := range inputs {
		labels[i] = in.Label
	}
	plan, err := montage.Build(labels, cfg.montageConfig())
	if err != nil {
		return nil, err
	}
	p := &Preprocessor{cfg: cfg, inputs: inputs, plan: plan, channels: plan.Channels}
	p.notes = append(p.notes, plan.Notes...)
	if len(plan.Interpolated) > 0 {
		p.notes = append(p.notes, fmt.Sprintf("interpolated %v from the other channels (spherical splines)", plan.Interpolated))
	}
	if len(plan.Zeroed) > 0 {
		p.notes = append(p.notes, fmt.Sprintf("channels %v are zero: their electrodes are missing", plan.Zeroed))
	}
	p.pad, _ = dsp.ParsePad(cfg.ResamplePad)
	polys := map[[2]int]*dsp.Polyphase{}
	for _, idx := range plan.Inputs {
		in := inputs[idx]
		s, known, err := unitScale(in.Unit)
		if err != nil {
			return nil, fmt.Errorf("channel %q: %w", in.Label, err)
		}
		if !known {
			p.notes = append(p.notes, fmt.Sprintf("channel %q has no physical dimension: taken as microvolts", in.Label))
		}
		p.scale = append(p.scale, s)
		up, down, relErr, err := dsp.Ratio(in.Rate, cfg.Rate, cfg.ResampleMaxFactor)
		if err != nil {
			return nil, fmt.Errorf("channel %q: %w", in.Label, err)
		}
		if relErr > cfg.MaxRateError {
			return nil, fmt.Errorf("channel %q: %v Hz cannot be resampled to %v Hz within max_rate_error %g: the best ratio %d/%d is off by %.3g (raise resample_max_factor or max_rate_error)", in.Label, in.Rate, cfg.Rate, cfg.MaxRateError, up, down, relErr)
		}
		if relErr > 0 {
			p.notes = append(p.notes, fmt.Sprintf("channel %q: %v Hz resampled by %d/%d: output rate %.6f Hz, relative error %.3g", in.Label, in.Rate, up, down, in.Rate*float64(up)/float64(down), relErr))
		}
		p.rateErr = math.Max(p.rateErr, relErr)
		key := [2]int{up, down}
		if polys[key] == nil {
			if polys[key], err = dsp.NewPolyphase(up, down); err != nil {
				return nil, err
			}
		}
		p.poly = append(p.poly, polys[key])
	}
	if err := p.designFilters(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Preprocessor) designFilters() error {
	c := p.cfg
	nyq := c.Rate / 2
	var err error
	switch {
	case c.BandpassLow > 0 && c.BandpassHigh > 0 && c.BandpassHigh < nyq:
		p.band, err = dsp.Butter(c.BandpassOrder, dsp.Bandpass, c.BandpassLow, c.BandpassHigh, c.Rate)
	case c.BandpassLow > 0:
		if c.BandpassHigh >= nyq {
			p.notes = append(p.notes, fmt.Sprintf("bandpass_high %v Hz is not below the Nyquist frequency %v Hz: high-pass at %v Hz only", c.BandpassHigh, nyq, c.BandpassLow))
		}
		p.band, err = dsp.Butter(c.BandpassOrder, dsp.Highpass, c.BandpassLow, 0, c.Rate)
	case c.BandpassHigh > 0 && c.BandpassHigh < nyq:
		p.band, err = dsp.Butter(c.BandpassOrder, dsp.Lowpass, 0, c.BandpassHigh, c.Rate)
	case c.BandpassHigh >= nyq:
		p.notes = append(p.notes, fmt.Sprintf("bandpass_high %v Hz is not below the Nyquist frequency %v Hz: no low-pass", c.BandpassHigh, nyq))
	}
	if err != nil {
		return fmt.Errorf("band-pass: %w", err)
	}
	if c.Notch > 0 {
		if p.notch, err = dsp.Notch(c.Notch, c.NotchQ, c.Rate); err != nil {
			return fmt.Errorf("notch: %w", err)
		}
	}
	return nil
}

// Config returns the configuration.
func (p *Preprocessor) Config() Config { return p.cfg }

// Channels returns the names of the output channels.
func (p *Preprocessor) Channels() []string { return p.channels }

// Inputs returns the indices (into the inputs given to New) of the channels
// that are read, ascending; Stream.Write takes their samples in this order.
func (p *Preprocessor) Inputs() []int { return p.plan.Inputs }

// Rate returns the output sample rate.
func (p *Preprocessor) Rate() float64 { return p.cfg.Rate }

// RateError returns the largest relative error of the output rate over the
// inputs (0 when every ratio is exact).
func (p *Preprocessor) RateError() float64 { return p.rateErr }

// Notes describe choices made for this recording (interpolated or zeroed
// channels, approximated rates, filter fall-backs, duplicate labels).
func (p *Preprocessor) Notes() []string { return append([]string(nil), p.notes...) }

// Plan returns the montage plan.
func (p *Preprocessor) Plan() *montage.Plan { return p.plan }

// OutputLen returns the number of output samples for inputs of the given
// lengths (one per Inputs entry): the shortest of the resampled lengths.
func (p *Preprocessor) OutputLen(n []int64) int64 {
	out := int64(-1)
	for i, poly := range p.poly {
		if l := poly.OutputLen(n[i]); out < 0 || l < out {
			out = l
		}
	}
	return max(out, 0)
}

// Stream is one pass of a Preprocessor over a recording: raw samples in,
// filtered (not normalised) microvolts out. Not safe for concurrent use.
type Stream struct {
	p     *Preprocessor
	emit  func(block [][]float64) error
	rs    []*dsp.Resampler
	queue [][]float64 // per used input, resampled samples not yet combined
	tmp   []float64
	mixed [][]float64 // per output channel, combined samples
	causal
	zero   []zeroChain
	zbuf   [2][][]float64 // per zero-phase stage and channel, its output
	out    [][]float64
	inN    []int64
	offset []float64 // per input: its first sample (µV), see Write
	outN   int64
	closed bool
}

type causal struct {
	band, notch *dsp.SOSBank
	started     bool
}

type zeroChain struct{ band, notch *dsp.ZeroPhase }

// NewStream starts a pass. emit receives consecutive blocks of output:
// block[k] holds the next samples of output channel k (all of equal length),
// in microvolts, filtered but not normalised; the slices are reused after
// emit returns. An error from emit stops the pass and is returned by the
// Write or Close that called it.
func (p *Preprocessor) NewStream(emit func(block [][]float64) error) (*Stream, error) {
	s := &Stream{p: p, emit: emit, inN: make([]int64, len(p.poly)), offset: make([]float64, len(p.poly))}
	for _, poly := range p.poly {
		s.rs = append(s.rs, poly.NewResampler(p.pad))
	}
	s.queue = make([][]float64, len(p.poly))
	nout := len(p.channels)
	s.mixed = make([][]float64, nout)
	s.out = make([][]float64, nout)
	s.zbuf = [2][][]float64{make([][]float64, nout), make([][]float64, nout)}
	var err error
	if p.cfg.Phase == PhaseCausal && p.band != nil {
		if s.causal.band, err = dsp.NewSOSBank(p.band, nout); err != nil {
			return nil, err
		}
	}
	if p.cfg.Phase == PhaseCausal && p.notch != nil {
		if s.causal.notch, err = dsp.NewSOSBank(p.notch, nout); err != nil {
			return nil, err
		}
	}
	for k := 0; k < nout && p.cfg.Phase == PhaseZero; k++ {
		var zc zeroChain
		if p.band != nil {
			if zc.band, err = dsp.NewZeroPhase(p.band); err != nil {
				return nil, err
			}
		}
		if p.notch != nil {
			if zc.notch, err = dsp.NewZeroPhase(p.notch); err != nil {
				return nil, err
			}
		}
		s.zero = append(s.zero, zc)
	}
	return s, nil
}

// Write takes the next raw samples: chunk[i] holds physical values of input
// Inputs()[i] (the chunks of different inputs may differ in length, e.g.
// one data record each at their own rates). A non-finite value is an error
// naming the channel and sample.
func (s *Stream) Write(chunk [][]float64) error {
	if s.closed {
		return fmt.Errorf("preprocess: write after close")
	}
	if len(chunk) != len(s.rs) {
		return fmt.Errorf("preprocess: %d input channels in chunk, want %d", len(chunk), len(s.rs))
	}
	for i, x := range chunk {
		if len(x) == 0 {
			continue
		}
		if cap(s.tmp) < len(x) {
			s.tmp = make([]float64, len(x))
		}
		t := s.tmp[:len(x)]
		sc := s.p.scale[i]
		if s.inN[i] == 0 && s.p.pad == dsp.PadEdge {
			s.offset[i] = x[0] * sc
		}
		off := s.offset[i]
		for j, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("channel %q: sample %d is %v", s.p.inputs[s.p.plan.Inputs[i]].Label, s.inN[i]+int64(j), v)
			}
			t[j] = v*sc - off
		}
		s.inN[i] += int64(len(x))
		s.resample(i, t, false)
	}
	return s.mix(false)
}

// resample appends the resampled input i to its queue, with the offset
// added back. With edge padding the first sample is subtracted before
// resampling and added back after: the polyphase sub-filters' DC gains
// differ from 1 by up to 7e-4 (Kaiser beta 5), which would turn a large
// electrode offset into a periodic ripple at multiples of rate/up (2 Hz for
// 250 -> 256 Hz) inside the pass band; the offset is thus carried exactly.
func (s *Stream) resample(i int, x []float64, flush bool) {
	n0 := len(s.queue[i])
	if flush {
		s.queue[i] = s.rs[i].Flush(s.queue[i])
	} else {
		s.queue[i] = s.rs[i].Process(s.queue[i], x)
	}
	if off := s.offset[i]; off != 0 {
		q := s.queue[i][n0:]
		for j := range q {
			q[j] += off
		}
	}
}

// mix combines the samples available on every input and runs the filters.
func (s *Stream) mix(final bool) error {
	n := math.MaxInt
	for _, q := range s.queue {
		n = min(n, len(q))
	}
	if n == 0 && !final {
		return nil
	}
	for k := range s.mixed {
		if cap(s.mixed[k]) < n {
			s.mixed[k] = make([]float64, n, 2*n)
		}
		s.mixed[k] = s.mixed[k][:n]
	}
	s.p.plan.Apply(s.mixed, s.queue)
	for i, q := range s.queue {
		s.queue[i] = q[:copy(q, q[n:])]
	}
	if s.p.cfg.Phase == PhaseCausal {
		return s.filterCausal(n)
	}
	return s.filterZero(final)
}

func (s *Stream) filterCausal(n int) error {
	if n == 0 {
		return nil
	}
	c := &s.causal
	for _, bank := range []*dsp.SOSBank{c.band, c.notch} {
		if bank == nil {
			continue
		}
		if !c.started {
			for k, x := range s.mixed {
				bank.SetSteadyState(k, x[0])
			}
		}
		bank.Process(s.mixed)
	}
	c.started = true
	return s.send(s.mixed)
}

func (s *Stream) filterZero(final bool) error {
	for k, x := range s.mixed {
		y := x
		for st, z := range []*dsp.ZeroPhase{s.zero[k].band, s.zero[k].notch} {
			if z == nil {
				continue
			}
			out := z.Process(s.zbuf[st][k][:0], y)
			if final {
				var err error
				if out, err = z.Flush(out); err != nil {
					return fmt.Errorf("channel %s: %w", s.p.channels[k], err)
				}
			}
			s.zbuf[st][k] = out
			y = out
		}
		s.out[k] = y
	}
	return s.send(s.out)
}

func (s *Stream) send(block [][]float64) error {
	if len(block) == 0 || len(block[0]) == 0 {
		return nil
	}
	s.outN += int64(len(block[0]))
	return s.emit(block)
}

// Close ends the pass: the resamplers and filters are flushed and the last
// blocks emitted. Input channels that yield more resampled samples than the
// shortest one are cut to its length.
func (s *Stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	for i := range s.rs {
		s.resample(i, nil, true)
	}
	return s.mix(true)
}

// Samples returns the number of output samples per channel emitted so far.
func (s *Stream) Samples() int64 { return s.outN }

// InputSamples returns the number of raw samples written per input.
func (s *Stream) InputSamples() []int64 { return append([]int64(nil), s.inN...) }
