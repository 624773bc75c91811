package scoring

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pipeml/pipe/postproc"
)

func traced(name string, rate float64, p []float64, ref ...Event) TracedRecording {
	return TracedRecording{Name: name, Duration: float64(len(p)) / rate, Trace: postproc.Trace{Rate: rate, P: p}, Ref: ref}
}

func TestCurvesSmall(t *testing.T) {
	// samples: labels 0,0,1,1 with scores 0.1,0.4,0.35,0.8 (scikit-learn's
	// documented example: AUROC 0.75, average precision 0.8333...)
	c, err := Curves([]TracedRecording{traced("a", 1, []float64{0.1, 0.4, 0.35, 0.8}, ev(2, 4))})
	if err != nil {
		t.Fatal(err)
	}
	if !near(c.AUROC, 0.75) || !near(c.PRAUC, 5.0/6) || c.Positives != 2 || c.Negatives != 2 {
		t.Fatalf("%+v", c)
	}
	if first, last := c.ROC[0], c.ROC[len(c.ROC)-1]; first.X != 0 || first.Y != 0 || last.X != 1 || last.Y != 1 {
		t.Fatalf("ROC ends %+v %+v", first, last)
	}
	b, err := json.Marshal(c.ROC[0])
	if err != nil || string(b) != `{"x":0,"y":0,"threshold":null}` {
		t.Fatalf("json %s %v", b, err)
	}
	// one class only: undefined
	c, _ = Curves([]TracedRecording{traced("a", 1, []float64{0.1, 0.4})})
	if !math.IsNaN(c.AUROC) || !math.IsNaN(c.PRAUC) {
		t.Fatalf("no positives: %+v", c)
	}
}

// TestCurvesPerfectSeparationIsExactlyOne: a perfect ranking gives an
// AUROC of exactly 1 and a PR-AUC of exactly 1, whatever the class sizes
// (summing fractions such as 1/7 step by step used to give
// 1.0000000000000366).
func TestCurvesPerfectSeparationIsExactlyOne(t *testing.T) {
	for _, tc := range []struct{ pos, neg int }{{3, 7}, {1, 10}, {7, 3}, {13, 997}, {1000, 49}} {
		p := make([]float64, 0, tc.pos+tc.neg)
		for i := 0; i < tc.neg; i++ {
			p = append(p, 0.4*float64(i)/float64(tc.neg))
		}
		for i := 0; i < tc.pos; i++ {
			p = append(p, 0.5+0.4*float64(i)/float64(tc.pos))
		}
		c, err := Curves([]TracedRecording{traced("a", 1, p, ev(float64(tc.neg), float64(tc.neg+tc.pos)))})
		if err != nil {
			t.Fatal(err)
		}
		if c.AUROC != 1 || c.PRAUC != 1 || c.Positives != tc.pos || c.Negatives != tc.neg {
			t.Errorf("%d pos / %d neg: AUROC %.17g PR-AUC %.17g (%d/%d)", tc.pos, tc.neg, c.AUROC, c.PRAUC, c.Positives, c.Negatives)
		}
	}
}

// TestCurvesMannWhitney checks AUROC against the O(P*N) pair count with
// ties, and that padding past the duration is ignored.
func TestCurvesMannWhitney(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var recs []TracedRecording
	var pos, neg []float64
	for r := 0; r < 5; r++ {
		p := make([]float64, 200)
		for i := range p {
			p[i] = float64(rng.IntN(20)) / 20 // many ties
		}
		rec := traced("r", 4, p, ev(10, 20), ev(30.1, 31.9))
		rec.Duration = 45 // last 20 samples are padding
		recs = append(recs, rec)
		for i := 0; i < 180; i++ {
			mid := (float64(i) + 0.5) / 4
			if mid >= 10 && mid < 20 || mid >= 30.1 && mid < 31.9 {
				pos = append(pos, p[i])
			} else {
				neg = append(neg, p[i])
			}
		}
	}
	var wins float64
	for _, a := range pos {
		for _, b := range neg {
			switch {
			case a > b:
				wins++
			case a == b:
				wins += 0.5
			}
		}
	}
	c, err := Curves(recs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Positives != len(pos) || c.Negatives != len(neg) || !near(c.AUROC, wins/float64(len(pos)*len(neg))) {
		t.Fatalf("AUROC %v (P %d N %d), want %v (P %d N %d)", c.AUROC, c.Positives, c.Negatives,
			wins/float64(len(pos)*len(neg)), len(pos), len(neg))
	}
}

func TestSweepAndAtFA(t *testing.T) {
	// two 1 h recordings at 1 Hz: a seizure at 100..160 s scored 0.9 in the
	// first, background bumps of 0.6 and 0.3 in both.
	mk := func(seizure bool) TracedRecording {
		p := make([]float64, 3600)
		for i := 1000; i < 1010; i++ {
			p[i] = 0.6
		}
		for i := 2000; i < 2010; i++ {
			p[i] = 0.3
		}
		if seizure {
			for i := 100; i < 160; i++ {
				p[i] = 0.9
			}
			return traced("a_1", 1, p, ev(100, 160))
		}
		return traced("b_1", 1, p)
	}
	recs := []TracedRecording{mk(true), mk(false)}
	pts, err := Sweep(context.Background(), recs, SweepConfig{Post: postproc.Threshold(0.5)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1002 || !math.IsInf(pts[1001].Threshold, 1) || pts[1001].Sensitivity != 0 || pts[1001].FalseAlarms != 0 {
		t.Fatalf("%d points, last %+v", len(pts), pts[len(pts)-1])
	}
	// τ = 0: whole recordings are one event each (1 hit, 1 FA = 12/24h)
	// 0 < τ <= 0.3: 1 hit, 4 FA (bumps) = 48/24h; 0.3 < τ <= 0.6: 1 hit, 2 FA = 24/24h;
	// 0.6 < τ <= 0.9: 1 hit, 0 FA; above: nothing.
	want := map[float64][2]float64{0.3: {100, 48}, 0.31: {100, 24}, 0.6: {100, 24}, 0.601: {100, 0}, 0.9: {100, 0}, 0.901: {0, 0}}
	for _, p := range pts {
		if w, ok := want[p.Threshold]; ok && (p.Sensitivity != w[0] || p.FAPer24h != w[1]) {
			t.Errorf("τ %v: sens %v fa %v, want %v", p.Threshold, p.Sensitivity, p.FAPer24h, w)
		}
	}
	for k, wantTau := range map[float64]float64{30: 0, 12: 0, 10: 0.601, 1: 0.601} {
		p, ok := AtFA(pts, k)
		if !ok || p.Threshold != wantTau || p.Sensitivity != 100 {
			t.Errorf("AtFA(%v) = %+v, want τ %v", k, p, wantTau)
		}
	}
	// With the +Inf point only, a zero budget is still feasible.
	if p, ok := AtFA([]OperatingPoint{{Threshold: 0.5, FAPer24h: 3}, {Threshold: math.Inf(1)}}, 0); !ok || !math.IsInf(p.Threshold, 1) {
		t.Errorf("zero budget: %+v", p)
	}

	// cancellation and bad methods
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Sweep(ctx, recs, SweepConfig{Post: postproc.Threshold(0.5)}); err == nil {
		t.Error("cancelled sweep succeeded")
	}
	if _, err := Sweep(context.Background(), recs, SweepConfig{Method: MethodEpoch}); err == nil || !strings.Contains(err.Error(), "not an event scorer") {
		t.Errorf("epoch sweep: %v", err)
	}
	// every event scorer runs
	for _, m := range []string{MethodTAES, MethodSzCORE} {
		pts, err := Sweep(context.Background(), recs, SweepConfig{Post: postproc.Threshold(0.5), Method: m, Grid: []float64{0.5, 0.95}})
		if err != nil || len(pts) != 3 || pts[1].Sensitivity != 0 || pts[0].Sensitivity != 100 {
			t.Errorf("%s: %+v %v", m, pts, err)
		}
	}
}
