package postproc

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestStitchMeanOverOverlaps(t *testing.T) {
	s, err := NewStitcher(10, 2)
	if err != nil {
		t.Fatal(err)
	}
	// windows of 6 samples, stride 2, last one padded past the end
	for _, w := range []struct {
		start int
		p     []float32
	}{
		{0, []float32{1, 1, 1, 1, 1, 1}},
		{2, []float32{0, 0, 0, 0, 0, 0}},
		{4, []float32{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}},
		{6, []float32{1, 1, 1, 1, 0.25, 0.25}}, // last two past the end
	} {
		if err := s.Add(w.start, w.p); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := s.Trace()
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.75, 0.75}
	if !reflect.DeepEqual(tr.P, want) || tr.Rate != 2 || tr.Duration() != 5 {
		t.Fatalf("trace %v (rate %v), want %v", tr.P, tr.Rate, want)
	}
}

func TestStitchShortRecordingAndErrors(t *testing.T) {
	s, _ := NewStitcher(3, 1)
	if err := s.AddConst(0, 60, 0.25); err != nil { // one window longer than the recording
		t.Fatal(err)
	}
	tr, err := s.Trace()
	if err != nil || !reflect.DeepEqual(tr.P, []float64{0.25, 0.25, 0.25}) {
		t.Fatalf("short recording: %v %v", tr.P, err)
	}

	s, _ = NewStitcher(10, 1)
	s.Add(0, []float32{0.1, 0.2, 0.3})
	s.Add(6, []float32{0.1, 0.2, 0.3, 0.4})
	if _, err := s.Trace(); err == nil || !strings.Contains(err.Error(), "samples 3..5") {
		t.Fatalf("uncovered samples: %v", err)
	}
	for _, err := range []error{
		s.Add(-1, []float32{0}), s.Add(10, []float32{0}), s.Add(0, []float32{float32(math.NaN())}),
		s.Add(0, []float32{1.5}), s.AddConst(0, 1, -0.1), s.AddConst(0, -1, 0),
	} {
		if err == nil {
			t.Error("bad window accepted")
		}
	}
	if _, err := NewStitcher(1, 0); err == nil {
		t.Error("rate 0 accepted")
	}
}

func TestEvents(t *testing.T) {
	p := func(xs ...float64) Trace { return Trace{Rate: 1, P: xs} }
	tests := []struct {
		name string
		cfg  Config
		tr   Trace
		dur  float64
		want []Event
	}{
		{"plain threshold, >= is on", Threshold(0.5), p(0, 0.5, 0.6, 0.4, 0.9, 0.9, 0), 7,
			[]Event{{1, 3}, {4, 6}}},
		{"event at the end clipped to duration", Threshold(0.5), p(0, 1, 1), 2.5, []Event{{1, 2.5}}},
		{"hysteresis keeps on between thresholds",
			Config{OnThreshold: 0.8, OffThreshold: 0.3}, p(0.5, 0.9, 0.5, 0.4, 0.2, 0.5, 0.85), 7,
			[]Event{{1, 4}, {6, 7}}},
		{"min on: short bursts ignored, start not delayed",
			Config{OnThreshold: 0.5, OffThreshold: 0.5, MinOn: 3}, p(1, 1, 0, 1, 1, 1, 1, 0), 8,
			[]Event{{3, 7}}},
		{"min off: short dips bridged, trailing dip ends the event",
			Config{OnThreshold: 0.5, OffThreshold: 0.5, MinOff: 3}, p(1, 0, 0, 1, 0, 0, 0, 1, 0), 9,
			[]Event{{0, 4}, {7, 8}}},
		{"opening removes short runs only",
			Config{OnThreshold: 0.5, OffThreshold: 0.5, Opening: 2}, p(1, 0, 1, 1, 0, 1), 6,
			[]Event{{2, 4}}},
		{"closing fills interior gaps only",
			Config{OnThreshold: 0.5, OffThreshold: 0.5, Closing: 2}, p(0, 1, 0, 1, 0, 0, 1, 0), 8,
			[]Event{{1, 4}, {6, 7}}},
		{"merge gap < 3 s (strict)",
			Config{OnThreshold: 0.5, OffThreshold: 0.5, MergeGap: 3}, p(1, 0, 0, 1, 0, 0, 0, 1), 8,
			[]Event{{0, 4}, {7, 8}}},
		{"min event duration",
			Config{OnThreshold: 0.5, OffThreshold: 0.5, MinEvent: 2}, p(1, 0, 1, 1, 0, 1, 1, 1), 8,
			[]Event{{2, 4}, {5, 8}}},
		{"split long events",
			Config{OnThreshold: 0.5, OffThreshold: 0.5, MaxEvent: 2}, p(1, 1, 1, 1, 1, 0, 1, 1), 8,
			[]Event{{0, 2}, {2, 4}, {4, 5}, {6, 8}}},
		{"order: merge before min duration",
			Config{OnThreshold: 0.5, OffThreshold: 0.5, MergeGap: 2, MinEvent: 3}, p(1, 0, 1, 0, 0, 1), 6,
			[]Event{{0, 3}}},
		{"rate 4 Hz", Threshold(0.5), Trace{Rate: 4, P: []float64{0, 1, 1, 0}}, 1, []Event{{0.25, 0.75}}},
		{"empty trace", Threshold(0.5), p(), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Events(tt.tr, tt.dur)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tr := Trace{Rate: 1, P: []float64{0.5}}
	for _, c := range []Config{
		{OnThreshold: 0.3, OffThreshold: 0.5},
		{OnThreshold: 0.5, OffThreshold: 0.5, MinOn: -1},
		{OnThreshold: 0.5, OffThreshold: 0.5, MaxEvent: math.Inf(1)},
		{OnThreshold: math.NaN()},
	} {
		if _, err := c.Events(tr, 1); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := Threshold(0.5).Events(Trace{Rate: 1, P: []float64{math.NaN()}}, 1); err == nil {
		t.Error("NaN trace accepted")
	}
	if c := (Config{OnThreshold: 0.6, OffThreshold: 0.4}).WithThreshold(0.9); math.Abs(c.OffThreshold-0.7) > 1e-12 || c.OnThreshold != 0.9 {
		t.Errorf("WithThreshold: %+v", c)
	}
}
