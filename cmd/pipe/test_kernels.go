package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/stages/kernelcheck"
)

func newTestKernelsCmd(g *globals) *cobra.Command {
	cfg := kernelcheck.Config{Device: "auto", Seed: 1}
	cmd := &cobra.Command{
		Use:   "test-kernels [--device auto|cpu|cuda] [--require-gpu] [--quick]",
		Short: "Check every kernel forward and backward against float64 references",
		Long: `Run every kernel of the V3 detector (Mamba-2 scan both directions, convs,
linear layers, norms, activations, losses, graph ops) forward and backward on
random inputs at the V3 shapes on the selected device, compare outputs with
float64 references and gradients with finite differences of those
references, and print max relative error, time, GB/s and GFLOP/s per kernel.
Exits 1 when any kernel mismatches or produces a non-finite value. Without a
GPU it checks the CPU and says that the GPU was not checked (--require-gpu
makes that an error). The same check is the test_kernels stage kind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch cfg.Device {
			case "auto", "cpu", "cuda":
			default:
				return usageErr(fmt.Errorf("test-kernels: --device %q: want auto, cpu or cuda", cfg.Device))
			}
			if _, err := kernelcheck.Check(cmd.Context(), cfg, g.stdout, nil); err != nil {
				return stageErr(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Device, "device", cfg.Device, "auto (GPU when available), cpu or cuda")
	f.BoolVar(&cfg.RequireGPU, "require-gpu", false, "fail unless the GPU was checked")
	f.BoolVar(&cfg.Quick, "quick", false, "small shapes (seconds instead of about a minute)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed of the inputs")
	f.IntVar(&cfg.Workers, "workers", 0, "CPU backend workers (default: all cores)")
	return cmd
}
