// Package cuda is pipe's CUDA backend for package kernels: the .cu sources
// (src/), their PTX for sm_80 and sm_90 (ptx/, committed and embedded), the
// table of kernel signatures, launch planning, and the backend itself.
//
// Everything that talks to the GPU driver (gorgonia.org/cu, which exits the
// process in its init when no GPU is present) is behind the `cuda` build
// tag; the rest of the package is pure Go, builds everywhere, and is tested
// without a GPU against the PTX (parameter lists) and a fake driver.
package cuda

import (
	_ "embed"
	"fmt"
)

//go:embed ptx/sm_80.ptx
var ptxSM80 []byte

//go:embed ptx/sm_90.ptx
var ptxSM90 []byte

// PTXFor returns the embedded PTX to load on a device of compute capability
// major.minor: the sm_90 build on Hopper and newer, the sm_80 build on
// Ampere (8.x); older cards are refused (the kernels use sm_80 features
// only loosely, but nothing older is built or tested).
func PTXFor(major, minor int) ([]byte, string, error) {
	switch {
	case major >= 9:
		return ptxSM90, "sm_90", nil
	case major == 8:
		return ptxSM80, "sm_80", nil
	default:
		return nil, "", fmt.Errorf("cuda: compute capability %d.%d is not supported (pipe's PTX is built for 8.0 and 9.0)", major, minor)
	}
}
