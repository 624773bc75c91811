// Package device selects the kernels backend for `device = "auto" | "cpu"
// | "cuda"`. The GPU comes from kernels/cuda's OpenBackend, which in a
// default build (no `cuda` tag, no gorgonia.org/cu) always reports that
// CUDA is not built in, so "auto" falls back to the CPU there.
package device

import (
	"fmt"

	"github.com/pipeml/pipe/kernels"
	"github.com/pipeml/pipe/kernels/cuda"
)

// Selected is the backend a selection produced.
type Selected struct {
	Backend kernels.Backend
	// GPU reports whether Backend is a GPU.
	GPU bool
	// Note says why the GPU is not used (empty when it is).
	Note string
}

// Options are the selection's inputs.
type Options struct {
	// Device is "auto" (GPU when there is one, else CPU; "" means auto),
	// "cpu" or "cuda".
	Device string
	// RequireGPU makes the selection fail unless a GPU is used.
	RequireGPU bool
	// Workers is the CPU backend's worker count (0: GOMAXPROCS).
	Workers int
	// Ordinal is the GPU to open.
	Ordinal int
}

// Open selects and opens a backend. The caller closes Selected.Backend.
func Open(o Options) (*Selected, error) {
	switch o.Device {
	case "", "auto", "cpu", "cuda":
	default:
		return nil, fmt.Errorf("device %q: want \"auto\", \"cpu\" or \"cuda\"", o.Device)
	}
	if o.Device == "cpu" {
		if o.RequireGPU {
			return nil, fmt.Errorf("device = \"cpu\" with require_gpu: choose \"cuda\" or \"auto\"")
		}
		return &Selected{Backend: kernels.NewCPU(o.Workers), Note: "device = \"cpu\": the GPU was not checked"}, nil
	}
	gpu, err := cuda.OpenBackend(o.Ordinal)
	if err == nil {
		return &Selected{Backend: gpu, GPU: true}, nil
	}
	if o.Device == "cuda" || o.RequireGPU {
		return nil, fmt.Errorf("device %q: no GPU backend: %w", o.Device, err)
	}
	return &Selected{Backend: kernels.NewCPU(o.Workers), Note: fmt.Sprintf("no GPU (%v): the GPU was not checked", err)}, nil
}
