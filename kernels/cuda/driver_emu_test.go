//go:build cudaemu && !cuda

package cuda_test

import (
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
	"github.com/pipeml/pipe/kernels/cuda/emu"
)

// onGPU selects the GPU tolerances; the emulator runs the kernels in
// float32 on the CPU and meets the CPU tolerances.
const onGPU = false

func newDriver(t *testing.T) cuda.Driver {
	t.Helper()
	return emu.New()
}
