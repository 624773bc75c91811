package montage

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/edf/edftest"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"EEG FP1-REF", "Fp1"},
		{"EEG FP1-LE", "Fp1"},
		{"EEG FP1-AR", "Fp1"},
		{"EEG Fp1-Ref", "Fp1"},
		{"  EEG FZ-REF  ", "Fz"},
		{"EEGCZ-REF", "Cz"},
		{"EEG Fp1", "Fp1"},
		{"Fp1", "Fp1"},
		{"fp2", "Fp2"},
		{"FP1-Avg", "Fp1"},
		{"T7-Avg", "T3"},
		{"EEG T8-Ref", "T4"},
		{"P7", "T5"},
		{"p8", "T6"},
		{"EEG A1-REF", "A1"},
		{"C3..", "C3"},
		{"Fc5.", "FC5"},
		{"EEG EKG1-REF", "EKG1"},
		{"PHOTIC-REF", "PHOTIC"},
		{"EEG T1-REF", "T1"},
		{"FP1-F7", "FP1-F7"},
		{"EDF Annotations", "EDFANNOTATIONS"},
		{"-REF", "-REF"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := TUHLabel("Fp1"); got != "EEG FP1-REF" {
		t.Errorf("TUHLabel(Fp1) = %q", got)
	}
	if got := TCPNames(); len(got) != 22 || got[0] != "FP1-F7" || got[8] != "A1-T3" || got[21] != "P4-O2" {
		t.Errorf("TCPNames() = %v", got)
	}
}

func tuhLabels(skip ...string) []string {
	var out []string
	for _, c := range Standard19 {
		if !slices.Contains(skip, c) {
			out = append(out, TUHLabel(c))
		}
	}
	return append(out, "EEG EKG1-REF", "EEG A1-REF", "EEG A2-REF", "PHOTIC-REF")
}

func TestBuildReferential(t *testing.T) {
	// Shuffled TUH-style labels with extras: selection in canonical order.
	labels := tuhLabels()
	slices.Reverse(labels)
	p, err := Build(labels, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Channels, Standard19) || len(p.Inputs) != 19 || len(p.Interpolated) != 0 {
		t.Fatalf("plan %+v", p)
	}
	for k, terms := range p.Combos {
		if len(terms) != 1 || terms[0].Weight != 1 || Normalize(labels[p.Inputs[terms[0].Input]]) != Standard19[k] {
			t.Fatalf("output %s: terms %+v", Standard19[k], terms)
		}
	}
	// Apply on data where each input carries its label index.
	n := 5
	src := make([][]float64, len(p.Inputs))
	for i, li := range p.Inputs {
		src[i] = make([]float64, n)
		for j := range src[i] {
			src[i][j] = float64(li*100 + j)
		}
	}
	dst := make([][]float64, len(p.Channels))
	for k := range dst {
		dst[k] = make([]float64, n)
	}
	p.Apply(dst, src)
	for k, name := range Standard19 {
		li := slices.Index(labels, TUHLabel(name))
		if dst[k][3] != float64(li*100+3) {
			t.Fatalf("%s: got %v, want label %d", name, dst[k], li)
		}
	}
}

func TestBuildTCP(t *testing.T) {
	labels := tuhLabels()
	p, err := Build(labels, Config{Montage: MontageTCP})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Channels) != 22 || len(p.Inputs) != 19 { // 17 of the 19 (not Fz, Pz) and the ears
		t.Fatalf("channels %v inputs %v", p.Channels, p.Inputs)
	}
	for k, d := range TCP {
		terms := p.Combos[k]
		if len(terms) != 2 {
			t.Fatalf("%s: %+v", p.Channels[k], terms)
		}
		for _, term := range terms {
			name := Normalize(labels[p.Inputs[term.Input]])
			if (name == d[0] && term.Weight != 1) || (name == d[1] && term.Weight != -1) || (name != d[0] && name != d[1]) {
				t.Fatalf("%s: term %s weight %v", p.Channels[k], name, term.Weight)
			}
		}
	}
	// Without ears: an error by default, zero-filled ear derivations on request.
	noEars := slices.DeleteFunc(slices.Clone(labels), func(l string) bool { return strings.Contains(l, "A1") || strings.Contains(l, "A2") })
	_, err = Build(noEars, Config{Montage: MontageTCP})
	var me *MissingError
	if !errors.As(err, &me) || !slices.Equal(me.Missing, []string{"A1", "A2"}) {
		t.Fatalf("TCP without ears: %v", err)
	}
	p, err = Build(noEars, Config{Montage: MontageTCP, OnMissing: OnMissingZero})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Zeroed, []string{"A1-T3", "T4-A2"}) || len(p.Combos[8]) != 0 || len(p.Combos[13]) != 0 {
		t.Fatalf("zeroed %v", p.Zeroed)
	}
}

func TestMissingPolicies(t *testing.T) {
	tests := []struct {
		name         string
		skip         []string
		cfg          Config
		interpolated []string
		missing      []string
		wantSkip     bool
		zeroed       []string
	}{
		{"Fz and Pz interpolated by default", []string{"Fz", "Pz"}, Config{}, []string{"Fz", "Pz"}, nil, false, nil},
		{"Cz not by default", []string{"Cz"}, Config{}, nil, []string{"Cz"}, false, nil},
		{"Cz on request", []string{"Cz"}, Config{Interpolate: []string{"Cz"}}, []string{"Cz"}, nil, false, nil},
		{"interpolation disabled", []string{"Fz"}, Config{Interpolate: []string{}}, nil, []string{"Fz"}, false, nil},
		{"edge channel never", []string{"O1"}, Config{}, nil, []string{"O1"}, false, nil},
		{"skip", []string{"O1"}, Config{OnMissing: OnMissingSkip}, nil, []string{"O1"}, true, nil},
		{"zero", []string{"O1", "Fz"}, Config{OnMissing: OnMissingZero}, []string{"Fz"}, nil, false, []string{"O1"}},
		// Pz's neighbours Cz, P3, P4, O1, O2: with three of them gone it is
		// not interpolated.
		{"too few neighbours", []string{"Pz", "P3", "P4", "O1"}, Config{}, nil, []string{"P3", "O1", "Pz", "P4"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := tuhLabels(tt.skip...)
			p, err := Build(labels, tt.cfg)
			if tt.missing != nil {
				var me *MissingError
				if !errors.As(err, &me) {
					t.Fatalf("err %v, want *MissingError", err)
				}
				if !slices.Equal(me.Missing, tt.missing) || errors.Is(err, ErrSkip) != tt.wantSkip {
					t.Fatalf("missing %v skip %v, want %v %v", me.Missing, errors.Is(err, ErrSkip), tt.missing, tt.wantSkip)
				}
				if !strings.Contains(err.Error(), "EEG FP1-REF") {
					t.Fatalf("error does not list the labels: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Interpolated, tt.interpolated) || !slices.Equal(p.Zeroed, tt.zeroed) {
				t.Fatalf("interpolated %v zeroed %v", p.Interpolated, p.Zeroed)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Montage: "bipolar"}, `montage "bipolar"`},
		{Config{OnMissing: "ignore"}, `on_missing "ignore"`},
		{Config{Interpolate: []string{"Fp1"}}, `"Fp1" cannot be interpolated`},
		{Config{Interpolate: []string{"A1"}}, `"A1" cannot be interpolated`},
	} {
		_, err := Build(tuhLabels(), tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestDuplicateLabels(t *testing.T) {
	labels := append(tuhLabels("T3"), "EEG T7-REF", "EEG T3-REF", "EEG FP1-LE")
	p, err := Build(labels, Config{})
	if err != nil {
		t.Fatal(err)
	}
	k := slices.Index(Standard19, "T3")
	if got := labels[p.Inputs[p.Combos[k][0].Input]]; got != "EEG T3-REF" {
		t.Fatalf("T3 read from %q, want the exact name over the synonym", got)
	}
	k = slices.Index(Standard19, "Fp1")
	if got := labels[p.Inputs[p.Combos[k][0].Input]]; got != "EEG FP1-REF" {
		t.Fatalf("Fp1 read from %q, want the first label", got)
	}
	if len(p.Notes) != 2 {
		t.Fatalf("notes %v", p.Notes)
	}
}

// interpReference is testdata/interp_reference.json (MNE 1.3).
type interpReference struct {
	Channels []string    `json:"channels"`
	Data     [][]float64 `json:"data"`
	Cases    []struct {
		Missing      []string    `json:"missing"`
		Good         []string    `json:"good"`
		Matrix       [][]float64 `json:"matrix"`
		Interpolated [][]float64 `json:"interpolated"`
	} `json:"cases"`
}

func TestInterpolationMatchesMNE(t *testing.T) {
	raw, err := os.ReadFile("testdata/interp_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref interpReference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	for _, c := range ref.Cases {
		w, err := interpolationMatrix(c.Good, c.Missing)
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			for j := range w[i] {
				if d := math.Abs(w[i][j] - c.Matrix[i][j]); d > 1e-9 {
					t.Fatalf("missing %v: W[%d][%d] = %v, MNE %v", c.Missing, i, j, w[i][j], c.Matrix[i][j])
				}
			}
		}
		// Through Build and Apply, on MNE's data (volts).
		var labels []string
		var src [][]float64
		for k, ch := range ref.Channels {
			if slices.Contains(c.Missing, ch) {
				continue
			}
			labels = append(labels, TUHLabel(ch))
			src = append(src, ref.Data[k])
		}
		p, err := Build(labels, Config{Interpolate: c.Missing, OnMissing: OnMissingError})
		if slices.Equal(c.Missing, []string{"Fz", "Cz", "Pz"}) {
			// Cz then has only two of its four neighbours: refused.
			var me *MissingError
			if !errors.As(err, &me) || !slices.Equal(me.Missing, []string{"Cz"}) {
				t.Fatalf("missing Fz, Cz, Pz: err %v, want Cz refused", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Inputs) != len(labels) {
			t.Fatalf("inputs %v", p.Inputs)
		}
		n := len(ref.Data[0])
		dst := make([][]float64, 19)
		for k := range dst {
			dst[k] = make([]float64, n)
		}
		p.Apply(dst, src)
		for i, ch := range c.Missing {
			got := dst[slices.Index(Standard19, ch)]
			for j := range got {
				if d := math.Abs(got[j] - c.Interpolated[i][j]); d > 1e-9*20e-6 {
					t.Fatalf("%s sample %d: %v, MNE %v", ch, j, got[j], c.Interpolated[i][j])
				}
			}
		}
	}
}

// TestRealLabels builds plans for the labels of every real EDF file in
// ../shared: all TUSZ recordings map onto the 19 channels (one lacks Fz and
// Pz, which are interpolated), and onto TCP unless they lack the ears.
func TestRealLabels(t *testing.T) {
	root := edftest.SharedDir(t, "data", "tusz_layout", "tuh")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".edf") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("only %d EDF files under %s", len(files), root)
	}
	interpolated, noEars := 0, 0
	for _, f := range files {
		labels := dataLabels(t, f)
		p, err := Build(labels, Config{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(p.Interpolated) > 0 {
			interpolated++
			if !slices.Equal(p.Interpolated, []string{"Fz", "Pz"}) {
				t.Errorf("%s: interpolated %v", f, p.Interpolated)
			}
		}
		_, err = Build(labels, Config{Montage: MontageTCP})
		var me *MissingError
		switch {
		case err == nil:
		case errors.As(err, &me) && slices.Equal(me.Missing, []string{"A1", "A2"}):
			noEars++
			if !strings.Contains(f, "_a/") {
				t.Errorf("%s: no ears outside a tcp_ar_a directory", f)
			}
		default:
			t.Errorf("%s: TCP: %v", f, err)
		}
	}
	if interpolated != 1 || noEars == 0 {
		t.Errorf("%d recordings interpolated (want 1), %d without ears", interpolated, noEars)
	}
	t.Logf("%d TUSZ files: %d with interpolated Fz/Pz, %d without A1/A2", len(files), interpolated, noEars)

	// Other real files: the expected outcome per file.
	edfDir := edftest.SharedDir(t, "data", "edf")
	for _, tt := range []struct {
		file    string
		missing []string // nil: maps onto the 19
	}{
		{"00009578_s002_t001.edf", nil},
		{"00009578_s006_t001.edf", nil},
		{"ombao19_seizure_100hz.edf", nil},
		{"unipolar.edf", nil},
		{"bipolar.edf", nil}, // T7/T8/P7/P8 labels, "-Avg" suffixes
		{"chtypes_edf.edf", nil},
		{"test_generator.edf", Standard19},
		{"multiple_annotation_chans.bdf", []string{"Fp1", "F7", "T3", "T5", "Cz", "Fp2", "F8", "T4", "T6"}},
	} {
		labels := dataLabels(t, filepath.Join(edfDir, tt.file))
		p, err := Build(labels, Config{})
		if tt.missing == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.file, err)
			} else if len(p.Inputs) != 19 {
				t.Errorf("%s: %d inputs", tt.file, len(p.Inputs))
			}
			continue
		}
		var me *MissingError
		if !errors.As(err, &me) || !sameSet(me.Missing, tt.missing) {
			t.Errorf("%s: err %v, want missing %v", tt.file, err, tt.missing)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// dataLabels reads the labels of the data signals of an EDF file.
func dataLabels(t *testing.T, path string) []string {
	t.Helper()
	r, err := edf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := r.Header()
	var labels []string
	for _, i := range h.DataSignals() {
		labels = append(labels, h.Signals[i].Label)
	}
	return labels
}
