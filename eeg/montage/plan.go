package montage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind selects the output montage.
const (
	// MontageReferential is the 19 channels of Standard19 against the recording's
	// own reference.
	MontageReferential = "referential"
	// MontageTCP is the 22 derivations of TCP.
	MontageTCP = "tcp"
)

// What to do with a required channel that is absent and cannot be
// interpolated.
const (
	// OnMissingError makes Build fail with a *MissingError.
	OnMissingError = "error"
	// OnMissingSkip makes Build fail with a *MissingError that wraps ErrSkip:
	// the recording is meant to be left out, not reported as broken.
	OnMissingSkip = "skip"
	// OnMissingZero fills the channel with zeros and lists it in
	// Plan.Zeroed (e.g. the ear derivations of TCP for 03_tcp_ar_a
	// recordings, which have no A1/A2).
	OnMissingZero = "zero"
)

// Interpolable lists the channels that may be interpolated: the interior
// electrodes of the 10-20 layout, each surrounded by other electrodes of the
// 19. The others (Fp1, Fp2, F7, F8, T3-T6, O1, O2) lie on the edge of the
// cap, where a spline would extrapolate, and the ears are not part of the
// 19 at all.
var Interpolable = []string{"Fz", "Cz", "Pz", "F3", "F4", "C3", "C4", "P3", "P4"}

// DefaultInterpolate is the default Config.Interpolate: the midline
// channels that TUH recordings most often lack.
var DefaultInterpolate = []string{"Fz", "Pz"}

// minNeighbours is how many of its neighbours (the adjacent electrodes of
// the 10-20 layout, see neighbours) must be present for a channel to be
// interpolated.
const minNeighbours = 3

// neighbours are the adjacent electrodes of each interior electrode.
var neighbours = map[string][]string{
	"Fz": {"Fp1", "Fp2", "F3", "F4", "Cz"},
	"Cz": {"Fz", "C3", "C4", "Pz"},
	"Pz": {"Cz", "P3", "P4", "O1", "O2"},
	"F3": {"Fp1", "F7", "Fz", "C3"},
	"F4": {"Fp2", "F8", "Fz", "C4"},
	"C3": {"F3", "T3", "Cz", "P3"},
	"C4": {"F4", "T4", "Cz", "P4"},
	"P3": {"C3", "T5", "Pz", "O1"},
	"P4": {"C4", "T6", "Pz", "O2"},
}

// Config says how recordings are mapped onto the montage. The zero value
// is usable: Build applies the defaults (WithDefaults).
type Config struct {
	// Montage is "referential" (default: the 19 channels of Standard19) or
	// "tcp" (the 22 TCP derivations: 17 of the 19 channels, all but Fz and
	// Pz, and the ear electrodes A1 and A2).
	Montage string `json:"montage" cty:"montage"`
	// Interpolate lists the channels that are interpolated from the others
	// (spherical splines) when a recording lacks them; each must be one of
	// Interpolable. nil means DefaultInterpolate; an empty list disables
	// interpolation. A channel is only interpolated when at least 3 of its
	// neighbours are present.
	Interpolate []string `json:"interpolate" cty:"interpolate"`
	// OnMissing is what happens when a needed channel is absent and cannot be
	// interpolated: "error" (default), "skip" or "zero".
	OnMissing string `json:"on_missing" cty:"on_missing"`
}

// WithDefaults returns c with empty fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Montage == "" {
		c.Montage = MontageReferential
	}
	if c.Interpolate == nil {
		c.Interpolate = append([]string(nil), DefaultInterpolate...)
	}
	if c.OnMissing == "" {
		c.OnMissing = OnMissingError
	}
	return c
}

// Validate checks a config after WithDefaults. Interpolate entries are
// normalised (Normalize) before the check.
func (c Config) Validate() error {
	switch c.Montage {
	case MontageReferential, MontageTCP:
	default:
		return fmt.Errorf("montage %q: want %q or %q", c.Montage, MontageReferential, MontageTCP)
	}
	switch c.OnMissing {
	case OnMissingError, OnMissingSkip, OnMissingZero:
	default:
		return fmt.Errorf("on_missing %q: want %q, %q or %q", c.OnMissing, OnMissingError, OnMissingSkip, OnMissingZero)
	}
	for _, ch := range c.Interpolate {
		if !slices.Contains(Interpolable, Normalize(ch)) {
			return fmt.Errorf("interpolate: channel %q cannot be interpolated: only the interior channels %s can (the others lie on the edge of the montage)", ch, strings.Join(Interpolable, ", "))
		}
	}
	return nil
}

// ErrSkip is wrapped by the error of Build when a recording lacks channels
// and Config.OnMissing is "skip".
var ErrSkip = errors.New("recording skipped")

// MissingError reports channels a recording lacks.
type MissingError struct {
	// Missing are the canonical names of the absent channels.
	Missing []string
	// Labels are the recording's labels.
	Labels []string
	// Skip is true when the policy is "skip" (the error wraps ErrSkip).
	Skip bool
}

func (e *MissingError) Error() string {
	what := "missing channels"
	if e.Skip {
		what = "skipped: missing channels"
	}
	return fmt.Sprintf("%s %s (not interpolable) among the %d labels [%s]", what, strings.Join(e.Missing, ", "), len(e.Labels), strings.Join(e.Labels, ", "))
}

// Unwrap returns ErrSkip for a skipped recording.
func (e *MissingError) Unwrap() error {
	if e.Skip {
		return ErrSkip
	}
	return nil
}

// Term is one input channel's contribution to an output channel.
type Term struct {
	// Input indexes Plan.Inputs (not the recording's labels).
	Input  int
	Weight float64
}

// Plan maps a recording's channels onto the montage.
type Plan struct {
	// Channels are the output channel names: Standard19, or TCPNames().
	Channels []string
	// Inputs are the indices (into the labels given to Build) of the input
	// channels the plan reads, ascending.
	Inputs []int
	// Combos[k] is output channel k as a combination of inputs; empty for a
	// zero-filled channel.
	Combos [][]Term
	// Interpolated are the canonical names of interpolated channels, Zeroed
	// those filled with zeros (OnMissing "zero").
	Interpolated []string
	Zeroed       []string
	// Notes describe choices worth reporting (duplicate labels, synonyms).
	Notes []string
}

// Build maps labels (the recording's channel labels, annotation channels
// excluded) onto the montage cfg describes.
//
// Labels are normalised with Normalize. When two labels normalise to the
// same name (e.g. "T3" and "T7"), the exact name wins over a synonym and then
// the first label wins; a Note says so. Missing channels listed in
// cfg.Interpolate that have at least 3 of their neighbours present are
// interpolated with spherical splines (MNE's method, positions of MNE's
// standard_1020 montage, fixed head-sphere origin) from all the present
// channels of Standard19. Other missing channels are handled by
// cfg.OnMissing.
func Build(labels []string, cfg Config) (*Plan, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Locate every electrode we may need.
	type hit struct {
		idx     int
		synonym bool
	}
	found := map[string]hit{}
	var notes []string
	for i, l := range labels {
		name := Normalize(l)
		if _, ok := electrodes[strings.ToUpper(name)]; !ok {
			continue
		}
		_, syn := synonyms[strip(l)]
		prev, dup := found[name]
		switch {
		case !dup:
			found[name] = hit{i, syn}
		case prev.synonym && !syn:
			notes = append(notes, fmt.Sprintf("%s: label %q used instead of %q", name, l, labels[prev.idx]))
			found[name] = hit{i, syn}
		default:
			notes = append(notes, fmt.Sprintf("%s: label %q ignored, %q used", name, l, labels[prev.idx]))
		}
	}

	needed := Standard19
	if cfg.Montage == MontageTCP {
		needed = tcpElectrodes()
	}
	interp := map[string]bool{}
	for _, c := range cfg.Interpolate {
		interp[Normalize(c)] = true
	}
	var missing, toInterp []string
	for _, name := range needed {
		if _, ok := found[name]; ok {
			continue
		}
		if interp[name] && presentNeighbours(name, found) >= minNeighbours {
			toInterp = append(toInterp, name)
			continue
		}
		missing = append(missing, name)
	}
	if len(missing) > 0 && cfg.OnMissing != OnMissingZero {
		return nil, &MissingError{Missing: missing, Labels: append([]string(nil), labels...), Skip: cfg.OnMissing == OnMissingSkip}
	}

	// The inputs: every present electrode that contributes.
	var good []string // present channels of Standard19, in Standard19 order
	for _, name := range Standard19 {
		if _, ok := found[name]; ok {
			good = append(good, name)
		}
	}
	// Referential signal of each electrode as terms over label indices.
	ref := map[string]map[int]float64{}
	for name, h := range found {
		ref[name] = map[int]float64{h.idx: 1}
	}
	if len(toInterp) > 0 {
		w, err := interpolationMatrix(good, toInterp)
		if err != nil {
			return nil, err
		}
		for t, name := range toInterp {
			m := map[int]float64{}
			for j, g := range good {
				m[found[g].idx] += w[t][j]
			}
			ref[name] = m
		}
	}
	zero := map[string]bool{}
	for _, m := range missing {
		zero[m] = true
	}

	var outs []map[int]float64
	var names []string
	switch cfg.Montage {
	case MontageReferential:
		names = append([]string(nil), Standard19...)
		for _, name := range Standard19 {
			outs = append(outs, ref[name]) // nil when zeroed
		}
	case MontageTCP:
		names = TCPNames()
		for _, d := range TCP {
			if zero[d[0]] || zero[d[1]] {
				outs = append(outs, nil)
				continue
			}
			m := map[int]float64{}
			for i, w := range ref[d[0]] {
				m[i] += w
			}
			for i, w := range ref[d[1]] {
				m[i] -= w
			}
			outs = append(outs, m)
		}
	}

	// Number the inputs in label order.
	used := map[int]bool{}
	for _, m := range outs {
		for i := range m {
			used[i] = true
		}
	}
	var inputs []int
	for i := range used {
		inputs = append(inputs, i)
	}
	slices.Sort(inputs)
	pos := map[int]int{}
	for k, i := range inputs {
		pos[i] = k
	}
	p := &Plan{Channels: names, Inputs: inputs, Combos: make([][]Term, len(outs)), Interpolated: toInterp, Notes: notes}
	for k, m := range outs {
		var terms []Term
		for i, w := range m {
			if w != 0 {
				terms = append(terms, Term{Input: pos[i], Weight: w})
			}
		}
		slices.SortFunc(terms, func(a, b Term) int { return a.Input - b.Input })
		p.Combos[k] = terms
	}
	for _, name := range names {
		if cfg.Montage == MontageReferential && zero[name] {
			p.Zeroed = append(p.Zeroed, name)
		}
	}
	if cfg.Montage == MontageTCP {
		for k, d := range TCP {
			if zero[d[0]] || zero[d[1]] {
				p.Zeroed = append(p.Zeroed, names[k])
			}
		}
	}
	return p, nil
}

// tcpElectrodes lists the electrodes the TCP derivations use, in order of
// first use.
func tcpElectrodes() []string {
	var out []string
	for _, d := range TCP {
		for _, e := range d {
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return out
}

func presentNeighbours[V any](name string, found map[string]V) int {
	n := 0
	for _, nb := range neighbours[name] {
		if _, ok := found[nb]; ok {
			n++
		}
	}
	return n
}

// Apply computes the output channels from the inputs: src[i] holds samples
// of input Plan.Inputs[i], dst[k] receives output channel k; all slices must
// have the same length. It does not allocate.
func (p *Plan) Apply(dst, src [][]float64) {
	for k, terms := range p.Combos {
		out := dst[k]
		if len(terms) == 0 {
			clear(out)
			continue
		}
		t0 := terms[0]
		in := src[t0.Input][:len(out)]
		if t0.Weight == 1 {
			copy(out, in)
		} else {
			for n, v := range in {
				out[n] = t0.Weight * v
			}
		}
		for _, t := range terms[1:] {
			in := src[t.Input][:len(out)]
			w := t.Weight
			for n, v := range in {
				out[n] += w * v
			}
		}
	}
}
