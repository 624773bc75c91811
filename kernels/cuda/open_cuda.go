//go:build cuda

package cuda

// Built reports whether this binary contains the CUDA driver path (-tags cuda).
const Built = true

// Open creates a Device on GPU ordinal (the device-selection hook for
// `device = "cuda" | "auto"`). It returns a description of the card.
// In a `cuda` build the process has already exited at start-up when there
// is no usable driver (gorgonia.org/cu's init), so Open only fails for a
// bad ordinal, an unsupported card or a failed context/module load.
func Open(ordinal int) (*Device, string, error) {
	drv, err := OpenCU(ordinal)
	if err != nil {
		return nil, "", err
	}
	return NewDevice(drv), drv.Describe(), nil
}
