//go:build cudaemu && !cuda

package model

import (
	"strings"
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
	"github.com/pipeml/pipe/kernels/cuda/emu"
)

// TestEngineMatchesV3Emulated runs the Backend engine on the CUDA backend
// (the .cu kernels on the CPU emulator) against the pure-Go V3: logits and
// every parameter gradient, small configurations.
func TestEngineMatchesV3Emulated(t *testing.T) {
	be := cuda.NewBackend(cuda.NewDevice(emu.New()), "cuda (emulated)")
	defer be.Close()
	for _, tc := range engineCases() {
		if strings.HasPrefix(tc.name, "demo") && testing.Short() {
			continue
		}
		t.Run(tc.name, func(t *testing.T) { compareEngines(t, be, tc, 1e-5) })
	}
}
