// Command popbench measures the cache side of bench/data/run.sh:
//
//	popbench populate -src ROOT -dir OUT [-workers N] [-encoding int16]
//	popbench windows  -dir OUT [-n 2000] [-seed 1]
//
// Each prints one JSON object. populate reports the recording hours and EDF
// bytes processed, the cache bytes written, CPU and wall seconds and the
// process's peak RSS; windows reports the time to read random windows with
// cache.Dataset.ReadWindow.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/eeg/preprocess"
	"github.com/pipeml/pipe/internal/cputime"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: popbench populate|windows [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "populate":
		err = populate(os.Args[2:])
	case "windows":
		err = windows(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "popbench:", err)
		os.Exit(1)
	}
}

func maxRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

func populate(args []string) error {
	fs := flag.NewFlagSet("populate", flag.ExitOnError)
	src := fs.String("src", "", "TUSZ root")
	dir := fs.String("dir", "", "cache directory")
	workers := fs.Int("workers", 1, "workers")
	enc := fs.String("encoding", cache.EncodingInt16, "encoding")
	prof := fs.String("cpuprofile", "", "write a CPU profile")
	fs.Parse(args)
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	cfg := cache.PopulateConfig{Source: *src, Dir: *dir, Workers: *workers, Encoding: *enc, OnError: cache.OnErrorFail, Preprocess: preprocess.DefaultConfig()}
	c0, w0 := cputime.Process(), time.Now()
	res, err := cache.Populate(context.Background(), cfg, cache.NopProgress{}, nil)
	if err != nil {
		return err
	}
	cpu, wall := (cputime.Process() - c0).Seconds(), time.Since(w0).Seconds()
	var hours float64
	for _, s := range res.Manifest.Splits {
		hours += s.Hours
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"recordings": len(res.Manifest.Recordings), "built": res.Built, "windows": res.Manifest.Windows,
		"hours": hours, "edf_bytes": res.SourceBytes, "cache_bytes": res.CacheBytes,
		"cpu_s": cpu, "wall_s": wall, "maxrss_mb": maxRSSMB(), "workers": *workers,
		"rec_hours_per_cpu_s": hours / cpu, "edf_mb_per_cpu_s": float64(res.SourceBytes) / 1e6 / cpu,
		"cache_bytes_per_hour": float64(res.CacheBytes) / hours,
	})
}

func windows(args []string) error {
	fs := flag.NewFlagSet("windows", flag.ExitOnError)
	dir := fs.String("dir", "", "cache directory")
	n := fs.Int("n", 2000, "windows to read")
	seed := fs.Uint64("seed", 1, "seed")
	fs.Parse(args)
	d, err := cache.OpenDataset(*dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if d.Len() == 0 {
		return fmt.Errorf("%s has no windows", *dir)
	}
	buf := make([]float32, len(d.Channels())*d.WindowSamples())
	rng := rand.New(rand.NewPCG(*seed, 2))
	// First touch of every recording file (open + page cache), not timed.
	for i := 0; i < d.Len(); i += 1 + d.Len()/64 {
		if err := d.ReadWindow(i, buf); err != nil {
			return err
		}
	}
	lat := make([]float64, *n)
	c0 := cputime.Process()
	for k := range lat {
		i := rng.IntN(d.Len())
		t0 := time.Now()
		if err := d.ReadWindow(i, buf); err != nil {
			return err
		}
		lat[k] = time.Since(t0).Seconds()
	}
	cpu := (cputime.Process() - c0).Seconds()
	sort.Float64s(lat)
	sum := 0.0
	for _, v := range lat {
		sum += v
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"windows": d.Len(), "reads": *n, "values_per_window": len(buf),
		"mean_s": sum / float64(len(lat)), "p50_s": lat[len(lat)/2], "p99_s": lat[len(lat)*99/100],
		"cpu_s_per_read": cpu / float64(len(lat)),
	})
}
