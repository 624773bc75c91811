//go:build cuda

package cuda_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
)

// onGPU selects the GPU tolerances (1e-3 relative, as issue 4 allows).
const onGPU = true

// newDriver opens the GPU named by PIPE_CUDA_DEVICE (default 0).
func newDriver(t *testing.T) cuda.Driver {
	t.Helper()
	ord := 0
	if s := os.Getenv("PIPE_CUDA_DEVICE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("PIPE_CUDA_DEVICE=%q: %v", s, err)
		}
		ord = n
	}
	d, err := cuda.OpenCU(ord)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
