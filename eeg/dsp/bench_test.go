package dsp

import (
	"testing"
	"time"

	"github.com/pipeml/pipe/internal/cputime"
)

// Benchmarks report input samples per second of one channel, the unit of
// work of the preprocessing (a recording-hour of 19 channels at 256 Hz is
// 17.5 M samples), both per wall second and per CPU second of the process:
// on a shared machine the latter is the stable figure.

// cpuTimer measures CPU time from the benchmark's reset.
type cpuTimer struct{ start time.Duration }

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{start: cputime.Process()}
}

func (c *cpuTimer) report(b *testing.B, samplesPerOp int) {
	n := float64(samplesPerOp) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "samples/s")
	if cpu := (cputime.Process() - c.start).Seconds(); cpu > 0 {
		b.ReportMetric(n/cpu, "samples/cpu-s")
	}
}

func benchResample(b *testing.B, fin float64) {
	up, down, _, err := Ratio(fin, 256, DefaultMaxFactor)
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewPolyphase(up, down)
	if err != nil {
		b.Fatal(err)
	}
	x := testSignal(1<<16, fin, 1)
	r := p.NewResampler(PadEdge)
	out := make([]float64, 0, 2*len(x))
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		out = r.Process(out[:0], x)
	}
	c.report(b, len(x))
}

func BenchmarkResample250to256(b *testing.B)    { benchResample(b, 250) }
func BenchmarkResample400to256(b *testing.B)    { benchResample(b, 400) }
func BenchmarkResample512to256(b *testing.B)    { benchResample(b, 512) }
func BenchmarkResample173_61to256(b *testing.B) { benchResample(b, 173.61) }

func BenchmarkSOSFilterBandpass(b *testing.B) {
	sos, _ := Butter(3, Bandpass, 0.5, 120, 256)
	f, _ := NewSOSFilter(sos)
	x := testSignal(1<<16, 256, 1)
	y := make([]float64, len(x))
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		f.Process(y, x)
	}
	c.report(b, len(x))
}

func BenchmarkZeroPhaseBandpass(b *testing.B) {
	sos, _ := Butter(3, Bandpass, 0.5, 120, 256)
	z, _ := NewZeroPhase(sos)
	x := testSignal(1<<16, 256, 1)
	out := make([]float64, 0, 1<<17)
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		out = z.Process(out[:0], x)
	}
	c.report(b, len(x))
}

func BenchmarkSOSBankBandpass19(b *testing.B) {
	sos, _ := Butter(3, Bandpass, 0.5, 120, 256)
	bank, _ := NewSOSBank(sos, 19)
	x := make([][]float64, 19)
	for i := range x {
		x[i] = testSignal(1<<14, 256, uint64(i))
	}
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		bank.Process(x)
	}
	c.report(b, 19<<14)
}

func BenchmarkSOSFilterBandpass19(b *testing.B) {
	sos, _ := Butter(3, Bandpass, 0.5, 120, 256)
	var fs []*SOSFilter
	x := make([][]float64, 19)
	for i := range x {
		x[i] = testSignal(1<<14, 256, uint64(i))
		f, _ := NewSOSFilter(sos)
		fs = append(fs, f)
	}
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		for k, f := range fs {
			f.Process(x[k], x[k])
		}
	}
	c.report(b, 19<<14)
}
