package scoring

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/pipeml/pipe/eeg/annot"
)

func ev(s, e float64) Event { return Event{Start: s, Stop: e} }

// TestSzCORERules pins every rule of SzCORE event scoring on hand-built
// recordings (event times fed directly, so the arithmetic is exact).
func TestSzCORERules(t *testing.T) {
	noMerge := DefaultSzCORE()
	noMerge.MinDurationBetweenEvents = 0
	tests := []struct {
		name            string
		p               *SzCOREParams
		dur             float64
		ref, hyp        []Event
		tp, fp, refTrue int
	}{
		{"exact hit", nil, 600, []Event{ev(100, 110)}, []Event{ev(100, 110)}, 1, 0, 1},
		{"30 s before onset is inside the tolerance", nil, 600, []Event{ev(100, 110)}, []Event{ev(75, 80)}, 1, 0, 1},
		{"ending 30.2 s before onset is outside", nil, 600, []Event{ev(100, 110)}, []Event{ev(65, 69.8)}, 0, 1, 1},
		{"starting 55 s after the end is inside", nil, 600, []Event{ev(100, 110)}, []Event{ev(165, 168)}, 1, 0, 1},
		{"starting 60 s after the end is outside", nil, 600, []Event{ev(100, 110)}, []Event{ev(170, 175)}, 0, 1, 1},
		{"one 0.1 s sample of overlap suffices", nil, 600, []Event{ev(100, 110)}, []Event{ev(169.9, 170)}, 1, 0, 1},
		{"refs 40 s apart merge into one", nil, 600, []Event{ev(100, 110), ev(150, 160)}, nil, 0, 0, 1},
		{"refs exactly 90 s apart do not merge", nil, 600, []Event{ev(100, 110), ev(200, 210)}, nil, 0, 0, 2},
		{"hyps 89 s apart merge: one FP", nil, 1000, nil, []Event{ev(100, 110), ev(199, 205)}, 0, 1, 0},
		{"merged ref detected once", nil, 600, []Event{ev(100, 110), ev(150, 160)}, []Event{ev(155, 156)}, 1, 0, 1},
		{"700 s ref splits into 300+300+100", nil, 1000, []Event{ev(0, 700)}, []Event{ev(0, 10)}, 1, 0, 3},
		{"exactly 300 s is not split", nil, 1000, []Event{ev(0, 300)}, nil, 0, 0, 1},
		{"a long hyp splits into pieces, each judged", nil, 2000, []Event{ev(100, 110)}, []Event{ev(1000, 1700)}, 0, 3, 1},
		{"tolerance clipped at the recording start", nil, 100, []Event{ev(5, 15)}, []Event{ev(0, 1)}, 1, 0, 1},
		{"tolerance clipped at the recording end", nil, 100, []Event{ev(90, 100)}, []Event{ev(99.9, 100)}, 1, 0, 1},
		{"hyp past the end of the recording is clipped", nil, 100, []Event{ev(10, 20)}, []Event{ev(99.5, 100)}, 0, 1, 1},
		{"hyp in a detected ref's tolerance window is no FP", &noMerge, 600, []Event{ev(100, 110)},
			[]Event{ev(100, 105), ev(150, 160)}, 1, 0, 1},
		{"hyp near an undetected ref is a FP", &noMerge, 600, []Event{ev(100, 110)}, []Event{ev(50, 60)}, 0, 1, 1},
		{"no events", nil, 600, nil, nil, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultSzCORE()
			if tt.p != nil {
				p = *tt.p
			}
			p.DirectEvents = true
			ins, err := szInputs([]Recording{{Name: "x", Duration: tt.dur, Ref: tt.ref, Hyp: tt.hyp}}, p)
			if err != nil {
				t.Fatal(err)
			}
			c := szEventCounts(ins[0], p)
			if c.tp != tt.tp || c.fp != tt.fp || c.refTrue != tt.refTrue || c.seconds != tt.dur {
				t.Fatalf("tp %d fp %d refTrue %d (%v s), want %d %d %d", c.tp, c.fp, c.refTrue, c.seconds, tt.tp, tt.fp, tt.refTrue)
			}
		})
	}
}

// TestSzCOREMask pins szcore-evaluation's 1 Hz mask input: truncation of
// times and of the duration.
func TestSzCOREMask(t *testing.T) {
	rec := Recording{Name: "s_1", Duration: 100.7, Ref: []Event{ev(10.9, 20.2)}, Hyp: []Event{ev(20.5, 21), ev(60.5, 60.9)}}
	ins, err := szInputs([]Recording{rec}, DefaultSzCORE())
	if err != nil {
		t.Fatal(err)
	}
	in := ins[0]
	if in.n1 != 100 || len(in.ref) != 1 || in.ref[0] != ev(10, 20) || len(in.hyp) != 1 || in.hyp[0] != ev(20, 21) {
		t.Fatalf("mask input %+v", in)
	}
	r, err := SzCOREEvents([]Recording{rec}, DefaultSzCORE())
	if err != nil || r.Hits != 1 || r.FalseAlarms != 0 || r.TotalDuration != 100 {
		t.Fatalf("%+v %v", r, err)
	}
	s, err := SzCORESamples([]Recording{rec}, DefaultSzCORE())
	if err != nil || s.Targets != 10 || s.Hits != 0 || s.FalseAlarms != 1 || !near(s.FAPer24h, 864) {
		t.Fatalf("samples %+v %v", s, err)
	}
}

func TestNEDCRules(t *testing.T) {
	one := func(dur float64, ref, hyp []Event) []Recording {
		return []Recording{{Name: "x", Duration: dur, Ref: ref, Hyp: hyp}}
	}
	type want struct{ hits, misses, fa float64 }
	tests := []struct {
		name   string
		method string
		recs   []Recording
		want   want
	}{
		{"ovlp: touching is a miss and a FA", MethodOVLP, one(100, []Event{ev(10, 20)}, []Event{ev(20, 30)}), want{0, 1, 1}},
		{"ovlp: one hyp over two refs hits both", MethodOVLP, one(100, []Event{ev(10, 20), ev(30, 40)}, []Event{ev(5, 45)}), want{2, 0, 0}},
		{"ovlp: two hyps in one ref are one hit, no FA", MethodOVLP, one(100, []Event{ev(10, 40)}, []Event{ev(12, 15), ev(20, 25)}), want{1, 0, 0}},
		{"ovlp: touching refs merge into one target", MethodOVLP, one(100, []Event{ev(10, 20), ev(20, 30)}, []Event{ev(25, 26)}), want{1, 0, 0}},
		{"taes: a long hyp is credited to the first ref only", MethodTAES, one(100, []Event{ev(10, 20), ev(30, 40)}, []Event{ev(5, 45)}), want{1, 1, 1}},
		{"taes: two hyps inside one ref", MethodTAES, one(100, []Event{ev(10, 30)}, []Event{ev(12, 15), ev(20, 35)}), want{0.65, 0.35, 0.25}},
		{"taes: no overlap", MethodTAES, one(100, []Event{ev(10, 20)}, []Event{ev(50, 60)}), want{0, 1, 1}},
		{"epoch: a sample on a boundary belongs to the earlier event", MethodEpoch, one(1, []Event{ev(0.125, 0.375)}, []Event{ev(0.375, 0.625)}), want{0, 1, 1}},
		{"epoch: samples at 0.125 + 0.25k", MethodEpoch, one(1, []Event{ev(0.1, 0.4)}, []Event{ev(0.3, 0.7)}), want{1, 1, 1}},
		{"taes: refs sharing a whole second are not all credited, even against themselves", MethodTAES,
			one(100, []Event{ev(10, 20.3), ev(20.6, 30)}, []Event{ev(10, 20.3), ev(20.6, 30)}), want{1 - 0.3/10.3, 3 + 0.3/10.3, 9.7 / 10.3}},
		{"dpalign: hit and insertion", MethodDPAlign, one(100, []Event{ev(10, 20)}, []Event{ev(12, 15), ev(50, 60)}), want{1, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Score(tt.method, tt.recs)
			if err != nil {
				t.Fatal(err)
			}
			if !near(r.Hits, tt.want.hits) || !near(r.Misses, tt.want.misses) || !near(r.FalseAlarms, tt.want.fa) {
				t.Fatalf("hits %v misses %v fa %v, want %+v", r.Hits, r.Misses, r.FalseAlarms, tt.want)
			}
		})
	}
}

// TestTAESDoubleCount feeds NEDC's list directly (the overlapping hyps are
// rejected by validate) to pin its double counting of one reference.
func TestTAESDoubleCount(t *testing.T) {
	ref := []lev{{0, 10, false}, {10, 20, true}, {20, 100, false}}
	hyp := []lev{{0, 12, false}, {12, 22, true}, {22, 20.5, false}, {20.5, 30, true}, {30, 100, false}}
	var c counts
	c.taes(ref, hyp)
	if !near(c.hits[seiz], 0.75) || !near(c.misses[seiz], 1.25) || !near(c.fa[seiz], 1.2) || c.targets[seiz] != 1 {
		t.Fatalf("hits %v misses %v fa %v targets %v", c.hits[seiz], c.misses[seiz], c.fa[seiz], c.targets[seiz])
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		rec Recording
		msg string
	}{
		{Recording{Name: "a", Duration: 10, Ref: []Event{ev(5, 11)}}, "ends after the recording"},
		{Recording{Name: "a", Duration: 10, Hyp: []Event{ev(1, 5), ev(4, 6)}}, "overlap"},
		{Recording{Name: "a", Duration: 10, Ref: []Event{ev(5, 5)}}, "0 <= start < stop"},
		{Recording{Name: "a", Duration: math.NaN()}, "duration"},
		{Recording{Name: "a", Duration: 0}, "nothing to score"},
	}
	for _, tt := range tests {
		for _, m := range Methods {
			_, err := Score(m, []Recording{tt.rec})
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("%s on %+v: %v, want %q", m, tt.rec, err, tt.msg)
			}
		}
	}
	if _, err := Score("nope", nil); err == nil {
		t.Error("unknown method accepted")
	}
}

// randomRecordings makes n recordings with non-overlapping seizures, each
// set holding at least one seizure longer than a second.
func randomRecordings(rng *rand.Rand, n int) []Recording {
	recs := make([]Recording, n)
	for i := range recs {
		dur := 600 + rng.Float64()*3000
		var evs []Event
		for t := rng.Float64() * 200; ; {
			l := 2 + rng.Float64()*400
			if t+l > dur {
				break
			}
			evs = append(evs, ev(r4(t), r4(t+l)))
			t += l + 2 + rng.Float64()*500 // >= 2 s apart: see the TAES whole-second case above
		}
		recs[i] = Recording{Name: "p" + string(rune('a'+i%7)) + "_x", Duration: dur, Ref: evs}
	}
	recs[0].Ref = append([]Event{ev(1, 30)}, recs[0].Ref[min(1, len(recs[0].Ref)):]...)
	if len(recs[0].Ref) > 1 && recs[0].Ref[1].Start < 30 {
		recs[0].Ref = recs[0].Ref[:1]
	}
	return recs
}

// TestProperties: a reference scored against itself gives 100 %
// sensitivity and no false alarm with every method; an empty hypothesis
// gives 0 % and no false alarm. (NEDC's TAES breaks the first property for
// seizures less than a whole second apart; the generator keeps them 2 s
// apart, and TestNEDCRules pins the quirk.)
func TestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		recs := randomRecordings(rng, 1+rng.IntN(12))
		self := make([]Recording, len(recs))
		empty := make([]Recording, len(recs))
		for i, r := range recs {
			self[i], empty[i] = r, r
			self[i].Hyp = r.Ref
			empty[i].Hyp = nil
		}
		for _, m := range Methods {
			r, err := Score(m, self)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sensitivity != 100 || r.FalseAlarms != 0 || r.FAPer24h != 0 || r.Targets == 0 {
				t.Fatalf("trial %d %s self: %+v", trial, m, r)
			}
			r, err = Score(m, empty)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sensitivity != 0 || r.Hits != 0 || r.FalseAlarms != 0 || r.FAPer24h != 0 {
				t.Fatalf("trial %d %s empty: %+v", trial, m, r)
			}
		}
	}
}

// TestEpochFastMatchesSlow checks the segment-wise epoch count against the
// literal per-epoch definition on random recordings and on the examples.
func TestEpochFastMatchesSlow(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	recs := randomRecordings(rng, 40)
	for i := range recs {
		recs[i].Hyp = randomRecordings(rng, 1)[0].Ref
		if len(recs[i].Hyp) > 0 && recs[i].Hyp[len(recs[i].Hyp)-1].Stop > recs[i].Duration {
			recs[i].Hyp = recs[i].Hyp[:len(recs[i].Hyp)-1]
		}
		recs[i].Duration = math.Round(recs[i].Duration*8) / 8 // land on epoch boundaries too
	}
	recs = append(recs, Recording{Name: "edge", Duration: 10.125, Ref: []Event{ev(0.125, 0.375), ev(10, 10.125)}, Hyp: []Event{ev(0.375, 0.625)}})
	compared := 0
	for _, r := range recs {
		ref, hyp, err := r.validate()
		if err != nil {
			continue
		}
		compared++
		rl, hl := nedcList(ref, r.Duration), nedcList(hyp, r.Duration)
		var fast, slow [2][2]float64
		epochCount(rl, hl, &fast)
		epochCountSlow(rl, hl, &slow)
		if fast != slow {
			t.Fatalf("%s: fast %v slow %v", r.Name, fast, slow)
		}
	}
	if compared < 20 {
		t.Fatalf("only %d recordings compared", compared)
	}
}

// TestR4 checks the fast path of r4 against the exact decimal rounding.
func TestR4(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	exact := func(x float64) float64 {
		y, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 4, 64), 64)
		return y
	}
	xs := []float64{0, 0.00005, 0.00015, 1.23445, 1.23455, 42.2786, 2.675, 1e12 + 0.00005, 123456.78905}
	for i := 0; i < 200000; i++ {
		xs = append(xs, rng.Float64()*1e5, float64(rng.IntN(1e9))/1e5, float64(rng.IntN(1e9))/1e5+0.00005)
	}
	for _, x := range xs {
		if r4(x) != exact(x) {
			t.Fatalf("r4(%v) = %v, want %v", x, r4(x), exact(x))
		}
	}
}

func TestRecordingFromFiles(t *testing.T) {
	tsv := "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n" +
		"10\t20\tsz_foc_a\tn/a\tF7,T3\tn/a\t100\n50\t5\tbckg\tn/a\tn/a\tn/a\t100\n"
	hyp, err := annot.ReadEventsTSV(strings.NewReader(tsv), "h.tsv")
	if err != nil {
		t.Fatal(err)
	}
	ref := &annot.File{Format: annot.FormatCSV, Duration: 100, Events: []annot.Event{
		{Channel: annot.Term, Start: 12, Stop: 40, Label: "seiz", Confidence: 1},
		{Channel: "FP1-F7", Start: 60, Stop: 70, Label: "gnsz", Confidence: 1}, // per-channel: ignored
	}}
	rec, err := RecordingFromFiles("x", ref, hyp)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Ref) != 1 || rec.Ref[0] != ev(12, 40) || len(rec.Hyp) != 1 || rec.Hyp[0] != ev(10, 30) {
		t.Fatalf("%+v", rec)
	}
	ref.Events = append(ref.Events, annot.Event{Channel: annot.Term, Start: 80, Stop: 90, Label: "artf"})
	if _, err := RecordingFromFiles("x", ref, hyp); err == nil || !strings.Contains(err.Error(), `"artf"`) {
		t.Fatalf("unknown label: %v", err)
	}
	hyp.Duration = 101
	if _, err := RecordingFromFiles("x", ref, hyp); err == nil || !strings.Contains(err.Error(), "lasts") {
		t.Fatalf("durations: %v", err)
	}
}
