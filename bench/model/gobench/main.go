// Command gobench times training steps (forward + backward) of the V3 model
// on random windows and prints one JSON line: the Go side of the comparison
// with bench/model/v3_torch.py (run both with bench/model/run.sh).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/pipeml/pipe/model"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	cfgJSON := flag.String("model", `{"preset":"demo"}`, "model configuration (JSON)")
	batch := flag.Int("batch", 16, "windows per step")
	channels := flag.Int("channels", 19, "input channels")
	length := flag.Int("length", 2048, "samples per window")
	threads := flag.Int("threads", 2, "GOMAXPROCS")
	steps := flag.Int("steps", 5, "timed steps (after one warm-up step)")
	printCfg := flag.Bool("print-config", false, "print the full configuration as JSON and exit")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the timed steps")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gobench:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "gobench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*cfgJSON, *batch, *channels, *length, *threads, *steps, *printCfg); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(cfgJSON string, batch, channels, length, threads, steps int, printCfg bool) error {
	runtime.GOMAXPROCS(threads)
	cfg, err := model.Decode(json.RawMessage(cfgJSON))
	if err != nil {
		return err
	}
	if printCfg {
		return json.NewEncoder(os.Stdout).Encode(cfg)
	}
	n, err := model.New(cfg, channels, length, 1)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*channels*length)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	dl := make([]float32, batch*length)
	for i := range dl {
		dl[i] = float32(r.NormFloat64()) / float32(len(dl))
	}
	step := func(i int) error {
		n.ZeroGrad()
		if _, err := n.Forward(x, batch, length, true, uint64(i)); err != nil {
			return err
		}
		return n.Backward(dl)
	}
	if err := step(0); err != nil {
		return err
	}
	t0, c0 := time.Now(), cpuTime()
	for i := 0; i < steps; i++ {
		if err := step(i + 1); err != nil {
			return err
		}
	}
	wall, cpu := time.Since(t0).Seconds(), (cpuTime() - c0).Seconds()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"impl": "go", "params": n.NumParams(), "threads": threads, "batch": batch, "length": length, "steps": steps,
		"wall_s": wall, "cpu_s": cpu, "windows_per_s": float64(batch*steps) / wall, "windows_per_cpu_s": float64(batch*steps) / cpu,
	})
}
