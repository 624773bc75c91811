package dsp

import (
	"syscall"
	"testing"
	"time"
)

// Benchmarks report input samples per second of one channel, the unit of
// work of the preprocessing (a recording-hour of 19 channels at 256 Hz is
// 17.5 M samples), both per wall second and per CPU second of the process:
// on a shared machine the latter is the stable figure.

// cpuTime is the user+system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuTimer measures CPU time from the benchmark's reset.
type cpuTimer struct{ start time.Duration }

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{start: cpuTime()}
}

func (c *cpuTimer) report(b *testing.B, samplesPerOp int) {
	n := float64(samplesPerOp) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "samples/s")
	if cpu := (cpuTime() - c.start).Seconds(); cpu > 0 {
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
