package demo

import (
	"context"
	"testing"

	"github.com/pipeml/pipe/internal/cputime"
)

// BenchmarkGenerate writes a 1-recording-hour tree (6 patients × 1
// recording × 10 min) per iteration with cfg.Workers = 2 and reports
// recording-hours per CPU-second of the process (user + system, so other
// load on the machine does not count).
func BenchmarkGenerate(b *testing.B) {
	cfg := Config{Patients: PatientCounts{Train: 4, Dev: 1, Eval: 1}, Recordings: 1, Minutes: 10, SeizureRate: 12, Seed: 1, Workers: 2}
	c0 := cputime.Process()
	for b.Loop() {
		cfg.Out = b.TempDir()
		if _, err := Generate(context.Background(), cfg, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	cpu := (cputime.Process() - c0).Seconds()
	b.ReportMetric(float64(b.N)/cpu, "rec-h/cpu-s")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/rec-h")
}
