package kernels

import "fmt"

// tasks holds one parallel body per op, reused across calls so that
// dispatching work allocates nothing.
type tasks struct {
	scanFwd scanFwdTask
	scanBwd scanBwdTask
}

func errorf(format string, a ...any) error { return fmt.Errorf("cpu: "+format, a...) }
