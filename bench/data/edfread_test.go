package data

import (
	"os"
	"testing"
	"time"

	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/internal/cputime"
)

// BenchmarkEDFRead reads and scales every signal of PIPE_BENCH_EDF (a
// recording made by ../shared/bench/gen_tusz_like.py; see run.sh) to float32
// and float64, a minute of records at a time. Metrics: CPU seconds per
// recording-hour and MB/s of EDF.
func BenchmarkEDFRead(b *testing.B) {
	path := os.Getenv("PIPE_BENCH_EDF")
	if path == "" {
		b.Skip("PIPE_BENCH_EDF not set (bench/data/run.sh sets it)")
	}
	for _, prec := range []string{"float32", "float64"} {
		b.Run(prec, func(b *testing.B) {
			var hours float64
			var bytes int64
			c0 := cputime.Process()
			for b.Loop() {
				r, err := edf.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				h := r.Header()
				sigs := h.DataSignals()
				per := max(1, int64(benchChunk/h.RecordDuration))
				d32 := make([][]float32, len(sigs))
				d64 := make([][]float64, len(sigs))
				for i, s := range sigs {
					d32[i] = make([]float32, per*int64(h.Signals[s].SamplesPerRecord))
					d64[i] = make([]float64, per*int64(h.Signals[s].SamplesPerRecord))
				}
				for first := int64(0); first < h.Records; first += per {
					n := min(per, h.Records-first)
					if prec == "float32" {
						err = r.ReadRecords32(first, n, sigs, d32)
					} else {
						err = r.ReadRecords(first, n, sigs, d64)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				hours += h.Duration().Hours()
				bytes += h.HeaderBytes + h.Records*h.RecordBytes
				r.Close()
			}
			cpu := (cputime.Process() - c0).Seconds()
			b.ReportMetric(cpu/hours, "cpu-s/rec-h")
			b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
		})
	}
}

// benchChunk is how much recording each read call covers.
var benchChunk = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("PIPE_BENCH_CHUNK")); err == nil {
		return d
	}
	return 10 * time.Second
}()
