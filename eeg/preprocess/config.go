// Package preprocess turns the raw channels of an EEG recording into the
// fixed montage at a fixed rate that the window cache stores and the model
// reads: channel selection (eeg/montage), conversion to microvolts,
// anti-aliased resampling, band-pass and notch filtering (eeg/dsp),
// per-recording normalisation and clipping, all in memory bounded
// independently of the recording's length.
//
// Usage, for one recording:
//
//	inputs, sigs := preprocess.EDFInputs(reader.Header())
//	p, err := preprocess.New(cfg, inputs)        // plans montage and filters
//	sum, err := p.Run(ctx, preprocess.EDFSource(reader, sigs, p), func(b [][]float32) error {
//		... b[k] holds the next samples of output channel k ...
//	})
//
// The steps, in order:
//
//  1. every input channel the montage needs is scaled to microvolts
//     (from its EDF physical dimension) and checked to be finite;
//  2. it is resampled to Config.Rate by dsp's polyphase resampler (the rate
//     ratio approximated rationally when it is not a small fraction; the
//     error is reported and bounded by Config.MaxRateError);
//  3. the montage (referential 19 channels or TCP, with interpolation of
//     missing interior channels) combines the resampled inputs;
//  4. each output channel is band-pass filtered (Butterworth, second-order
//     sections) and notch filtered (iirnotch), causally from the steady
//     state of its first sample or zero-phase, per Config.Phase;
//  5. each channel is normalised with statistics of the whole recording
//     (z-score or median/IQR), clipped to ±Config.Clip, and converted to
//     float32.
//
// Normalisation needs statistics of the whole filtered recording before the
// first output sample can be written; Run therefore reads the recording
// twice (it is cheap to re-read an EDF file, and doing so keeps memory
// bounded). Stream offers the single pass without normalisation for callers
// that keep the filtered signal themselves.
package preprocess

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/pipeml/pipe/eeg/dsp"
	"github.com/pipeml/pipe/eeg/montage"
)

// Version identifies the preprocessing algorithm. It is part of the
// canonical encoding of a Config, so caches built by an older algorithm are
// not mistaken for current ones. Change it whenever the output for the
// same Config changes.
const Version = "preprocess/1"

// Phase values.
const (
	// PhaseCausal filters forwards only (scipy's sosfilt), started in the
	// steady state of the first sample. Exact when streamed.
	PhaseCausal = "causal"
	// PhaseZero filters forwards and backwards (scipy's sosfiltfilt with odd
	// padding); streamed with a look-ahead, see dsp.ZeroPhase.
	PhaseZero = "zero"
)

// Normalize values.
const (
	// NormZScore subtracts the mean and divides by the population standard
	// deviation of the channel over the whole recording.
	NormZScore = "zscore"
	// NormRobust subtracts the median and divides by IQR/1.349 (the IQR of a
	// unit normal distribution), so that clip thresholds mean the same as for
	// z-scores on Gaussian data but single artefacts do not set the scale.
	// Quantiles come from dsp.Quantiles (within 0.8 % of their magnitude).
	NormRobust = "robust"
	// NormNone leaves the filtered microvolts as they are.
	NormNone = "none"
)

// iqrToSigma is the interquartile range of the standard normal distribution.
const iqrToSigma = 1.3489795003921634

// Config configures the preprocessing. Start from DefaultConfig and change
// fields; the zero value of a field is a setting of its own (0 turns a filter
// off), not "default". Fields carry json and cty tags with the same names,
// which are also the attribute names of HCLSpec.
type Config struct {
	// Rate is the output sample rate in Hz (default 256).
	Rate float64 `json:"rate" cty:"rate"`
	// Montage, Interpolate and OnMissing configure the channel mapping; see
	// montage.Config (defaults "referential", ["Fz", "Pz"], "error").
	Montage     string   `json:"montage" cty:"montage"`
	Interpolate []string `json:"interpolate" cty:"interpolate"`
	OnMissing   string   `json:"on_missing" cty:"on_missing"`
	// ResampleMaxFactor bounds the up and down factors of the rational
	// resampling ratio (default 1024; see dsp.Ratio).
	ResampleMaxFactor int `json:"resample_max_factor" cty:"resample_max_factor"`
	// ResamplePad is what the resampler assumes beyond both ends: "edge"
	// (default: repeat the end samples) or "constant" (zeros, scipy's
	// default).
	ResamplePad string `json:"resample_pad" cty:"resample_pad"`
	// MaxRateError is the largest accepted relative error of the output
	// rate when a ratio must be approximated (default 1e-5: 36 ms per hour).
	MaxRateError float64 `json:"max_rate_error" cty:"max_rate_error"`
	// BandpassLow and BandpassHigh are the band edges in Hz (defaults 0.5
	// and 120). Low 0 means no high-pass; High 0 means no low-pass. A High
	// at or above the Nyquist frequency (Rate/2) falls back to a high-pass
	// at Low, with a note in the Summary.
	BandpassLow  float64 `json:"bandpass_low" cty:"bandpass_low"`
	BandpassHigh float64 `json:"bandpass_high" cty:"bandpass_high"`
	// BandpassOrder is the Butterworth order (default 3; a band-pass of
	// order N has 2N poles).
	BandpassOrder int `json:"bandpass_order" cty:"bandpass_order"`
	// Notch is the mains frequency removed by an iirnotch filter in Hz
	// (default 60; 50 in Europe; 0 disables), NotchQ its quality factor
	// (default 30).
	Notch  float64 `json:"notch" cty:"notch"`
	NotchQ float64 `json:"notch_q" cty:"notch_q"`
	// Phase is "causal" (default) or "zero"; see the dsp package for the
	// trade-off.
	Phase string `json:"phase" cty:"phase"`
	// Normalize is "zscore" (default), "robust" or "none".
	Normalize string `json:"normalize" cty:"normalize"`
	// Clip limits normalised values to [-Clip, Clip] (default 10; 0
	// disables).
	Clip float64 `json:"clip" cty:"clip"`
}

// DefaultConfig returns the defaults: 256 Hz, the 19 referential channels
// with Fz/Pz interpolation, 0.5-120 Hz Butterworth order 3, 60 Hz notch with
// Q 30, causal filtering, z-score, clip at 10.
func DefaultConfig() Config {
	return Config{
		Rate:              256,
		Montage:           montage.MontageReferential,
		Interpolate:       slices.Clone(montage.DefaultInterpolate),
		OnMissing:         montage.OnMissingError,
		ResampleMaxFactor: dsp.DefaultMaxFactor,
		ResamplePad:       dsp.PadEdge.String(),
		MaxRateError:      1e-5,
		BandpassLow:       0.5,
		BandpassHigh:      120,
		BandpassOrder:     3,
		Notch:             60,
		NotchQ:            30,
		Phase:             PhaseCausal,
		Normalize:         NormZScore,
		Clip:              10,
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	if !finite(c.Rate) || c.Rate <= 0 {
		return fmt.Errorf("rate %v: must be a positive number of Hz", c.Rate)
	}
	if err := c.montageConfig().Validate(); err != nil {
		return err
	}
	if c.ResampleMaxFactor < 1 || c.ResampleMaxFactor > 1<<14 {
		return fmt.Errorf("resample_max_factor %d: must be in 1..%d", c.ResampleMaxFactor, 1<<14)
	}
	if _, err := dsp.ParsePad(c.ResamplePad); err != nil {
		return fmt.Errorf("resample_pad: %w", err)
	}
	if !finite(c.MaxRateError) || c.MaxRateError < 0 || c.MaxRateError > 0.01 {
		return fmt.Errorf("max_rate_error %v: must be in [0, 0.01]", c.MaxRateError)
	}
	nyq := c.Rate / 2
	if !finite(c.BandpassLow) || c.BandpassLow < 0 || c.BandpassLow >= nyq {
		return fmt.Errorf("bandpass_low %v Hz: must be 0 (off) or in (0, %v) (half the rate)", c.BandpassLow, nyq)
	}
	if !finite(c.BandpassHigh) || c.BandpassHigh < 0 {
		return fmt.Errorf("bandpass_high %v Hz: must be 0 (off) or positive", c.BandpassHigh)
	}
	if c.BandpassHigh > 0 && c.BandpassHigh <= c.BandpassLow {
		return fmt.Errorf("bandpass_high %v Hz: must be above bandpass_low %v Hz", c.BandpassHigh, c.BandpassLow)
	}
	if (c.BandpassLow > 0 || c.BandpassHigh > 0) && (c.BandpassOrder < 1 || c.BandpassOrder > 12) {
		return fmt.Errorf("bandpass_order %d: must be in 1..12", c.BandpassOrder)
	}
	if !finite(c.Notch) || c.Notch < 0 || (c.Notch > 0 && c.Notch >= nyq) {
		return fmt.Errorf("notch %v Hz: must be 0 (off) or in (0, %v) (half the rate)", c.Notch, nyq)
	}
	if c.Notch > 0 && (!finite(c.NotchQ) || c.NotchQ <= 0) {
		return fmt.Errorf("notch_q %v: must be positive", c.NotchQ)
	}
	switch c.Phase {
	case PhaseCausal, PhaseZero:
	default:
		return fmt.Errorf("phase %q: want %q or %q", c.Phase, PhaseCausal, PhaseZero)
	}
	switch c.Normalize {
	case NormZScore, NormRobust, NormNone:
	default:
		return fmt.Errorf("normalize %q: want %q, %q or %q", c.Normalize, NormZScore, NormRobust, NormNone)
	}
	if !finite(c.Clip) || c.Clip < 0 {
		return fmt.Errorf("clip %v: must be 0 (off) or positive", c.Clip)
	}
	return nil
}

func (c Config) montageConfig() montage.Config {
	return montage.Config{Montage: c.Montage, Interpolate: slices.Clone(c.Interpolate), OnMissing: c.OnMissing}
}

// Canonical returns a stable encoding of the configuration for fingerprints:
// JSON with sorted keys, every field present, the channel names of
// Interpolate normalised, sorted and deduplicated, and the algorithm
// Version. Two configs with the same encoding produce the same output.
func (c Config) Canonical() []byte {
	m := map[string]any{}
	v := reflect.ValueOf(c)
	for i := 0; i < v.NumField(); i++ {
		m[v.Type().Field(i).Tag.Get("json")] = v.Field(i).Interface()
	}
	interp := []string{}
	for _, ch := range c.Interpolate {
		interp = append(interp, montage.Normalize(ch))
	}
	slices.Sort(interp)
	m["interpolate"] = slices.Compact(interp)
	m["version"] = Version
	b, err := json.Marshal(m)
	if err != nil {
		// Only non-finite floats can fail; Validate rejects them.
		return []byte(fmt.Sprintf("%q", err.Error()))
	}
	return b
}

// Fingerprint is the hex SHA-256 of Canonical.
func (c Config) Fingerprint() string {
	h := sha256.Sum256(c.Canonical())
	return hex.EncodeToString(h[:])
}

// HCLSpec returns the hcldec attribute specs of the configuration, all
// optional, keyed by attribute name (the cty tags), for embedding in a stage
// kind's config spec. Decode the resulting object with FromCty.
func HCLSpec() hcldec.ObjectSpec {
	spec := hcldec.ObjectSpec{}
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("cty")
		var ty cty.Type
		switch f.Type.Kind() {
		case reflect.String:
			ty = cty.String
		case reflect.Int, reflect.Float64:
			ty = cty.Number
		case reflect.Slice:
			ty = cty.List(cty.String)
		}
		spec[name] = &hcldec.AttrSpec{Name: name, Type: ty}
	}
	return spec
}

// FromCty returns DefaultConfig overlaid with the non-null attributes of obj
// (an object with attributes named like HCLSpec's; unknown attributes are an
// error), validated.
func FromCty(obj cty.Value) (Config, error) {
	c := DefaultConfig()
	if obj.IsNull() {
		return c, nil
	}
	if !obj.Type().IsObjectType() && !obj.Type().IsMapType() {
		return c, fmt.Errorf("preprocessing config: want an object, got %s", obj.Type().FriendlyName())
	}
	v := reflect.ValueOf(&c).Elem()
	known := map[string]int{}
	for i := 0; i < v.NumField(); i++ {
		known[v.Type().Field(i).Tag.Get("cty")] = i
	}
	for it := obj.ElementIterator(); it.Next(); {
		k, val := it.Element()
		name := k.AsString()
		i, ok := known[name]
		if !ok {
			return c, fmt.Errorf("preprocessing config: unknown attribute %q", name)
		}
		if val.IsNull() {
			continue
		}
		if !val.IsWhollyKnown() {
			return c, fmt.Errorf("preprocessing config: %s is not known yet", name)
		}
		if err := gocty.FromCtyValue(val, v.Field(i).Addr().Interface()); err != nil {
			return c, fmt.Errorf("preprocessing config: %s: %w", name, err)
		}
	}
	if c.Interpolate == nil {
		c.Interpolate = []string{}
	}
	return c, c.Validate()
}

// unitScale returns the factor converting a physical dimension to
// microvolts. An empty unit is taken as microvolts (ok2 false, for a note).
func unitScale(unit string) (scale float64, known bool, err error) {
	u := strings.TrimSpace(unit)
	switch u {
	case "uV", "µV", "μV", "\xb5V", "microV", "microvolt", "microvolts":
		return 1, true, nil
	case "mV":
		return 1e3, true, nil
	case "V":
		return 1e6, true, nil
	case "nV":
		return 1e-3, true, nil
	case "":
		return 1, false, nil
	}
	switch strings.ToLower(u) {
	case "uv", "µv", "μv":
		return 1, true, nil
	case "mv":
		return 1e3, true, nil
	case "v":
		return 1e6, true, nil
	case "nv":
		return 1e-3, true, nil
	}
	return 0, false, fmt.Errorf("physical dimension %q is not a voltage (want uV, mV, V or nV)", unit)
}
