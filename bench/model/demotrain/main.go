// Command demotrain trains the V3 model on a window cache with the train
// package and prints the validation metrics of every epoch: the quick check
// that a model profile learns the demo data within the time budget.
//
//	go run ./bench/model/demotrain -cache out/cache -epochs 4 -model '{"preset":"demo"}'
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/model"
	"github.com/pipeml/pipe/train"
)

func main() {
	dir := flag.String("cache", "", "window cache directory")
	out := flag.String("out", "", "output directory (default: a temporary one)")
	cfgJSON := flag.String("model", `{"preset":"demo"}`, "model configuration (JSON)")
	epochs := flag.Int("epochs", 4, "epochs")
	steps := flag.Int("steps", 0, "max optimiser steps per epoch (0: all)")
	batch := flag.Int("batch", 16, "batch size")
	lr := flag.Float64("lr", 2e-3, "peak learning rate")
	valStep := flag.Int("val_step", 2, "validate on every n-th dev window")
	debugFinite := flag.Bool("debug_finite", false, "check every layer's output")
	flag.Parse()
	if err := run(*dir, *out, *cfgJSON, *epochs, *steps, *batch, *lr, *valStep, *debugFinite); err != nil {
		fmt.Fprintln(os.Stderr, "demotrain:", err)
		os.Exit(1)
	}
}

func run(dir, out, cfgJSON string, epochs, steps, batch int, lr float64, valStep int, debugFinite bool) error {
	ds, err := cache.OpenDataset(dir)
	if err != nil {
		return err
	}
	net, err := model.Builder{}.Build(json.RawMessage(cfgJSON), len(ds.Channels()), ds.WindowSamples(), 1)
	if err != nil {
		return err
	}
	v3 := net.(*model.V3)
	fmt.Printf("model %s: %d parameters, windows of %d × %d\n", cfgJSON, v3.NumParams(), len(ds.Channels()), ds.WindowSamples())
	if out == "" {
		if out, err = os.MkdirTemp("", "demotrain"); err != nil {
			return err
		}
		defer os.RemoveAll(out)
	}
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.MaxStepsPerEpoch = epochs, batch, lr, steps
	cfg.ValWindowStep = valStep
	cfg.DebugFinite = debugFinite
	cfg.WarmupRatio = 0.05
	start := time.Now()
	sum, err := train.Run(context.Background(), cfg, train.Options{
		Net: net, Dataset: ds, CacheDir: dir, Dir: out, Key: "demotrain", Meta: json.RawMessage(cfgJSON), Log: os.Stdout,
	})
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(sum, "", "  ")
	fmt.Printf("%s\ntook %v\n", b, time.Since(start).Round(time.Second))
	return nil
}
