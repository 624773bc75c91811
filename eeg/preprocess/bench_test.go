package preprocess

import (
	"context"
	"testing"

	"github.com/pipeml/pipe/internal/cputime"
)

// benchRun preprocesses a 10-minute, 19-channel synthetic recording at 250 Hz
// per iteration and reports recording-hours per CPU second and per wall
// second (with z-score normalisation Run reads the input twice).
func benchRun(b *testing.B, phase, norm string, spill bool) {
	const minutes = 10
	cfg := DefaultConfig()
	cfg.Phase, cfg.Normalize = phase, norm
	p, err := New(cfg, refInputs(250))
	if err != nil {
		b.Fatal(err)
	}
	open := func() (Source, error) {
		g := &genSource{left: minutes * 60 * 250, chunk: 250 * 4, buf: make([][]float64, 19)}
		for c := range g.buf {
			g.buf[c] = make([]float64, 0, g.chunk)
		}
		return g, nil
	}
	b.ResetTimer()
	c0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		opt := RunOptions{}
		if spill {
			opt.SpillDir = b.TempDir()
		}
		if _, err := p.RunWith(context.Background(), open, func([][]float32) error { return nil }, opt); err != nil {
			b.Fatal(err)
		}
	}
	hours := float64(b.N) * minutes / 60
	b.ReportMetric(hours/b.Elapsed().Seconds(), "rec-h/s")
	if cpu := (cputime.Process() - c0).Seconds(); cpu > 0 {
		b.ReportMetric(hours/cpu, "rec-h/cpu-s")
	}
}

func BenchmarkRunCausalZScore(b *testing.B)      { benchRun(b, PhaseCausal, NormZScore, false) }
func BenchmarkRunCausalZScoreSpill(b *testing.B) { benchRun(b, PhaseCausal, NormZScore, true) }
func BenchmarkRunZeroZScore(b *testing.B)        { benchRun(b, PhaseZero, NormZScore, false) }
func BenchmarkRunCausalRobust(b *testing.B)      { benchRun(b, PhaseCausal, NormRobust, false) }
func BenchmarkRunCausalNone(b *testing.B)        { benchRun(b, PhaseCausal, NormNone, false) }
