package scoring

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/pipeml/pipe/postproc"
)

// benchRecordings makes n one-hour recordings with a few seizures each in
// half of them, and a hypothesis that finds most seizures with shifted
// boundaries and adds a few false alarms.
func benchRecordings(n int) []Recording {
	rng := rand.New(rand.NewPCG(7, 8))
	recs := make([]Recording, n)
	for i := range recs {
		r := Recording{Name: "subj" + string(rune('a'+i%26)) + "_rec", Duration: 3600}
		if i%2 == 0 {
			for t := 60 + rng.Float64()*600; t < 3400; t += 300 + rng.Float64()*900 {
				l := 10 + rng.Float64()*100
				r.Ref = append(r.Ref, ev(r4(t), r4(t+l)))
				if rng.Float64() < 0.8 {
					r.Hyp = append(r.Hyp, ev(r4(t+rng.Float64()*5), r4(t+l+rng.Float64()*20)))
				}
			}
		}
		for k := 0; k < 3; k++ {
			s := rng.Float64() * 3500
			e := ev(r4(s), r4(s+5+rng.Float64()*20))
			ok := true
			for _, h := range r.Hyp {
				if e.Start < h.Stop+1 && h.Start < e.Stop+1 {
					ok = false
				}
			}
			if ok {
				r.Hyp = append(r.Hyp, e)
			}
		}
		recs[i] = r
	}
	return recs
}

// BenchmarkScore2000 scores 2000 one-hour recordings with each method.
//
//	go test ./scoring -run '^$' -bench Score2000 -benchtime 10x
func BenchmarkScore2000(b *testing.B) {
	recs := benchRecordings(2000)
	for _, m := range Methods {
		b.Run(m, func(b *testing.B) {
			for b.Loop() {
				if _, err := Score(m, recs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			for _, m := range Methods {
				if _, err := Score(m, recs); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkSweep200 sweeps 1001 thresholds over 200 one-hour recordings
// with 1 Hz traces (OVLP).
func BenchmarkSweep200(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	recs := benchRecordings(200)
	traced := make([]TracedRecording, len(recs))
	for i, r := range recs {
		p := make([]float64, 3600)
		for k := range p {
			p[k] = 0.3 * rng.Float64()
		}
		for _, e := range r.Hyp {
			for k := int(e.Start); k < int(e.Stop); k++ {
				p[k] = 0.5 + 0.5*rng.Float64()
			}
		}
		traced[i] = TracedRecording{Name: r.Name, Duration: r.Duration, Trace: postproc.Trace{Rate: 1, P: p}, Ref: r.Ref}
	}
	for b.Loop() {
		if _, err := Sweep(context.Background(), traced, SweepConfig{Post: postproc.Config{OnThreshold: 0.5, OffThreshold: 0.5, MergeGap: 10}}); err != nil {
			b.Fatal(err)
		}
	}
}
