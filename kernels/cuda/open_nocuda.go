//go:build !cuda

package cuda

import "errors"

// Built reports whether this binary contains the CUDA driver path (-tags cuda).
const Built = false

// ErrNotBuilt is returned by Open in binaries built without -tags cuda.
var ErrNotBuilt = errors.New("cuda: this pipe was built without CUDA support (rebuild with -tags cuda; see docs/cuda.md)")

// Open is the device-selection hook; without -tags cuda it always returns
// ErrNotBuilt, so `device = "auto"` falls back to the CPU and
// `device = "cuda"` fails with a clear message.
func Open(ordinal int) (*Device, string, error) { return nil, "", ErrNotBuilt }
