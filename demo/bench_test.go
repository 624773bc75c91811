package demo

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGenerate writes a 1-recording-hour tree (6 patients × 1
// recording × 10 min) per iteration with cfg.Workers = 2 and reports
// recording-hours per CPU-second of the process (user + system, so other
// load on the machine does not count).
func BenchmarkGenerate(b *testing.B) {
	cfg := Config{Patients: PatientCounts{Train: 4, Dev: 1, Eval: 1}, Recordings: 1, Minutes: 10, SeizureRate: 12, Seed: 1, Workers: 2}
	c0 := cpuTime()
	for b.Loop() {
		cfg.Out = b.TempDir()
		if _, err := Generate(context.Background(), cfg, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	cpu := (cpuTime() - c0).Seconds()
	b.ReportMetric(float64(b.N)/cpu, "rec-h/cpu-s")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/rec-h")
}
